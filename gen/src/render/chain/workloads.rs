//! `20-workloads.yaml`: per service (and external stub) its ServiceAccount,
//! Service and one Deployment per version; with the Gateway API, a Service per
//! version too, since its routes name Services where VirtualServices name
//! DestinationRule subsets.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kinds::Selector;
use super::{Docs, Meta, Object, Spec};
use crate::model::{Health, RoutingApi};
use crate::render::kube::{EnvVar, KDeployment, KService, KWire, Labels, View};
use crate::render::yaml;

/// The hops' memory limit, as `contract::POD_MEMORY_LIMIT` (which their
/// limits' budget is checked against) in Kubernetes' notation.
const POD_MEMORY_LIMIT: &str = "64Mi";
const _: () = assert!(contract::POD_MEMORY_LIMIT == 64 << 20);

/// The hop's user and group (distroless `nonroot`).
const NONROOT: u32 = 65532;

pub fn workloads(v: &View, docs: &mut Docs) -> yaml::Result {
    for s in v.services.iter().chain(&v.stubs) {
        let w = &s.wire;
        docs.push(&Object {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: Meta::of(v, s.account, &s.labels),
            body: ServiceAccount {
                automount_service_account_token: false,
            },
        })?;
        let app = [("app", s.name)].into();
        let mut ports = vec![port(w.port_name, w.service_port, w.port_name, w.port_name)];
        ports.push(port("http-metrics", w.metrics_port, "http-metrics", "http"));
        let labels = v.service_labels(&s.labels);
        docs.push(&Object {
            api_version: "v1",
            kind: "Service",
            metadata: Meta::of(v, s.name, &labels),
            body: Spec {
                spec: Service {
                    selector: ServiceSelector::App(app),
                    ports,
                },
            },
        })?;
        for d in &s.deployments {
            if v.model.mesh.routing_api == RoutingApi::GatewayApi && s.route.is_some() {
                let labels = v.service_labels(&d.pod_labels);
                docs.push(&Object {
                    api_version: "v1",
                    kind: "Service",
                    metadata: Meta::of(v, d.name, &labels),
                    body: Spec {
                        spec: Service {
                            selector: ServiceSelector::Version(&d.selector),
                            ports: vec![port(
                                w.port_name,
                                w.service_port,
                                w.port_name,
                                w.port_name,
                            )],
                        },
                    },
                })?;
            }
            docs.push(&deployment(v, s, d))?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccount {
    automount_service_account_token: bool,
}

#[derive(Serialize)]
struct Service<'a> {
    selector: ServiceSelector<'a>,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ServiceSelector<'a> {
    App(BTreeMap<&'static str, &'a str>),
    Version(&'a Labels),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: &'static str,
    port: u16,
    target_port: &'static str,
    app_protocol: &'static str,
}

fn port(
    name: &'static str,
    port: u16,
    target_port: &'static str,
    app_protocol: &'static str,
) -> ServicePort {
    ServicePort {
        name,
        port,
        target_port,
        app_protocol,
    }
}

#[derive(Serialize)]
struct Deployment<'a> {
    replicas: u32,
    selector: Selector<&'a Labels>,
    template: PodTemplate<'a>,
}

#[derive(Serialize)]
struct PodTemplate<'a> {
    metadata: PodMeta<'a>,
    spec: PodSpec<'a>,
}

#[derive(Serialize)]
struct PodMeta<'a> {
    labels: &'a Labels,
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec<'a> {
    service_account_name: &'a str,
    automount_service_account_token: bool,
    security_context: PodSecurity,
    containers: [Container<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSecurity {
    run_as_non_root: bool,
    run_as_user: u32,
    run_as_group: u32,
    seccomp_profile: Seccomp,
}

#[derive(Serialize)]
struct Seccomp {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container<'a> {
    name: &'static str,
    image: &'a str,
    image_pull_policy: &'a crate::model::PullPolicy,
    env: &'a [EnvVar],
    ports: [ContainerPort; 2],
    readiness_probe: Probe<'a>,
    liveness_probe: Probe<'a>,
    resources: Resources,
    security_context: ContainerSecurity,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    name: &'static str,
    container_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe<'a> {
    #[serde(flatten)]
    check: Check<'a>,
    period_seconds: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum Check<'a> {
    HttpGet(HttpGet<'a>),
    Grpc(GrpcCheck),
}

#[derive(Serialize)]
struct HttpGet<'a> {
    path: &'a str,
    port: &'static str,
}

#[derive(Serialize)]
struct GrpcCheck {
    port: u16,
}

#[derive(Serialize)]
struct Resources {
    requests: Quantities,
    limits: Quantities,
}

#[derive(Serialize)]
struct Quantities {
    cpu: &'static str,
    memory: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerSecurity {
    allow_privilege_escalation: bool,
    read_only_root_filesystem: bool,
    capabilities: Capabilities,
}

#[derive(Serialize)]
struct Capabilities {
    drop: [&'static str; 1],
}

fn deployment<'a>(
    v: &'a View,
    s: &'a KService,
    d: &'a KDeployment,
) -> Object<'a, Spec<Deployment<'a>>> {
    let w: &KWire = &s.wire;
    let mut annotations: BTreeMap<&'static str, String> = [
        ("kubectl.kubernetes.io/default-container", "hop".to_owned()),
        ("prometheus.io/scrape", "true".to_owned()),
        ("prometheus.io/port", w.metrics_port.to_string()),
        ("prometheus.io/path", "/metrics".to_owned()),
    ]
    .into();
    if let Some(port) = v.span_export_bypass {
        annotations.insert(
            "traffic.sidecar.istio.io/excludeOutboundPorts",
            port.to_string(),
        );
    }
    let check = || match &w.health {
        Health::Http { path } => Check::HttpGet(HttpGet {
            path,
            port: w.port_name,
        }),
        Health::Grpc => Check::Grpc(GrpcCheck {
            port: w.container_port,
        }),
    };
    Object {
        api_version: "apps/v1",
        kind: "Deployment",
        metadata: Meta::of(v, d.name, &d.pod_labels),
        body: Spec {
            spec: Deployment {
                replicas: d.replicas,
                selector: Selector {
                    match_labels: &d.selector,
                },
                template: PodTemplate {
                    metadata: PodMeta {
                        labels: &d.pod_labels,
                        annotations,
                    },
                    spec: PodSpec {
                        service_account_name: s.account,
                        automount_service_account_token: false,
                        security_context: PodSecurity {
                            run_as_non_root: true,
                            run_as_user: NONROOT,
                            run_as_group: NONROOT,
                            seccomp_profile: Seccomp {
                                kind: "RuntimeDefault",
                            },
                        },
                        containers: [Container {
                            name: "hop",
                            image: w.image,
                            image_pull_policy: &v.model.image.pull_policy,
                            env: &d.env,
                            ports: [
                                ContainerPort {
                                    name: w.port_name,
                                    container_port: w.container_port,
                                },
                                ContainerPort {
                                    name: "http-metrics",
                                    container_port: w.metrics_port,
                                },
                            ],
                            readiness_probe: Probe {
                                check: check(),
                                period_seconds: 5,
                            },
                            liveness_probe: Probe {
                                check: check(),
                                period_seconds: 10,
                            },
                            resources: Resources {
                                requests: Quantities {
                                    cpu: "10m",
                                    memory: "16Mi",
                                },
                                limits: Quantities {
                                    cpu: "500m",
                                    // What the hop's limits are sized for.
                                    memory: POD_MEMORY_LIMIT,
                                },
                            },
                            security_context: ContainerSecurity {
                                allow_privilege_escalation: false,
                                read_only_root_filesystem: true,
                                capabilities: Capabilities { drop: ["ALL"] },
                            },
                        }],
                    },
                },
            },
        },
    }
}
