//! A DestinationRule's traffic policy on the clusters of its host, as
//! istiod applies it (`cluster_traffic_policy.go`: `applyLoadBalancer`,
//! `applyConnectionPool`, `applyOutlierDetection`), and the route side of
//! consistent hashing (`ConsistentHashToHashPolicy`).

use meshgen::model::{LoadBalancer, TrafficPolicy};

use super::types::{
    CircuitBreakers, Cluster, CommonLbConfig, HashHeader, HashPolicy, OutlierDetection, Percent,
    RingHashLbConfig, upstream_protocol,
};

/// Applies `policy` to `c`, a cluster of the service's (`h2`: HTTP/2 to it).
pub fn apply(c: &mut Cluster, policy: &TrafficPolicy, h2: bool) {
    match &policy.load_balancer {
        None => {}
        Some(LoadBalancer::Simple { policy }) => c.lb_policy = policy.name(),
        Some(LoadBalancer::ConsistentHash { .. }) => {
            c.lb_policy = "RING_HASH";
            // Envoy's default, which istiod writes out.
            c.ring_hash_lb_config = Some(RingHashLbConfig {
                minimum_ring_size: 1024,
            });
        }
    }
    if let Some(pool) = &policy.connection_pool {
        let mut breakers = CircuitBreakers::istio_default();
        let t = &mut breakers.thresholds[0];
        if let Some(n) = pool.max_connections {
            t.max_connections = n;
        }
        if let Some(n) = pool.http1_max_pending_requests {
            t.max_pending_requests = n;
        }
        if let Some(n) = pool.http2_max_requests {
            t.max_requests = n;
        }
        c.circuit_breakers = Some(breakers);
        if pool.max_requests_per_connection.is_some() {
            c.typed_extension_protocol_options =
                upstream_protocol(h2, pool.max_requests_per_connection);
        }
    }
    if let Some(o) = &policy.outlier_detection {
        // A positive count is enforced always; 0 turns that kind off.
        let enforce = |n: u32| if n > 0 { 100 } else { 0 };
        c.outlier_detection = Some(OutlierDetection {
            enforcing_success_rate: 0,
            consecutive_5xx: o.consecutive_5xx_errors,
            enforcing_consecutive_5xx: o.consecutive_5xx_errors.map(enforce),
            consecutive_gateway_failure: o.consecutive_gateway_errors,
            enforcing_consecutive_gateway_failure: o.consecutive_gateway_errors.map(enforce),
            interval: o.interval.map(|d| d.to_string()),
            base_ejection_time: o.base_ejection_time.map(|d| d.to_string()),
            max_ejection_percent: o.max_ejection_percent,
        });
        // minHealthPercent 0: no panic mode, so traffic never returns to an
        // ejected pod because too few are left (few pods per service).
        c.common_lb_config = Some(CommonLbConfig {
            healthy_panic_threshold: Percent { value: 0.0 },
        });
    }
}

/// The route's hash policy, for a consistent-hash load balancer.
pub fn hash_policy(policy: &TrafficPolicy) -> Vec<HashPolicy> {
    match &policy.load_balancer {
        Some(LoadBalancer::ConsistentHash { http_header_name }) => vec![HashPolicy {
            header: HashHeader {
                header_name: http_header_name.clone(),
            },
        }],
        _ => Vec::new(),
    }
}
