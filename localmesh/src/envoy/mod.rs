//! One pod's sidecar, configured as istiod configures it, as typed values:
//! serde structs in the shapes of Envoy's v3 API JSON, serialized once into a
//! bootstrap ([`types`]). Nothing here is text that is parsed back.
//!
//! - [`tls`]: Istio's mutual TLS, both ends (DownstreamTlsContext of the
//!   inbound side, UpstreamTlsContext of ISTIO_MUTUAL clusters) and the
//!   secrets they name;
//! - [`rbac`]: a service's AuthorizationPolicy as istiod translates it;
//! - [`sidecar`]: the inbound listener and cluster, the outbound stand-in and
//!   the bootstrap of one pod.
//!
//! Istio's sources are cited where a choice mirrors them (istio/istio,
//! pilot/pkg/networking/core and pilot/pkg/security).

pub mod rbac;
pub mod sidecar;
pub mod tls;
pub mod types;

pub use sidecar::{MtlsMode, Outbound, Sidecar};
