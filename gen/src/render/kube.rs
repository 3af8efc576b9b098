//! The Kubernetes + Istio view of a [`Model`]: DNS names, principals, labels,
//! environment and spellings, computed here so templates only print.
//!
//! Objects in the chain's namespace belong to the profile (`part-of: <name>`). The
//! objects in `istio-system` (addons, the mesh-wide Telemetry, the IstioOperator)
//! are shared by every profile applied to a cluster, so they must be identical
//! whichever profile rendered them: they carry `part-of: meshgen-addons` and never
//! mention a profile's name or namespace.

use std::collections::BTreeMap;

use contract::Target;
use serde::Serialize;

use crate::model::{Caller, Model, Placement, Protocol, Route, Upstream, istio};

/// `part-of` of the objects shared by all profiles.
pub const SHARED_PART_OF: &str = "meshgen-addons";
/// Name of the tracing extension provider in the mesh config.
pub const TRACING_PROVIDER: &str = "otel-tracing";

pub type Labels = BTreeMap<&'static str, String>;

/// Everything the templates print.
#[derive(Debug, Serialize)]
pub struct View<'m> {
    pub model: &'m Model,
    /// Service port name and `appProtocol`: Istio detects the protocol from them,
    /// and a gRPC port named `http` would be downgraded to HTTP/1.1.
    pub port_name: &'static str,
    /// Protocol of the ingress gateway server.
    pub gateway_protocol: &'static str,
    /// Labels of every object of the chain.
    pub labels: Labels,
    /// Labels of the chain's namespace: sidecar injection on.
    pub namespace_labels: Labels,
    /// Labels of the shared objects in `istio-system`.
    pub shared_labels: Labels,
    pub istio_namespace: &'static str,
    pub ingress_gateway: &'static str,
    pub services: Vec<KService<'m>>,
    pub ingress: KIngress<'m>,
    pub externals: Vec<KExternal<'m>>,
    /// Tracing backend wiring (`None` when tracing is off).
    pub tracing: Option<KTracing>,
}

#[derive(Debug, Serialize)]
pub struct KService<'m> {
    pub name: &'m str,
    /// Fully qualified host, as VirtualServices and DestinationRules name it.
    pub host: String,
    pub account: &'m str,
    pub labels: Labels,
    /// Principals allowed to call it (the chain's edges into it).
    pub callers: Vec<String>,
    pub subsets: Vec<&'m str>,
    pub route: &'m Route,
    pub deployments: Vec<KDeployment<'m>>,
}

#[derive(Debug, Serialize)]
pub struct KDeployment<'m> {
    pub name: &'m str,
    pub replicas: u32,
    /// Deployment selector: `app` + `version`, stable for the Deployment's life.
    pub selector: Labels,
    /// Pod labels: selector plus the recommended `app.kubernetes.io/*` ones.
    pub pod_labels: Labels,
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Serialize)]
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct KIngress<'m> {
    pub gateway: &'m str,
    pub route: &'m str,
    pub service_host: String,
    pub hosts: &'m [String],
}

#[derive(Debug, Serialize)]
pub struct KExternal<'m> {
    pub name: &'m str,
    pub host: &'m str,
    pub ports: Vec<KPort>,
}

#[derive(Debug, Serialize)]
pub struct KPort {
    pub name: String,
    pub number: u16,
    pub protocol: &'static str,
}

#[derive(Debug, Serialize)]
pub struct KTracing {
    pub provider: &'static str,
    /// Collector Service host and OTLP/gRPC port.
    pub collector_host: String,
    pub collector_port: u16,
}

impl KTracing {
    /// What the hops export to (their `OTEL_EXPORTER_OTLP_ENDPOINT`).
    fn endpoint(&self) -> String {
        format!("http://{}:{}", self.collector_host, self.collector_port)
    }
}

