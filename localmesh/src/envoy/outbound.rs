//! The outbound side of a proxy: what a caller's sidecar (or the gateway,
//! or the waypoint) does with a call to a destination. One listener per
//! destination on 127.0.0.1 stands in for istiod's `0.0.0.0_PORT` listener
//! and its route configuration (the app calls the listener's port instead
//! of the Service's address, as iptables would redirect it); the waypoint's
//! are internal listeners behind its HBONE port. The routes are the
//! destination's ([`super::route`]), to one cluster per subset.

use std::collections::BTreeMap;

use meshgen::model::{Egress as EgressMode, istio};

use super::proxy::{Proxy, Side, cluster};
use super::rbac::Rbac;
use super::route::{self, cluster_name, everything, no_timeout, routes};
use super::tls;
use super::traffic;
use super::types::{
    Address, Cluster, DirectResponse, Listener, NamedConfig, Route, RouteAction,
    RouteConfiguration, VirtualHost,
};
use crate::identity;
use crate::plan::{ExternalPlan, ExternalUpstream};

/// Calls to a service of the chain.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// Where the caller calls it; `None` for an internal listener.
    pub listener_port: Option<u16>,
    /// The destination service.
    pub service: String,
    /// Its pods by subset: their sidecars' inbound sides, their hops, or
    /// the internal listeners that tunnel to them.
    pub subsets: BTreeMap<String, Vec<Address>>,
    /// ISTIO_MUTUAL to the pods' sidecars (the proxy then has credentials),
    /// or plain text to the endpoints.
    pub mutual_tls: bool,
    /// The service's authorization, where it is enforced before its routes
    /// (the waypoint).
    pub authorization: Option<Rbac>,
}

/// Calls to a host outside the mesh, on one port.
#[derive(Debug, Clone)]
pub struct Egress {
    /// `None` for an internal listener.
    pub listener_port: Option<u16>,
    pub external: ExternalPlan,
}

impl Outbound {
    /// The destination's routes.
    pub fn virtual_host(&self, proxy: &Proxy) -> VirtualHost {
        let m = proxy.model;
        let port = m.wire.service_port;
        let host = istio::host(&self.service, &m.namespace);
        let s = m
            .service(&self.service)
            .expect("outbound destinations are services of the model");
        VirtualHost {
            name: format!("{host}:{port}"),
            domains: vec!["*".into()],
            routes: routes(m, &s.name, &s.route, proxy.mode()),
            include_request_attempt_count: true,
        }
    }

    pub fn listener_name(&self) -> String {
        format!("outbound_{}", self.service)
    }

    /// The listener of a caller's side.
    pub fn listener(&self, proxy: &Proxy) -> Listener {
        let rbac = self.authorization.clone().map(Rbac::filter);
        listener(
            proxy,
            &self.listener_name(),
            self.listener_port,
            vec![self.virtual_host(proxy)],
            rbac.into_iter().collect(),
            Side::Outbound,
        )
    }

    /// One cluster per subset, `outbound|PORT|SUBSET|HOST`.
    pub fn clusters(&self, proxy: &Proxy) -> Vec<Cluster> {
        let m = proxy.model;
        let port = m.wire.service_port;
        let host = istio::host(&self.service, &m.namespace);
        let server = identity::service(m, &self.service).spiffe_uri();
        let s = m
            .service(&self.service)
            .expect("outbound destinations are services of the model");
        self.subsets
            .iter()
            .map(|(subset, endpoints)| {
                // BuildDNSSrvSubsetKey: the SNI auto mTLS sends.
                let tls = self.mutual_tls.then(|| {
                    let sni = format!("outbound_.{port}_.{subset}_.{host}");
                    tls::istio_mutual(std::slice::from_ref(&server), sni, proxy.h2())
                });
                let mut c = cluster(
                    cluster_name(port, subset, &host),
                    endpoints.clone(),
                    proxy.h2(),
                    tls,
                );
                traffic::apply(&mut c, &s.traffic, proxy.h2());
                c
            })
            .collect()
    }
}

impl Egress {
    fn allowed(&self, proxy: &Proxy) -> bool {
        self.external.service_entry || proxy.model.mesh.egress == EgressMode::AllowAny
    }

