//! `10-security.yaml`: strict mTLS for the chain's namespace only (the addons
//! in istio-system are outside the mesh), and ALLOW policies listing the
//! principals of each service's callers: anything else, including other mesh
//! workloads, is denied.
//!
//! Sidecars: one policy per service, enforced by its sidecar. Probes and
//! Prometheus scrapes go to the sidecar agent's port 15020, which is not
//! intercepted, so they keep working.
//!
//! Ambient: the callers' principals are checked at L7 by the waypoint, which
//! authorizes per Service: one policy for each Service that selects the
//! pods (under the Gateway API, the service's own and one per version), or a
//! caller could skip a hop through the Service no policy names. ztunnel, at
//! L4, sees the waypoint's principal only (the ingress gateway crosses the
//! waypoint too: `istio.io/ingress-use-waypoint` on every Service), and
//! lets Prometheus scrape the metrics port in plain text (no merged port 15020
//! without a sidecar).

use std::collections::BTreeMap;

use serde::Serialize;

use super::kinds::Selector;
use super::{Docs, Meta, Object, Spec};
use crate::model::DataPlane;
use crate::model::identity::pods_policy;
use crate::render::kube::{KService, Labels, View};
use crate::render::yaml;

const SECURITY: &str = "security.istio.io/v1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PeerAuthentication<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<Selector<&'a Labels>>,
    mtls: Mtls,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    port_level_mtls: BTreeMap<String, Mtls>,
}

#[derive(Serialize)]
struct Mtls {
    mode: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizationPolicy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<Selector<BTreeMap<&'static str, &'a str>>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    target_refs: Vec<TargetRef<'a>>,
    action: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
struct TargetRef<'a> {
    kind: &'static str,
    group: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Rule<'a> {
    From([Source<'a>; 1]),
    To([Operation; 1]),
}

#[derive(Serialize)]
struct Source<'a> {
    source: Principals<'a>,
}

#[derive(Serialize)]
struct Principals<'a> {
    principals: &'a [String],
}

#[derive(Serialize)]
struct Operation {
    operation: Ports,
}

#[derive(Serialize)]
struct Ports {
    ports: [String; 1],
}

fn from(principals: &[String]) -> Rule<'_> {
    Rule::From([Source {
        source: Principals { principals },
    }])
}

pub fn security(v: &View, docs: &mut Docs) -> yaml::Result {
    if !v.model.mesh.mtls {
        return Ok(());
    }
    let ambient = v.model.mesh.data_plane == DataPlane::Ambient;
    let strict = || Mtls { mode: "STRICT" };
    let metrics_port = v.model.wire.metrics_port.to_string();
    docs.push(&Object {
        api_version: SECURITY,
        kind: "PeerAuthentication",
        metadata: Meta::of(v, "default", &v.labels),
        body: Spec {
            spec: PeerAuthentication {
                selector: None,
                mtls: strict(),
                port_level_mtls: BTreeMap::new(),
            },
        },
    })?;
    if ambient {
        docs.push(&Object {
            api_version: SECURITY,
            kind: "PeerAuthentication",
            metadata: Meta::of(v, "hop-metrics", &v.labels),
            body: Spec {
                spec: PeerAuthentication {
                    selector: Some(Selector {
                        match_labels: &v.labels,
                    }),
                    mtls: strict(),
                    port_level_mtls: [(metrics_port.clone(), Mtls { mode: "PERMISSIVE" })].into(),
                },
            },
        })?;
    }
    for s in v.services.iter().chain(&v.stubs) {
        let callers = || match s.callers.is_empty() {
            true => Vec::new(),
            false => vec![from(&s.callers)],
        };
        if ambient {
            let scrapes = Rule::To([Operation {
                operation: Ports {
                    ports: [metrics_port.clone()],
                },
            }]);
            let l4 = AuthorizationPolicy::on_pods(s.name, vec![from(&s.l4_callers), scrapes]);
            docs.push(&policy(v, s, pods_policy(s.name), l4))?;
            for (service, name) in &s.waypoint_policies {
                let l7 = AuthorizationPolicy::on_service(service, callers());
                docs.push(&policy(v, s, name, l7))?;
            }
        } else {
            let own = AuthorizationPolicy::on_pods(s.name, callers());
            docs.push(&policy(v, s, pods_policy(s.name), own))?;
        }
    }
    Ok(())
}

impl<'a> AuthorizationPolicy<'a> {
    /// Enforced for the pods of `app` by their own proxy (sidecar, or
    /// ztunnel at L4).
    fn on_pods(app: &'a str, rules: Vec<Rule<'a>>) -> Self {
        AuthorizationPolicy {
            selector: Some(Selector {
                match_labels: [("app", app)].into(),
            }),
            target_refs: Vec::new(),
            action: "ALLOW",
            rules,
        }
    }

    /// Enforced by the waypoint for the calls of Service `name`.
    fn on_service(name: &'a str, rules: Vec<Rule<'a>>) -> Self {
        AuthorizationPolicy {
            selector: None,
            target_refs: vec![TargetRef {
                kind: "Service",
                group: "",
                name,
            }],
            action: "ALLOW",
            rules,
        }
    }
}

fn policy<'a>(
    v: &'a View,
    s: &'a KService,
    name: &'a str,
    spec: AuthorizationPolicy<'a>,
) -> Object<'a, Spec<AuthorizationPolicy<'a>>> {
    Object {
        api_version: SECURITY,
        kind: "AuthorizationPolicy",
        metadata: Meta::of(v, name, &s.labels),
        body: Spec { spec },
    }
}
