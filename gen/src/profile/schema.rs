//! The profile format: what a TOML profile may contain.
//!
//! Every field is optional at this stage because a layer (a file, an `-f` file or a
//! `--set`) may set only a few keys; required keys and defaults are decided after the
//! layers are merged (see `validate`). Unknown keys are rejected here, with their
//! location, by `deny_unknown_fields`. The doc comments become the descriptions of
//! `meshgen schema`, which editors show on completion.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

pub use crate::model::{DataPlane, RoutingApi, SimpleLb};
pub use contract::Protocol;

use super::source::Sourced;

/// A meshgen profile: one chain of services and the mesh options around it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile to inherit from, relative to this file (e.g. "demo.toml"); this file's
    /// keys override it.
    pub extends: Option<Sourced<String>>,
    /// Name of the demo: the `app.kubernetes.io/part-of` label (a DNS-1123 label).
    pub name: Option<Sourced<String>>,
    /// Namespace of the chain (a DNS-1123 label); created with sidecar injection.
    pub namespace: Option<Sourced<String>>,
    /// Protocol of the chain's hops: "http" (default) or "grpc".
    pub protocol: Option<Sourced<Protocol>>,
    /// Mesh-wide options: the four flags of the original demo, plus egress.
    #[serde(default)]
    pub istio: Istio,
    /// Where the chain images come from.
    #[serde(default)]
    pub image: Image,
    /// The entry point of the chain.
    #[serde(default)]
    pub ingress: Ingress,
    /// Traffic policy: default subset, retries, canary, weights, faults.
    #[serde(default)]
    pub routing: Routing,
    /// The services of the chain (`[[service]]`); a later layer replaces the whole list.
    pub service: Option<Sourced<Vec<Service>>>,
    /// Answer every external API with a stub deployed in the chain's namespace
    /// (the HTTP hop answering the time, as `meshgen up --stub-external` does)
    /// instead of calling out: for offline or restricted clusters (default false).
    pub stub_external: Option<Sourced<bool>>,
}

/// Outbound traffic policy of the sidecars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Egress {
    /// Only hosts in the registry (Services, ServiceEntries) are reachable.
    RegistryOnly,
    /// Istio's default: any host is reachable.
    AllowAny,
}

