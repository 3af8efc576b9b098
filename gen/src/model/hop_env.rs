//! The environment of one hop process: the contract with the chain binaries
//! (docs/chain.md), written once for every target (Kubernetes Deployments, the
//! local mesh's processes).

use super::{Model, Service, Workload};

/// Where one hop runs, as its target placed it.
pub struct Placement<'a> {
    pub port: u16,
    pub metrics_port: u16,
    /// The hop's `UPSTREAM`: its upstreams as the target reaches them.
    pub upstream: &'a str,
    /// Where spans go, when they are exported.
    pub otlp_endpoint: Option<&'a str>,
}

impl Model {
    /// `(name, value)` of every variable the hop of `workload` needs.
    pub fn hop_env(
        &self,
        service: &Service,
        workload: &Workload,
        at: &Placement,
    ) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PORT", at.port.to_string()),
            ("SERVICE_NAME", service.name.clone()),
            ("SERVICE_VERSION", workload.version.clone()),
            ("UPSTREAM", at.upstream.to_owned()),
            ("METRICS_PORT", at.metrics_port.to_string()),
            ("WORK", service.work.to_string()),
        ];
        if let Some(t) = service.upstream_timeout {
            env.push(("UPSTREAM_TIMEOUT", t.to_string()));
        }
        env.push(("OTEL_SERVICE_NAME", service.name.clone()));
        env.push((
            "OTEL_RESOURCE_ATTRIBUTES",
            format!(
                "service.version={},service.namespace={}",
                workload.version, self.namespace
            ),
        ));
        if let Some(endpoint) = at.otlp_endpoint {
            env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_owned()));
            // Follow the sampling decision of the proxy in front, carried in the request.
            env.push(("OTEL_TRACES_SAMPLER", "parentbased_always_on".to_owned()));
        }
        env
    }
}
