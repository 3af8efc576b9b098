//! `meshgen up` and `meshgen compare`: the demo on one machine, with real
//! Envoys playing Istio's data plane (see docs/local.md).
//!
//! The `localmesh` crate decides the layout and configures each proxy
//! (pure); [`Mesh`] runs it: a hop process per pod, the proxies, an optional
//! external stub, all on 127.0.0.1, all stopped when the Mesh is dropped.
//! [`view`] prints what the proxies were given.

mod admin;
mod balancer;
pub mod compare;
pub mod cost;
pub mod experiment;
pub mod load;
mod mesh;
pub mod options;
pub mod ports;
pub mod provenance;
pub mod report;
mod stop;
pub mod stub;
pub mod table;
pub mod up;
pub mod verdict;
pub mod view;

use std::time::Duration;

pub use admin::envoy_retries;
pub use localmesh::envoy::RetryMode;
pub use mesh::Mesh;
pub use options::{
    BUILD_HOPS, Options, check, external_hint, find_binary, find_envoy, find_programs,
    stubs_externals,
};

/// How long one readiness or stats probe may take.
const PROBE: Duration = Duration::from_secs(5);