pub fn view(m: &Model) -> View<'_> {
    let ns = m.namespace.as_str();
    let labels: Labels = [
        ("app.kubernetes.io/managed-by", "meshgen".to_owned()),
        ("app.kubernetes.io/part-of", m.name.clone()),
    ]
    .into();
    let shared_labels: Labels = [
        ("app.kubernetes.io/managed-by", "meshgen".to_owned()),
        ("app.kubernetes.io/part-of", SHARED_PART_OF.to_owned()),
    ]
    .into();
    let tracing = m.mesh.tracing.as_ref().map(|_| KTracing {
        provider: TRACING_PROVIDER,
        collector_host: istio::collector_host(),
        collector_port: istio::COLLECTOR_PORT,
    });
    let (port_name, gateway_protocol) = match m.wire.protocol {
        Protocol::Http => ("http", "HTTP"),
        Protocol::Grpc => ("grpc", "GRPC"),
    };
    let services = m
        .services
        .iter()
        .map(|s| {
            let mut svc_labels = labels.clone();
            svc_labels.insert("app", s.name.clone());
            svc_labels.insert("app.kubernetes.io/name", s.name.clone());
            let upstreams: Vec<Target> = s
                .upstreams
                .iter()
                .map(|u| {
                    let url = match u {
                        Upstream::Service { name } => format!(
                            "{}://{}:{}",
                            m.wire.protocol.scheme(),
                            istio::host(name, ns),
                            m.wire.service_port
                        ),
                        Upstream::External { url, .. } => url.clone(),
                    };
                    Target::parse(&url).expect("validated upstreams parse")
                })
                .collect();
            let deployments = s
                .versions
                .iter()
                .map(|w| {
                    let selector: Labels =
                        [("app", s.name.clone()), ("version", w.version.clone())].into();
                    let mut pod_labels = svc_labels.clone();
                    pod_labels.extend(selector.clone());
                    pod_labels.insert("app.kubernetes.io/instance", w.name.clone());
                    let config = m.hop_config(
                        s,
                        w,
                        Placement {
                            port: m.wire.container_port,
                            metrics_port: m.wire.metrics_port,
                            upstreams: upstreams.clone(),
                            otlp_endpoint: tracing.as_ref().map(KTracing::endpoint),
                        },
                    );
                    KDeployment {
                        name: &w.name,
                        replicas: w.replicas,
                        selector,
                        pod_labels,
                        env: config
                            .to_env()
                            .into_iter()
                            .map(|(name, value)| EnvVar { name, value })
                            .collect(),
                    }
                })
                .collect();
            KService {
                name: &s.name,
                host: istio::host(&s.name, ns),
                account: &s.name,
                labels: svc_labels,
                callers: s
                    .callers
                    .iter()
                    .map(|c| match c {
                        Caller::Ingress => {
                            istio::principal(istio::NAMESPACE, istio::INGRESS_ACCOUNT)
                        }
                        Caller::Service { name } => istio::principal(ns, name),
                    })
                    .collect(),
                subsets: s.versions.iter().map(|w| w.version.as_str()).collect(),
                route: &s.route,
                deployments,
            }
        })
        .collect();
    let externals = m
        .externals
        .iter()
        .map(|e| KExternal {
            name: &e.name,
            host: &e.host,
            ports: e
                .ports
                .iter()
                .map(|p| {
                    let protocol = if p.tls { "TLS" } else { "HTTP" };
                    KPort {
                        name: format!("{}-{}", protocol.to_lowercase(), p.number),
                        number: p.number,
                        protocol,
                    }
                })
                .collect(),
        })
        .collect();
    let mut namespace_labels = labels.clone();
    namespace_labels.insert("istio-injection", "enabled".to_owned());
    View {
        port_name,
        gateway_protocol,
        namespace_labels,
        labels,
        shared_labels,
        istio_namespace: istio::NAMESPACE,
        ingress_gateway: istio::INGRESS_GATEWAY,
        services,
        ingress: KIngress {
            gateway: &m.ingress.gateway,
            route: &m.ingress.route,
            service_host: istio::host(&m.ingress.service, ns),
            hosts: &m.ingress.hosts,
        },
        externals,
        tracing,
        model: m,
    }
}
