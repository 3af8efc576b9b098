//! The Kubernetes + Istio view of a [`Model`]: DNS names, principals, labels,
//! environment and spellings, computed here so the chain's objects and the
//! templates only print.
//!
//! Objects in the chain's namespace belong to the profile (`part-of: <name>`). The
//! objects in `istio-system` (addons, the mesh-wide Telemetry, the IstioOperator)
//! are shared by every profile applied to a cluster, so they must be identical
//! whichever profile rendered them: they carry `part-of: meshgen-addons` and never
//! mention a profile's name or namespace.

use std::collections::BTreeMap;

use contract::{HopConfig, Target};
use serde::Serialize;

use crate::model::applyset;
use crate::model::identity::{l4_callers, route_kind, services_selecting, waypoint_policy};
use crate::model::{
    Caller, DataPlane, Duration, External, Health, Model, Placement, Protocol, Route, STUB_VERSION,
    Service, TrafficPolicy, Upstream, Wire, istio,
};

pub use crate::model::identity::SHARED_PART_OF;
/// Name of the tracing extension provider in the mesh config.
pub const TRACING_PROVIDER: &str = "otel-tracing";

pub type Labels = BTreeMap<&'static str, String>;

/// Everything the chain's objects print.
#[derive(Debug)]
pub struct View<'m> {
    pub model: &'m Model,
    /// Service port name and `appProtocol`: Istio detects the protocol from them,
    /// and a gRPC port named `http` would be downgraded to HTTP/1.1.
    pub port_name: &'static str,
    /// Protocol of the ingress gateway server.
    pub gateway_protocol: &'static str,
    /// Labels of every object of the chain.
    pub labels: Labels,
    /// Labels of the chain's namespace: sidecar injection on, or ambient mode
    /// with the namespace's waypoint.
    pub namespace_labels: Labels,
    /// Labels of the Gateway API Gateways (ingress, waypoint): the chain's,
    /// plus the Istio revision that must program them.
    pub gateway_labels: Labels,
    /// The Gateways' `infrastructure.labels`, all that Istio copies onto the
    /// proxies it deploys for them: the chain's labels without the ApplySet
    /// membership, since those objects are Istio's, not the output's (a
    /// prune would delete them).
    pub infrastructure_labels: Labels,
    /// Kind of every route: VirtualService, HTTPRoute or GRPCRoute.
    pub route_kind: &'static str,
    pub waypoint: KWaypoint,
    /// The IstioOperator's `profile`: `default` (sidecars) or `ambient`.
    pub install_profile: &'static str,
    /// The port the hops' span exports take around their sidecar (with
    /// tracing and sidecars): through it, each export would be traced as a
    /// call of its own. Ambient hops have no sidecar to skip.
    pub span_export_bypass: Option<u16>,
    /// Labels of the shared objects in `istio-system`.
    pub shared_labels: Labels,
    pub istio_namespace: &'static str,
    pub ingress_gateway: &'static str,
    pub services: Vec<KService<'m>>,
    /// The in-cluster stubs of external APIs (`stub_external`): workloads
    /// with no routes of their own.
    pub stubs: Vec<KService<'m>>,
    pub ingress: KIngress<'m>,
    pub externals: Vec<KExternal<'m>>,
    /// Tracing backend wiring (`None` when tracing is off).
    pub tracing: Option<KTracing>,
}

#[derive(Debug)]
pub struct KService<'m> {
    pub name: &'m str,
    /// Fully qualified host, as VirtualServices and DestinationRules name it.
    pub host: String,
    pub account: &'m str,
    pub labels: Labels,
    /// Principals allowed to call it (the chain's edges into it).
    pub callers: Vec<String>,
    pub subsets: Vec<&'m str>,
    /// The Service of each version (Gateway API routes name them instead of
    /// subsets): version -> Service name.
    pub backends: BTreeMap<&'m str, &'m str>,
    /// `None` for a stub.
    pub route: Option<&'m Route>,
    /// Its DestinationRule's traffic policy; `None` for a stub.
    pub traffic: Option<&'m TrafficPolicy>,
    /// How it is reached and run.
    pub wire: KWire<'m>,
    /// Ambient: principals ztunnel lets through at L4: the waypoint's, which
    /// every call into the chain crosses.
    pub l4_callers: Vec<String>,
    /// Ambient: its L7 AuthorizationPolicies, enforced by the waypoint: one
    /// per Service that selects its pods, as (Service, policy name).
    pub waypoint_policies: Vec<(&'m str, String)>,
    pub deployments: Vec<KDeployment<'m>>,
}

