//! One pod's sidecar: its inbound side (Istio mutual TLS, the service's
//! authorization, the local hop), outbound clusters with ISTIO_MUTUAL, and
//! the bootstrap that holds them.
//!
//! Shapes follow `istioctl proxy-config listener|cluster|route POD -o json`
//! of a sidecar and the istiod code that writes them
//! (pilot/pkg/networking/core/listener_inbound.go,
//! filterchain_options.go, cluster_tls.go). What differs, on purpose:
//! - each sidecar's inbound side is a listener of its own on 127.0.0.1 (a pod
//!   has `virtualInbound` on 15006 with traffic redirected to it by iptables);
//! - the outbound side here is a stand-in, one listener per destination
//!   routing everything to its pods ([`Outbound`]); the mesh's routes
//!   (canary, weights, retries, faults) are cli/src/local/envoy's, to be
//!   moved onto these listeners;
//! - Istio's own filters (`istio.metadata_exchange`, `istio.stats`,
//!   `istio_authn`) are not in upstream Envoy and are left out.

use std::path::{Path, PathBuf};

use meshgen::model::{Model, Protocol, Service, istio};

use super::rbac;
use super::tls;
use super::types::{
    Address, Admin, Any, Bootstrap, ClientCertDetails, Cluster, ClusterLoadAssignment, Decorator,
    Empty, FilterChain, FilterChainMatch, Http2ProtocolOptions, HttpConnectionManager, Listener,
    MaxStreamDuration, NamedConfig, Node, Route, RouteAction, RouteConfiguration, RouteMatch,
    StaticResources, VirtualHost, h2_upstream,
};
use crate::Error;
use crate::ca::{Credentials, write_private};
use crate::identity;

/// What the inbound side accepts (PeerAuthentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    /// Mutual TLS only: a plain-text client finds no filter chain and is
    /// disconnected (`inboundStrictHTTPFilterChainMatchOptions`).
    Strict,
    /// Mutual TLS from mesh clients, plain text from anyone
    /// (`inboundPermissiveHTTPFilterChainMatchWithMxcOptions`): Istio's
    /// default without a PeerAuthentication.
    Permissive,
}

impl MtlsMode {
    /// `mtls = true` renders a STRICT PeerAuthentication for the namespace;
    /// without it the namespace is Istio's default, PERMISSIVE. Either way a
    /// client sidecar sends mutual TLS (auto mTLS).
    pub fn of(m: &Model) -> MtlsMode {
        match m.mesh.mtls {
            true => MtlsMode::Strict,
            false => MtlsMode::Permissive,
        }
    }
}

/// One pod's sidecar.
#[derive(Debug, Clone)]
pub struct Sidecar<'a> {
    pub model: &'a Model,
    /// The service whose pod it is.
    pub service: &'a Service,
    /// The pod's name (for example `backend-prod-0`): names the proxy.
    pub pod: String,
    pub credentials: &'a Credentials,
    /// The admin port, 0 for any (the process reports it).
    pub admin_port: u16,
    /// Where its inbound side listens.
    pub inbound_port: u16,
    /// Where the pod's hop listens.
    pub app_port: u16,
    pub outbound: Vec<Outbound>,
}

/// A destination the pod calls, through a listener of its own.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Where the pod's hop calls it.
    pub listener_port: u16,
    /// The destination service.
    pub service: String,
    /// The inbound ports of the destination pods' sidecars.
    pub endpoints: Vec<u16>,
}