    /// A ServiceEntry gives `outbound|PORT||HOST`, routed with the default
    /// outbound route (default retry policy); ALLOW_ANY without one goes
    /// through the PassthroughCluster (no retries).
    fn cluster_name(&self) -> String {
        let e = &self.external;
        match e.service_entry {
            true => cluster_name(e.port, "", &e.host),
            false => format!("PassthroughCluster|{}|{}", e.host, e.port),
        }
    }

    pub fn listener_name(&self) -> String {
        format!("outbound_{}_{}", self.external.port, self.external.host)
    }

    /// The listener: to the host, or under REGISTRY_ONLY without a
    /// ServiceEntry `buildCatchAllVirtualHost`'s 502.
    pub fn listener(&self, proxy: &Proxy) -> Listener {
        let e = &self.external;
        let vhost = match self.allowed(proxy) {
            true => VirtualHost {
                name: format!("{}:{}", e.host, e.port),
                domains: vec!["*".into()],
                routes: vec![Route {
                    name: "default".into(),
                    matcher: everything(),
                    route: Some(RouteAction {
                        cluster: Some(self.cluster_name()),
                        timeout: "0s".into(),
                        max_stream_duration: Some(no_timeout()),
                        retry_policy: e.service_entry.then(super::retry::default_policy),
                        host_rewrite_literal: Some(e.host.clone()),
                        ..RouteAction::default()
                    }),
                    direct_response: None,
                    decorator: None,
                    typed_per_filter_config: BTreeMap::new(),
                }],
                include_request_attempt_count: true,
            },
            false => VirtualHost {
                name: "block_all".into(),
                domains: vec!["*".into()],
                routes: vec![Route {
                    name: "block_all".into(),
                    matcher: everything(),
                    route: None,
                    direct_response: Some(DirectResponse { status: 502 }),
                    decorator: None,
                    typed_per_filter_config: BTreeMap::new(),
                }],
                include_request_attempt_count: true,
            },
        };
        listener(
            proxy,
            &self.listener_name(),
            self.listener_port,
            vec![vhost],
            Vec::new(),
            Side::Outbound,
        )
    }

    /// Its cluster (none when blocked): plain HTTP to the stub, the
    /// `--resolve` address or the host by DNS.
    pub fn cluster(&self, proxy: &Proxy) -> Option<Cluster> {
        if !self.allowed(proxy) {
            return None;
        }
        let e = &self.external;
        let endpoint = match e.upstream {
            ExternalUpstream::Stub(p) => Address::local(p),
            ExternalUpstream::Dns => Address::at(&e.host, e.port),
            ExternalUpstream::Address(addr) => Address::at(&addr.to_string(), e.port),
        };
        Some(cluster(self.cluster_name(), vec![endpoint], false, None))
    }
}

/// A caller's whole outbound side: a listener and its clusters per
/// destination, then per external host.
pub fn side(
    proxy: &Proxy,
    outbound: &[Outbound],
    egress: &[Egress],
) -> (Vec<Listener>, Vec<Cluster>) {
    let mut listeners = Vec::new();
    let mut clusters = Vec::new();
    for o in outbound {
        listeners.push(o.listener(proxy));
        clusters.extend(o.clusters(proxy));
    }
    for e in egress {
        listeners.push(e.listener(proxy));
        clusters.extend(e.cluster(proxy));
    }
    (listeners, clusters)
}

/// One HTTP listener, on `port` or internal: a connection manager with
/// `filters` (authorization), the fault filter (the routes' faults) and the
/// router.
pub fn listener(
    proxy: &Proxy,
    name: &str,
    port: Option<u16>,
    virtual_hosts: Vec<VirtualHost>,
    mut filters: Vec<NamedConfig>,
    side: Side,
) -> Listener {
    filters.push(NamedConfig {
        name: route::FAULT_FILTER,
        typed_config: super::types::Any::Fault(Default::default()),
    });
    let hcm = proxy.connection_manager(
        name.to_owned(),
        RouteConfiguration {
            name: name.to_owned(),
            virtual_hosts,
            validate_clusters: false,
        },
        filters,
        side,
    );
    Listener::outbound(name, port, vec![hcm])
}
