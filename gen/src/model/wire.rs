//! Everything that differs between an HTTP chain and a gRPC chain, decided in one
//! place so that no target or template makes a protocol choice of its own.

use serde::Serialize;

use super::{AbortStatus, Code, Protocol};

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
