//! What a DestinationRule's `trafficPolicy` says for one service (load
//! balancing, connection pool, outlier detection), and the two keys of a
//! route beyond retries: its timeout and a mirror.
//!
//! The names are Istio's. Every target reads these values: the
//! DestinationRule (which applies under the Gateway API too), the routes of
//! both APIs, and the local data plane's Envoy clusters and routes.

use serde::Serialize;

use super::Duration;

/// A service's `trafficPolicy` beyond TLS; `None` fields are Istio's
/// defaults (round robin, no limits, no ejection).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrafficPolicy {
    pub load_balancer: Option<LoadBalancer>,
    pub connection_pool: Option<ConnectionPool>,
    pub outlier_detection: Option<OutlierDetection>,
}

impl TrafficPolicy {
    pub fn is_default(&self) -> bool {
        *self == TrafficPolicy::default()
    }
}

/// `trafficPolicy.loadBalancer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoadBalancer {
    /// `simple: ROUND_ROBIN | LEAST_REQUEST | RANDOM`.
    Simple { policy: SimpleLb },
    /// `consistentHash: {httpHeaderName}`: one header's value picks the pod.
    ConsistentHash { http_header_name: String },
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    RoundRobin,
    LeastRequest,
    Random,
}

impl SimpleLb {
    /// Istio's spelling, which is also Envoy's `lb_policy`.
    pub fn name(self) -> &'static str {
        match self {
            SimpleLb::RoundRobin => "ROUND_ROBIN",
            SimpleLb::LeastRequest => "LEAST_REQUEST",
            SimpleLb::Random => "RANDOM",
        }
    }
}

/// `trafficPolicy.connectionPool`: the caller's proxy queues or refuses
/// what goes beyond (Envoy's circuit breakers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionPool {
    /// `tcp.maxConnections`: connections to all pods of the service, per
    /// calling proxy.
    pub max_connections: Option<u32>,
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    pub http1_max_pending_requests: Option<u32>,
    /// `http.http2MaxRequests`: requests in flight at once (any protocol,
    /// despite the name).
    pub http2_max_requests: Option<u32>,
    /// `http.maxRequestsPerConnection`: a connection is closed after so many.
    pub max_requests_per_connection: Option<u32>,
}

/// `trafficPolicy.outlierDetection`: the caller's proxy ejects a pod that
/// fails so many times in a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutlierDetection {
    /// `consecutive5xxErrors`: 5xx answers, gRPC errors mapped to their HTTP
    /// status, and connection failures.
    pub consecutive_5xx_errors: Option<u32>,
    /// `consecutiveGatewayErrors`: 502, 503 and 504 only (UNAVAILABLE,
    /// DEADLINE_EXCEEDED... mapped), and connection failures.
    pub consecutive_gateway_errors: Option<u32>,
    /// `interval`: how often ejections are decided.
    pub interval: Option<Duration>,
    /// `baseEjectionTime`: ejected for this times the number of ejections.
    pub base_ejection_time: Option<Duration>,
    /// `maxEjectionPercent`: at most this share of the pods is ejected.
    pub max_ejection_percent: Option<u32>,
}

impl OutlierDetection {
    /// Istio's defaults for what the profile leaves out (networking API:
    /// `interval` 10s, `baseEjectionTime` 30s, `maxEjectionPercent` 10, and
    /// Envoy's 5 consecutive 5xx when neither count is given).
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
    pub const DEFAULT_BASE_EJECTION_TIME: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_EJECTION_PERCENT: u32 = 10;
}

/// A share of a route's traffic copied to a subset; its answers are dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mirror {
    pub subset: String,
    /// 0 to 100.
    pub percent: f64,
}

impl Mirror {
    /// The share per million, truncated as istiod converts a percentage
    /// (`uint32(p * 10000)`), so that no share below 100 % becomes all.
    pub fn per_million(&self) -> u32 {
        // The epsilon keeps 0.0001 % from flooring to 0 through f64 error.
        (self.percent * 10_000.0 + 1e-6).floor() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_share_per_million_is_truncated_as_istiod_does() {
        let m = |percent| Mirror {
            subset: "canary".into(),
            percent,
        };
        assert_eq!(m(12.5).per_million(), 125_000);
        assert_eq!(m(0.0001).per_million(), 1, "the finest share is not lost");
        assert_eq!(
            m(99.99999).per_million(),
            999_999,
            "below 100 % is never all"
        );
        assert_eq!(m(100.0).per_million(), 1_000_000);
    }
}
