//! HBONE, ambient mode's tunnel: each connection carried in an HTTP/2
//! CONNECT request whose authority names the destination, over mutual TLS
//! between the two ends' identities (Istio's port 15008). ztunnel opens
//! tunnels for the pods' calls and ends those to the pods; the waypoint and
//! the ingress gateway (`istio.io/ingress-use-waypoint`) open and end them
//! too.
//!
//! Both ends as Envoy plays them, the way Istio's first, Envoy-based ambient
//! data plane and today's waypoints do: a TCP proxy with a tunneling config
//! opens a tunnel; a connection manager that accepts only CONNECT ends it
//! and hands the payload to a cluster, here often one of the proxy's own
//! internal listeners (istiod's `connect_terminate` to `main_internal`).

use meshgen::model::{Model, istio};

use super::proxy::cluster;
use super::rbac::PEER_PRINCIPAL;
use super::route::no_timeout;
use super::tls;
use super::types::{
    Address, Any, Cluster, Empty, FilterChain, FilterStateValue, Http2ProtocolOptions,
    HttpConnectionManager, InlineString, InternalUpstream, Listener, NamedConfig, Route,
    RouteAction, RouteConfiguration, RouteMatch, RouteUpgrade, SetFilterState,
    SubstitutionFormatString, TcpProxy, TunnelingConfig, Upgrade, VirtualHost,
};
use crate::plan::Destination;

/// How long a tunnel may carry nothing before its end closes it.
const TUNNEL_IDLE_TIMEOUT: &str = "300s";

/// The authority of a tunnel to `d`: the Service's name and port (Istio
/// writes the Service's cluster IP and port; there are no cluster IPs
/// here), or the external host and port.
pub fn authority(m: &Model, d: &Destination) -> String {
    match d {
        Destination::Service(name) => {
            format!(
                "{}:{}",
                istio::host(name, &m.namespace),
                m.wire.service_port
            )
        }
        Destination::External { host, port } => format!("{host}:{port}"),
    }
}

/// A listener that carries each connection it accepts in a tunnel to
/// `authority` through `cluster`: on a port of 127.0.0.1 (what ztunnel
/// captures from a pod), or internal (`None`: an endpoint of the proxy's
/// own clusters).
pub fn originate(name: &str, port: Option<u16>, cluster: &str, authority: String) -> Listener {
    let proxy = NamedConfig {
        name: "envoy.filters.network.tcp_proxy",
        typed_config: Any::TcpProxy(TcpProxy {
            stat_prefix: name.to_owned(),
            cluster: cluster.to_owned(),
            tunneling_config: TunnelingConfig {
                hostname: authority,
            },
        }),
    };
    Listener::outbound(name, port, vec![proxy])
}

/// The cluster that carries tunnels to the HBONE port `port`: HTTP/2 under
/// mutual TLS with the secret `secret`, the server checked to be `peer` (a
/// SPIFFE ID).
pub fn tunnels(name: &str, port: u16, secret: &str, peer: &str) -> Cluster {
    cluster(
        name.to_owned(),
        vec![Address::local(port)],
        true,
        Some(tls::hbone_client(secret, peer)),
    )
}

/// A cluster whose one endpoint is the internal listener `listener`,
/// handing on the filter state the connection manager shared with it.
pub fn internal(listener: &str) -> Cluster {
    let mut c = cluster(
        listener.to_owned(),
        vec![Address::internal(listener)],
        false,
        None,
    );
    c.transport_socket = Some(NamedConfig {
        name: "envoy.transport_sockets.internal_upstream",
        typed_config: Any::InternalUpstream(Box::new(InternalUpstream {
            transport_socket: NamedConfig {
                name: "envoy.transport_sockets.raw_buffer",
                typed_config: Any::RawBuffer(Empty {}),
            },
        })),
    });
    c
}

/// What ends tunnels: which authority goes to which cluster.
pub struct Terminate {
    pub stat_prefix: String,
    /// `(authority, cluster)`: any other authority is answered 404.
    pub tunnels: Vec<(String, String)>,
    /// Record the peer's principal for the listener behind
    /// ([`PEER_PRINCIPAL`]): a waypoint's policies are matched there.
    pub record_peer: bool,
}