/// Kubernetes image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Istio {
    /// STRICT mutual TLS in the namespace, ISTIO_MUTUAL destination rules and
    /// AuthorizationPolicies allowing only the chain's edges (default false).
    pub mtls: Option<Sourced<bool>>,
    /// Traces to a Jaeger addon through the OpenTelemetry provider (default false).
    pub tracing: Option<Sourced<bool>>,
    /// Kiali, today's service graph, with Prometheus (default false).
    pub servicegraph: Option<Sourced<bool>>,
    /// Prometheus and Grafana with a dashboard of the chain (default false).
    pub grafana: Option<Sourced<bool>>,
    /// "REGISTRY_ONLY" blocks hosts without a ServiceEntry; "ALLOW_ANY" (default) does not.
    pub egress: Option<Sourced<Egress>>,
    /// Envoy access logs on the sidecars' stdout (default true).
    pub access_log: Option<Sourced<bool>>,
    /// Percentage of requests traced, 0 to 100 (default 100).
    pub trace_sampling: Option<Sourced<f64>>,
    /// The API routes are written in: "istio" (Gateway, VirtualService,
    /// DestinationRule) or "gateway-api" (Gateway, HTTPRoute/GRPCRoute, one
    /// Service per version). Default "istio", or "gateway-api" with ambient.
    pub routing_api: Option<Sourced<RoutingApi>>,
    /// Where the proxies run: "sidecar" (default) or "ambient" (ztunnel and a
    /// waypoint; needs routing_api = "gateway-api").
    pub data_plane: Option<Sourced<DataPlane>>,
    /// Istio revision to bind the chain to, e.g. "1-28" (the `istio.io/rev`
    /// label instead of `istio-injection`); default: the default revision.
    pub revision: Option<Sourced<String>>,
    /// MESH-WIDE retry policy (`meshConfig.defaultHttpRetryPolicy` in the
    /// install options): every route of every namespace without retries of
    /// its own, GRPCRoutes included, retries the app's failures of both
    /// protocols (`5xx` and `internal`). Left out: Istio's built-in default.
    #[serde(default)]
    pub mesh_retries: Retries,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Registry and path prefix of the chain images: `{registry}/chain-http:{tag}`
    /// (default "localhost/meshgen", what scripts/build-images tags).
    pub registry: Option<Sourced<String>>,
    /// Image tag (default "latest").
    pub tag: Option<Sourced<String>>,
    /// Image pull policy (default "IfNotPresent").
    pub pull_policy: Option<Sourced<PullPolicy>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    /// The service the ingress gateway sends traffic to (default: the first service).
    pub service: Option<Sourced<String>>,
    /// Hosts the gateway answers for (default ["*"]).
    pub hosts: Option<Sourced<Vec<Sourced<String>>>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// Subset that gets the traffic no other rule claims (default "prod").
    pub default_subset: Option<Sourced<String>>,
    /// Retries on each route; the conditions are decided from the protocol.
    #[serde(default)]
    pub retries: Retries,
    /// Header-based canary routing, keyed by service name.
    #[serde(default)]
    pub canary: BTreeMap<Sourced<String>, Canary>,
    /// Traffic split by subset, keyed by service name; weights sum to 100. A later
    /// layer replaces a service's whole split.
    #[serde(default)]
    pub weights: BTreeMap<Sourced<String>, Sourced<Split>>,
    /// Fault injection, keyed by service name.
    #[serde(default)]
    pub fault: BTreeMap<Sourced<String>, Fault>,
    /// The whole request's time limit, every retry included, keyed by service
    /// name, e.g. backend = "1s" (VirtualService `timeout`, HTTPRoute
    /// `timeouts.request`; a GRPCRoute has none). Default: none, as in Istio.
    #[serde(default)]
    pub timeout: BTreeMap<Sourced<String>, Sourced<String>>,
    /// How callers' proxies pick a pod, keyed by service name (the
    /// DestinationRule's `trafficPolicy.loadBalancer`; Istio's default is
    /// LEAST_REQUEST). A later layer replaces a service's whole table.
    #[serde(default)]
    pub load_balancer: BTreeMap<Sourced<String>, LoadBalancer>,
    /// Limits each caller's proxy keeps towards a service, keyed by service
    /// name (`trafficPolicy.connectionPool`): what goes beyond is refused
    /// with 503 (gRPC: UNAVAILABLE) without reaching the service.
    #[serde(default)]
    pub connection_pool: BTreeMap<Sourced<String>, ConnectionPool>,
    /// Ejection of failing pods by each caller's proxy, keyed by service name
    /// (`trafficPolicy.outlierDetection`).
    #[serde(default)]
    pub outlier_detection: BTreeMap<Sourced<String>, OutlierDetection>,
    /// A share of a service's traffic copied to one of its versions, keyed by
    /// service name; the copies' answers are dropped (VirtualService
    /// `mirror`, a route's RequestMirror filter).
    #[serde(default)]
    pub mirror: BTreeMap<Sourced<String>, Mirror>,
}

/// `trafficPolicy.loadBalancer`: `simple` or `consistent_hash`, not both.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// "ROUND_ROBIN", "LEAST_REQUEST" or "RANDOM".
    pub simple: Option<Sourced<SimpleLb>>,
    /// The pod is picked by hashing a request header: one value, one pod.
    pub consistent_hash: Option<ConsistentHash>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistentHash {
    /// The header hashed (lowercase), e.g. "x-user"; the hops forward it.
    pub http_header_name: Option<Sourced<String>>,
}

