//! The namespace waypoint of ambient mode: one Envoy that ends the HBONE
//! tunnels ztunnel (and the ingress gateway) open to it, then, per Service,
//! checks the caller's principal against the Service's L7
//! AuthorizationPolicy (`targetRefs`), applies its routes (the Gateway API
//! routes whose parent is the Service) and tunnels the call on to the chosen
//! pod's ztunnel; calls to hosts outside go out from here.
//!
//! As istiod builds a waypoint (pilot/pkg/networking/core/waypoint.go): the
//! HBONE port (`connect_terminate`) hands each tunnel's payload to an
//! internal listener, recording the peer's principal for the policies
//! there; the Services' listeners are internal listeners by authority
//! (istiod's `main_internal` chooses by the destination address, and
//! writes the Service's cluster IP where here there is its name); the pods
//! are reached through internal listeners that open a tunnel each
//! (`connect_originate`).

use meshgen::model::identity::services_selecting;
use meshgen::model::{Model, Service, istio};

use super::hbone::{self, Terminate};
use super::outbound::{self, Egress, Outbound};
use super::proxy::{Proxy, Side};
use super::rbac::{self, Peer, Rbac};
use super::retry;
use super::route::{everything, no_timeout, subset_cluster};
use super::tls;
use super::types::{Address, Bootstrap, Decorator, Listener, Route, RouteAction, VirtualHost};
use super::{ProxyOptions, write_bootstrap};
use crate::Error;
use crate::ca::Credentials;
use crate::identity;
use crate::plan::{Destination, Plan};

#[derive(Debug, Clone)]
pub struct Waypoint<'a> {
    pub model: &'a Model,
    /// Its HBONE port.
    pub port: u16,
    /// Per Service of the chain, its routes and policy.
    pub services: Vec<Outbound>,
    /// Under the Gateway API, the per-version Services.
    pub versions: Vec<VersionService>,
    pub egress: Vec<Egress>,
    /// A tunnel per pod.
    pub pods: Vec<PodTunnel>,
    pub credentials: &'a Credentials,
    pub options: &'a ProxyOptions,
}

/// A Service of one version (`<service>-<version>`, under the Gateway API),
/// which the ingress routes send to: no mesh route is attached to it, so
/// the waypoint sends its calls to that version's pods by Istio's default
/// route, after the Service's own L7 policy.
#[derive(Debug, Clone)]
pub struct VersionService {
    pub name: String,
    pub service: String,
    pub subset: String,
    pub authorization: Option<Rbac>,
}

impl VersionService {
    fn listener_name(&self) -> String {
        format!("outbound_{}", self.name)
    }

    fn listener(&self, proxy: &Proxy) -> Listener {
        let m = proxy.model;
        let port = m.wire.service_port;
        let host = istio::host(&self.name, &m.namespace);
        let route = Route {
            name: "default".into(),
            matcher: everything(),
            route: Some(RouteAction {
                cluster: Some(subset_cluster(m, &self.service, &self.subset)),
                timeout: "0s".into(),
                max_stream_duration: Some(no_timeout()),
                retry_policy: retry::policy(&m.mesh.default_retries, proxy.mode()),
                ..RouteAction::default()
            }),
            direct_response: None,
            decorator: Some(Decorator {
                operation: format!("{host}:{port}/*"),
            }),
            typed_per_filter_config: Default::default(),
        };
        let rbac = self.authorization.clone().map(Rbac::filter);
        outbound::listener(
            proxy,
            &self.listener_name(),
            None,
            vec![VirtualHost {
                name: format!("{host}:{port}"),
                domains: vec!["*".into()],
                routes: vec![route],
                include_request_attempt_count: true,
            }],
            rbac.into_iter().collect(),
            Side::Outbound,
        )
    }
}

/// The Service the gateway's calls to `version` of `service` are addressed
/// to: under the Gateway API the version's own Service, which the ingress
/// route names; else the service's.
pub fn ingress_target<'m>(m: &'m Model, service: &'m Service, version: &str) -> &'m str {
    let selecting = services_selecting(m, service);
    service
        .versions
        .iter()
        .find(|w| w.version == version && selecting.contains(&w.name.as_str()))
        .map_or(service.name.as_str(), |w| w.name.as_str())
}

/// How the waypoint reaches one pod: a tunnel to its ztunnel, the pod's
/// address and port as the authority, the pod's identity checked.
#[derive(Debug, Clone)]
pub struct PodTunnel {
    pub pod: String,
    pub authority: String,
    /// The pod's HBONE port.
    pub port: u16,
    pub peer: String,
}

