//! Names of the mesh every target plays: Istio's namespace, its ingress
//! gateway, the tracing collector, and how a service is named as a host. The
//! Kubernetes manifests and the local Envoy both read them from here.

use contract::OTLP_GRPC_PORT;

use super::{Model, RoutingApi};

/// Namespace of Istio's control plane, its ingress gateway and the addons.
pub const NAMESPACE: &str = "istio-system";
/// The ingress gateway that `istioctl install` creates, and its ServiceAccount.
pub const INGRESS_GATEWAY: &str = "istio-ingressgateway";
/// Its ServiceAccount (not named like the workload, unlike Gateway API ones).
pub const INGRESS_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// The principal of the namespace's waypoint (ambient mode), its account
/// named like it: the only caller ztunnel lets through to the pods.
pub fn waypoint_principal(namespace: &str) -> String {
    principal(namespace, WAYPOINT)
}

/// The principal the entry service sees calling from the ingress.
pub fn ingress_principal(m: &Model) -> String {
    match m.mesh.routing_api {
        RoutingApi::Istio => principal(NAMESPACE, INGRESS_ACCOUNT),
        RoutingApi::GatewayApi => principal(&m.namespace, &gateway_deployment(&m.ingress.gateway)),
    }
}
/// The tracing collector's Service (in [`NAMESPACE`]) and its OTLP/gRPC port.
pub const COLLECTOR_SERVICE: &str = "jaeger-collector";
pub const COLLECTOR_PORT: u16 = OTLP_GRPC_PORT;
/// The namespace's waypoint (ambient): a Gateway of class `istio-waypoint`,
/// and the Deployment, Service and ServiceAccount Istio makes for it.
pub const WAYPOINT: &str = "waypoint";
/// The HBONE port a waypoint listens on.
pub const WAYPOINT_PORT: u16 = 15008;

/// What Istio names the Deployment, Service and ServiceAccount it makes for a
/// Gateway API gateway of class `istio`.
pub fn gateway_deployment(gateway: &str) -> String {
    format!("{gateway}-istio")
}

/// The proxy at the chain's entry: its workload (also its ServiceAccount)
/// and namespace. Istio's own ingress gateway for the classic API; for the
/// Gateway API, the one Istio deploys for the chain's Gateway.
pub fn ingress_proxy(m: &Model) -> (String, &str) {
    match m.mesh.routing_api {
        RoutingApi::Istio => (INGRESS_GATEWAY.to_owned(), NAMESPACE),
        RoutingApi::GatewayApi => (gateway_deployment(&m.ingress.gateway), &m.namespace),
    }
}

/// The trust domain of a default Istio install.
pub const TRUST_DOMAIN: &str = "cluster.local";

/// The cluster-local DNS name of a Service (what Istio names hosts by).
pub fn host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

/// The collector's host.
pub fn collector_host() -> String {
    host(COLLECTOR_SERVICE, NAMESPACE)
}

/// The ServiceAccount a service's pods run as (and an in-cluster stub's):
/// named like the service. The Deployments, the principals callers are
/// allowed by, and the local mesh's certificates all read it here.
pub fn account(service: &str) -> &str {
    service
}

/// The SPIFFE identity of a service account.
pub fn principal(namespace: &str, account: &str) -> String {
    format!("{TRUST_DOMAIN}/ns/{namespace}/sa/{account}")
}
