//! From a merged profile to a [`Model`]: semantic checks (each error points at the
//! profile key it is about) and every default and derived decision.

mod names;
mod routing;
mod services;

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Diagnostic;
use crate::model::{
    Caller, Duration, External, ExternalPort, Image, Mesh, Model, Protocol, PullPolicy, Route,
    Service, Tracing, Upstream, WeightedSubset, Wire, Workload,
};
use crate::profile::Loaded;
use crate::profile::schema::{self, Egress};
use crate::profile::source::{SourceMap, Sourced};
use crate::render::kube::COLLECTOR_PORT;
use names::dns1123_label;

/// Validates `loaded` and resolves it; returns every problem found, not just the first.
pub fn resolve(loaded: &Loaded) -> Result<Model, Vec<Diagnostic>> {
    let mut cx = Cx {
        sm: &loaded.sources,
        main: loaded.sources.get(loaded.main).name.clone(),
        errors: Vec::new(),
    };
    let model = cx.model(&loaded.profile);
    if cx.errors.is_empty() {
        Ok(model.expect("a model is built whenever there is no error"))
    } else {
        Err(cx.errors)
    }
}

struct Cx<'a> {
    sm: &'a SourceMap,
    main: String,
    errors: Vec<Diagnostic>,
}

fn val<T: Clone>(v: &Option<Sourced<T>>, default: T) -> T {
    v.as_ref().map_or(default, |s| s.value.clone())
}

