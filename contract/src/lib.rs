//! The contract between `meshgen` and the chain's hops.
//!
//! Everything both sides must agree on lives here, once: the typed
//! configuration of a hop and its environment ([`HopConfig::to_env`] /
//! [`HopConfig::from_env`], each variable named once in [`env`]), the headers a
//! hop forwards ([`headers`]), the one [`Duration`] grammar, the chain's
//! [`Protocol`] and its ports, gRPC status [`Code`]s, upstream [`Target`]s and
//! what an [`external`] upstream may be.
//!
//! A hop started by meshgen (Kubernetes manifests, `meshgen up`) and a hop
//! started by hand read exactly the same struct. The crate has no async runtime
//! and no RPC stack, so meshgen's render path stays free of them.

mod duration;
pub mod external;
mod grpc;
pub mod headers;
mod hop;
mod limits;
mod probability;
mod protocol;
mod target;

pub use duration::{Duration, ParseDurationError};
pub use grpc::Code;
pub use hop::{ConfigError, HopConfig, Misbehaviour, env};
/// The `http` crate this contract speaks in (`HeaderName`, `HeaderMap`, `Uri`).
pub use http;
pub use limits::{
    CONNECTION_WINDOW, Limits, MAX_HEADER_BYTES, MemoryBudget, POD_MEMORY_LIMIT, STREAM_WINDOW,
};
pub use probability::Probability;
pub use protocol::{METRICS_PORT, OTLP_GRPC_PORT, Protocol};
pub use target::{Target, TargetScheme};