/// How a workload is reached and run: the chain's protocol, or HTTP for a stub.
#[derive(Debug, Clone)]
pub struct KWire<'m> {
    /// Port name and `appProtocol`: Istio detects the protocol from them,
    /// and a gRPC port named `http` would be downgraded to HTTP/1.1.
    pub port_name: &'static str,
    pub service_port: u16,
    pub container_port: u16,
    pub metrics_port: u16,
    pub health: Health,
    pub image: &'m str,
}

impl<'m> KWire<'m> {
    fn of(w: &Wire, image: &'m str) -> Self {
        KWire {
            port_name: port_name(w.protocol),
            service_port: w.service_port,
            container_port: w.container_port,
            metrics_port: w.metrics_port,
            health: w.health.clone(),
            image,
        }
    }
}

/// A hop's variables in a pod: its configuration, with `POD_NAME` from the
/// downward API (only the pod knows its name) right after the version.
fn pod_env(config: HopConfig) -> Vec<EnvVar> {
    debug_assert!(
        config.pod.is_none(),
        "a Deployment's pods are named by Kubernetes"
    );
    let mut env: Vec<EnvVar> = config
        .to_env()
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            source: EnvSource::Value(value),
        })
        .collect();
    let at = env
        .iter()
        .position(|e| e.name == contract::env::SERVICE_VERSION)
        .map_or(0, |i| i + 1);
    let pod_name = EnvSource::Pod(PodField {
        field_ref: FieldRef {
            field_path: "metadata.name",
        },
    });
    env.insert(
        at,
        EnvVar {
            name: contract::env::POD_NAME,
            source: pod_name,
        },
    );
    env
}

fn port_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http",
        Protocol::Grpc => "grpc",
    }
}

/// Builds the workloads of the view: chain services and external stubs.
struct Workloads<'a, 'm> {
    m: &'m Model,
    labels: &'a Labels,
    /// Who the entry service sees calling.
    ingress_principal: String,
    otlp_endpoint: Option<String>,
    wire: KWire<'m>,
}