/// `trafficPolicy.connectionPool`; every number at least 1 (Istio reads 0
/// as "unset").
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPool {
    #[serde(default)]
    pub tcp: TcpPool,
    #[serde(default)]
    pub http: HttpPool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpPool {
    /// Connections each caller's proxy opens to the service's pods, at most.
    pub max_connections: Option<Sourced<u32>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpPool {
    /// Requests waiting for a connection, at most.
    pub http1_max_pending_requests: Option<Sourced<u32>>,
    /// Requests in flight at once, at most (HTTP/1.1 too, despite the name).
    pub http2_max_requests: Option<Sourced<u32>>,
    /// Requests per connection before it is closed.
    pub max_requests_per_connection: Option<Sourced<u32>>,
}

/// `trafficPolicy.outlierDetection`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetection {
    /// Ejects a pod after this many 5xx answers (gRPC errors counted by their
    /// HTTP equivalent: INTERNAL is 500) in a row; 0 turns it off.
    pub consecutive_5xx_errors: Option<Sourced<u32>>,
    /// Ejects a pod after this many 502/503/504 answers (UNAVAILABLE,
    /// DEADLINE_EXCEEDED...) in a row; 0 turns it off.
    pub consecutive_gateway_errors: Option<Sourced<u32>>,
    /// How often ejections are decided, e.g. "1s" (default "10s").
    pub interval: Option<Sourced<String>>,
    /// How long an ejection lasts, times the pod's ejections so far (default "30s").
    pub base_ejection_time: Option<Sourced<String>>,
    /// Share of the pods that may be ejected at once, 1 to 100 (default 10;
    /// Envoy always allows one).
    pub max_ejection_percent: Option<Sourced<u32>>,
}

/// Copies of a share of the requests, sent to one version.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// The version (subset) that receives the copies.
    pub subset: Option<Sourced<String>>,
    /// Percentage of requests copied, 0 to 100 (default 100).
    pub percent: Option<Sourced<f64>>,
}

/// Percent of traffic per subset of one service.
pub type Split = BTreeMap<Sourced<String>, Sourced<u32>>;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retries {
    /// Number of retries (at most 1 + attempts tries); 0 disables retries. Left out,
    /// routes get Istio's default policy, which does not retry the app's 500/INTERNAL.
    pub attempts: Option<Sourced<u32>>,
    /// Timeout of each try, e.g. "2s", "500ms" (default "2s").
    pub per_try_timeout: Option<Sourced<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Subset (a version of the service) that matching requests go to.
    pub subset: Option<Sourced<String>>,
    /// Request header to match (lowercase), e.g. "x-dev-user": not a credential
    /// (authorization, cookie, x-api-key...), a header hops or proxies set
    /// (accept, host, x-forwarded-*...), trace context, nor a "-bin" name.
    pub header: Option<Sourced<String>>,
    /// Exact header value to match, e.g. "super-secret".
    pub value: Option<Sourced<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Fail a percentage of requests without calling the service.
    pub abort: Option<Abort>,
    /// Delay a percentage of requests.
    pub delay: Option<Delay>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// Percentage of requests aborted, 0 to 100.
    pub percent: Option<Sourced<f64>>,
    /// Status for an HTTP chain (default 503).
    pub http_status: Option<Sourced<u16>>,
    /// gRPC code name for a gRPC chain, e.g. "UNAVAILABLE" (the default).
    pub grpc_status: Option<Sourced<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delay {
    /// Added latency, e.g. "1s".
    pub fixed: Option<Sourced<String>>,
    /// Percentage of requests delayed, 0 to 100.
    pub percent: Option<Sourced<f64>>,
}

/// One service of the chain (`[[service]]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Service name (a DNS-1035 label: lowercase, starts with a letter).
    pub name: Sourced<String>,
    /// Versions deployed side by side, one Deployment each, e.g. ["prod", "canary"]
    /// (default: [routing.default_subset]).
    pub versions: Option<Sourced<Vec<Sourced<String>>>>,
    /// What this service calls, in order: a service name, an http(s) URL of a host
    /// outside the cluster (not a single label, a name under a namespace, .svc or
    /// .local, nor an IP address), or a list of them (default: nothing; the hop
    /// answers the time itself).
    pub upstream: Option<Sourced<Upstreams>>,
    /// Pods per version (default 1).
    pub replicas: Option<Sourced<u32>>,
    /// In-app work spans (the original "OpenCensus full" Fibonacci spans; default false).
    pub work: Option<Sourced<bool>>,
}

