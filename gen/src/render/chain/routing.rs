//! `50-routing.yaml`: the mesh route of every service: a VirtualService, or a
//! Gateway API route (GAMMA) attached to the Service, which applies to every
//! call of it, at the caller's sidecar or at the waypoint.

use serde::Serialize;

use super::routes::{Rule, VirtualService, http_routes, rules};
use super::{Docs, Meta, Object, Spec};
use crate::model::RoutingApi;
use crate::render::kube::View;
use crate::render::yaml;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshRoute<'a> {
    parent_refs: [ServiceRef<'a>; 1],
    rules: Vec<Rule<'a>>,
}

#[derive(Serialize)]
struct ServiceRef<'a> {
    group: &'static str,
    kind: &'static str,
    name: &'a str,
    port: u16,
}

pub fn routing(v: &View, docs: &mut Docs) -> yaml::Result {
    let port = v.model.wire.service_port;
    for (s, route) in v.services.iter().filter_map(|s| Some((s, s.route?))) {
        let meta = Meta::of(v, s.name, &s.labels);
        match v.model.mesh.routing_api {
            RoutingApi::Istio => docs.push(&Object {
                api_version: "networking.istio.io/v1",
                kind: "VirtualService",
                metadata: meta,
                body: Spec {
                    spec: VirtualService {
                        hosts: vec![&s.host],
                        gateways: None,
                        http: http_routes(s, route, port),
                    },
                },
            })?,
            RoutingApi::GatewayApi => docs.push(&Object {
                api_version: "gateway.networking.k8s.io/v1",
                kind: v.route_kind,
                metadata: meta,
                body: Spec {
                    spec: MeshRoute {
                        parent_refs: [ServiceRef {
                            group: "",
                            kind: "Service",
                            name: s.name,
                            port,
                        }],
                        rules: rules(s, route, port),
                    },
                },
            })?,
        }
    }
    Ok(())
}
