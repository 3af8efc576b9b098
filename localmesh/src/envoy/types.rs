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
}

/// A message with no field set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}

#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    pub node: Node,
    pub admin: Admin,
    pub static_resources: StaticResources,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub socket_address: SocketAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketAddress {
    pub address: String,
    pub port_value: u16,
}

impl Address {
    /// `127.0.0.1:port`: everything of the local mesh listens there.
    pub fn local(port: u16) -> Address {
        Address {
            socket_address: SocketAddress {
                address: "127.0.0.1".into(),
                port_value: port,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    pub name: String,
    pub address: Address,
    /// `INBOUND` or `OUTBOUND`.
    pub traffic_direction: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listener_filters: Vec<NamedConfig>,
    pub filter_chains: Vec<FilterChain>,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RouteMatch,
    pub route: RouteAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decorator: Option<Decorator>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteMatch {
    pub prefix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteAction {
    pub cluster: String,
    /// `0s`: Istio turns Envoy's 15 s route timeout off.
    pub timeout: &'static str,
    pub max_stream_duration: MaxStreamDuration,
}

#[derive(Debug, Clone, Serialize)]
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
    pub transport_socket: Option<NamedConfig>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub typed_extension_protocol_options: BTreeMap<&'static str, Any>,
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
    /// One locality of endpoints on 127.0.0.1.
    pub fn local(cluster_name: &str, ports: &[u16]) -> ClusterLoadAssignment {
        ClusterLoadAssignment {
            cluster_name: cluster_name.to_owned(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: ports
                    .iter()
                    .map(|&p| LbEndpoint {
                        endpoint: Endpoint {
                            address: Address::local(p),
                        },
                    })
                    .collect(),
            }],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpProtocolOptions {
    pub explicit_http_config: ExplicitHttpConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplicitHttpConfig {
    pub http2_protocol_options: Http2ProtocolOptions,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Http2ProtocolOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,
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
    let options = HttpProtocolOptions {
        explicit_http_config: ExplicitHttpConfig {
            http2_protocol_options: Http2ProtocolOptions {
                max_concurrent_streams: Some(1_073_741_824),
            },
        },
    };
    [(HTTP_PROTOCOL_OPTIONS, Any::HttpProtocolOptions(options))].into()
}
