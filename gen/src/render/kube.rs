//! The Kubernetes + Istio view of a [`Model`]: names, DNS names, principals, labels,
//! environment and image references, computed here so templates only print.
//!
//! Objects in the chain's namespace belong to the profile (`part-of: <name>`). The
//! objects in `istio-system` (addons, the mesh-wide Telemetry, the IstioOperator)
//! are shared by every profile applied to a cluster, so they must be identical
//! whichever profile rendered them: they carry `part-of: meshgen-addons` and never
//! mention a profile's name or namespace.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Caller, Model, Placement, Route, Upstream};

/// Namespace of Istio's control plane, its ingress gateway and the addons.
pub const ISTIO_NAMESPACE: &str = "istio-system";
/// `part-of` of the objects shared by all profiles.
pub const SHARED_PART_OF: &str = "meshgen-addons";
/// Name of the tracing extension provider in the mesh config.
pub const TRACING_PROVIDER: &str = "otel-tracing";
/// The trust domain of a default Istio install.
const TRUST_DOMAIN: &str = "cluster.local";
/// The ingress gateway that `istioctl install` creates, and its ServiceAccount.
pub const INGRESS_GATEWAY: &str = "istio-ingressgateway";
const INGRESS_ACCOUNT: &str = "istio-ingressgateway-service-account";
/// The tracing collector's Service (in [`ISTIO_NAMESPACE`]) and OTLP/gRPC port.
pub const COLLECTOR_SERVICE: &str = "jaeger-collector";
pub const COLLECTOR_PORT: u16 = 4317;

pub type Labels = BTreeMap<&'static str, String>;

/// Everything the templates print.
#[derive(Debug, Serialize)]
pub struct View<'m> {
    pub model: &'m Model,
    /// Labels of every object of the chain.
    pub labels: Labels,
    /// Labels of the chain's namespace: sidecar injection on.
    pub namespace_labels: Labels,
    /// Labels of the shared objects in `istio-system`.
    pub shared_labels: Labels,
    pub istio_namespace: &'static str,
    pub ingress_gateway: &'static str,
    pub services: Vec<KService<'m>>,
    pub ingress: KIngress,
    pub externals: Vec<KExternal>,
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
    pub deployments: Vec<KDeployment>,
}

#[derive(Debug, Serialize)]
pub struct KDeployment {
    pub name: String,
    pub version: String,
    pub replicas: u32,
    /// Deployment selector: `app` + `version`, stable for the Deployment's life.
    pub selector: Labels,
    /// Pod labels: selector plus the recommended `app.kubernetes.io/*` ones.
    pub pod_labels: Labels,
    pub image: String,
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Serialize)]
pub struct EnvVar {
    pub name: &'static str,
    pub value: String,
}

#[derive(Debug, Serialize)]
pub struct KIngress {
    pub gateway: String,
    pub service_host: String,
    pub hosts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct KExternal {
    /// Object name derived from the host (`time.jsontest.com` -> `time-jsontest-com`).
    pub name: String,
    pub host: String,
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
    /// What the hops export to (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub otlp_endpoint: String,
}

/// The cluster-local DNS name of a Service (what Istio names hosts by).
pub fn host(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.cluster.local")
}

fn principal(namespace: &str, account: &str) -> String {
    format!("{TRUST_DOMAIN}/ns/{namespace}/sa/{account}")
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
    let tracing = m.mesh.tracing.as_ref().map(|_| {
        let collector_host = host(COLLECTOR_SERVICE, ISTIO_NAMESPACE);
        KTracing {
            provider: TRACING_PROVIDER,
            otlp_endpoint: format!("http://{collector_host}:{COLLECTOR_PORT}"),
            collector_host,
            collector_port: COLLECTOR_PORT,
        }
    });
    let image = format!("{}/{}:{}", m.image.registry, m.wire.binary, m.image.tag);
    let services = m
        .services
        .iter()
        .map(|s| {
            let mut svc_labels = labels.clone();
            svc_labels.insert("app", s.name.clone());
            svc_labels.insert("app.kubernetes.io/name", s.name.clone());
            let upstream = s
                .upstreams
                .iter()
                .map(|u| match u {
                    Upstream::Service { name } => {
                        format!(
                            "{}://{}:{}",
                            m.wire.scheme,
                            host(name, ns),
                            m.wire.service_port
                        )
                    }
                    Upstream::External { url, .. } => url.clone(),
                })
                .collect::<Vec<_>>()
                .join(",");
            let deployments = s
                .versions
                .iter()
                .map(|w| {
                    let selector: Labels =
                        [("app", s.name.clone()), ("version", w.version.clone())].into();
                    let mut pod_labels = svc_labels.clone();
                    pod_labels.extend(selector.clone());
                    pod_labels.insert(
                        "app.kubernetes.io/instance",
                        format!("{}-{}", s.name, w.version),
                    );
                    let env = m
                        .hop_env(
                            s,
                            w,
                            &Placement {
                                port: m.wire.container_port,
                                metrics_port: m.wire.metrics_port,
                                upstream: &upstream,
                                otlp_endpoint: tracing.as_ref().map(|t| t.otlp_endpoint.as_str()),
                            },
                        )
                        .into_iter()
                        .map(|(name, value)| EnvVar { name, value })
                        .collect();
                    KDeployment {
                        name: format!("{}-{}", s.name, w.version),
                        version: w.version.clone(),
                        replicas: w.replicas,
                        selector,
                        pod_labels,
                        image: image.clone(),
                        env,
                    }
                })
                .collect();
            KService {
                name: &s.name,
                host: host(&s.name, ns),
                account: &s.name,
                labels: svc_labels,
                callers: s
                    .callers
                    .iter()
                    .map(|c| match c {
                        Caller::Ingress => principal(ISTIO_NAMESPACE, INGRESS_ACCOUNT),
                        Caller::Service { name } => principal(ns, name),
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
            name: e.host.replace('.', "-"),
            host: e.host.clone(),
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
        namespace_labels,
        labels,
        shared_labels,
        istio_namespace: ISTIO_NAMESPACE,
        ingress_gateway: INGRESS_GATEWAY,
        services,
        ingress: KIngress {
            gateway: format!("{}-gateway", m.ingress.service),
            service_host: host(&m.ingress.service, ns),
            hosts: m.ingress.hosts.clone(),
        },
        externals,
        tracing,
        model: m,
    }
}
