//! ztunnel, ambient mode's node proxy, played by an Envoy for the one node
//! of a local mesh: it carries each pod's calls in HBONE tunnels under the
//! pod's own identity to the waypoint, and ends the tunnels to the pods,
//! letting in the waypoint only (the L4 AuthorizationPolicy named like each
//! service). It never reads the HTTP inside.
//!
//! What differs from Istio's ztunnel (a Rust program; docs/local.md):
//! - it captures nothing: each pod calls ztunnel's listener for the
//!   destination (one port per pod and destination) where ztunnel would
//!   take the connection from the pod's network namespace, so the listener
//!   tells which pod, and so which identity, is calling;
//! - each pod's HBONE port (15008 at the pod's address) is a port of its
//!   own on 127.0.0.1;
//! - it holds every identity's certificate from the start, where ztunnel
//!   asks istiod's CA for each pod's as the pod arrives;
//! - a call to a host outside also goes to the waypoint (the namespace's
//!   `istio.io/use-waypoint` label covers its ServiceEntries), where
//!   ztunnel sends a host with no ServiceEntry straight out.

use std::collections::BTreeSet;

use meshgen::model::Model;

use super::hbone::{self, Terminate};
use super::proxy::{Proxy, cluster};
use super::rbac;
use super::tls;
use super::types::{Address, Any, Bootstrap, NamedConfig, NetworkRbac};
use super::{ProxyOptions, write_bootstrap};
use crate::Error;
use crate::ca::Credentials;
use crate::identity::{self, Identity};
use crate::plan::{Plan, Topology};

#[derive(Debug, Clone)]
pub struct Ztunnel<'a> {
    pub model: &'a Model,
    pub plan: &'a Plan,
    /// The credentials of every identity, by [`Identity::name`].
    pub credentials: &'a std::collections::BTreeMap<String, Credentials>,
    pub options: &'a ProxyOptions,
}

impl<'a> Ztunnel<'a> {
    /// The node's ztunnel in an ambient plan (`None` with sidecars).
    pub fn of(
        model: &'a Model,
        plan: &'a Plan,
        credentials: &'a std::collections::BTreeMap<String, Credentials>,
        options: &'a ProxyOptions,
    ) -> Option<Ztunnel<'a>> {
        (plan.topology == Topology::Ambient).then_some(Ztunnel {
            model,
            plan,
            credentials,
            options,
        })
    }

    pub fn proxy_name(&self) -> String {
        "ztunnel".into()
    }

    /// The pods' identities.
    fn accounts(&self) -> BTreeSet<Identity> {
        let m = self.model;
        self.plan
            .pods
            .iter()
            .map(|p| identity::service(m, &p.service))
            .collect()
    }

    pub fn bootstrap(&self) -> Bootstrap {
        let m = self.model;
        let proxy = Proxy {
            model: m,
            name: self.proxy_name(),
            options: self.options,
        };
        let waypoint_port = self.plan.waypoint.expect("an ambient plan has a waypoint");
        let waypoint = identity::waypoint(m).spiffe_uri();
        let mut listeners = Vec::new();
        let mut clusters = Vec::new();
        for pod in &self.plan.pods {
            let service = m
                .service(&pod.service)
                .expect("pods are of the model's services");
            let id = identity::service(m, &pod.service);
            // Outbound: each destination the pod calls, to the waypoint.
            for (d, &port) in &pod.outbound {
                listeners.push(hbone::originate(
                    &format!("outbound|{}|{}", pod.name, hbone::authority(m, d)),
                    Some(port),
                    &to_waypoint(&id),
                    hbone::authority(m, d),
                ));
            }
            // Inbound: the pod's HBONE port, to its hop.
            let hop = format!("inbound|{}", pod.name);
            let l4 = rbac::l4_policy(m, service).map(|rules| NamedConfig {
                name: "envoy.filters.network.rbac",
                typed_config: Any::NetworkRbac(NetworkRbac {
                    stat_prefix: format!("{}.", pod.name),
                    rules,
                }),
            });
            // Only tunnels to the pod itself: another authority is answered
            // 404, as ztunnel refuses a destination that is not the pod's.
            let terminate = Terminate {
                stat_prefix: hop.clone(),
                tunnels: vec![(pod.authority(), hop.clone())],
                record_peer: false,
            };
            listeners.push(terminate.listener(&hop, pod.inbound, &id.spiffe_uri(), l4));
            clusters.push(cluster(hop, vec![Address::local(pod.hop)], false, None));
        }
        let mut secrets = Vec::new();
        for id in self.accounts() {
            clusters.push(hbone::tunnels(
                &to_waypoint(&id),
                waypoint_port,
                &id.spiffe_uri(),
                &waypoint,
            ));
            let c = &self.credentials[&id.name];
            secrets.push(tls::certificate(c, &id.spiffe_uri()));
        }
        secrets.extend(self.credentials.values().next().map(tls::root));
        proxy.bootstrap(
            "ztunnel~127.0.0.1~ztunnel.istio-system~istio-system.svc.cluster.local".into(),
            listeners,
            clusters,
            secrets,
        )
    }

    pub fn write_bootstrap(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, "ztunnel")
    }
}

/// The cluster that carries an identity's tunnels to the waypoint.
fn to_waypoint(id: &Identity) -> String {
    format!("hbone|{}|waypoint", id.name)
}
