//! The bounds of the CRDs (the Gateway API's v1.4, Istio's) that a profile
//! can reach, and why the others cannot be reached. The API server refuses an
//! object over a bound, after `render` exited 0; meshgen refuses the profile
//! instead, with the key (`validate/routing.rs::gateway_api_limits`, and the
//! external ports in `validate/mod.rs`).
//!
//! Out of reach by construction (a test over the vendored CRDs,
//! cli/tests/crd_limits.rs, lists every bound of every field meshgen writes and
//! fails on one that is neither here nor enforced):
//! - `rules` (16): a route has one rule per canary (one per service) plus
//!   the default rule;
//! - `matches` (64) and `matches[].headers` (16): one each per canary rule;
//! - header `name` (256) and `value` (4096): `contract::headers` caps them at
//!   64 and 256;
//! - `parentRefs` (32): one, the Gateway or the Service;
//! - `hostnames[]` (253): hosts are DNS names, at most 253 characters;
//! - `backendRefs[].name` and a mirror's `backendRef.name` (253): Service
//!   names are DNS labels (63);
//! - a rule's `filters` (16): one at most, the mirror;
//! - a Gateway's `listeners` (64): one; `infrastructure.labels` (8): the two
//!   chain labels (`render/kube.rs::chain_labels`);
//! - an AuthorizationPolicy's `targetRefs` (16): one Service per policy.

/// `spec.hostnames` of an HTTPRoute or GRPCRoute: the ingress hosts.
pub const MAX_HOSTNAMES: usize = 16;
/// `spec.rules[].backendRefs`: the versions a weighted split sends to.
pub const MAX_BACKEND_REFS: usize = 16;
/// A ServiceEntry's `spec.ports` (Istio): the ports the chain calls one
/// external host on.
pub const MAX_SERVICE_ENTRY_PORTS: usize = 256;
