//! `meshgen up` and `meshgen compare`: the demo on one machine, with a real
//! Envoy playing Istio's data plane (see docs/local.md).
//!
//! [`envoy`] is the target (Model + ports -> Envoy bootstrap, pure); [`Mesh`]
//! runs it: one hop process per workload, an optional external stub, and Envoy,
//! all on 127.0.0.1, all stopped when the Mesh is dropped.

mod admin;
pub mod compare;
pub mod envoy;
pub mod load;
mod mesh;
pub mod options;
pub mod ports;
pub mod procs;
pub mod provenance;
pub mod report;
pub mod stub;
pub mod table;
pub mod up;
pub mod verdict;

use std::time::Duration;

pub use admin::envoy_retries;
pub use envoy::{Layout, RetryMode};
pub use mesh::Mesh;
pub use options::{
    BUILD_HOPS, Options, check, external_hint, find_binary, find_envoy, find_programs,
    stubs_externals,
};

/// How long one readiness or stats probe may take.
const PROBE: Duration = Duration::from_secs(5);
