//! The chain's protocol and the ports every hop agrees on.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Port of a hop's Prometheus metrics (`/metrics`), whatever the protocol.
pub const METRICS_PORT: u16 = 9464;
/// OTLP over gRPC: where collectors take spans (the OpenTelemetry default).
pub const OTLP_GRPC_PORT: u16 = 4317;

/// What the hops of a chain speak to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 (and h2c) with `GET /`: the `chain-http` hop.
    Http,
    /// gRPC `chain.v1.Hop/Call` over h2c: the `chain-grpc` hop.
    Grpc,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Http, Protocol::Grpc];

    /// The port a hop listens on unless `PORT` says otherwise.
    pub const fn default_port(self) -> u16 {
        match self {
            Protocol::Http => 8080,
            Protocol::Grpc => 50051,
        }
    }

    /// The hop program (and its image name).
    pub const fn binary(self) -> &'static str {
        match self {
            Protocol::Http => "chain-http",
            Protocol::Grpc => "chain-grpc",
        }
    }

    /// The scheme of an upstream [`crate::Target`] of this protocol.
    pub const fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.scheme()
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
