//! Envoy v3 API shapes, as much of them as the sidecars use. Field names are
//! the proto fields (snake_case JSON); `None` and empty fields are left out,
//! as `istioctl proxy-config ... -o json` leaves out defaults. A `typed_config`
//! is an [`Any`]: the variant names the `@type`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::rbac::Rbac;
use super::tls::{DownstreamTlsContext, Secret, UpstreamTlsContext};

/// `google.protobuf.Any` for the extensions the sidecars use.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "@type")]
pub enum Any {
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    )]
    HttpConnectionManager(Box<HttpConnectionManager>),
    #[serde(rename = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC")]
    Rbac(Rbac),
    #[serde(rename = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")]
    Router(Empty),
    #[serde(rename = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC")]
    NetworkRbac(NetworkRbac),
    #[serde(rename = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")]
    TcpProxy(TcpProxy),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config"
    )]
    SetFilterState(SetFilterState),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener"
    )]
    InternalListener(Empty),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport"
    )]
    InternalUpstream(Box<InternalUpstream>),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
    )]
    RawBuffer(Empty),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
    )]
    TlsInspector(Empty),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
    )]
    DownstreamTlsContext(Box<DownstreamTlsContext>),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
    )]
    UpstreamTlsContext(Box<UpstreamTlsContext>),
    #[serde(rename = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions")]
    HttpProtocolOptions(HttpProtocolOptions),
    #[serde(rename = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault")]
    Fault(Fault),
    #[serde(rename = "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig")]
    OpenTelemetry(OpenTelemetryConfig),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
    )]
    StdoutAccessLog(StdoutAccessLog),
    #[serde(rename = "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig")]
    UuidRequestId(UuidRequestIdConfig),
    #[serde(
        rename = "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
    )]
    PreviousHosts(Empty),
}

/// The network RBAC filter: who may open a connection (ztunnel's L4
/// authorization).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkRbac {
    pub stat_prefix: String,
    pub rules: super::rbac::Rules,
}

