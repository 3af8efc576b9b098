//! Which objects the demo is made of, by identity (kind, namespace, name), and
//! what in the model each one comes from. Decided once here: the Kubernetes
//! target prints exactly these objects in the chain's namespace (a test checks
//! it), and `validate` refuses a profile in which two of them share an identity
//! (`kubectl apply` would silently keep one).

use std::fmt;

use super::{DataPlane, Model, Protocol, RoutingApi, Service, applyset, istio};

/// A Kubernetes object's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: &'static str,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What in the model an object comes from (indices into [`Model::services`],
/// their versions, [`Model::externals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The chain as a whole (namespace, its network and mTLS policies).
    Chain,
    Service(usize),
    Workload(usize, usize),
    Ingress,
    External(usize),
    /// Istio itself: the proxy it deploys for the Gateway API ingress.
    IstioGateway,
    /// Istio itself: the namespace's waypoint (ambient).
    IstioWaypoint,
    /// Kubernetes itself: what every namespace gets.
    Kubernetes,
}

/// Every object of the chain, in apply order, with its owner.
pub fn objects(m: &Model) -> Vec<(ObjectRef, Owner)> {
    let at = |kind, name: &str| ObjectRef {
        kind,
        namespace: m.namespace.clone(),
        name: name.to_owned(),
    };
    let gateway_api = m.mesh.routing_api == RoutingApi::GatewayApi;
    let ambient = m.mesh.data_plane == DataPlane::Ambient;
    let route = route_kind(m);
    let mut out = vec![
        (
            ObjectRef {
                kind: "Namespace",
                namespace: String::new(),
                name: m.namespace.clone(),
            },
            Owner::Chain,
        ),
        (at("NetworkPolicy", NETWORK_POLICY), Owner::Chain),
        (
            at(applyset::PARENT_KIND, applyset::PARENT_NAME),
            Owner::Chain,
        ),
    ];
    if ambient {
        out.push((at("Gateway", istio::WAYPOINT), Owner::Chain));
    }
    if m.mesh.tracing.is_some() {
        out.push((at("Telemetry", TELEMETRY), Owner::Chain));
    }
    if m.mesh.mtls {
        out.push((at("PeerAuthentication", PEER_AUTHENTICATION), Owner::Chain));
        if ambient {
            out.push((
                at("PeerAuthentication", METRICS_PEER_AUTHENTICATION),
                Owner::Chain,
            ));
        }
    }
    // The AuthorizationPolicies of a workload that callers reach: enforced by
    // its sidecar, or in ambient mode by ztunnel and (`-waypoint`) the
    // waypoint, once for each Service that selects its pods.
    let policies =
        |name: &str, services: &[&str], owner: Owner| {
            let mut p = Vec::new();
            if m.mesh.mtls {
                p.push((at("AuthorizationPolicy", name), owner));
                if ambient {
                    p.extend(services.iter().map(|service| {
                        (at("AuthorizationPolicy", &waypoint_policy(service)), owner)
                    }));
                }
            }
            p
        };
    for (i, s) in m.services.iter().enumerate() {
        let owner = Owner::Service(i);
        out.push((at("ServiceAccount", &s.name), owner));
        out.push((at("Service", &s.name), owner));
        out.extend(policies(&s.name, &services_selecting(m, s), owner));
        if !gateway_api {
            out.push((at("DestinationRule", &s.name), owner));
        }
        out.push((at(route, &s.name), owner));
        for (j, w) in s.versions.iter().enumerate() {
            out.push((at("Deployment", &w.name), Owner::Workload(i, j)));
            if gateway_api {
                out.push((at("Service", &w.name), Owner::Workload(i, j)));
                // The traffic policy, on the Service each version is routed to.
                if !s.traffic.is_default() {
                    out.push((at("DestinationRule", &w.name), Owner::Workload(i, j)));
                }
            }
        }
    }
    out.push((at("Gateway", &m.ingress.gateway), Owner::Ingress));
    if gateway_api {
        out.push((at("NetworkPolicy", &m.ingress.gateway), Owner::Ingress));
    }
    out.push((at(route, &m.ingress.route), Owner::Ingress));
    for (i, e) in m.externals.iter().enumerate() {
        let owner = Owner::External(i);
        if !e.stub {
            out.push((at("ServiceEntry", &e.name), owner));
            continue;
        }
        for kind in ["ServiceAccount", "Service", "Deployment"] {
            out.push((at(kind, &e.name), owner));
        }
        out.extend(policies(&e.name, &[e.name.as_str()], owner));
    }
    out
}