impl<'m> Workloads<'_, 'm> {
    fn labels(&self, app: &str) -> Labels {
        let mut l = self.labels.clone();
        l.insert("app", app.to_owned());
        l.insert("app.kubernetes.io/name", app.to_owned());
        l
    }

    fn placement(&self, upstreams: Vec<Target>) -> Placement {
        Placement {
            address: HopConfig::EVERY_ADDRESS,
            port: self.wire.container_port,
            metrics_port: self.wire.metrics_port,
            pod: None,
            upstreams,
            otlp_endpoint: self.otlp_endpoint.clone(),
        }
    }

    fn deployment(
        &self,
        app: &str,
        name: &'m str,
        version: &str,
        replicas: u32,
        config: HopConfig,
    ) -> KDeployment<'m> {
        let selector: Labels = [("app", app.to_owned()), ("version", version.to_owned())].into();
        let mut pod_labels = self.labels(app);
        pod_labels.extend(selector.clone());
        pod_labels.insert("app.kubernetes.io/instance", name.to_owned());
        KDeployment {
            name,
            replicas,
            selector,
            pod_labels,
            env: pod_env(config),
        }
    }

    /// Principals of `callers`, and what ztunnel lets through at L4 in
    /// ambient mode ([`l4_callers`]).
    fn principals(&self, callers: &[Caller]) -> (Vec<String>, Vec<String>) {
        let ns = &self.m.namespace;
        let l7 = callers
            .iter()
            .map(|c| match c {
                Caller::Ingress => self.ingress_principal.clone(),
                Caller::Service { name } => istio::principal(ns, istio::account(name)),
            })
            .collect();
        (l7, l4_callers(self.m))
    }

    fn service(&self, s: &'m Service) -> KService<'m> {
        let m = self.m;
        let ns = &m.namespace;
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
                    Upstream::External { url, host, .. } => {
                        match m.externals.iter().find(|e| e.stub && e.host == *host) {
                            Some(e) => format!("http://{}/", istio::host(&e.name, ns)),
                            None => url.clone(),
                        }
                    }
                };
                Target::parse(&url).expect("validated upstreams parse")
            })
            .collect();
        let deployments = s
            .versions
            .iter()
            .map(|w| {
                let config = m.hop_config(s, w, self.placement(upstreams.clone()));
                self.deployment(&s.name, &w.name, &w.version, w.replicas, config)
            })
            .collect();
        let (callers, l4_callers) = self.principals(&s.callers);
        KService {
            name: &s.name,
            host: istio::host(&s.name, ns),
            account: istio::account(&s.name),
            labels: self.labels(&s.name),
            callers,
            l4_callers,
            waypoint_policies: services_selecting(m, s)
                .into_iter()
                .map(|service| (service, waypoint_policy(service)))
                .collect(),
            subsets: s.versions.iter().map(|w| w.version.as_str()).collect(),
            backends: s
                .versions
                .iter()
                .map(|w| (w.version.as_str(), w.name.as_str()))
                .collect(),
            route: Some(&s.route),
            traffic: Some(&s.traffic),
            wire: self.wire.clone(),
            deployments,
        }
    }

    /// The stub of an external API: called by every service that calls the host.
    fn stub(&self, e: &'m External, wire: KWire<'m>) -> KService<'m> {
        let m = self.m;
        let callers: Vec<Caller> = m
            .services
            .iter()
            .filter(|s| {
                s.upstreams
                    .iter()
                    .any(|u| matches!(u, Upstream::External { host, .. } if *host == e.host))
            })
            .map(|s| Caller::Service {
                name: s.name.clone(),
            })
            .collect();
        let (callers, l4_callers) = self.principals(&callers);
        let config = m.stub_config(
            e,
            Placement {
                address: HopConfig::EVERY_ADDRESS,
                port: wire.container_port,
                metrics_port: wire.metrics_port,
                pod: None,
                upstreams: Vec::new(),
                otlp_endpoint: self.otlp_endpoint.clone(),
            },
        );
        KService {
            name: &e.name,
            host: istio::host(&e.name, &m.namespace),
            account: istio::account(&e.name),
            labels: self.labels(&e.name),
            callers,
            l4_callers,
            waypoint_policies: vec![(e.name.as_str(), waypoint_policy(&e.name))],
            subsets: vec![STUB_VERSION],
            backends: BTreeMap::new(),
            route: None,
            traffic: None,
            wire,
            deployments: vec![self.deployment(&e.name, &e.name, STUB_VERSION, 1, config)],
        }
    }
}

#[derive(Debug)]
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
    #[serde(flatten)]
    pub source: EnvSource,
}

/// Where a variable's value comes from.
#[derive(Debug, Serialize)]
pub enum EnvSource {
    #[serde(rename = "value")]
    Value(String),
    /// A field of the pod itself (the downward API), known only once the
    /// pod exists.
    #[serde(rename = "valueFrom")]
    Pod(PodField),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodField {
    pub field_ref: FieldRef,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldRef {
    pub field_path: &'static str,
}

#[derive(Debug)]
pub struct KIngress<'m> {
    pub gateway: &'m str,
    /// Pod labels of the gateway Istio deploys for a Gateway API Gateway.
    pub pod_selector: Labels,
    pub route: &'m str,
    pub hosts: &'m [String],
    /// A Gateway API route's `hostnames`: empty when any host is answered.
    pub hostnames: Vec<&'m str>,
}

#[derive(Debug)]
pub struct KWaypoint {
    pub name: &'static str,
    pub port: u16,
    /// The Gateway's labels: it serves traffic addressed to Services.
    pub labels: Labels,
}

#[derive(Debug)]
pub struct KExternal<'m> {
    pub name: &'m str,
    pub host: &'m str,
    pub ports: Vec<KPort>,
}

