//! `25-destinations.yaml`: the DestinationRules.
//!
//! With Istio's API, one per service: its subsets (one per version), mutual
//! TLS when asked, and the service's traffic policy. They come before any
//! route that names a subset (the ingress route names the entry service's),
//! since a route to a subset that does not exist yet answers 503.
//!
//! With the Gateway API, routes name one Service per version instead of
//! subsets, and a DestinationRule applies to the host it names: a service
//! with a traffic policy gets one per version Service, holding only that
//! policy (Istio applies DestinationRules to Gateway API traffic too).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Docs, Meta, Object, Spec};
use crate::model::{self, Duration, LoadBalancer, RoutingApi, istio};
use crate::render::kube::View;
use crate::render::yaml;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DestinationRule<'a> {
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic_policy: Option<TrafficPolicy<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subsets: Vec<Subset<'a>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct TrafficPolicy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    load_balancer: Option<Lb<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_pool: Option<Pool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outlier_detection: Option<Outlier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<Tls>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Lb<'a> {
    Simple(&'static str),
    ConsistentHash(HashOn<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HashOn<'a> {
    http_header_name: &'a str,
}

#[derive(Serialize)]
struct Pool {
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpPool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<HttpPool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TcpPool {
    max_connections: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpPool {
    #[serde(skip_serializing_if = "Option::is_none")]
    http1_max_pending_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http2_max_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_requests_per_connection: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outlier {
    #[serde(
        rename = "consecutive5xxErrors",
        skip_serializing_if = "Option::is_none"
    )]
    consecutive_5xx_errors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consecutive_gateway_errors: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_ejection_time: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ejection_percent: Option<u32>,
}

#[derive(Serialize)]
struct Tls {
    mode: &'static str,
}

#[derive(Serialize)]
struct Subset<'a> {
    name: &'a str,
    labels: BTreeMap<&'static str, &'a str>,
}

fn traffic_policy(t: &model::TrafficPolicy) -> TrafficPolicy<'_> {
    TrafficPolicy {
        load_balancer: t.load_balancer.as_ref().map(|lb| match lb {
            LoadBalancer::Simple { policy } => Lb::Simple(policy.name()),
            LoadBalancer::ConsistentHash { http_header_name } => {
                Lb::ConsistentHash(HashOn { http_header_name })
            }
        }),
        connection_pool: t.connection_pool.as_ref().map(|p| Pool {
            tcp: p
                .max_connections
                .map(|max_connections| TcpPool { max_connections }),
            http: (p.http1_max_pending_requests.is_some()
                || p.http2_max_requests.is_some()
                || p.max_requests_per_connection.is_some())
            .then_some(HttpPool {
                http1_max_pending_requests: p.http1_max_pending_requests,
                http2_max_requests: p.http2_max_requests,
                max_requests_per_connection: p.max_requests_per_connection,
            }),
        }),
        outlier_detection: t.outlier_detection.as_ref().map(|o| Outlier {
            consecutive_5xx_errors: o.consecutive_5xx_errors,
            consecutive_gateway_errors: o.consecutive_gateway_errors,
            interval: o.interval,
            base_ejection_time: o.base_ejection_time,
            max_ejection_percent: o.max_ejection_percent,
        }),
        tls: None,
    }
}

pub fn destinations(v: &View, docs: &mut Docs) -> yaml::Result {
    match v.model.mesh.routing_api {
        RoutingApi::Istio => per_service(v, docs),
        RoutingApi::GatewayApi => per_version_service(v, docs),
    }
}

fn per_service(v: &View, docs: &mut Docs) -> yaml::Result {
    for s in &v.services {
        let mut policy = s.traffic.map(traffic_policy).unwrap_or_default();
        if v.model.mesh.mtls {
            policy.tls = Some(Tls {
                mode: "ISTIO_MUTUAL",
            });
        }
        let set = policy.load_balancer.is_some()
            || policy.connection_pool.is_some()
            || policy.outlier_detection.is_some()
            || policy.tls.is_some();
        docs.push(&Object {
            api_version: "networking.istio.io/v1",
            kind: "DestinationRule",
            metadata: Meta::of(v, s.name, &s.labels),
            body: Spec {
                spec: DestinationRule {
                    host: &s.host,
                    traffic_policy: set.then_some(policy),
                    subsets: s
                        .subsets
                        .iter()
                        .map(|version| Subset {
                            name: version,
                            labels: [("version", *version)].into(),
                        })
                        .collect(),
                },
            },
        })?;
    }
    Ok(())
}

fn per_version_service(v: &View, docs: &mut Docs) -> yaml::Result {
    for s in &v.services {
        let Some(traffic) = s.traffic.filter(|t| !t.is_default()) else {
            continue;
        };
        for backend in s.backends.values() {
            let host = istio::host(backend, &v.model.namespace);
            docs.push(&Object {
                api_version: "networking.istio.io/v1",
                kind: "DestinationRule",
                metadata: Meta::of(v, backend, &s.labels),
                body: Spec {
                    spec: DestinationRule {
                        host: &host,
                        traffic_policy: Some(traffic_policy(traffic)),
                        subsets: Vec::new(),
                    },
                },
            })?;
        }
    }
    Ok(())
}
