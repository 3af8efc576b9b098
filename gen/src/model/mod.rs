//! The resolved, validated demo: what every target renders.
//!
//! The Model says *what* the mesh must do, with every decision already made:
//! object names (unique, see [`identity`]), workloads per version, who calls
//! whom, routes (header matches, weights with zero-weight subsets dropped, the
//! retry policy, faults), the timeout budget of each hop, the egress
//! allow-list, and each hop's typed configuration ([`Model::hop_config`]).
//! Targets (Kubernetes and Istio manifests, the local Envoy config, hop
//! environments) only print it: they may choose *how* to spell a value, never
//! *whether* or *which*.

pub mod applyset;
pub mod crd_bounds;
mod hop;
pub mod identity;
pub mod istio;
mod traffic;
mod wire;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use contract::{Code, Duration, Protocol};
pub use hop::{Placement, STUB_VERSION};
pub use traffic::{
    ConnectionPool, LoadBalancer, Mirror, OutlierDetection, SimpleLb, TrafficPolicy,
};
pub use wire::{Health, Wire, mesh_retry_on};

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
    /// The API routes are written in.
    pub routing_api: RoutingApi,
    /// Where the mesh's proxies run.
    pub data_plane: DataPlane,
    /// The Istio control plane revision the chain is bound to (`istio.io/rev`);
    /// `None`: the default revision (`istio-injection=enabled`).
    pub revision: Option<String>,
    /// What a route without retries of its own gets: Istio's built-in
    /// default, or the install options' mesh-wide `defaultHttpRetryPolicy`
    /// (Off or Retry), which istiod uses in its place (route.go).
    pub default_retries: RetryPolicy,
}

/// The API the chain's routes are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RoutingApi {
    /// Istio's own: Gateway, VirtualService, DestinationRule subsets.
    Istio,
    /// The Kubernetes Gateway API: Gateway, HTTPRoute or GRPCRoute; versions
    /// are Services of their own.
    GatewayApi,
}

/// Where the mesh's proxies run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataPlane {
    /// An Envoy sidecar in every pod.
    Sidecar,
    /// No sidecars: ztunnel on each node (L4, mTLS) and a waypoint proxy for
    /// the namespace (every L7 route and policy).
    Ambient,
}

/// Outbound traffic policy of the sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Egress {
    /// Only hosts in the registry (Services, ServiceEntries) are reachable.
    RegistryOnly,
    /// Any host is reachable.
    AllowAny,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tracing {
    /// Percentage of requests sampled at the edge, 0 to 100.
    pub sampling_percent: f64,
}

/// The hop image of every workload: `{registry}/{protocol's binary}:{tag}`.
#[derive(Debug, Clone, Serialize)]
pub struct Image {
    /// The full reference.
    pub reference: String,
    /// The HTTP hop's image, which external API stubs run whatever the protocol.
    pub stub_reference: String,
    pub pull_policy: PullPolicy,
}

/// Kubernetes image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// The chain's entry point.
#[derive(Debug, Clone, Serialize)]
pub struct Ingress {
    /// Name of the entry service.
    pub service: String,
    /// Hosts answered (`*` or DNS names).
    pub hosts: Vec<String>,
    /// Name of the Gateway object.
    pub gateway: String,
    /// Name of the route bound to the gateway.
    pub route: String,
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
    /// How every caller's proxy balances, limits and ejects its pods (the
    /// DestinationRule's `trafficPolicy`).
    pub traffic: TrafficPolicy,
    /// In-app work spans.
    pub work: bool,
    /// How long a hop waits for one upstream call: long enough for every try
    /// of the route's retry policy.
    pub upstream_timeout: Duration,
    /// The headers this hop forwards besides the fixed ones, sorted: those the
    /// routes of the services behind it (reachable through its upstreams)
    /// match on, so a request keeps its canary header along every path to the
    /// route, and no hop carries the headers of routes it never reaches.
    pub forward_headers: Vec<String>,
}

