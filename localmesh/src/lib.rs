//! Istio's data plane on one machine, piece by piece: the [`meshgen`] Model
//! in; identities, typed proxy configuration and Envoy processes out.
//!
//! - [`identity`]: who each workload is (its SPIFFE principal), read from the
//!   Model's decisions ([`meshgen::model::istio`]).
//! - [`ca`]: a certificate authority made at start, issuing each identity a
//!   short-lived EC P-256 certificate as istiod does, as PEM files in a private
//!   temporary directory.
//! - [`envoy`]: one pod's sidecar as typed values (serde structs in Envoy's v3
//!   JSON shapes): the inbound side (Istio mutual TLS, STRICT or PERMISSIVE,
//!   the RBAC filter of the service's AuthorizationPolicy, the local app), the
//!   outbound ISTIO_MUTUAL upstream TLS, and the bootstrap.
//! - [`process`]: Envoy started for a bootstrap, ready when its admin says so,
//!   killed with its parent.
//! - [`usage`]: what a process uses (CPU seconds, resident memory) from `/proc`.
//!
//! No async runtime: the caller drives it from its own. docs/local.md says
//! what is played and what is left.

pub mod ca;
pub mod envoy;
mod error;
pub mod identity;
pub mod plan;
pub mod process;
pub mod usage;

pub use error::Error;
