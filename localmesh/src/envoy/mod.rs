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
//! - [`sidecar`], [`gateway`], [`waypoint`], [`ztunnel`]: the four kinds of
//!   proxy, and [`hbone`], the tunnel of ambient mode;
//! - [`proxy`]: what they share (connection manager, tracing, access log,
//!   bootstrap).
//!
//! Istio's sources are cited where a choice mirrors them (istio/istio,
//! pilot/pkg/networking/core and pilot/pkg/security).

pub mod gateway;
pub mod hbone;
pub mod outbound;
pub mod proxy;
pub mod rbac;
pub mod retry;
pub mod route;
pub mod sidecar;
pub mod tls;
pub mod traffic;
pub mod types;
pub mod waypoint;
pub mod ztunnel;

use std::path::{Path, PathBuf};

pub use gateway::Gateway;
pub use outbound::{Egress, Outbound};
pub use retry::RetryMode;
pub use sidecar::{MtlsMode, Sidecar};
pub use waypoint::Waypoint;
pub use ztunnel::Ztunnel;

use std::collections::BTreeMap;

use meshgen::model::Model;

use crate::Error;
use crate::ca::{Credentials, write_private};
use crate::identity;
use crate::plan::{Collector, Plan, Topology};

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

/// Every proxy of `plan`, by name, with its bootstrap: the ingress gateway
/// first, then a sidecar per pod, or ztunnel and the waypoint. `credentials`
/// holds every identity's ([`crate::identity::mesh`]), by name.
pub fn bootstraps(
    model: &Model,
    plan: &Plan,
    credentials: &BTreeMap<String, Credentials>,
    options: &ProxyOptions,
) -> Vec<(String, types::Bootstrap)> {
    let of = |id: identity::Identity| &credentials[&id.name];
    let gateway = Gateway::of(model, plan, Some(of(identity::ingress(model))), options);
    let mut out = vec![("ingress gateway".to_owned(), gateway.bootstrap())];
    match plan.topology {
        Topology::Sidecars => {
            for pod in &plan.pods {
                let c = of(identity::service(model, &pod.service));
                let sidecar = Sidecar::of(model, plan, pod, c, options);
                out.push((sidecar.proxy_name(), sidecar.bootstrap()));
            }
        }
        Topology::Ambient => {
            if let Some(z) = Ztunnel::of(model, plan, credentials, options) {
                out.push((z.proxy_name(), z.bootstrap()));
            }
            let waypoint = Waypoint::of(model, plan, of(identity::waypoint(model)), options);
            if let Some(w) = waypoint {
                out.push(("waypoint".to_owned(), w.bootstrap()));
            }
        }
    }
    out
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
