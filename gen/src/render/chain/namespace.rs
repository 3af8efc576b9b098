//! `00-namespace.yaml`: the namespace, its network boundary, in ambient
//! mode its waypoint, and with tracing its sampling rate.

use super::kinds::{
    Empty, Gateway, Infrastructure, IpBlock, Listener, NetworkPolicy, NetworkRule, Peer,
    PodSelector, Selector,
};
use super::{Docs, Meta, Object, Spec};
use serde::Serialize;

use crate::model::{DataPlane, identity};
use crate::render::kube::View;
use crate::render::yaml;

/// istio-cni's source address for kubelet probes in ambient mode.
const AMBIENT_PROBE_CIDR: &str = "169.254.7.127/32";

pub fn namespace(v: &View, docs: &mut Docs) -> yaml::Result {
    let ns = v.model.namespace.as_str();
    docs.push(&Object {
        api_version: "v1",
        kind: "Namespace",
        metadata: Meta {
            name: ns,
            namespace: None,
            labels: &v.namespace_labels,
        },
        body: Empty {},
    })?;
    docs.push(&chain_network_policy(v))?;
    if v.model.mesh.data_plane == DataPlane::Ambient {
        docs.push(&waypoint(v))?;
    }
    if let (Some(tracing), Some(k)) = (&v.model.mesh.tracing, &v.tracing) {
        docs.push(&Object {
            api_version: "telemetry.istio.io/v1",
            kind: "Telemetry",
            metadata: Meta::of(v, identity::TELEMETRY, &v.labels),
            body: Spec {
                spec: Telemetry {
                    tracing: [TracingSpec {
                        providers: [Provider { name: k.provider }],
                        random_sampling_percentage: tracing.sampling_percent,
                    }],
                },
            },
        })?;
    }
    Ok(())
}

/// The chain's sampling rate, for the proxies of its namespace: the first
/// proxy of a request decides (the Gateway API ingress gateway and, in
/// ambient mode, the waypoint run here) and the others follow its decision.
/// A namespace Telemetry overrides the mesh-wide one for them, which every
/// profile of a cluster shares and so must not carry a profile's rate.
#[derive(Serialize)]
struct Telemetry {
    tracing: [TracingSpec; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TracingSpec {
    providers: [Provider; 1],
    random_sampling_percentage: f64,
}

#[derive(Serialize)]
struct Provider {
    name: &'static str,
}

/// Pods of the namespace take connections only from each other and from the
/// Istio namespace (ingress gateway, Prometheus), as defence in depth under
/// the mesh's own AuthorizationPolicies. Kubelet probes come from the node,
/// which Kubernetes always lets through; in ambient mode istio-cni rewrites
/// their source, which must be allowed.
fn chain_network_policy<'a>(v: &'a View) -> Object<'a, Spec<NetworkPolicy<'a>>> {
    let mut from = vec![
        Peer::PodSelector(Empty {}),
        Peer::NamespaceSelector(Selector {
            match_labels: [("kubernetes.io/metadata.name", v.istio_namespace)].into(),
        }),
    ];
    if v.model.mesh.data_plane == DataPlane::Ambient {
        from.push(Peer::IpBlock(IpBlock {
            cidr: AMBIENT_PROBE_CIDR,
        }));
    }
    Object {
        api_version: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: Meta::of(v, "chain-ingress", &v.labels),
        body: Spec {
            spec: NetworkPolicy {
                pod_selector: PodSelector::All(Empty {}),
                policy_types: ["Ingress"],
                ingress: [NetworkRule {
                    from,
                    ports: Vec::new(),
                }],
            },
        },
    }
}

/// The namespace's waypoint: the proxy that applies every L7 route and policy
/// (ztunnel only does L4). The namespace's `istio.io/use-waypoint` label sends
/// the traffic to every Service of the chain through it.
fn waypoint<'a>(v: &'a View) -> Object<'a, Spec<Gateway<'a>>> {
    Object {
        api_version: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: Meta::of(v, v.waypoint.name, &v.waypoint.labels),
        body: Spec {
            spec: Gateway {
                gateway_class_name: "istio-waypoint",
                listeners: [Listener {
                    name: "mesh",
                    port: v.waypoint.port,
                    protocol: "HBONE",
                    allowed_routes: None,
                }],
                infrastructure: Infrastructure {
                    labels: &v.infrastructure_labels,
                },
            },
        },
    }
}
