//! `30-ingress.yaml`: the Gateway on port 80 and the route from it to the
//! entry service.
//!
//! With the Gateway API, Istio deploys the Gateway's proxy in the chain's
//! namespace (Deployment, Service and ServiceAccount named `<gateway>-istio`).
//! An HTTP listener serves gRPC too (h2c); the route's kind says which
//! protocol it routes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kinds::{
    AllowedRoutes, Gateway, Infrastructure, Listener, NetworkPolicy, NetworkPort, NetworkRule,
    PodSelector, RouteNamespaces, Selector,
};
use super::routes::{Rule, VirtualService, http_routes, rules};
use super::{Docs, Meta, Object, Spec};
use crate::model::RoutingApi;
use crate::render::kube::View;
use crate::render::yaml;

/// The port the ingress listens on.
const INGRESS_PORT: u16 = 80;

#[derive(Serialize)]
struct IstioGateway<'a> {
    selector: BTreeMap<&'static str, &'static str>,
    servers: [Server<'a>; 1],
}

#[derive(Serialize)]
struct Server<'a> {
    port: ServerPort,
    hosts: &'a [String],
}

#[derive(Serialize)]
struct ServerPort {
    number: u16,
    name: &'static str,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayRoute<'a> {
    parent_refs: [GatewayRef<'a>; 1],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    hostnames: &'a [&'a str],
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
struct GatewayRef<'a> {
    name: &'a str,
}

pub fn ingress(v: &View, docs: &mut Docs) -> yaml::Result {
    let port = v.model.wire.service_port;
    let entry = v
        .services
        .iter()
        .find(|s| s.name == v.model.ingress.service)
        .expect("the entry service is a service of the chain");
    let route = entry.route.expect("a chain service has a route");
    match v.model.mesh.routing_api {
        RoutingApi::Istio => {
            docs.push(&Object {
                api_version: "networking.istio.io/v1",
                kind: "Gateway",
                metadata: Meta::of(v, v.ingress.gateway, &v.labels),
                body: Spec {
                    spec: IstioGateway {
                        selector: [("istio", "ingressgateway")].into(),
                        servers: [Server {
                            port: ServerPort {
                                number: INGRESS_PORT,
                                name: v.port_name,
                                protocol: v.gateway_protocol,
                            },
                            hosts: v.ingress.hosts,
                        }],
                    },
                },
            })?;
            docs.push(&Object {
                api_version: "networking.istio.io/v1",
                kind: "VirtualService",
                metadata: Meta::of(v, v.ingress.route, &entry.labels),
                body: Spec {
                    spec: VirtualService {
                        hosts: v.ingress.hosts.iter().map(String::as_str).collect(),
                        gateways: Some([v.ingress.gateway]),
                        http: http_routes(entry, route, port),
                    },
                },
            })?;
        }
        RoutingApi::GatewayApi => {
            docs.push(&Object {
                api_version: "gateway.networking.k8s.io/v1",
                kind: "Gateway",
                metadata: Meta::of(v, v.ingress.gateway, &v.gateway_labels),
                body: Spec {
                    spec: Gateway {
                        gateway_class_name: "istio",
                        listeners: [Listener {
                            name: "http",
                            port: INGRESS_PORT,
                            protocol: "HTTP",
                            allowed_routes: Some(AllowedRoutes {
                                namespaces: RouteNamespaces { from: "Same" },
                            }),
                        }],
                        infrastructure: Infrastructure {
                            labels: &v.infrastructure_labels,
                        },
                    },
                },
            })?;
            // The chain's NetworkPolicy only lets the mesh in; the gateway
            // takes traffic from anywhere, on its listener's port.
            docs.push(&Object {
                api_version: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: Meta::of(v, v.ingress.gateway, &v.labels),
                body: Spec {
                    spec: NetworkPolicy {
                        pod_selector: PodSelector::Labels(Selector {
                            match_labels: &v.ingress.pod_selector,
                        }),
                        policy_types: ["Ingress"],
                        ingress: [NetworkRule {
                            from: Vec::new(),
                            ports: vec![NetworkPort {
                                port: INGRESS_PORT,
                                protocol: "TCP",
                            }],
                        }],
                    },
                },
            })?;
            docs.push(&Object {
                api_version: "gateway.networking.k8s.io/v1",
                kind: v.route_kind,
                metadata: Meta::of(v, v.ingress.route, &entry.labels),
                body: Spec {
                    spec: GatewayRoute {
                        parent_refs: [GatewayRef {
                            name: v.ingress.gateway,
                        }],
                        hostnames: &v.ingress.hostnames,
                        rules: rules(entry, route, port),
                    },
                },
            })?;
        }
    }
    Ok(())
}
