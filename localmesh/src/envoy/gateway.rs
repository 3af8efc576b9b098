//! The ingress gateway: an Envoy of its own, as Istio's
//! `istio-ingressgateway` Deployment (or the Gateway API's
//! `<gateway>-istio`). Plain HTTP from clients on one listener with the
//! entry service's gateway-bound routes, then, with sidecars, Istio mutual
//! TLS to the entry service's pods under the gateway's own identity (which
//! the entry service's AuthorizationPolicy allows); in ambient mode plain
//! text to the pods (ztunnel is not played: docs/local.md).

use std::collections::BTreeMap;

use meshgen::model::Model;

use super::outbound::{Outbound, listener};
use super::proxy::{Proxy, Side};
use super::tls;
use super::types::Bootstrap;
use super::{ProxyOptions, write_bootstrap};
use crate::Error;
use crate::ca::Credentials;
use crate::identity;
use crate::plan::{Plan, Topology};

#[derive(Debug, Clone)]
pub struct Gateway<'a> {
    pub model: &'a Model,
    pub listener_port: u16,
    /// The entry service's pods.
    pub entry: Outbound,
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
        let sidecars = plan.topology == Topology::Sidecars;
        let mut subsets: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for p in plan.pods_of(service, None) {
            let port = if sidecars { p.inbound } else { p.hop };
            subsets.entry(p.version.clone()).or_default().push(port);
        }
        Gateway {
            model,
            listener_port: plan.ingress,
            entry: Outbound {
                listener_port: plan.ingress,
                service: service.clone(),
                subsets,
                mutual_tls: sidecars && options.peer_mtls,
            },
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

    pub fn bootstrap(&self) -> Bootstrap {
        let proxy = self.proxy();
        let listener = listener(
            &proxy,
            "ingress",
            self.listener_port,
            vec![self.entry.virtual_host(&proxy)],
            Side::Gateway,
            "OUTBOUND",
        );
        let name = self.proxy_name();
        proxy.bootstrap(
            format!("router~127.0.0.1~{name}~cluster.local"),
            vec![listener],
            self.entry.clusters(&proxy),
            self.credentials.map(tls::secrets).unwrap_or_default(),
        )
    }

    pub fn write_bootstrap(&self, dir: &std::path::Path) -> Result<std::path::PathBuf, Error> {
        write_bootstrap(&self.bootstrap(), dir, "ingress-gateway")
    }
}