/// `upstream = "x"` or `upstream = ["x", "https://..."]`.
#[derive(Debug, Clone)]
pub enum Upstreams {
    One(String),
    Many(Vec<Sourced<String>>),
}

impl<'de> Deserialize<'de> for Upstreams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Upstreams;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a service name, a URL, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Upstreams, E> {
                Ok(Upstreams::One(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Upstreams, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Sourced<String>>()? {
                    items.push(item);
                }
                Ok(Upstreams::Many(items))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Upstreams {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Upstreams".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A service name, an http(s) URL, or a list of them (called in order).",
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "type": "string" } }
            ]
        })
    }
}

impl<T: Eq> Eq for Sourced<T> {}
impl<T: Ord> PartialOrd for Sourced<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Ord> Ord for Sourced<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}
impl std::borrow::Borrow<str> for Sourced<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

/// A later layer's load balancer replaces the earlier one whole: `simple`
/// and `consistent_hash` exclude each other, so merging them key by key
/// could only ever give both.
impl Merge for LoadBalancer {
    fn layer(&mut self, later: Self) {
        *self = later;
    }
}

/// Layering: `later` (a layer applied after `self`) wins key by key.
pub trait Merge {
    fn layer(&mut self, later: Self);
}

impl<T> Merge for Sourced<T> {
    fn layer(&mut self, later: Self) {
        *self = later;
    }
}

impl<T: Merge> Merge for Option<T> {
    fn layer(&mut self, later: Self) {
        match (self.as_mut(), later) {
            (Some(mine), Some(theirs)) => mine.layer(theirs),
            (None, Some(theirs)) => *self = Some(theirs),
            (_, None) => {}
        }
    }
}

impl<V: Merge> Merge for BTreeMap<Sourced<String>, V> {
    fn layer(&mut self, later: Self) {
        for (k, v) in later {
            // Re-insert the key too, so its location is the later layer's.
            match self.remove(&k) {
                Some(mut mine) => {
                    mine.layer(v);
                    self.insert(k, mine);
                }
                None => {
                    self.insert(k, v);
                }
            }
        }
    }
}

macro_rules! merge_fields {
    ($($ty:ident { $($field:ident),* $(,)? })*) => {$(
        impl Merge for $ty {
            fn layer(&mut self, later: Self) {
                $( self.$field.layer(later.$field); )*
            }
        }
    )*};
}

merge_fields! {
    Profile { extends, name, namespace, protocol, istio, image, ingress, routing, service, stub_external }
    Service { name, versions, upstream, replicas, work }
    Istio { mtls, tracing, servicegraph, grafana, egress, access_log, trace_sampling, routing_api, data_plane, revision, mesh_retries }
    Image { registry, tag, pull_policy }
    Ingress { service, hosts }
    Routing { default_subset, retries, canary, weights, fault, timeout, load_balancer, connection_pool, outlier_detection, mirror }
    ConnectionPool { tcp, http }
    TcpPool { max_connections }
    HttpPool { http1_max_pending_requests, http2_max_requests, max_requests_per_connection }
    OutlierDetection { consecutive_5xx_errors, consecutive_gateway_errors, interval, base_ejection_time, max_ejection_percent }
    Mirror { subset, percent }
    Retries { attempts, per_try_timeout }
    Canary { subset, header, value }
    Fault { abort, delay }
    Abort { percent, http_status, grpc_status }
    Delay { fixed, percent }
}
