//! The ingress gateway: an Envoy of its own, as Istio's
//! `istio-ingressgateway` Deployment (or the Gateway API's
//! `<gateway>-istio`). Plain HTTP from clients on one listener with the
//! entry service's gateway-bound routes, then under the gateway's own
//! identity (which the entry service's AuthorizationPolicy allows): with
//! sidecars, Istio mutual TLS to the entry service's pods; in ambient mode
//! an HBONE tunnel to the waypoint, as `istio.io/ingress-use-waypoint` on
//! the Service asks, for the waypoint to route and authorize the call.

use meshgen::model::Model;

use super::outbound::{Outbound, listener};
use super::proxy::{Proxy, Side};
use super::tls;
use super::types::{Address, Bootstrap, Cluster, Listener};
use super::{ProxyOptions, write_bootstrap};
use super::{hbone, waypoint};
use crate::Error;
use crate::ca::Credentials;
use crate::identity;
use crate::plan::{Destination, Plan, Topology};

/// The cluster that carries the gateway's tunnels to the waypoint.
const WAYPOINT_TUNNELS: &str = "hbone|waypoint";

/// The internal listener that opens the tunnels for a version's calls.
fn to_waypoint(version: &str) -> String {
    format!("connect_originate|{version}")
}

#[derive(Debug, Clone)]
pub struct Gateway<'a> {
    pub model: &'a Model,
    pub listener_port: u16,
    /// The entry service's pods, or the tunnel to the waypoint.
    pub entry: Outbound,
    /// In ambient mode, the waypoint's HBONE port.
    pub waypoint: Option<u16>,
    /// Its identity's credentials (with sidecars).
    pub credentials: Option<&'a Credentials>,
    pub options: &'a ProxyOptions,
}

impl<'a> Gateway<'a> {
    pub fn of(
        model: &'a Model,
        plan: &Plan,
        credentials: Option<&'a Credentials>,
        options: &'a ProxyOptions,
    ) -> Gateway<'a> {
        let service = &model.ingress.service;
        let (subsets, mutual_tls) = match plan.topology {
            Topology::Sidecars => (
                plan.subsets(service, |p| Address::local(p.inbound)),
                options.peer_mtls,
            ),
            // Each subset's calls go through a tunnel to the Service the
            // ingress route names for it.
            Topology::Ambient => (
                plan.subsets(service, |p| Address::internal(&to_waypoint(&p.version)))
                    .into_iter()
                    .map(|(version, mut tunnel)| {
                        tunnel.dedup();
                        (version, tunnel)
                    })
                    .collect(),
                false,
            ),
        };
        Gateway {
            model,
            listener_port: plan.ingress,
            entry: Outbound {
                listener_port: Some(plan.ingress),
                service: service.clone(),
                subsets,
                mutual_tls,
                authorization: None,
            },
            waypoint: plan.waypoint,
            credentials,
            options,
        }
    }

    /// `workload.namespace` of the gateway's proxy: its name in spans.
    pub fn proxy_name(&self) -> String {
        let id = identity::ingress(self.model);
        let (_, namespace) = meshgen::model::istio::ingress_proxy(self.model);
        format!("{}.{namespace}", id.name)
    }

    fn proxy(&self) -> Proxy<'_> {
        Proxy {
            model: self.model,
            name: self.proxy_name(),
            options: self.options,
        }
    }

    /// In ambient mode, the tunnels to the waypoint: an internal listener
    /// per version, the cluster that carries them.
    fn tunnels(&self) -> (Vec<Listener>, Vec<Cluster>) {
        let Some(port) = self.waypoint else {
            return Default::default();
        };
        let m = self.model;
        let entry = m
            .service(&self.entry.service)
            .expect("the entry is a service of the model");
        let listeners = self
            .entry
            .subsets
            .keys()
            .map(|version| {
                let target = waypoint::ingress_target(m, entry, version);
                let authority = hbone::authority(m, &Destination::Service(target.to_owned()));
                hbone::originate(&to_waypoint(version), None, WAYPOINT_TUNNELS, authority)
            })
            .collect();
        let waypoint = identity::waypoint(m).spiffe_uri();
        let cluster = hbone::tunnels(WAYPOINT_TUNNELS, port, tls::DEFAULT_SECRET, &waypoint);
        (listeners, vec![cluster])
    }

    pub fn bootstrap(&self) -> Bootstrap {
        let proxy = self.proxy();
        let mut listeners = vec![listener(
            &proxy,
            "ingress",
            Some(self.listener_port),
            vec![self.entry.virtual_host(&proxy)],
            Vec::new(),
            Side::Gateway,
        )];
        let mut clusters = self.entry.clusters(&proxy);
        let (tunnels, carrier) = self.tunnels();
        listeners.extend(tunnels);
        clusters.extend(carrier);
        let name = self.proxy_name();
        proxy.bootstrap(
            format!("router~127.0.0.1~{name}~cluster.local"),
            listeners,
            clusters,
            self.credentials.map(tls::secrets).unwrap_or_default(),
        )
    }

    pub fn write_bootstrap(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, "ingress-gateway")
    }
}
