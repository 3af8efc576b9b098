//! The namespace waypoint of ambient mode: one Envoy applying every
//! service's routes (the Gateway API routes whose parent is the Service)
//! for all callers of the namespace, and the egress to hosts outside.
//!
//! What differs from Istio, for now (docs/local.md): the pods call the
//! waypoint directly in plain text, and the waypoint calls the pods in plain
//! text: ztunnel's HBONE tunnels (mutual TLS on 15008) are not played, so
//! the waypoint cannot tell who calls and the L7 AuthorizationPolicies are
//! not enforced.

use std::collections::BTreeMap;

use meshgen::model::{Model, istio};

use super::outbound::{self, Egress, Outbound};
use super::proxy::Proxy;
use super::types::Bootstrap;
use super::{ProxyOptions, write_bootstrap};
use crate::Error;
use crate::plan::{Plan, Pod};

#[derive(Debug, Clone)]
pub struct Waypoint<'a> {
    pub model: &'a Model,
    pub outbound: Vec<Outbound>,
    pub egress: Vec<Egress>,
    pub options: &'a ProxyOptions,
}

impl<'a> Waypoint<'a> {
    pub fn of(model: &'a Model, plan: &Plan, options: &'a ProxyOptions) -> Waypoint<'a> {
        let outbound = plan
            .waypoint
            .iter()
            .map(|(service, &listener_port)| {
                let mut subsets: BTreeMap<String, Vec<u16>> = BTreeMap::new();
                for p in plan.pods_of(service, None) {
                    subsets.entry(p.version.clone()).or_default().push(p.hop);
                }
                Outbound {
                    listener_port,
                    service: service.clone(),
                    subsets,
                    mutual_tls: false,
                }
            })
            .collect();
        // Every caller shares the egress listeners: take them from any pod.
        let egress = plan
            .externals
            .iter()
            .filter_map(|e| {
                let port = plan
                    .pods
                    .iter()
                    .find_map(|p: &Pod| p.outbound.get(&e.destination()))?;
                Some(Egress {
                    listener_port: *port,
                    external: e.clone(),
                })
            })
            .collect();
        Waypoint {
            model,
            outbound,
            egress,
            options,
        }
    }

    pub fn proxy_name(&self) -> String {
        format!("{}.{}", istio::WAYPOINT, self.model.namespace)
    }

    pub fn bootstrap(&self) -> Bootstrap {
        let proxy = Proxy {
            model: self.model,
            name: self.proxy_name(),
            options: self.options,
        };
        let (listeners, clusters) = outbound::side(&proxy, &self.outbound, &self.egress);
        let ns = &self.model.namespace;
        proxy.bootstrap(
            format!(
                "waypoint~127.0.0.1~{}.{ns}~{ns}.svc.cluster.local",
                istio::WAYPOINT
            ),
            listeners,
            clusters,
            Vec::new(),
        )
    }

    pub fn write_bootstrap(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, "waypoint")
    }
}
