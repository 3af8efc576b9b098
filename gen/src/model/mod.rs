//! The resolved, validated demo: what every target renders.
//!
//! The Model is target-neutral: it says *what* the mesh must do (services, their
//! versions, who calls whom, routes with subsets, weights, header matches, retries,
//! faults, the egress allow-list, protocol decisions) in plain data. How a target
//! spells it (Kubernetes objects and Istio CRDs today, an Envoy config for a local
//! run later) is the target's business: DNS names, principals, label keys and file
//! layout live in `render::kube`, not here.
//!
//! Every policy decision is made once, while the Model is built (`validate`): for
//! example `Route::retries.retry_on` comes from [`Wire::for_protocol`], so no
//! template or target ever chooses retry conditions.

mod duration;
mod hop_env;
mod wire;

use serde::Serialize;

pub use crate::profile::schema::{Egress, Protocol, PullPolicy};
pub use duration::Duration;
pub use hop_env::Placement;
pub use wire::{Health, Wire};

/// The whole demo.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Demo name (`app.kubernetes.io/part-of`).
    pub name: String,
    /// Where the chain runs.
    pub namespace: String,
    /// Everything decided by the protocol (ports, health checks, retry conditions...).
    pub wire: Wire,
    pub mesh: Mesh,
    pub image: Image,
    pub ingress: Ingress,
    /// In profile order; names are unique.
    pub services: Vec<Service>,
    /// External hosts some service calls (the egress allow-list), sorted, unique.
    pub externals: Vec<External>,
}

/// Mesh-wide behaviour.
#[derive(Debug, Clone, Serialize)]
pub struct Mesh {
    /// Mutual TLS required between the chain's workloads, and only the chain's own
    /// edges allowed (see [`Service::callers`]).
    pub mtls: bool,
    /// `Some` when requests are traced.
    pub tracing: Option<Tracing>,
    /// Metrics backend and dashboards (the original's `grafana` flag).
    pub metrics: bool,
    /// Service graph UI (the original's `servicegraph` flag; Kiali today).
    pub servicegraph: bool,
    pub egress: Egress,
    pub access_log: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tracing {
    /// Percentage of requests sampled at the edge, 0 to 100.
    pub sampling_percent: f64,
}

/// Where workload images come from; the image name is [`Wire::binary`].
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub registry: String,
    pub tag: String,
    pub pull_policy: PullPolicy,
}

/// The chain's entry point.
#[derive(Debug, Clone, Serialize)]
pub struct Ingress {
    /// Name of the entry service.
    pub service: String,
    /// Hosts answered (`*` or DNS names).
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    /// One workload per version; the version name is also the subset name.
    pub versions: Vec<Workload>,
    /// Called in this order by every version.
    pub upstreams: Vec<Upstream>,
    /// Who may call this service (the edges into it), sorted: the mesh only
    /// allows these when `mesh.mtls` is on.
    pub callers: Vec<Caller>,
    /// How traffic to this service is routed.
    pub route: Route,
    /// In-app work spans.
    pub work: bool,
    /// How long a hop waits for one upstream call: long enough for every retry of
    /// the route; `None` leaves the hop's default.
    pub upstream_timeout: Option<Duration>,
}

/// One version of a service.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub version: String,
    pub replicas: u32,
}

/// A target of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Upstream {
    /// A service of the chain, called with the chain's protocol.
    Service { name: String },
    /// Outside the mesh; always HTTP(S) whatever the chain's protocol. `url` is as
    /// written in the profile.
    External {
        url: String,
        host: String,
        port: u16,
        tls: bool,
    },
}

/// Who calls a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Caller {
    /// The ingress gateway (for the entry service).
    Ingress,
    /// Another service of the chain.
    Service { name: String },
}

/// An external host the chain calls, to allow through egress.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct External {
    pub host: String,
    /// Ports used, sorted, each with whether it is TLS.
    pub ports: Vec<ExternalPort>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ExternalPort {
    pub number: u16,
    pub tls: bool,
}

/// Routing of the traffic to one service; rules apply in this order: header
/// matches first, then the split.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Requests with these exact header values go to a subset.
    pub header_matches: Vec<HeaderMatch>,
    /// Everything else: subsets and percentages summing to 100 (one entry, the
    /// default subset at 100, when no weights are given).
    pub split: Vec<WeightedSubset>,
    /// `None`: no retries.
    pub retries: Option<Retries>,
    pub fault: Option<Fault>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderMatch {
    /// Lowercase header name.
    pub header: String,
    pub value: String,
    pub subset: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeightedSubset {
    pub subset: String,
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retries {
    /// Retries after the first try.
    pub attempts: u32,
    pub per_try_timeout: Duration,
    /// Envoy retry conditions, comma-separated without spaces (Envoy's `retry_on`,
    /// Istio's `retryOn`); decided by the protocol, see [`Wire::retry_on`].
    pub retry_on: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub abort: Option<Abort>,
    pub delay: Option<Delay>,
}

/// Injected failure; exactly one of the statuses is set, by the protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Abort {
    pub percent: f64,
    /// HTTP chain: the status answered.
    pub http_status: Option<u16>,
    /// gRPC chain: the gRPC code name answered (e.g. `UNAVAILABLE`).
    pub grpc_status: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delay {
    pub fixed: Duration,
    pub percent: f64,
}

impl Model {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}
