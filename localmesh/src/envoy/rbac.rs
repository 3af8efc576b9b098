//! A service's AuthorizationPolicy, as istiod translates it into the HTTP
//! RBAC filter of the service's inbound side
//! (pilot/pkg/security/authz/builder; shapes of its testdata/http goldens).
//!
//! The policy meshgen renders (gen/src/render/chain/security.rs, only with
//! `mtls`) is one ALLOW policy named like the service, with one rule
//! `from.source.principals` listing its callers' principals, or no rule when
//! nobody calls it. istiod writes a principal `P` as
//! `authenticated.principal_name.exact: spiffe://P`
//! (`srcPrincipalGenerator`), one policy `ns[NS]-policy[NAME]-rule[0]`, and a
//! policy without rules as one that matches nothing (allow-nil-rule-out.yaml):
//! then every call is denied. A denied call is answered 403; for a gRPC
//! request Envoy's local reply turns that into `PERMISSION_DENIED`.

use std::collections::BTreeMap;

use meshgen::model::{Model, Service};
use serde::Serialize;

use super::types::StringMatcher;
use crate::identity;

#[derive(Debug, Clone, Serialize)]
pub struct Rbac {
    pub rules: Rules,
    /// istiod's, for dry-run policies (none here).
    pub shadow_rules_stat_prefix: &'static str,
}

/// `action` is left out: ALLOW, as istiod leaves it.
#[derive(Debug, Clone, Serialize)]
pub struct Rules {
    pub policies: BTreeMap<String, Policy>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub permissions: Vec<Permission>,
    pub principals: Vec<Principal>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Any(bool),
    AndRules { rules: Vec<Permission> },
    NotRule(Box<Permission>),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Principal {
    Any(bool),
    AndIds { ids: Vec<Principal> },
    OrIds { ids: Vec<Principal> },
    NotId(Box<Principal>),
    Authenticated { principal_name: StringMatcher },
}

/// The RBAC filter of `service`'s inbound side: `None` when the profile
/// renders no AuthorizationPolicy (`mtls = false`).
pub fn policy(m: &Model, service: &Service) -> Option<Rbac> {
    if !m.mesh.mtls {
        return None;
    }
    let callers: Vec<Principal> = service
        .callers
        .iter()
        .map(|c| Principal::Authenticated {
            principal_name: StringMatcher {
                exact: identity::caller(m, c).spiffe_uri(),
            },
        })
        .collect();
    let rule = match callers.is_empty() {
        // allow-nil-rule-out.yaml: a policy that matches nothing.
        true => Policy {
            permissions: vec![Permission::NotRule(Box::new(Permission::Any(true)))],
            principals: vec![Principal::NotId(Box::new(Principal::Any(true)))],
        },
        false => Policy {
            permissions: vec![Permission::AndRules {
                rules: vec![Permission::Any(true)],
            }],
            principals: vec![Principal::AndIds {
                ids: vec![Principal::OrIds { ids: callers }],
            }],
        },
    };
    let name = format!("ns[{}]-policy[{}]-rule[0]", m.namespace, service.name);
    Some(Rbac {
        rules: Rules {
            policies: [(name, rule)].into(),
        },
        shadow_rules_stat_prefix: "istio_dry_run_allow_",
    })
}
