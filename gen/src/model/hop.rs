//! The configuration of each hop: decided here once for every target
//! (Kubernetes Deployments, the local mesh's processes); targets only say
//! where the hop runs ([`Placement`]) and print [`HopConfig::to_env`].

use contract::{HopConfig, Limits, Misbehaviour, Target, http::HeaderName};

use super::{External, Model, Service, Upstream, Workload};

/// Where one hop runs, as its target placed it.
pub struct Placement {
    /// Where the hop's ports listen: every address of a pod, or 127.0.0.1
    /// on one machine.
    pub address: std::net::IpAddr,
    pub port: u16,
    pub metrics_port: u16,
    /// The pod's name when the target names it (one machine); on Kubernetes
    /// only the pod knows it, from the downward API.
    pub pod: Option<String>,
    /// The hop's upstreams as the target reaches them, in the service's order.
    pub upstreams: Vec<Target>,
    /// Where spans go, when they are exported.
    pub otlp_endpoint: Option<String>,
}

impl Model {
    /// The configuration of the hop of `workload`, placed at `at`.
    pub fn hop_config(&self, service: &Service, workload: &Workload, at: Placement) -> HopConfig {
        // Each request may take its upstream calls' whole time.
        let request_timeout =
            Limits::request_timeout_for(service.upstream_timeout, at.upstreams.len());
        // The placement lists the service's upstreams in its order.
        let external_upstreams = service
            .upstreams
            .iter()
            .zip(&at.upstreams)
            .filter(|(u, _)| matches!(u, Upstream::External { .. }))
            .map(|(_, t)| t.clone())
            .collect();
        HopConfig {
            port: at.port,
            metrics_port: at.metrics_port,
            address: at.address,
            service: service.name.clone(),
            version: workload.version.clone(),
            pod: at.pod,
            misbehaviour: Misbehaviour::NONE,
            namespace: Some(self.namespace.clone()),
            upstreams: at.upstreams,
            external_upstreams,
            upstream_timeout: service.upstream_timeout,
            work: service.work,
            external_stub: false,
            forward_headers: service
                .forward_headers
                .iter()
                .map(|h| HeaderName::try_from(h.as_str()).expect("validated header names"))
                .collect(),
            // Sized so that no client can take a hop past its pod's memory limit.
            limits: Limits {
                request_timeout,
                ..Limits::DEFAULT
            },
            otlp_endpoint: self.mesh.tracing.as_ref().and(at.otlp_endpoint),
        }
    }

    /// The configuration of the in-cluster stub of `external`
    /// ([`External::stub`]): a terminal HTTP hop that answers the time and
    /// never rolls `fail`, as the real API would not.
    pub fn stub_config(&self, external: &External, at: Placement) -> HopConfig {
        HopConfig {
            port: at.port,
            metrics_port: at.metrics_port,
            address: at.address,
            service: external.host.clone(),
            version: STUB_VERSION.to_owned(),
            pod: at.pod,
            misbehaviour: Misbehaviour::NONE,
            namespace: Some(self.namespace.clone()),
            upstreams: Vec::new(),
            upstream_timeout: HopConfig::DEFAULT_UPSTREAM_TIMEOUT,
            work: false,
            external_stub: true,
            forward_headers: Vec::new(),
            external_upstreams: Vec::new(),
            limits: Limits::DEFAULT,
            otlp_endpoint: self.mesh.tracing.as_ref().and(at.otlp_endpoint),
        }
    }
}

/// The `version` label and `SERVICE_VERSION` of an external API's stub.
pub const STUB_VERSION: &str = "stub";