#[derive(Debug, Serialize)]
pub struct KPort {
    pub number: u16,
    pub name: String,
    pub protocol: &'static str,
}

#[derive(Debug, Serialize)]
pub struct KTracing {
    pub provider: &'static str,
    /// The mesh-wide Telemetry's rate, shared by every profile of a cluster
    /// (each chain sets its own in its namespace).
    pub mesh_sampling_percent: f64,
    /// Collector Service host and OTLP/gRPC port.
    pub collector_host: String,
    pub collector_port: u16,
}

impl View<'_> {
    /// The labels of a Service of the chain. In ambient mode every Service
    /// carries `istio.io/ingress-use-waypoint`: the ingress gateway otherwise
    /// calls the entry service's pods directly, skipping the waypoint, so the
    /// entry service would get no L7 policy, route, span or metric of its own
    /// (pilot/pkg/serviceregistry/ambient/services.go).
    pub fn service_labels(&self, own: &Labels) -> Labels {
        let mut labels = own.clone();
        if self.model.mesh.data_plane == DataPlane::Ambient {
            labels.insert("istio.io/ingress-use-waypoint", "true".to_owned());
        }
        labels
    }
}

impl KTracing {
    /// What the hops export to (their `OTEL_EXPORTER_OTLP_ENDPOINT`).
    fn endpoint(&self) -> String {
        format!("http://{}:{}", self.collector_host, self.collector_port)
    }
}

/// What the templates (install options and addons, shared by every profile)
/// print: the mesh's settings, never a profile's name, namespace or services.
#[derive(Serialize)]
pub struct TemplateView<'v> {
    pub model: MeshOnly<'v>,
    pub tracing: Option<&'v KTracing>,
    pub shared_labels: &'v Labels,
    pub istio_namespace: &'static str,
    pub ingress_gateway: &'static str,
    pub install_profile: &'static str,
}

/// `model.mesh`, as templates of earlier versions named it.
#[derive(Serialize)]
pub struct MeshOnly<'v> {
    pub mesh: &'v crate::model::Mesh,
}

impl View<'_> {
    pub fn for_templates(&self) -> TemplateView<'_> {
        TemplateView {
            model: MeshOnly {
                mesh: &self.model.mesh,
            },
            tracing: self.tracing.as_ref(),
            shared_labels: &self.shared_labels,
            istio_namespace: self.istio_namespace,
            ingress_gateway: self.ingress_gateway,
            install_profile: self.install_profile,
        }
    }
}

/// The labels that say an object is the chain's (`part-of: <name>`).
pub fn chain_labels(m: &Model) -> Labels {
    [
        ("app.kubernetes.io/managed-by", "meshgen".to_owned()),
        ("app.kubernetes.io/part-of", m.name.clone()),
    ]
    .into()
}