impl PodTunnel {
    fn listener_name(&self) -> String {
        to_pod(&self.pod)
    }

    fn cluster_name(&self) -> String {
        format!("hbone|{}", self.pod)
    }
}

/// The internal listener that opens the tunnels to `pod`.
fn to_pod(pod: &str) -> String {
    format!("connect_originate|{pod}")
}

impl<'a> Waypoint<'a> {
    /// The waypoint of an ambient plan (`None` with sidecars).
    pub fn of(
        model: &'a Model,
        plan: &Plan,
        credentials: &'a Credentials,
        options: &'a ProxyOptions,
    ) -> Option<Waypoint<'a>> {
        let pods: Vec<PodTunnel> = plan
            .pods
            .iter()
            .map(|p| PodTunnel {
                pod: p.name.clone(),
                authority: p.authority(),
                port: p.inbound,
                peer: identity::service(model, &p.service).spiffe_uri(),
            })
            .collect();
        let services = model
            .services
            .iter()
            .map(|s| Outbound {
                listener_port: None,
                service: s.name.clone(),
                subsets: plan.subsets(&s.name, |p| Address::internal(&to_pod(&p.name))),
                mutual_tls: false,
                authorization: rbac::policy(model, s, Peer::Tunnel { target: &s.name }),
            })
            .collect();
        let versions = model
            .services
            .iter()
            .flat_map(|s| {
                let selecting = services_selecting(model, s);
                s.versions
                    .iter()
                    .filter(move |w| selecting.contains(&w.name.as_str()))
                    .map(move |w| VersionService {
                        name: w.name.clone(),
                        service: s.name.clone(),
                        subset: w.version.clone(),
                        authorization: rbac::policy(model, s, Peer::Tunnel { target: &w.name }),
                    })
            })
            .collect();
        let egress = plan
            .externals
            .iter()
            .map(|e| Egress {
                listener_port: None,
                external: e.clone(),
            })
            .collect();
        Some(Waypoint {
            model,
            port: plan.waypoint?,
            services,
            versions,
            egress,
            pods,
            credentials,
            options,
        })
    }

    pub fn proxy_name(&self) -> String {
        format!("{}.{}", istio::WAYPOINT, self.model.namespace)
    }

    /// The HBONE port: each authority to its internal listener.
    fn terminate(&self) -> Terminate {
        let m = self.model;
        let services = self.services.iter().map(|o| {
            let d = Destination::Service(o.service.clone());
            (hbone::authority(m, &d), o.listener_name())
        });
        let versions = self.versions.iter().map(|v| {
            let d = Destination::Service(v.name.clone());
            (hbone::authority(m, &d), v.listener_name())
        });
        let egress = self.egress.iter().map(|e| {
            (
                hbone::authority(m, &e.external.destination()),
                e.listener_name(),
            )
        });
        Terminate {
            stat_prefix: "connect_terminate".into(),
            tunnels: services.chain(versions).chain(egress).collect(),
            record_peer: true,
        }
    }

    pub fn bootstrap(&self) -> Bootstrap {
        let proxy = Proxy {
            model: self.model,
            name: self.proxy_name(),
            options: self.options,
        };
        let terminate = self.terminate();
        let mut listeners =
            vec![terminate.listener("connect_terminate", self.port, tls::DEFAULT_SECRET, None)];
        let mut clusters: Vec<_> = terminate
            .tunnels
            .iter()
            .map(|(_, listener)| hbone::internal(listener))
            .collect();
        for o in &self.services {
            listeners.push(o.listener(&proxy));
            clusters.extend(o.clusters(&proxy));
        }
        for v in &self.versions {
            listeners.push(v.listener(&proxy));
        }
        for e in &self.egress {
            listeners.push(e.listener(&proxy));
            clusters.extend(e.cluster(&proxy));
        }
        for p in &self.pods {
            let name = p.cluster_name();
            listeners.push(hbone::originate(
                &p.listener_name(),
                None,
                &name,
                p.authority.clone(),
            ));
            clusters.push(hbone::tunnels(&name, p.port, tls::DEFAULT_SECRET, &p.peer));
        }
        let ns = &self.model.namespace;
        proxy.bootstrap(
            format!(
                "waypoint~127.0.0.1~{}.{ns}~{ns}.svc.cluster.local",
                istio::WAYPOINT
            ),
            listeners,
            clusters,
            tls::secrets(self.credentials),
        )
    }

    pub fn write_bootstrap(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, "waypoint")
    }
}