/// A TCP proxy, here always tunneling its connections in an HTTP/2 CONNECT
/// (HBONE's client end).
#[derive(Debug, Clone, Serialize)]
pub struct TcpProxy {
    pub stat_prefix: String,
    pub cluster: String,
    pub tunneling_config: TunnelingConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct TunnelingConfig {
    /// The CONNECT request's authority.
    pub hostname: String,
}

/// Sets filter state objects from format strings.
#[derive(Debug, Clone, Serialize)]
pub struct SetFilterState {
    pub on_request_headers: Vec<FilterStateValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterStateValue {
    pub object_key: &'static str,
    pub factory_key: &'static str,
    pub format_string: SubstitutionFormatString,
    /// `ONCE`: handed to the upstream connection (here, an internal
    /// listener's), not further.
    pub shared_with_upstream: &'static str,
}

/// The transport socket of a cluster whose endpoints are internal listeners.
#[derive(Debug, Clone, Serialize)]
pub struct InternalUpstream {
    pub transport_socket: NamedConfig,
}

/// A message with no field set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}

#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    pub node: Node,
    /// The internal listener extension, when a listener is internal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_extensions: Vec<NamedConfig>,
    pub admin: Admin,
    pub static_resources: StaticResources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layered_runtime: Option<LayeredRuntime>,
}

/// Runtime values set at start (a static layer).
#[derive(Debug, Clone, Serialize)]
pub struct LayeredRuntime {
    pub layers: Vec<RuntimeLayer>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeLayer {
    pub name: &'static str,
    pub static_layer: BTreeMap<&'static str, u64>,
}

/// `sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local` and
/// `<service>.<namespace>`, as istio-agent names its Envoy.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    pub cluster: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    pub address: Address,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaticResources {
    pub listeners: Vec<Listener>,
    pub clusters: Vec<Cluster>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
}

/// Where a listener listens or an endpoint is: a socket, or one of the
/// proxy's internal listeners (in user space, by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Address {
    SocketAddress(SocketAddress),
    EnvoyInternalAddress(InternalAddress),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InternalAddress {
    pub server_listener_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketAddress {
    pub address: String,
    pub port_value: u16,
}

impl Address {
    /// `127.0.0.1:port`: everything of the local mesh listens there.
    pub fn local(port: u16) -> Address {
        Address::at("127.0.0.1", port)
    }

    /// `host:port`, a name or an address.
    pub fn at(host: &str, port: u16) -> Address {
        Address::SocketAddress(SocketAddress {
            address: host.to_owned(),
            port_value: port,
        })
    }

    /// The internal listener named `name`, of the same proxy.
    pub fn internal(name: &str) -> Address {
        Address::EnvoyInternalAddress(InternalAddress {
            server_listener_name: name.to_owned(),
        })
    }

    /// A name to resolve by DNS (a host outside the mesh).
    pub fn needs_dns(&self) -> bool {
        match self {
            Address::SocketAddress(a) => a.address.parse::<std::net::IpAddr>().is_err(),
            Address::EnvoyInternalAddress(_) => false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    pub name: String,
    /// `None` for an internal listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Set for an internal listener: reached only from the proxy's own
    /// clusters ([`Address::internal`]), as istiod's waypoint chains its
    /// `connect_terminate` listener to `main_internal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_listener: Option<Empty>,
    /// `INBOUND` or `OUTBOUND`.
    pub traffic_direction: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listener_filters: Vec<NamedConfig>,
    pub filter_chains: Vec<FilterChain>,
}

impl Listener {
    /// An outbound listener with one plain filter chain of `filters`, on
    /// `port` of 127.0.0.1, or internal (`None`).
    pub fn outbound(name: &str, port: Option<u16>, filters: Vec<NamedConfig>) -> Listener {
        Listener {
            name: name.to_owned(),
            address: port.map(Address::local),
            internal_listener: port.is_none().then_some(Empty {}),
            traffic_direction: "OUTBOUND",
            listener_filters: Vec::new(),
            filter_chains: vec![FilterChain {
                name: name.to_owned(),
                transport_socket_connect_timeout: None,
                filter_chain_match: None,
                filters,
                transport_socket: None,
            }],
        }
    }
}

/// A listener, network or HTTP filter, or transport socket: a name and its
/// typed configuration.
#[derive(Debug, Clone, Serialize)]
pub struct NamedConfig {
    pub name: &'static str,
    pub typed_config: Any,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterChain {
    pub name: String,
    /// How long a connection may take to finish its TLS handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket_connect_timeout: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_chain_match: Option<FilterChainMatch>,
    pub filters: Vec<NamedConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<NamedConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterChainMatch {
    /// `tls` or `raw_buffer`, as the TLS inspector tells.
    pub transport_protocol: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub application_protocols: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpConnectionManager {
    pub stat_prefix: String,
    pub codec_type: &'static str,
    pub route_config: RouteConfiguration,
    pub http_filters: Vec<NamedConfig>,
    pub use_remote_address: bool,
    pub normalize_path: bool,
    pub stream_idle_timeout: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_client_cert_details: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_current_client_cert_details: Option<ClientCertDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_protocol_options: Option<Http2ProtocolOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id_extension: Option<RequestIdExtension>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_log: Vec<NamedConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upgrade_configs: Vec<Upgrade>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestIdExtension {
    pub typed_config: Any,
}

#[derive(Debug, Clone, Serialize)]
pub struct UuidRequestIdConfig {
    pub use_request_id_for_trace_sampling: bool,
}

/// The connection manager's tracing (`configureSampling`, `otelConfig`).
#[derive(Debug, Clone, Serialize)]
pub struct Tracing {
    pub client_sampling: Percent,
    pub random_sampling: Percent,
    pub overall_sampling: Percent,
    pub provider: NamedConfig,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub spawn_upstream_span: bool,
}

/// `envoy.type.v3.Percent`.
#[derive(Debug, Clone, Serialize)]
pub struct Percent {
    pub value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenTelemetryConfig {
    pub grpc_service: GrpcService,
    pub service_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrpcService {
    pub envoy_grpc: EnvoyGrpc,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvoyGrpc {
    pub cluster_name: String,
    pub authority: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StdoutAccessLog {
    pub log_format: SubstitutionFormatString,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubstitutionFormatString {
    pub text_format_source: InlineString,
}

#[derive(Debug, Clone, Serialize)]
pub struct InlineString {
    pub inline_string: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientCertDetails {
    pub subject: bool,
    pub dns: bool,
    pub uri: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteConfiguration {
    pub name: String,
    pub virtual_hosts: Vec<VirtualHost>,
    pub validate_clusters: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VirtualHost {
    pub name: String,
    pub domains: Vec<String>,
    pub routes: Vec<Route>,
    /// `x-envoy-attempt-count` to the upstream, as istiod sets it.
    pub include_request_attempt_count: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RouteMatch,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_response: Option<DirectResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decorator: Option<Decorator>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub typed_per_filter_config: BTreeMap<&'static str, Any>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteMatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Matches CONNECT requests (HBONE), instead of a path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_matcher: Option<Empty>,
    pub case_sensitive: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatcher>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeaderMatcher {
    pub name: String,
    pub string_match: StringMatcher,
}

#[derive(Debug, Clone, Serialize)]
pub struct DirectResponse {
    pub status: u16,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteAction {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_clusters: Option<WeightedClusters>,
    /// `0s`: Istio turns Envoy's 15 s route timeout off.
    pub timeout: String,
    /// What istiod writes on inbound routes: no stream limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_stream_duration: Option<MaxStreamDuration>,
    /// What istiod writes on outbound routes (`setTimeout`): a gRPC
    /// caller's `grpc-timeout` is the timeout, capped by this (`0s`: no cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_grpc_timeout: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_mirror_policies: Vec<RequestMirrorPolicy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hash_policy: Vec<HashPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_rewrite_literal: Option<String>,
    /// CONNECT terminated here: the tunnel's payload goes to the cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upgrade_configs: Vec<RouteUpgrade>,
}

/// `TranslateRequestMirrorPolicy`.
#[derive(Debug, Clone, Serialize)]
pub struct RequestMirrorPolicy {
    pub cluster: String,
    pub runtime_fraction: RuntimeFractionalPercent,
    pub trace_sampled: bool,
    /// Istio's `DISABLE_SHADOW_HOST_SUFFIX` (on by default): the copy keeps
    /// its `Host`, without `-shadow`.
    pub disable_shadow_host_suffix_append: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeFractionalPercent {
    pub default_value: FractionalPercent,
}

/// `ConsistentHashToHashPolicy`, the header form.
#[derive(Debug, Clone, Serialize)]
pub struct HashPolicy {
    pub header: HashHeader,
}

#[derive(Debug, Clone, Serialize)]
pub struct HashHeader {
    pub header_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteUpgrade {
    pub upgrade_type: &'static str,
    pub connect_config: Empty,
}

/// A connection manager's accepted upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct Upgrade {
    pub upgrade_type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeightedClusters {
    pub clusters: Vec<ClusterWeight>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterWeight {
    pub name: String,
    pub weight: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetryPolicy {
    pub retry_on: String,
    pub num_retries: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retriable_status_codes: Vec<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<String>,
    pub retry_host_predicate: Vec<NamedConfig>,
    pub host_selection_retry_max_attempts: u32,
}

/// `envoy.extensions.filters.http.fault.v3.HTTPFault`, as a route's
/// per-filter config (`route.TranslateFault`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fault {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultDelay {
    pub fixed_delay: String,
    pub percentage: FractionalPercent,
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultAbort {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<u32>,
    pub percentage: FractionalPercent,
}

/// `envoy.type.v3.FractionalPercent`, per million.
#[derive(Debug, Clone, Serialize)]
pub struct FractionalPercent {
    pub numerator: u64,
    pub denominator: &'static str,
}

impl FractionalPercent {
    /// `percent` (0 to 100) per million, as istiod writes it.
    pub fn of(percent: f64) -> FractionalPercent {
        FractionalPercent {
            numerator: (percent * 10_000.0).round() as u64,
            denominator: "MILLION",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MaxStreamDuration {
    pub max_stream_duration: &'static str,
    pub grpc_timeout_header_max: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decorator {
    pub operation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub name: String,
    #[serde(rename = "type")]
    pub discovery: &'static str,
    pub connect_timeout: &'static str,
    pub lb_policy: &'static str,
    pub load_assignment: ClusterLoadAssignment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_lookup_family: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_breakers: Option<CircuitBreakers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_lb_config: Option<CommonLbConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_hash_lb_config: Option<RingHashLbConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<NamedConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub typed_extension_protocol_options: BTreeMap<&'static str, Any>,
}

/// `getDefaultCircuitBreakerThresholds`: every limit raised to the maximum
/// (Envoy's default `max_retries: 3` would trip under concurrent load).
#[derive(Debug, Clone, Serialize)]
pub struct CircuitBreakers {
    pub thresholds: Vec<Thresholds>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Thresholds {
    pub max_connections: u32,
    pub max_pending_requests: u32,
    pub max_requests: u32,
    pub max_retries: u32,
    pub track_remaining: bool,
}

impl CircuitBreakers {
    pub fn istio_default() -> CircuitBreakers {
        CircuitBreakers {
            thresholds: vec![Thresholds {
                max_connections: u32::MAX,
                max_pending_requests: u32::MAX,
                max_requests: u32::MAX,
                max_retries: u32::MAX,
                // `DISABLE_TRACK_REMAINING_CB_METRICS`, on by default.
                track_remaining: false,
            }],
        }
    }
}

/// `applyOutlierDetection`: consecutive errors only (success-rate
/// ejection off), each enforced at 100% when its count is positive.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutlierDetection {
    pub enforcing_success_rate: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_5xx: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcing_consecutive_5xx: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_failure: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcing_consecutive_gateway_failure: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommonLbConfig {
    pub healthy_panic_threshold: Percent,
}

#[derive(Debug, Clone, Serialize)]
pub struct RingHashLbConfig {
    pub minimum_ring_size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterLoadAssignment {
    pub cluster_name: String,
    pub endpoints: Vec<LocalityLbEndpoints>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocalityLbEndpoints {
    pub lb_endpoints: Vec<LbEndpoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LbEndpoint {
    pub endpoint: Endpoint,
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub address: Address,
}

impl ClusterLoadAssignment {
    /// One locality of endpoints.
    pub fn at(cluster_name: &str, endpoints: Vec<Address>) -> ClusterLoadAssignment {
        ClusterLoadAssignment {
            cluster_name: cluster_name.to_owned(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: endpoints
                    .into_iter()
                    .map(|address| LbEndpoint {
                        endpoint: Endpoint { address },
                    })
                    .collect(),
            }],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpProtocolOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_http_protocol_options: Option<CommonHttpProtocolOptions>,
    pub explicit_http_config: ExplicitHttpConfig,
}

/// Options of either protocol towards an upstream.
#[derive(Debug, Clone, Serialize)]
pub struct CommonHttpProtocolOptions {
    /// `connectionPool.http.maxRequestsPerConnection`.
    pub max_requests_per_connection: u32,
}

/// HTTP/1.1 or HTTP/2 (exactly one is set).
#[derive(Debug, Clone, Serialize)]
pub struct ExplicitHttpConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_protocol_options: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2_protocol_options: Option<Http2ProtocolOptions>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Http2ProtocolOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_connect: bool,
}

/// `envoy.type.matcher.v3.StringMatcher`, the exact form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StringMatcher {
    pub exact: String,
}

/// The typed extension options key for HTTP upstream protocol options.
pub const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// HTTP/2 to the upstream (`setH2Options`: Envoy's default of 100 concurrent
/// streams is too low for a mesh, istiod raises it).
pub fn h2_upstream() -> BTreeMap<&'static str, Any> {
    upstream_protocol(true, None)
}

/// The upstream's protocol (HTTP/2 as [`h2_upstream`] says, or HTTP/1.1)
/// and how many requests one connection carries.
pub fn upstream_protocol(
    h2: bool,
    max_requests_per_connection: Option<u32>,
) -> BTreeMap<&'static str, Any> {
    let options = HttpProtocolOptions {
        common_http_protocol_options: max_requests_per_connection.map(
            |max_requests_per_connection| CommonHttpProtocolOptions {
                max_requests_per_connection,
            },
        ),
        explicit_http_config: ExplicitHttpConfig {
            http_protocol_options: (!h2).then_some(Empty {}),
            http2_protocol_options: h2.then_some(Http2ProtocolOptions {
                max_concurrent_streams: Some(1_073_741_824),
                allow_connect: false,
            }),
        },
    };
    [(HTTP_PROTOCOL_OPTIONS, Any::HttpProtocolOptions(options))].into()
}