impl Terminate {
    /// The listener at an HBONE port: mutual TLS with the secret `secret`,
    /// `l4` (ztunnel's authorization), then the CONNECT-only connection
    /// manager. A client without a certificate of the mesh's root, or that
    /// speaks plain text, is disconnected by the TLS handshake.
    pub fn listener(
        &self,
        name: &str,
        port: u16,
        secret: &str,
        l4: Option<NamedConfig>,
    ) -> Listener {
        Listener {
            name: name.to_owned(),
            address: Some(Address::local(port)),
            internal_listener: None,
            traffic_direction: "INBOUND",
            listener_filters: Vec::new(),
            filter_chains: vec![FilterChain {
                name: name.to_owned(),
                // A peer that never finishes its handshake is dropped, as
                // a sidecar's TLS inspector drops one after 15 s: without
                // it, silent connections would hold the port's file
                // descriptors for good.
                transport_socket_connect_timeout: Some("15s"),
                filter_chain_match: None,
                filters: l4.into_iter().chain([self.connection_manager()]).collect(),
                transport_socket: Some(tls::hbone_server(secret)),
            }],
        }
    }

    fn connection_manager(&self) -> NamedConfig {
        let virtual_hosts = self
            .tunnels
            .iter()
            .map(|(authority, cluster)| VirtualHost {
                name: authority.clone(),
                domains: vec![authority.clone()],
                routes: vec![Route {
                    name: "connect".into(),
                    matcher: RouteMatch {
                        prefix: None,
                        connect_matcher: Some(Empty {}),
                        case_sensitive: true,
                        headers: Vec::new(),
                    },
                    route: Some(RouteAction {
                        cluster: Some(cluster.clone()),
                        timeout: "0s".into(),
                        max_stream_duration: Some(no_timeout()),
                        upgrade_configs: vec![RouteUpgrade {
                            upgrade_type: "CONNECT",
                            connect_config: Empty {},
                        }],
                        ..RouteAction::default()
                    }),
                    direct_response: None,
                    decorator: None,
                    typed_per_filter_config: Default::default(),
                }],
                include_request_attempt_count: false,
            })
            .collect();
        let mut http_filters = Vec::new();
        if self.record_peer {
            http_filters.push(NamedConfig {
                name: "envoy.filters.http.set_filter_state",
                typed_config: Any::SetFilterState(SetFilterState {
                    on_request_headers: vec![FilterStateValue {
                        object_key: PEER_PRINCIPAL,
                        // Hashed into the connection pools' keys: a
                        // connection to the listener behind, opened for one
                        // peer's tunnel and kept idle, is never reused for
                        // another peer's (with a plain `envoy.string` it is,
                        // and the second peer passes as the first).
                        factory_key: "envoy.hashable_string",
                        format_string: SubstitutionFormatString {
                            text_format_source: InlineString {
                                inline_string: "%DOWNSTREAM_PEER_URI_SAN%",
                            },
                        },
                        shared_with_upstream: "ONCE",
                    }],
                }),
            });
        }
        http_filters.push(NamedConfig {
            name: "envoy.filters.http.router",
            typed_config: Any::Router(Empty {}),
        });
        let hcm = HttpConnectionManager {
            stat_prefix: self.stat_prefix.clone(),
            codec_type: "HTTP2",
            route_config: RouteConfiguration {
                name: self.stat_prefix.clone(),
                virtual_hosts,
                validate_clusters: false,
            },
            http_filters,
            use_remote_address: false,
            normalize_path: false,
            // A tunnel that carries nothing for this long is closed: a
            // caller the policies deny still gets its tunnels (the L7 check
            // needs a request inside), and must not hold them for good.
            stream_idle_timeout: TUNNEL_IDLE_TIMEOUT,
            forward_client_cert_details: None,
            set_current_client_cert_details: None,
            http2_protocol_options: Some(Http2ProtocolOptions {
                max_concurrent_streams: None,
                allow_connect: true,
            }),
            request_id_extension: None,
            tracing: None,
            access_log: Vec::new(),
            upgrade_configs: vec![Upgrade {
                upgrade_type: "CONNECT",
            }],
        };
        NamedConfig {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: Any::HttpConnectionManager(Box::new(hcm)),
        }
    }
}
