//! Each proxy of the mesh configured as istiod configures it, as typed
//! values: serde structs in the shapes of Envoy's v3 API JSON, serialized
//! once into a bootstrap ([`types`]). Nothing here is text that is parsed
//! back, and every decision is read from the [`meshgen::model::Model`].
//!
//! - [`route`], [`retry`]: a service's routes (canary, weights, retries,
//!   faults), the same in every proxy that routes to it;
//! - [`outbound`]: a caller's side, one listener per destination, a cluster
//!   per subset; egress to hosts outside the mesh;
//! - [`tls`]: Istio's mutual TLS, both ends, and the secrets they name;
//! - [`rbac`]: a service's AuthorizationPolicy as istiod translates it;
//! - [`sidecar`], [`gateway`], [`waypoint`]: the three kinds of proxy;
//! - [`proxy`]: what they share (connection manager, tracing, access log,
//!   bootstrap).
//!
//! Istio's sources are cited where a choice mirrors them (istio/istio,
//! pilot/pkg/networking/core and pilot/pkg/security).

pub mod gateway;
pub mod outbound;
pub mod proxy;
pub mod rbac;
pub mod retry;
pub mod route;
pub mod sidecar;
pub mod tls;
pub mod types;
pub mod waypoint;

use std::path::{Path, PathBuf};

pub use gateway::Gateway;
pub use outbound::{Egress, Outbound};
pub use retry::RetryMode;
pub use sidecar::{MtlsMode, Sidecar};
pub use waypoint::Waypoint;

use crate::Error;
use crate::ca::write_private;
use crate::plan::Collector;

/// What `up` and `compare` may change between two starts of the proxies.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub retry_mode: RetryMode,
    /// Where spans go, when the profile traces.
    pub collector: Option<Collector>,
    /// Sidecars call each other with Istio mutual TLS (auto mTLS, Istio's
    /// default); `false` plays a DestinationRule `tls.mode: DISABLE` for
    /// every host: plain text between the proxies (`compare --cost` measures
    /// both).
    pub peer_mtls: bool,
}

impl Default for ProxyOptions {
    fn default() -> ProxyOptions {
        ProxyOptions {
            retry_mode: RetryMode::On,
            collector: None,
            peer_mtls: true,
        }
    }
}

/// Writes `bootstrap` as `<dir>/<name>.json` (0600, replacing an earlier
/// one of this mesh) and returns its path.
pub fn write_bootstrap(
    bootstrap: &types::Bootstrap,
    dir: &Path,
    name: &str,
) -> Result<PathBuf, Error> {
    let path = dir.join(format!("{name}.json"));
    let json = serde_json::to_vec_pretty(bootstrap).expect("bootstraps serialize");
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::Io {
                what: "cannot replace",
                path,
                source: e,
            });
        }
        _ => {}
    }
    write_private(&path, &json)?;
    Ok(path)
}
