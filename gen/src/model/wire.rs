//! Everything that differs between an HTTP chain and a gRPC chain, decided in one
//! place so that no target or template makes a protocol choice of its own.

use serde::Serialize;

use super::{AbortStatus, Code, Protocol, RoutingApi};

/// The protocol decisions of a chain.
#[derive(Debug, Clone, Serialize)]
pub struct Wire {
    pub protocol: Protocol,
    /// Port the Service exposes.
    pub service_port: u16,
    /// Port the hop listens on (its `PORT`).
    pub container_port: u16,
    /// Port of the hop's Prometheus metrics (its `METRICS_PORT`).
    pub metrics_port: u16,
    pub health: Health,
    /// Envoy retry conditions. The hop fails with HTTP 500 or gRPC INTERNAL, so the
    /// condition that retries the app's own failure must be there (`5xx` never
    /// matches a gRPC error; `internal` is not retried by default), plus the
    /// connection failures (for gRPC, `reset` stands in for what `5xx` covers on
    /// HTTP: resets and per-try timeouts).
    pub retry_on: &'static str,
    /// What an injected abort answers unless the profile says otherwise.
    pub default_abort: AbortStatus,
}

/// How an orchestrator checks a hop is alive and ready.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Health {
    /// `GET path` answers 200.
    Http { path: &'static str },
    /// `grpc.health.v1.Health/Check` answers SERVING.
    Grpc,
}

impl Wire {
    pub fn for_protocol(protocol: Protocol) -> Self {
        let container_port = protocol.default_port();
        let metrics_port = contract::METRICS_PORT;
        match protocol {
            Protocol::Http => Wire {
                protocol,
                service_port: 80,
                container_port,
                metrics_port,
                health: Health::Http { path: "/healthz" },
                retry_on: "5xx,connect-failure,refused-stream",
                default_abort: AbortStatus::Http(503),
            },
            Protocol::Grpc => Wire {
                protocol,
                service_port: container_port,
                container_port,
                metrics_port,
                health: Health::Grpc,
                retry_on: "internal,unavailable,cancelled,reset,connect-failure,refused-stream",
                default_abort: AbortStatus::Grpc(Code::Unavailable),
            },
        }
    }
}

/// The conditions of the mesh-wide retry policy (`istio.mesh_retries`): one
/// policy for the chains of both protocols, so the union of theirs (`5xx`
/// never matches a gRPC error and `internal` never an HTTP one).
pub fn mesh_retry_on() -> String {
    let mut all: Vec<&str> = Vec::new();
    for p in Protocol::ALL {
        for c in Wire::for_protocol(p).retry_on.split(',') {
            if !all.contains(&c) {
                all.push(c);
            }
        }
    }
    all.join(",")
}

/// The conditions Istio's conversion of an HTTPRoute `retry` always sets
/// (pilot/pkg/config/kube/gateway/conversion.go), before the codes.
const GATEWAY_API_RETRY_ON: &str = "connect-failure,refused-stream,unavailable,cancelled";
/// The HTTPRoute `retry.codes` that stand for the classic `5xx`: the hop's
/// own failure (500) and what a proxy answers for a failed upstream.
const GATEWAY_API_RETRY_CODES: [u16; 4] = [500, 502, 503, 504];

impl Wire {
    /// The profile's retries as Istio applies them under `api`: the retry
    /// conditions as a VirtualService `retryOn` (Istio's conversion of an
    /// HTTPRoute `retry` lists each code there), and the status codes an
    /// HTTPRoute's `retry.codes` names. The Gateway API has no `5xx`, so a
    /// per-try timeout or a reset is retried there only as a connection failure.
    /// `None`: `api` cannot express retries for this protocol (a GRPCRoute).
    pub fn retry_conditions(&self, api: RoutingApi) -> Option<(String, Vec<u16>)> {
        match (api, self.protocol) {
            (RoutingApi::Istio, _) => Some((self.retry_on.to_owned(), Vec::new())),
            (RoutingApi::GatewayApi, Protocol::Grpc) => None,
            (RoutingApi::GatewayApi, Protocol::Http) => {
                let codes = GATEWAY_API_RETRY_CODES.to_vec();
                let mut on = GATEWAY_API_RETRY_ON.to_owned();
                for c in &codes {
                    on.push_str(&format!(",{c}"));
                }
                Some((on, codes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_cover_the_hop_failure_of_each_protocol() {
        let http = Wire::for_protocol(Protocol::Http);
        assert!(http.retry_on.split(',').any(|c| c == "5xx"));
        let grpc = Wire::for_protocol(Protocol::Grpc);
        assert!(grpc.retry_on.split(',').any(|c| c == "internal"));
        assert!(!grpc.retry_on.contains("5xx"));
        for w in [http, grpc] {
            assert!(!w.retry_on.contains(' '));
        }
    }

    #[test]
    fn retry_conditions_are_ones_istio_accepts() {
        // Istio's validation list (pkg/config/validation: supportedRetryOnPolicies).
        const ISTIO: &[&str] = &[
            "5xx",
            "gateway-error",
            "reset",
            "reset-before-request",
            "connect-failure",
            "retriable-4xx",
            "refused-stream",
            "retriable-status-codes",
            "retriable-headers",
            "envoy-ratelimited",
            "http3-post-connect-failure",
            "cancelled",
            "deadline-exceeded",
            "internal",
            "resource-exhausted",
            "unavailable",
        ];
        for p in Protocol::ALL {
            for c in Wire::for_protocol(p).retry_on.split(',') {
                assert!(ISTIO.contains(&c), "{c}");
            }
        }
    }
}