pub fn view(m: &Model) -> View<'_> {
    let mut labels = chain_labels(m);
    // Every object of the chain is a member of its ApplySet, whether or not
    // kubectl's `--applyset` is used (it would add the same label).
    labels.insert(applyset::PART_OF_LABEL, m.applyset_id());
    let shared_labels: Labels = [
        ("app.kubernetes.io/managed-by", "meshgen".to_owned()),
        ("app.kubernetes.io/part-of", SHARED_PART_OF.to_owned()),
    ]
    .into();
    let tracing = m.mesh.tracing.as_ref().map(|_| KTracing {
        provider: TRACING_PROVIDER,
        mesh_sampling_percent: 100.0,
        collector_host: istio::collector_host(),
        collector_port: istio::COLLECTOR_PORT,
    });
    let gateway_protocol = match m.wire.protocol {
        Protocol::Http => "HTTP",
        Protocol::Grpc => "GRPC",
    };
    let ingress_principal = istio::ingress_principal(m);
    let otlp_endpoint = tracing.as_ref().map(KTracing::endpoint);
    let workloads = Workloads {
        m,
        labels: &labels,
        ingress_principal,
        otlp_endpoint,
        wire: KWire::of(&m.wire, &m.image.reference),
    };
    let services = m.services.iter().map(|s| workloads.service(s)).collect();
    let http = Wire::for_protocol(Protocol::Http);
    let stub_wire = KWire::of(&http, &m.image.stub_reference);
    let stubs = m
        .externals
        .iter()
        .filter(|e| e.stub)
        .map(|e| workloads.stub(e, stub_wire.clone()))
        .collect();
    let externals = m
        .externals
        .iter()
        .filter(|e| !e.stub)
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
    let mut gateway_labels = labels.clone();
    if let Some(rev) = &m.mesh.revision {
        namespace_labels.insert("istio.io/rev", rev.clone());
        gateway_labels.insert("istio.io/rev", rev.clone());
    }
    match m.mesh.data_plane {
        DataPlane::Sidecar if m.mesh.revision.is_none() => {
            namespace_labels.insert("istio-injection", "enabled".to_owned());
        }
        DataPlane::Sidecar => {}
        DataPlane::Ambient => {
            namespace_labels.insert("istio.io/dataplane-mode", "ambient".to_owned());
            namespace_labels.insert("istio.io/use-waypoint", istio::WAYPOINT.to_owned());
        }
    }
    let mut waypoint_labels = gateway_labels.clone();
    waypoint_labels.insert("istio.io/waypoint-for", "service".to_owned());
    View {
        gateway_labels,
        infrastructure_labels: chain_labels(m),
        route_kind: route_kind(m),
        span_export_bypass: tracing
            .as_ref()
            .filter(|_| m.mesh.data_plane == DataPlane::Sidecar)
            .map(|t| t.collector_port),
        install_profile: match m.mesh.data_plane {
            DataPlane::Sidecar => "default",
            DataPlane::Ambient => "ambient",
        },
        waypoint: KWaypoint {
            name: istio::WAYPOINT,
            port: istio::WAYPOINT_PORT,
            labels: waypoint_labels,
        },
        port_name: port_name(m.wire.protocol),
        gateway_protocol,
        namespace_labels,
        labels,
        shared_labels,
        istio_namespace: istio::NAMESPACE,
        ingress_gateway: istio::INGRESS_GATEWAY,
        services,
        stubs,
        ingress: KIngress {
            gateway: &m.ingress.gateway,
            pod_selector: [(
                "gateway.networking.k8s.io/gateway-name",
                m.ingress.gateway.clone(),
            )]
            .into(),
            route: &m.ingress.route,
            hosts: &m.ingress.hosts,
            hostnames: match m.ingress.hosts.iter().any(|h| h == "*") {
                true => Vec::new(),
                false => m.ingress.hosts.iter().map(String::as_str).collect(),
            },
        },
        externals,
        tracing,
        model: m,
    }
}

/// A duration as the Gateway API spells it (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`):
/// "1s5ms" for Istio's "1.005s". Validated durations are whole milliseconds,
/// at most a day.
pub fn gateway_api_duration(d: Duration) -> String {
    let ms = d.as_nanos() / 1_000_000;
    let parts = [
        (ms / 3_600_000, "h"),
        (ms / 60_000 % 60, "m"),
        (ms / 1000 % 60, "s"),
        (ms % 1000, "ms"),
    ];
    let text: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if text.is_empty() {
        "0s".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_api_durations_have_no_decimals() {
        let spelled = |text: &str| gateway_api_duration(Duration::parse(text).unwrap());
        assert_eq!(spelled("2s"), "2s");
        assert_eq!(spelled("1.005s"), "1s5ms");
        assert_eq!(spelled("500ms"), "500ms");
        assert_eq!(spelled("1m30s"), "1m30s");
        assert_eq!(spelled("24h"), "24h");
        assert_eq!(spelled("25h1m1.001s"), "25h1m1s1ms");
    }
}
