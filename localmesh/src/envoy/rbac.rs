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

use meshgen::model::identity::{l4_callers, pods_policy, waypoint_policy};
use meshgen::model::{DataPlane, Model, Service};
use serde::Serialize;

use super::types::{Any, NamedConfig, StringMatcher};
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
    AndIds {
        ids: Vec<Principal>,
    },
    OrIds {
        ids: Vec<Principal>,
    },
    NotId(Box<Principal>),
    Authenticated {
        principal_name: StringMatcher,
    },
    /// The principal a tunnel's terminator recorded ([`PEER_PRINCIPAL`]).
    FilterState {
        key: &'static str,
        string_match: StringMatcher,
    },
}

/// Where a waypoint keeps the principal of the peer that opened the HBONE
/// tunnel, for the listener inside to match (istiod's
/// `authz.Option.UseFilterState` for waypoints; the key is Istio's).
pub const PEER_PRINCIPAL: &str = "io.istio.peer_principal";

/// How a proxy knows who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer<'a> {
    /// From the certificate of the connection it accepted (a sidecar,
    /// ztunnel).
    Connection,
    /// From the tunnel the request came in ([`PEER_PRINCIPAL`]): a waypoint,
    /// whose routes run on an internal listener behind the tunnel's end,
    /// for the Service `target` (the service's own, or under the Gateway API
    /// one of its per-version Services).
    Tunnel { target: &'a str },
}

impl Rbac {
    /// As the HTTP filter of a connection manager.
    pub fn filter(self) -> NamedConfig {
        NamedConfig {
            name: "envoy.filters.http.rbac",
            typed_config: Any::Rbac(self),
        }
    }
}

impl Peer<'_> {
    fn is(self, uri: String) -> Principal {
        let m = StringMatcher { exact: uri };
        match self {
            Peer::Connection => Principal::Authenticated { principal_name: m },
            Peer::Tunnel { .. } => Principal::FilterState {
                key: PEER_PRINCIPAL,
                string_match: m,
            },
        }
    }
}

/// The RBAC filter of `service`'s inbound side (a sidecar's) or, at the
/// waypoint, of a Service that selects its pods (the L7 policy
/// `<target>-waypoint`): `None` when the profile renders no
/// AuthorizationPolicy (`mtls = false`).
pub fn policy(m: &Model, service: &Service, peer: Peer<'_>) -> Option<Rbac> {
    let callers = service
        .callers
        .iter()
        .map(|c| peer.is(identity::caller(m, c).spiffe_uri()));
    let name = match peer {
        Peer::Connection => pods_policy(&service.name).to_owned(),
        Peer::Tunnel { target } => waypoint_policy(target),
    };
    m.mesh.mtls.then(|| Rbac {
        rules: allow(m, &name, callers.collect()),
        shadow_rules_stat_prefix: "istio_dry_run_allow_",
    })
}

/// ztunnel's L4 policy for a service's pods in ambient mode (the one named
/// like the service): the waypoint only. Its second rule, Prometheus'
/// scrapes of the metrics port, has nothing to match locally (the hops'
/// metrics ports are not behind ztunnel).
pub fn l4_policy(m: &Model, service: &Service) -> Option<Rules> {
    let callers = l4_callers(m)
        .into_iter()
        .map(|principal| Peer::Connection.is(identity::spiffe_uri(&principal)))
        .collect();
    let ambient = m.mesh.data_plane == DataPlane::Ambient;
    (m.mesh.mtls && ambient).then(|| allow(m, pods_policy(&service.name), callers))
}

/// One ALLOW policy `name` with one rule: from any of `callers`.
fn allow(m: &Model, name: &str, callers: Vec<Principal>) -> Rules {
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
    let name = format!("ns[{}]-policy[{name}]-rule[0]", m.namespace);
    Rules {
        policies: [(name, rule)].into(),
    }
}