impl Cx<'_> {
    fn err<T>(&mut self, at: &Sourced<T>, msg: impl Into<String>) {
        self.errors.push(self.sm.diag(at, msg));
    }

    fn missing(&mut self, key: &str, hint: &str) {
        self.errors.push(
            Diagnostic::new(format!("missing required key `{key}` ({hint})"))
                .in_file(self.main.clone()),
        );
    }

    fn required<'p, T>(
        &mut self,
        v: &'p Option<Sourced<T>>,
        key: &str,
        hint: &str,
    ) -> Option<&'p Sourced<T>> {
        if v.is_none() {
            self.missing(key, hint);
        }
        v.as_ref()
    }

    fn percent(&mut self, v: &Sourced<f64>) -> f64 {
        if !(v.value.is_finite() && (0.0..=100.0).contains(&v.value)) {
            self.err(
                v,
                format!("{} is not a percentage between 0 and 100", v.value),
            );
        }
        v.value
    }

    fn duration(&mut self, v: &Sourced<String>) -> Duration {
        Duration::parse(&v.value).unwrap_or_else(|e| {
            self.err(v, e);
            Duration::from_millis(1)
        })
    }

    fn model(&mut self, p: &schema::Profile) -> Option<Model> {
        let name = self
            .required(&p.name, "name", "the demo's name, e.g. name = \"istio101\"")
            .cloned();
        if let Some(n) = &name {
            self.label(n, "name");
        }
        let namespace = self
            .required(&p.namespace, "namespace", "e.g. namespace = \"istio101\"")
            .cloned();
        if let Some(ns) = &namespace {
            self.label(ns, "namespace");
            if ns.value == "istio-system" || ns.value.starts_with("kube-") {
                self.err(
                    ns,
                    format!(
                        "\"{}\" is reserved; the chain needs a namespace of its own",
                        ns.value
                    ),
                );
            }
        }
        let protocol = val(&p.protocol, Protocol::Http);
        let wire = Wire::for_protocol(protocol);
        let mesh = self.mesh(&p.istio);
        let image = self.image(&p.image);
        let default_subset = p.routing.default_subset.clone();
        if let Some(d) = &default_subset {
            self.label(d, "subset");
        }
        let default_subset_name = val(&p.routing.default_subset, "prod".to_owned());

        let services = self.required(&p.service, "service", "at least one [[service]]")?;
        if services.value.is_empty() {
            self.err(services, "the chain needs at least one service");
            return None;
        }
        let specs = self.services(&services.value, &default_subset, &default_subset_name);
        let known: Vec<&str> = specs.iter().map(|s| s.name.value.as_str()).collect();
        let known_list = known.join(", ");

        // Upstreams, resolved against the known services.
        let mut upstreams: BTreeMap<String, Vec<(Upstream, Sourced<String>)>> = BTreeMap::new();
        for s in &specs {
            let mut list = Vec::new();
            for item in &s.upstreams {
                if let Some(u) = self.upstream(item, &s.name.value, &known, &known_list) {
                    list.push((u, item.clone()));
                }
            }
            upstreams.insert(s.name.value.clone(), list);
        }
        self.cycles(&specs, &upstreams);
        if mesh.tracing.is_some() {
            self.collector_port_is_free(&upstreams);
        }

        let ingress = self.ingress(&p.ingress, &known, &known_list, &specs);
        let retries = self.retries(&p.routing.retries, &wire);
        let versions_of: BTreeMap<&str, Vec<&str>> = specs
            .iter()
            .map(|s| {
                (
                    s.name.value.as_str(),
                    s.versions.iter().map(|v| v.value.as_str()).collect(),
                )
            })
            .collect();
        let canaries = self.canaries(&p.routing.canary, &versions_of, &known_list);
        let weights = self.weights(&p.routing.weights, &versions_of, &known_list);
        let faults = self.faults(&p.routing.fault, &versions_of, &known_list, &wire);

        // Who calls whom.
        let mut callers: BTreeMap<String, BTreeSet<Caller>> = BTreeMap::new();
        if let Some(ing) = &ingress {
            callers
                .entry(ing.service.clone())
                .or_default()
                .insert(Caller::Ingress);
        }
        let mut externals: BTreeMap<String, BTreeSet<ExternalPort>> = BTreeMap::new();
        for (from, list) in &upstreams {
            for (u, _) in list {
                match u {
                    Upstream::Service { name } => {
                        callers
                            .entry(name.clone())
                            .or_default()
                            .insert(Caller::Service { name: from.clone() });
                    }
                    Upstream::External {
                        host, port, tls, ..
                    } => {
                        externals
                            .entry(host.clone())
                            .or_default()
                            .insert(ExternalPort {
                                number: *port,
                                tls: *tls,
                            });
                    }
                }
            }
        }

        if !self.errors.is_empty() {
            return None;
        }
        let upstream_timeout = retries
            .as_ref()
            .map(|r| r.per_try_timeout.saturating_mul(u64::from(r.attempts) + 1));
        let services = specs
            .iter()
            .map(|s| {
                let n = s.name.value.as_str();
                Service {
                    name: n.to_owned(),
                    versions: s
                        .versions
                        .iter()
                        .map(|v| Workload {
                            version: v.value.clone(),
                            replicas: s.replicas,
                        })
                        .collect(),
                    upstreams: upstreams[n].iter().map(|(u, _)| u.clone()).collect(),
                    callers: callers.remove(n).unwrap_or_default().into_iter().collect(),
                    route: Route {
                        header_matches: canaries.get(n).cloned().into_iter().collect(),
                        split: weights.get(n).cloned().unwrap_or_else(|| {
                            vec![WeightedSubset {
                                subset: default_subset_name.clone(),
                                weight: 100,
                            }]
                        }),
                        retries: retries.clone(),
                        fault: faults.get(n).cloned(),
                    },
                    work: s.work,
                    upstream_timeout: if upstreams[n].is_empty() {
                        None
                    } else {
                        upstream_timeout
                    },
                }
            })
            .collect();
        Some(Model {
            name: name?.value,
            namespace: namespace?.value,
            wire,
            mesh,
            image,
            ingress: ingress?,
            services,
            externals: externals
                .into_iter()
                .map(|(host, ports)| External {
                    host,
                    ports: ports.into_iter().collect(),
                })
                .collect(),
        })
    }

    /// Kubernetes names and label values: a DNS-1123 label.
    fn label(&mut self, v: &Sourced<String>, what: &str) {
        if let Err(why) = dns1123_label(&v.value) {
            self.err(v, format!("\"{}\" is not a valid {what}: {why}", v.value));
        }
    }

    /// With tracing, the hops' span exports take their collector port around
    /// the sidecar (render/kube.rs); an external upstream on that port would
    /// bypass the mesh too: no egress lock, retries or metrics.
    fn collector_port_is_free(
        &mut self,
        upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    ) {
        for (upstream, item) in upstreams.values().flatten() {
            if let Upstream::External { port, .. } = upstream
                && *port == COLLECTOR_PORT
            {
                self.err(
                    item,
                    format!(
                        "port {port} is where the hops send their spans around their sidecar \
                         (istio.tracing); an upstream on it would bypass the mesh too"
                    ),
                );
            }
        }
    }

    fn mesh(&mut self, i: &schema::Istio) -> Mesh {
        let sampling = i.trace_sampling.as_ref().map_or(100.0, |s| self.percent(s));
        Mesh {
            mtls: val(&i.mtls, false),
            tracing: val(&i.tracing, false).then_some(Tracing {
                sampling_percent: sampling,
            }),
            metrics: val(&i.grafana, false),
            servicegraph: val(&i.servicegraph, false),
            egress: val(&i.egress, Egress::AllowAny),
            access_log: val(&i.access_log, true),
        }
    }

    fn image(&mut self, i: &schema::Image) -> Image {
        if let Some(r) = &i.registry {
            let ok = !r.value.is_empty()
                && !r.value.ends_with('/')
                && r.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c));
            if !ok {
                self.err(
                    r,
                    format!(
                        "\"{}\" is not an image registry/path like \"localhost/meshgen\"",
                        r.value
                    ),
                );
            }
        }
        if let Some(t) = &i.tag {
            let ok = !t.value.is_empty()
                && t.value.len() <= 128
                && !t.value.starts_with(['.', '-'])
                && t.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                self.err(t, format!("\"{}\" is not an image tag", t.value));
            }
        }
        Image {
            registry: val(&i.registry, "localhost/meshgen".to_owned()),
            tag: val(&i.tag, "latest".to_owned()),
            pull_policy: val(&i.pull_policy, PullPolicy::IfNotPresent),
        }
    }
}