impl Sidecar<'_> {
    /// The name errors and logs give the proxy.
    pub fn proxy_name(&self) -> String {
        format!("sidecar {}", self.pod)
    }

    fn h2(&self) -> bool {
        self.model.wire.protocol == Protocol::Grpc
    }

    /// The pod's port, as istiod names the inbound cluster and chain by it.
    fn port(&self) -> u16 {
        self.model.wire.container_port
    }

    /// `inbound|PORT||`: the local hop.
    pub fn inbound_cluster(&self) -> Cluster {
        let name = format!("inbound|{}||", self.port());
        Cluster {
            load_assignment: ClusterLoadAssignment::local(&name, &[self.app_port]),
            name,
            discovery: "STATIC",
            connect_timeout: "10s",
            // istiod: ORIGINAL_DST to the pod's own address; here the hop's port.
            lb_policy: "ROUND_ROBIN",
            transport_socket: None,
            typed_extension_protocol_options: match self.h2() {
                true => h2_upstream(),
                false => Default::default(),
            },
        }
    }

    /// The inbound side: the TLS inspector, then by mode a mutual TLS chain
    /// (and under PERMISSIVE a plain-text one), each an HTTP connection
    /// manager with the service's RBAC filter routing to the local hop.
    pub fn inbound_listener(&self) -> Listener {
        let chain = |filter_chain_match, transport_socket| FilterChain {
            name: format!("inbound|{}||", self.port()),
            filter_chain_match: Some(filter_chain_match),
            filters: vec![self.inbound_hcm()],
            transport_socket,
        };
        let filter_chains = match MtlsMode::of(self.model) {
            MtlsMode::Strict => vec![chain(
                FilterChainMatch {
                    transport_protocol: "tls",
                    application_protocols: Vec::new(),
                },
                Some(tls::inbound()),
            )],
            MtlsMode::Permissive => vec![
                chain(
                    FilterChainMatch {
                        transport_protocol: "tls",
                        application_protocols: tls::ALL_ISTIO_MTLS_ALPNS.to_vec(),
                    },
                    Some(tls::inbound()),
                ),
                chain(
                    FilterChainMatch {
                        transport_protocol: "raw_buffer",
                        application_protocols: Vec::new(),
                    },
                    None,
                ),
            ],
        };
        Listener {
            name: "virtualInbound".into(),
            address: Address::local(self.inbound_port),
            traffic_direction: "INBOUND",
            listener_filters: vec![NamedConfig {
                name: "envoy.filters.listener.tls_inspector",
                typed_config: Any::TlsInspector(Empty {}),
            }],
            filter_chains,
        }
    }

    /// `buildSidecarInboundHTTPOpts`: the caller's certificate forwarded to
    /// the app (`x-forwarded-client-cert`), HTTP/2 options on a gRPC port.
    fn inbound_hcm(&self) -> NamedConfig {
        let port = self.port();
        let cluster = format!("inbound|{port}||");
        let host = istio::host(&self.service.name, &self.model.namespace);
        let mut http_filters = Vec::new();
        if let Some(policy) = rbac::policy(self.model, self.service) {
            http_filters.push(NamedConfig {
                name: "envoy.filters.http.rbac",
                typed_config: Any::Rbac(policy),
            });
        }
        http_filters.push(router());
        let hcm = HttpConnectionManager {
            stat_prefix: format!("inbound_0.0.0.0_{port}"),
            codec_type: "AUTO",
            route_config: RouteConfiguration {
                name: cluster.clone(),
                virtual_hosts: vec![VirtualHost {
                    name: format!("inbound|http|{port}"),
                    domains: vec!["*".into()],
                    routes: vec![route("default", &cluster, Some(format!("{host}:{port}/*")))],
                }],
                validate_clusters: false,
            },
            http_filters,
            use_remote_address: false,
            normalize_path: true,
            stream_idle_timeout: "0s",
            forward_client_cert_details: Some("APPEND_FORWARD"),
            set_current_client_cert_details: Some(ClientCertDetails {
                subject: true,
                dns: true,
                uri: true,
            }),
            http2_protocol_options: self.h2().then(Http2ProtocolOptions::default),
        };
        hcm_filter(hcm)
    }

    fn outbound_cluster_name(&self, o: &Outbound) -> String {
        let host = istio::host(&o.service, &self.model.namespace);
        format!("outbound|{}||{host}", self.model.wire.service_port)
    }

    /// `outbound|PORT||HOST`: the destination's pods, over ISTIO_MUTUAL,
    /// expecting the destination's own identity.
    pub fn outbound_cluster(&self, o: &Outbound) -> Cluster {
        let m = self.model;
        let host = istio::host(&o.service, &m.namespace);
        let name = self.outbound_cluster_name(o);
        let server = identity::service(m, &o.service).spiffe_uri();
        // BuildDNSSrvSubsetKey: the SNI of the (whole-service) subset.
        let sni = format!("outbound_.{}_._.{host}", m.wire.service_port);
        Cluster {
            load_assignment: ClusterLoadAssignment::local(&name, &o.endpoints),
            name,
            discovery: "STATIC",
            // The mesh's `connectTimeout` and `defaultLBAlgorithm`.
            connect_timeout: "10s",
            lb_policy: "LEAST_REQUEST",
            transport_socket: Some(tls::istio_mutual(&[server], sni, self.h2())),
            typed_extension_protocol_options: match self.h2() {
                true => h2_upstream(),
                false => Default::default(),
            },
        }
    }

    /// The stand-in outbound side: everything on `o.listener_port` goes to
    /// the destination's cluster.
    pub fn outbound_listener(&self, o: &Outbound) -> Listener {
        let port = self.model.wire.service_port;
        let host = istio::host(&o.service, &self.model.namespace);
        let cluster = self.outbound_cluster_name(o);
        let hcm = HttpConnectionManager {
            stat_prefix: format!("outbound_0.0.0.0_{port}"),
            codec_type: "AUTO",
            route_config: RouteConfiguration {
                name: format!("{port}"),
                virtual_hosts: vec![VirtualHost {
                    name: format!("{host}:{port}"),
                    domains: vec!["*".into()],
                    routes: vec![route("default", &cluster, None)],
                }],
                validate_clusters: false,
            },
            http_filters: vec![router()],
            use_remote_address: false,
            normalize_path: true,
            stream_idle_timeout: "0s",
            forward_client_cert_details: None,
            set_current_client_cert_details: None,
            http2_protocol_options: None,
        };
        Listener {
            name: format!("127.0.0.1_{}", o.listener_port),
            address: Address::local(o.listener_port),
            traffic_direction: "OUTBOUND",
            listener_filters: Vec::new(),
            filter_chains: vec![FilterChain {
                name: cluster,
                filter_chain_match: None,
                filters: vec![hcm_filter(hcm)],
                transport_socket: None,
            }],
        }
    }

    /// The whole proxy: node, admin on 127.0.0.1, listeners, clusters and
    /// the two secrets.
    pub fn bootstrap(&self) -> Bootstrap {
        let ns = &self.model.namespace;
        let mut listeners = vec![self.inbound_listener()];
        let mut clusters = vec![self.inbound_cluster()];
        for o in &self.outbound {
            listeners.push(self.outbound_listener(o));
            clusters.push(self.outbound_cluster(o));
        }
        Bootstrap {
            node: Node {
                id: format!("sidecar~127.0.0.1~{}.{ns}~{ns}.svc.cluster.local", self.pod),
                cluster: format!("{}.{ns}", self.service.name),
            },
            admin: Admin {
                address: Address::local(self.admin_port),
            },
            static_resources: StaticResources {
                listeners,
                clusters,
                secrets: tls::secrets(self.credentials),
            },
        }
    }

    /// Writes the bootstrap as `<dir>/<pod>.json` (a new file, 0600) and
    /// returns its path.
    pub fn write_bootstrap(&self, dir: &Path) -> Result<PathBuf, Error> {
        let path = dir.join(format!("{}.json", self.pod));
        let json = serde_json::to_vec_pretty(&self.bootstrap()).expect("bootstraps serialize");
        write_private(&path, &json)?;
        Ok(path)
    }
}

fn router() -> NamedConfig {
    NamedConfig {
        name: "envoy.filters.http.router",
        typed_config: Any::Router(Empty {}),
    }
}

fn hcm_filter(hcm: HttpConnectionManager) -> NamedConfig {
    NamedConfig {
        name: "envoy.filters.network.http_connection_manager",
        typed_config: Any::HttpConnectionManager(Box::new(hcm)),
    }
}

/// A catch-all route: no timeout, gRPC's `grpc-timeout` not capped (as
/// istiod's inbound and default routes).
fn route(name: &str, cluster: &str, operation: Option<String>) -> Route {
    Route {
        name: name.to_owned(),
        matcher: RouteMatch { prefix: "/".into() },
        route: RouteAction {
            cluster: cluster.to_owned(),
            timeout: "0s",
            max_stream_duration: MaxStreamDuration {
                max_stream_duration: "0s",
                grpc_timeout_header_max: "0s",
            },
        },
        decorator: operation.map(|operation| Decorator { operation }),
    }
}
