//! What one hop of the chain does, whatever the protocol.
//!
//! The binaries `chain-http` and `chain-grpc` own their servers; everything
//! that must behave identically on both protocols lives here: configuration,
//! the `fail` dice, the reply and its text, the propagated headers, telemetry,
//! metrics, the in-app work and the upstream clients.

pub mod cli;
pub mod deadline;
pub mod dice;
pub mod fail_status;
pub mod handler;
pub mod headers;
pub mod metrics;
pub mod probe;
pub mod reply;
pub mod runtime;
pub mod serve;
pub mod shutdown;
pub mod telemetry;
pub mod upstream;
pub mod work;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use contract::{HopConfig, Protocol, Target, TargetScheme};
pub use handler::{Hop, Outcome};
pub use reply::{Answer, Reply, UpstreamReply};