/// The objects Istio creates in the chain's namespace for the Gateways of
/// [`objects`]: a Deployment, Service and ServiceAccount per Gateway API
/// gateway and waypoint. A chain object with one of their identities would
/// fight Istio's controller.
pub fn made_by_istio(m: &Model) -> Vec<(ObjectRef, Owner)> {
    let mut names = Vec::new();
    if m.mesh.routing_api == RoutingApi::GatewayApi {
        names.push((
            istio::gateway_deployment(&m.ingress.gateway),
            Owner::IstioGateway,
        ));
    }
    if m.mesh.data_plane == DataPlane::Ambient {
        names.push((istio::WAYPOINT.to_owned(), Owner::IstioWaypoint));
    }
    names
        .into_iter()
        .flat_map(|(name, owner)| {
            ["Deployment", "Service", "ServiceAccount"].map(|kind| {
                (
                    ObjectRef {
                        kind,
                        namespace: m.namespace.clone(),
                        name: name.clone(),
                    },
                    owner,
                )
            })
        })
        .collect()
}

/// What Kubernetes makes in every namespace: the ServiceAccount `default`,
/// which every pod that names no account runs as. A service named `default`
/// would make its callers' policies allow any such pod, and the chain would
/// claim (and a prune delete) an account it does not own.
pub fn made_by_kubernetes(m: &Model) -> Vec<(ObjectRef, Owner)> {
    vec![(
        ObjectRef {
            kind: "ServiceAccount",
            namespace: m.namespace.clone(),
            name: "default".to_owned(),
        },
        Owner::Kubernetes,
    )]
}

/// The kind of the routes: a VirtualService, or the Gateway API route of the
/// chain's protocol.
pub fn route_kind(m: &Model) -> &'static str {
    match (m.mesh.routing_api, m.wire.protocol) {
        (RoutingApi::Istio, _) => "VirtualService",
        (RoutingApi::GatewayApi, Protocol::Http) => "HTTPRoute",
        (RoutingApi::GatewayApi, Protocol::Grpc) => "GRPCRoute",
    }
}

/// Every Service that selects a service's pods: its own, and under the
/// Gateway API one per version (the routes' backends). A waypoint builds
/// authorization per Service (Istio's pilot/pkg/model/policyattachment.go):
/// a policy attached to `backend` does not guard `backend-prod`, which
/// reaches the same pods, so each of them gets its own L7 policy.
pub fn services_selecting<'m>(m: &Model, s: &'m Service) -> Vec<&'m str> {
    let mut services = vec![s.name.as_str()];
    if m.mesh.routing_api == RoutingApi::GatewayApi {
        services.extend(s.versions.iter().map(|w| w.name.as_str()));
    }
    services
}

/// Who ztunnel lets through to a service's pods in ambient mode (the L4
/// policy): the waypoint only, since every call into the chain crosses it,
/// the ingress gateway's included (`istio.io/ingress-use-waypoint`).
pub fn l4_callers(m: &Model) -> Vec<String> {
    vec![istio::waypoint_principal(&m.namespace)]
}

/// The AuthorizationPolicy of a service's pods: enforced by its sidecars, or
/// in ambient mode by ztunnel at L4. Named like the service.
pub fn pods_policy(service: &str) -> &str {
    service
}

/// The L7 AuthorizationPolicy of a Service in ambient mode, enforced by the
/// waypoint (the one named after the service is ztunnel's, at L4).
pub fn waypoint_policy(service: &str) -> String {
    format!("{service}-waypoint")
}

/// `app.kubernetes.io/part-of` of the objects every profile shares (addons,
/// the mesh-wide Telemetry, the install options): no chain may be named so.
pub const SHARED_PART_OF: &str = "meshgen-addons";
/// The chain's own Telemetry: its sampling rate, for every proxy of its
/// namespace (the mesh-wide one is shared by every profile).
pub const TELEMETRY: &str = "chain-tracing";
/// The NetworkPolicy that fences the chain's namespace.
pub const NETWORK_POLICY: &str = "chain-ingress";
/// Ambient: lets Prometheus scrape the hops' metrics port in plain text.
pub const METRICS_PEER_AUTHENTICATION: &str = "hop-metrics";
/// The namespace-wide PeerAuthentication (`default` is Istio's convention).
pub const PEER_AUTHENTICATION: &str = "default";
