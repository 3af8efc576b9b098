//! A service's routes as istiod writes them from its VirtualService (or from
//! what istiod makes of an HTTPRoute/GRPCRoute, which the Model has already
//! reduced to the same decisions): `route.TranslateRoute`,
//! `route.TranslateFault`. The same routes serve every proxy that routes to
//! the service: the gateway, each caller's sidecar, the waypoint.

use std::collections::BTreeMap;

use meshgen::model::{AbortStatus, Fault as ModelFault, Model, Route as ModelRoute, istio};

use super::retry::{self, RetryMode};
use super::traffic;
use super::types::{
    Any, ClusterWeight, Decorator, Fault, FaultAbort, FaultDelay, FractionalPercent, HeaderMatcher,
    MaxStreamDuration, RequestMirrorPolicy, Route, RouteAction, RouteMatch,
    RuntimeFractionalPercent, StringMatcher, WeightedClusters,
};

/// The fault filter's name, for the per-route config.
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";

/// `model.BuildSubsetKey(TrafficDirectionOutbound, subset, host, port)`.
pub fn cluster_name(port: u16, subset: &str, host: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// The subset cluster of one of a service's subsets.
pub fn subset_cluster(model: &Model, service: &str, subset: &str) -> String {
    let host = istio::host(service, &model.namespace);
    cluster_name(model.wire.service_port, subset, &host)
}

/// `route.TranslateFault`: the per-route config of the fault filter.
pub fn fault(f: &ModelFault) -> Fault {
    Fault {
        delay: f.delay.as_ref().map(|d| FaultDelay {
            fixed_delay: d.fixed.to_string(),
            percentage: FractionalPercent::of(d.percent),
        }),
        abort: f.abort.as_ref().map(|a| {
            let (http_status, grpc_status) = match a.status {
                AbortStatus::Http(s) => (Some(s), None),
                AbortStatus::Grpc(code) => (None, Some(code as u32)),
            };
            FaultAbort {
                http_status,
                grpc_status,
                percentage: FractionalPercent::of(a.percent),
            }
        }),
    }
}

/// No route timeout, gRPC's `grpc-timeout` not capped: istiod's default
/// when the route sets no `timeout`.
pub fn no_timeout() -> MaxStreamDuration {
    MaxStreamDuration {
        max_stream_duration: "0s",
        grpc_timeout_header_max: "0s",
    }
}

/// A catch-all match.
pub fn everything() -> RouteMatch {
    RouteMatch {
        prefix: Some("/".into()),
        connect_matcher: None,
        case_sensitive: true,
        headers: Vec::new(),
    }
}

/// `route.TranslateRoute` for one service's routes (VirtualService `http[]`):
/// header matches first (one route each, to their subset), then the default
/// route with the split.
pub fn routes(model: &Model, service: &str, route: &ModelRoute, mode: RetryMode) -> Vec<Route> {
    let host = istio::host(service, &model.namespace);
    let port = model.wire.service_port;
    let retries = route.retries.or_mesh(&model.mesh.default_retries);
    // `setTimeout`: no timeout is `0s`, and a gRPC caller's own deadline
    // is honoured up to the route's.
    let timeout = route.timeout.map_or("0s".to_owned(), |t| t.to_string());
    let mirror = |split: &[(&str, u32)]| -> Vec<RequestMirrorPolicy> {
        let m = route.mirror_of(split.iter().map(|(subset, _)| *subset));
        m.into_iter()
            .map(|m| RequestMirrorPolicy {
                cluster: cluster_name(port, &m.subset, &host),
                runtime_fraction: RuntimeFractionalPercent {
                    default_value: FractionalPercent {
                        numerator: u64::from(m.per_million()),
                        denominator: "MILLION",
                    },
                },
                trace_sampled: false,
                disable_shadow_host_suffix_append: true,
            })
            .collect()
    };
    let hash = model
        .service(service)
        .map(|s| traffic::hash_policy(&s.traffic))
        .unwrap_or_default();
    let action = |split: &[(&str, u32)]| {
        let mut action = RouteAction {
            timeout: timeout.clone(),
            max_grpc_timeout: Some(timeout.clone()),
            retry_policy: retry::policy(retries, mode),
            request_mirror_policies: mirror(split),
            hash_policy: hash.clone(),
            ..RouteAction::default()
        };
        // The Model's split has no zero weights.
        match split {
            [(subset, _)] => action.cluster = Some(cluster_name(port, subset, &host)),
            _ => {
                action.weighted_clusters = Some(WeightedClusters {
                    clusters: split
                        .iter()
                        .map(|(subset, weight)| ClusterWeight {
                            name: cluster_name(port, subset, &host),
                            weight: *weight,
                        })
                        .collect(),
                })
            }
        }
        action
    };
    let finish = |name: String, matcher: RouteMatch, action: RouteAction| Route {
        name,
        matcher,
        route: Some(action),
        direct_response: None,
        decorator: Some(Decorator {
            operation: format!("{host}:{port}/*"),
        }),
        typed_per_filter_config: match &route.fault {
            Some(f) => BTreeMap::from([(FAULT_FILTER, Any::Fault(fault(f)))]),
            None => BTreeMap::new(),
        },
    };
    let mut out: Vec<Route> = route
        .header_matches
        .iter()
        .map(|m| {
            let matcher = RouteMatch {
                headers: vec![HeaderMatcher {
                    name: m.header.clone(),
                    string_match: StringMatcher {
                        exact: m.value.clone(),
                    },
                }],
                ..everything()
            };
            finish(
                format!("match-{}", m.header),
                matcher,
                action(&[(m.subset.as_str(), 100)]),
            )
        })
        .collect();
    let split: Vec<(&str, u32)> = route
        .split
        .iter()
        .map(|w| (w.subset.as_str(), w.weight))
        .collect();
    out.push(finish("default".into(), everything(), action(&split)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgen::model::{Abort, Code, Delay, Duration};

    #[test]
    fn faults_and_codes() {
        let f = serde_json::to_value(fault(&ModelFault {
            abort: Some(Abort {
                percent: 10.0,
                status: AbortStatus::Grpc(Code::Unavailable),
            }),
            delay: Some(Delay {
                fixed: Duration::from_millis(500),
                percent: 5.0,
            }),
        }))
        .unwrap();
        assert_eq!(f["abort"]["grpc_status"], 14);
        assert!(f["abort"].get("http_status").is_none());
        assert_eq!(f["abort"]["percentage"]["numerator"], 100_000);
        assert_eq!(f["delay"]["fixed_delay"], "0.5s");
        assert_eq!(f["delay"]["percentage"]["numerator"], 50_000);
    }

    #[test]
    fn names() {
        assert_eq!(
            cluster_name(80, "canary", "middleware.ns.svc.cluster.local"),
            "outbound|80|canary|middleware.ns.svc.cluster.local"
        );
        assert_eq!(
            cluster_name(443, "", "api.example"),
            "outbound|443||api.example"
        );
    }
}