/// One version of a service.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub version: String,
    /// The workload's object name (`{service}-{version}`), also a label value.
    pub name: String,
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
    /// Name of its registry entry (`time.jsontest.com` -> `time-jsontest-com`).
    pub name: String,
    /// Ports used, sorted, each with whether it is TLS.
    pub ports: Vec<ExternalPort>,
    /// Answered by a stub in the chain's namespace instead (profile key
    /// `stub_external`): a Deployment and Service named [`External::name`]
    /// running the HTTP hop as the stub (see [`Model::stub_config`]), called
    /// over plain HTTP at the Service's port 80 whatever the URL's scheme and
    /// port; no ServiceEntry, since nothing leaves the cluster.
    pub stub: bool,
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
    /// Everything else: subsets with a positive weight, summing to 100 (one
    /// entry, the default subset at 100, when no weights are given).
    pub split: Vec<WeightedSubset>,
    pub retries: RetryPolicy,
    pub fault: Option<Fault>,
    /// The whole request's time, every try included (VirtualService
    /// `timeout`, HTTPRoute `timeouts.request`); `None`: no limit, as in
    /// Istio. gRPC callers' own `grpc-timeout` is honoured below it.
    pub timeout: Option<Duration>,
    /// A share of the traffic copied to a subset.
    pub mirror: Option<Mirror>,
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

impl Route {
    /// The mirror of a rule that sends to `subsets`: none when they are the
    /// mirror's own subset alone (a header canary to it), whose copies would
    /// reach the same pods a second time.
    pub fn mirror_of<'a>(&self, mut subsets: impl Iterator<Item = &'a str>) -> Option<&Mirror> {
        let m = self.mirror.as_ref()?;
        match subsets.all(|s| s == m.subset) {
            true => None,
            false => Some(m),
        }
    }
}

/// What the mesh does when a try fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RetryPolicy {
    /// The profile says nothing: Istio's default policy applies (2 retries on
    /// connection failures; it does not retry the app's own errors).
    Default,
    /// `attempts = 0`: no retries at all (the only way to turn the default off).
    Off,
    /// The profile's retries.
    Retry(Retries),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retries {
    /// Retries after the first try, at least 1.
    pub attempts: u32,
    pub per_try_timeout: Duration,
    /// Retry conditions, comma-separated without spaces, as a VirtualService's
    /// `retryOn` (status codes listed among them); decided by the protocol and
    /// the routing API, see [`Wire::retry_conditions`].
    pub retry_on: String,
    /// The HTTP statuses retried, as an HTTPRoute's `retry.codes` names them
    /// (Gateway API only; empty with the classic API, whose `5xx` covers them).
    pub status_codes: Vec<u16>,
}

impl RetryPolicy {
    /// What a route with this policy gets when the mesh-wide one is `mesh`:
    /// istiod gives a route without `retries` the mesh config's
    /// `defaultHttpRetryPolicy` (pilot/pkg/networking/core/route/route.go).
    pub fn or_mesh<'a>(&'a self, mesh: &'a RetryPolicy) -> &'a RetryPolicy {
        match self {
            RetryPolicy::Default => mesh,
            own => own,
        }
    }

    /// How long a caller must wait for every try this policy may make.
    pub fn budget(&self) -> Option<Duration> {
        match self {
            RetryPolicy::Default | RetryPolicy::Off => None,
            RetryPolicy::Retry(r) => r.per_try_timeout.checked_mul(u64::from(r.attempts) + 1),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub abort: Option<Abort>,
    pub delay: Option<Delay>,
}

/// Injected failure, answered with the chain protocol's status.
#[derive(Debug, Clone, Serialize)]
pub struct Abort {
    pub percent: f64,
    pub status: AbortStatus,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum AbortStatus {
    /// HTTP chain: the status answered.
    Http(u16),
    /// gRPC chain: the code answered.
    Grpc(#[serde(serialize_with = "code_name")] Code),
}

fn code_name<S: serde::Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.name())
}

#[derive(Debug, Clone, Serialize)]
pub struct Delay {
    pub fixed: Duration,
    pub percent: f64,
}

impl Model {
    /// What a cluster needs before `kubectl apply` of this model's manifests,
    /// beyond Istio itself: said to the user at render time.
    pub fn requirements(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.mesh.routing_api == RoutingApi::GatewayApi {
            // Every route carries the same policy: one look at any of them.
            let retry_field = self
                .services
                .iter()
                .any(|s| matches!(s.route.retries, RetryPolicy::Off | RetryPolicy::Retry(_)));
            out.push(if retry_field {
                "the routes use HTTPRoute `retry`, in the Gateway API's experimental channel: \
                 install its v1.4 experimental CRDs (standard ones would drop `retry`)"
                    .to_owned()
            } else {
                "the routes are Gateway API v1.4: install its standard CRDs".to_owned()
            });
        }
        if self.mesh.data_plane == DataPlane::Ambient {
            out.push(
                "ambient mode: install Istio with this render's istio/install.yaml (the \
                 `ambient` profile: istiod, istio-cni, ztunnel)"
                    .to_owned(),
            );
        }
        out
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}
