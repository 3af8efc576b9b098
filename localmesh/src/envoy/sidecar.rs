//! One pod's sidecar: its inbound side (Istio mutual TLS, the service's
//! authorization, the local hop), its outbound side (one listener per
//! destination with the destination's routes, ISTIO_MUTUAL to the
//! destination's pods; one per external host), and the bootstrap that
//! holds them.
//!
//! Shapes follow `istioctl proxy-config listener|cluster|route POD -o json`
//! of a sidecar and the istiod code that writes them
//! (pilot/pkg/networking/core/listener_inbound.go,
//! filterchain_options.go, cluster_tls.go). What differs, on purpose:
//! - each sidecar's inbound side is a listener of its own on 127.0.0.1 (a pod
//!   has `virtualInbound` on 15006 with traffic redirected to it by
//!   iptables), and its outbound side one listener per destination
//!   ([`Outbound`]);
//! - Istio's own filters (`istio.metadata_exchange`, `istio.stats`,
//!   `istio_authn`) are not in upstream Envoy and are left out.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use meshgen::model::{Model, Service, istio};

use super::outbound::{self, Egress, Outbound};
use super::proxy::{Proxy, Side, cluster};
use super::rbac;
use super::route::{everything, no_timeout};
use super::tls;
use super::types::{
    Address, Any, Bootstrap, Cluster, Decorator, Empty, FilterChain, FilterChainMatch, Listener,
    NamedConfig, Route, RouteAction, RouteConfiguration, VirtualHost,
};
use super::{ProxyOptions, write_bootstrap};
use crate::Error;
use crate::ca::Credentials;
use crate::plan::{Plan, Pod};

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
    /// Where its inbound side listens.
    pub inbound_port: u16,
    /// Where the pod's hop listens.
    pub app_port: u16,
    pub outbound: Vec<Outbound>,
    pub egress: Vec<Egress>,
    pub options: &'a ProxyOptions,
}

impl<'a> Sidecar<'a> {
    /// The sidecar of `pod` in `plan`: a listener per destination the pod
    /// calls, to the destination's pods' inbound sides.
    pub fn of(
        model: &'a Model,
        plan: &Plan,
        pod: &Pod,
        credentials: &'a Credentials,
        options: &'a ProxyOptions,
    ) -> Sidecar<'a> {
        let mut outbound = Vec::new();
        let mut egress = Vec::new();
        for (destination, &listener_port) in &pod.outbound {
            match destination {
                crate::plan::Destination::Service(name) => {
                    outbound.push(Outbound {
                        listener_port: Some(listener_port),
                        service: name.clone(),
                        subsets: plan.subsets(name, |p| Address::local(p.inbound)),
                        mutual_tls: options.peer_mtls,
                        authorization: None,
                    });
                }
                crate::plan::Destination::External { host, port } => {
                    if let Some(e) = plan.external(host, *port) {
                        egress.push(Egress {
                            listener_port: Some(listener_port),
                            external: e.clone(),
                        });
                    }
                }
            }
        }
        Sidecar {
            model,
            service: model
                .service(&pod.service)
                .expect("pods are of the model's services"),
            pod: pod.name.clone(),
            credentials,
            inbound_port: pod.inbound,
            app_port: pod.hop,
            outbound,
            egress,
            options,
        }
    }

    /// The name errors and logs give the proxy.
    pub fn proxy_name(&self) -> String {
        format!("sidecar {}", self.pod)
    }

    fn proxy(&self) -> Proxy<'_> {
        Proxy {
            model: self.model,
            name: format!("{}.{}", self.service.name, self.model.namespace),
            options: self.options,
        }
    }

    /// The pod's port, as istiod names the inbound cluster and chain by it.
    fn port(&self) -> u16 {
        self.model.wire.container_port
    }

    /// `inbound|PORT||`: the local hop (istiod: ORIGINAL_DST to the pod's
    /// own address; here the hop's port).
    pub fn inbound_cluster(&self) -> Cluster {
        let proxy = self.proxy();
        let mut c = cluster(
            format!("inbound|{}||", self.port()),
            vec![Address::local(self.app_port)],
            proxy.h2(),
            None,
        );
        c.lb_policy = "ROUND_ROBIN";
        c
    }

    /// The inbound side: the TLS inspector, then by mode a mutual TLS chain
    /// (and under PERMISSIVE a plain-text one), each an HTTP connection
    /// manager with the service's RBAC filter routing to the local hop.
    pub fn inbound_listener(&self) -> Listener {
        let chain = |filter_chain_match, transport_socket| FilterChain {
            name: format!("inbound|{}||", self.port()),
            transport_socket_connect_timeout: None,
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
            address: Some(Address::local(self.inbound_port)),
            internal_listener: None,
            traffic_direction: "INBOUND",
            listener_filters: vec![NamedConfig {
                name: "envoy.filters.listener.tls_inspector",
                typed_config: Any::TlsInspector(Empty {}),
            }],
            filter_chains,
        }
    }

    /// `buildSidecarInboundHTTPOpts`: the service's authorization, then the
    /// local hop.
    fn inbound_hcm(&self) -> NamedConfig {
        let port = self.port();
        let cluster = format!("inbound|{port}||");
        let host = istio::host(&self.service.name, &self.model.namespace);
        let mut http_filters = Vec::new();
        if let Some(policy) = rbac::policy(self.model, self.service, rbac::Peer::Connection) {
            http_filters.push(policy.filter());
        }
        let route = Route {
            name: "default".into(),
            matcher: everything(),
            route: Some(RouteAction {
                cluster: Some(cluster.clone()),
                timeout: "0s".into(),
                max_stream_duration: Some(no_timeout()),
                ..RouteAction::default()
            }),
            direct_response: None,
            decorator: Some(Decorator {
                operation: format!("{host}:{port}/*"),
            }),
            typed_per_filter_config: BTreeMap::new(),
        };
        self.proxy().connection_manager(
            format!("inbound_0.0.0.0_{port}"),
            RouteConfiguration {
                name: cluster,
                virtual_hosts: vec![VirtualHost {
                    name: format!("inbound|http|{port}"),
                    domains: vec!["*".into()],
                    routes: vec![route],
                    include_request_attempt_count: false,
                }],
                validate_clusters: false,
            },
            http_filters,
            Side::Inbound,
        )
    }

    /// The whole proxy: node, admin, listeners, clusters and the two secrets.
    pub fn bootstrap(&self) -> Bootstrap {
        let proxy = self.proxy();
        let ns = &self.model.namespace;
        let (outbound_listeners, outbound_clusters) =
            outbound::side(&proxy, &self.outbound, &self.egress);
        let listeners = [vec![self.inbound_listener()], outbound_listeners].concat();
        let clusters = [vec![self.inbound_cluster()], outbound_clusters].concat();
        proxy.bootstrap(
            format!("sidecar~127.0.0.1~{}.{ns}~{ns}.svc.cluster.local", self.pod),
            listeners,
            clusters,
            tls::secrets(self.credentials),
        )
    }

    /// Writes the bootstrap as `<dir>/<pod>.json` (a new file, 0600) and
    /// returns its path.
    pub fn write_bootstrap(&self, dir: &Path) -> Result<PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, &self.pod)
    }
}
