//! From a merged profile to a [`Model`]: semantic checks (each error points at the
//! profile key it is about) and every default and derived decision.

mod identities;
mod names;
mod routing;
mod services;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};

use contract::{HopConfig, headers};

use crate::error::Diagnostic;
use crate::model::{
    Caller, DataPlane, Duration, Egress, External, ExternalPort, Image, Ingress, LoadBalancer,
    Mesh, Model, Protocol, PullPolicy, Route, RoutingApi, Service, Tracing, Upstream,
    WeightedSubset, Wire, Workload, crd_bounds, identity, istio,
};
use crate::profile::Loaded;
use crate::profile::schema;
use crate::profile::source::{SourceMap, Sourced};
use names::{dns1035_label, dns1123_label, image_registry};

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

/// The services each service calls (not the external APIs).
fn called<'u>(
    upstreams: &'u BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    s: &str,
) -> impl Iterator<Item = &'u str> {
    let list = upstreams.get(s).map(Vec::as_slice).unwrap_or_default();
    list.iter().filter_map(|(u, _)| match u {
        Upstream::Service { name } => Some(name.as_str()),
        Upstream::External { .. } => None,
    })
}

/// Every service after every service it calls: post-order over the
/// (acyclic, validated) call graph, with a stack of its own, since a chain
/// of thousands of services must not need as many frames.
fn callees_first(upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>) -> Vec<&str> {
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for start in upstreams.keys() {
        let mut stack = vec![(start.as_str(), false)];
        while let Some((s, expanded)) = stack.pop() {
            if done.contains(s) {
                continue;
            }
            if !expanded {
                stack.push((s, true));
                stack.extend(
                    called(upstreams, s)
                        .filter(|u| !done.contains(*u))
                        .map(|u| (u, false)),
                );
                continue;
            }
            done.insert(s);
            out.push(s);
        }
    }
    out
}

/// The headers each service's hop forwards: those the routes of the services
/// behind it match on or hash (its upstreams, theirs, and so on), but the
/// fixed ones every hop forwards anyway. Per hop, not one list for all: a hop
/// carries only what a route in front of it needs, and a chain of services
/// each with its own canary stays linear in output instead of quadratic.
fn forward_headers(
    upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    route_headers: &BTreeMap<&str, BTreeSet<&str>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in callees_first(upstreams) {
        let mut headers = BTreeSet::new();
        for u in called(upstreams, s) {
            for h in route_headers.get(u).into_iter().flatten() {
                if !headers::APP.contains(h) {
                    headers.insert((*h).to_owned());
                }
            }
            headers.extend(out.get(u).into_iter().flatten().cloned());
        }
        out.insert(s.to_owned(), headers);
    }
    out
}

/// How long each service's hop waits for an upstream call: every try of
/// its retries (`base`), and past what the mesh may take behind it: a
/// second more than an upstream's route timeout, or than the upstream's own
/// wait when a route timeout lies further behind it (and none in between). So the mesh's answer
/// at a timeout (504, gRPC UNAVAILABLE) is what each caller reports, not its
/// own giving up a moment before. Without route timeouts, `base`.
fn hop_waits(
    upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    timeouts: &BTreeMap<String, Duration>,
    base: Duration,
) -> BTreeMap<String, Duration> {
    let second_more =
        |d: Duration| Duration::from_nanos(d.as_nanos().saturating_add(1_000_000_000));
    // Some(wait) for a service with a route timeout at or behind it.
    let mut behind: BTreeMap<&str, Option<Duration>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for s in callees_first(upstreams) {
        let wait = called(upstreams, s)
            .filter_map(|u| match timeouts.get(u) {
                // The mesh ends the call at the route's timeout, whatever
                // waits behind it.
                Some(t) => Some(second_more(*t)),
                None => behind[u].map(second_more),
            })
            .max();
        let own = wait.map_or(base, |w| w.max(base).min(HopConfig::MAX_UPSTREAM_TIMEOUT));
        behind.insert(s, wait.map(|_| own));
        out.insert(s.to_owned(), own);
    }
    out
}

/// Namespaces the chain may not take: a STRICT PeerAuthentication and a
/// NetworkPolicy would apply to everything else running there. Besides
/// Kubernetes' own, the ones Istio's install guides put its parts in
/// (gateways, istio-cni, the config cluster's, the operator).
fn reserved_namespace(ns: &str) -> bool {
    matches!(
        ns,
        "default"
            | "istio-system"
            | "istio-ingress"
            | "istio-egress"
            | "istio-gateways"
            | "istio-cni"
            | "istio-config"
            | "istio-operator"
            | "kube-public"
            | "kube-system"
            | "kube-node-lease"
    ) || ns.starts_with("kube-")
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
        // `-0.0` is 0, and written so.
        v.value + 0.0
    }

    /// A duration Istio takes: whole milliseconds, at least 1ms, at most a day.
    fn duration(&mut self, v: &Sourced<String>) -> Duration {
        let fallback = Duration::from_millis(1);
        let d = match Duration::parse(&v.value) {
            Ok(d) => d,
            Err(e) => {
                self.err(
                    v,
                    format!(
                        "\"{}\" is not a duration like \"2s\", \"500ms\" or \"1.005s\": {e}",
                        v.value.escape_debug()
                    ),
                );
                return fallback;
            }
        };
        let why = if !d.is_whole_millis() {
            "is finer than a millisecond (Istio's precision)"
        } else if d < Duration::from_millis(1) {
            "must be at least 1ms"
        } else if d > Duration::from_secs(86_400) {
            "is longer than a day"
        } else {
            return d;
        };
        self.err(v, format!("\"{}\" {why}", v.value));
        fallback
    }

    /// Kubernetes names and label values: a DNS-1123 label.
    fn label(&mut self, v: &Sourced<String>, what: &str) {
        if let Err(why) = dns1123_label(&v.value) {
            self.err(
                v,
                format!(
                    "\"{}\" is not a valid {what}: {why}",
                    v.value.escape_debug()
                ),
            );
        }
    }

    fn model(&mut self, p: &schema::Profile) -> Option<Model> {
        let name = self
            .required(&p.name, "name", "the demo's name, e.g. name = \"istio101\"")
            .cloned();
        if let Some(n) = &name {
            self.label(n, "name");
            // `part-of: meshgen-addons` marks what every profile shares:
            // a chain by that name could not be told from them, nor deleted
            // apart from them (`kubectl delete -l`).
            if n.value == identity::SHARED_PART_OF {
                self.err(
                    n,
                    format!(
                        "\"{}\" is the `app.kubernetes.io/part-of` of the addons every profile \
                         shares; name the demo otherwise",
                        n.value
                    ),
                );
            }
        }
        let namespace = self
            .required(&p.namespace, "namespace", "e.g. namespace = \"istio101\"")
            .cloned();
        if let Some(ns) = &namespace {
            self.label(ns, "namespace");
            if reserved_namespace(&ns.value) {
                self.err(
                    ns,
                    format!(
                        "\"{}\" is shared with other workloads; the chain needs a namespace of its own",
                        ns.value
                    ),
                );
            }
        }
        let protocol = val(&p.protocol, Protocol::Http);
        let wire = Wire::for_protocol(protocol);
        let mesh = self.mesh(&p.istio);
        let image = self.image(&p.image, protocol);
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
        let names: Vec<&str> = specs.iter().map(|s| s.name.value.as_str()).collect();
        let known_list = names.join(", ");
        let known: BTreeSet<&str> = names.into_iter().collect();
        let ns = namespace.as_ref().map_or("", |n| n.value.as_str());

        // Upstreams, resolved against the known services.
        let mut upstreams: BTreeMap<String, Vec<(Upstream, Sourced<String>)>> = BTreeMap::new();
        for s in &specs {
            let mut list = Vec::new();
            for item in &s.upstreams {
                if let Some(u) = self.upstream(item, &s.name.value, &known, &known_list, ns) {
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
        let retries = self.retries(&p.routing.retries, &wire, mesh.routing_api);
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
        let route_shape = (protocol, mesh.routing_api, mesh.data_plane);
        let timeouts = self.timeouts(
            &p.routing.timeout,
            &versions_of,
            &known_list,
            &retries,
            &mesh.default_retries,
            route_shape,
        );
        let split_of: BTreeMap<&str, Vec<&str>> = versions_of
            .keys()
            .map(|&s| {
                let split = match weights.get(s) {
                    Some(w) => w.iter().map(|w| w.subset.as_str()).collect(),
                    None => vec![default_subset_name.as_str()],
                };
                (s, split)
            })
            .collect();
        let mirrors = self.mirrors(&p.routing.mirror, &versions_of, &known_list, &split_of);
        let mut traffic = self.traffic(&p.routing, &versions_of, &known_list);
        let canary_headers: BTreeSet<&str> = canaries.values().map(|m| m.header.as_str()).collect();
        self.hash_headers_fit(&p.routing, &canary_headers);
        if mesh.routing_api == RoutingApi::GatewayApi {
            self.gateway_api_expresses(&p.routing, protocol, mesh.data_plane, &versions_of);
            self.gateway_api_limits(&p.ingress, &p.routing, &weights);
        }

        // Who calls whom.
        let mut callers: BTreeMap<String, BTreeSet<Caller>> = BTreeMap::new();
        if let Some((entry, _)) = &ingress {
            callers
                .entry(entry.clone())
                .or_default()
                .insert(Caller::Ingress);
        }
        let mut externals: BTreeMap<String, BTreeSet<ExternalPort>> = BTreeMap::new();
        // One port of a host speaks one protocol: a ServiceEntry port is HTTP or TLS.
        let mut port_use: BTreeMap<(&str, u16), (bool, &Sourced<String>)> = BTreeMap::new();
        for (from, list) in &upstreams {
            for (u, item) in list {
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
                        match port_use.get(&(host.as_str(), *port)) {
                            Some(&(first_tls, first)) if first_tls != *tls => {
                                let first_at = self.sm.locate(first.source, first.span.start);
                                let with = |tls: bool| if tls { "with" } else { "without" };
                                self.err(
                                    item,
                                    format!(
                                        "{host}:{port} is called {} TLS here and {} TLS at \
                                         {first_at}; one port of a host speaks one protocol",
                                        with(*tls),
                                        with(first_tls),
                                    ),
                                );
                            }
                            Some(_) => {}
                            None => {
                                port_use.insert((host, *port), (*tls, item));
                            }
                        }
                        let ports = externals.entry(host.clone()).or_default();
                        let fresh = ports.insert(ExternalPort {
                            number: *port,
                            tls: *tls,
                        });
                        // A port called with and without TLS is refused above,
                        // not counted twice here.
                        let other_tls = ExternalPort {
                            number: *port,
                            tls: !*tls,
                        };
                        let new_number = fresh && !ports.contains(&other_tls);
                        if new_number && ports.len() == crd_bounds::MAX_SERVICE_ENTRY_PORTS + 1 {
                            self.err(
                                item,
                                format!(
                                    "{host} is called on more than {} ports, the most a \
                                     ServiceEntry lists",
                                    crd_bounds::MAX_SERVICE_ENTRY_PORTS
                                ),
                            );
                        }
                    }
                }
            }
        }

        if !self.errors.is_empty() {
            return None;
        }
        // A hop waits for every try of each call: its route's policy, or the
        // mesh-wide one that a call without retries of its own gets (a route
        // with none, and every call to an external API, which has no route).
        let upstream_timeout = [
            retries.or_mesh(&mesh.default_retries).budget(),
            mesh.default_retries.budget(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(HopConfig::DEFAULT_UPSTREAM_TIMEOUT);
        let mut route_headers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (svc, m) in &canaries {
            route_headers.entry(svc).or_default().insert(&m.header);
        }
        for (svc, t) in &traffic {
            if let Some(LoadBalancer::ConsistentHash { http_header_name }) = &t.load_balancer {
                route_headers
                    .entry(svc)
                    .or_default()
                    .insert(http_header_name);
            }
        }
        let forward = forward_headers(&upstreams, &route_headers);
        let waits = hop_waits(&upstreams, &timeouts, upstream_timeout);
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
                            name: format!("{n}-{}", v.value),
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
                        timeout: timeouts.get(n).copied(),
                        mirror: mirrors.get(n).cloned(),
                    },
                    traffic: traffic.remove(n).unwrap_or_default(),
                    work: s.work,
                    upstream_timeout: waits[n],
                    forward_headers: forward[n].iter().cloned().collect(),
                }
            })
            .collect();
        let (entry, hosts) = ingress?;
        let model = Model {
            name: name?.value,
            namespace: namespace.as_ref()?.value.clone(),
            wire,
            mesh,
            image,
            ingress: Ingress {
                gateway: format!("{entry}-gateway"),
                route: format!("{entry}-ingress"),
                service: entry,
                hosts,
            },
            services,
            externals: externals
                .into_iter()
                .map(|(host, ports)| External {
                    name: host.replace('.', "-"),
                    host,
                    ports: ports.into_iter().collect(),
                    stub: val(&p.stub_external, false),
                })
                .collect(),
        };
        self.stub_names(&model, &upstreams);
        self.identities(
            &model,
            &specs,
            &upstreams,
            &p.ingress,
            &p.istio,
            namespace.as_ref()?,
        );
        self.errors.is_empty().then_some(model)
    }

    /// A stub is a Service named after its host: that name must be one.
    fn stub_names(
        &mut self,
        model: &Model,
        upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    ) {
        for e in model.externals.iter().filter(|e| e.stub) {
            let Err(why) = dns1035_label(&e.name) else {
                continue;
            };
            let item = upstreams
                .values()
                .flatten()
                .find_map(|(u, item)| match u {
                    Upstream::External { host, .. } if *host == e.host => Some(item),
                    _ => None,
                })
                .expect("every external comes from an upstream");
            self.err(
                item,
                format!(
                    "with stub_external, {} is answered by a stub Service named \"{}\", which \
                     is not a valid Service name: {why}",
                    e.host, e.name
                ),
            );
        }
    }

    /// With tracing, the hops' span exports take their collector port around
    /// the sidecar; an external upstream on that port would bypass the mesh too:
    /// no egress lock, retries or metrics.
    fn collector_port_is_free(
        &mut self,
        upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    ) {
        for (upstream, item) in upstreams.values().flatten() {
            if let Upstream::External { port, .. } = upstream
                && *port == istio::COLLECTOR_PORT
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
        let data_plane = val(&i.data_plane, DataPlane::Sidecar);
        // Ambient applies L7 routes at the waypoint, which Istio configures
        // from Gateway API routes (VirtualServices there are alpha).
        let routing_api = match (&i.routing_api, data_plane) {
            (Some(api), DataPlane::Ambient) if api.value == RoutingApi::Istio => {
                self.err(
                    api,
                    "ambient routes at the waypoint, which Istio configures from Gateway API \
                     routes (VirtualService support there is alpha); use routing_api = \
                     \"gateway-api\", or data_plane = \"sidecar\" for VirtualServices",
                );
                RoutingApi::Istio
            }
            (Some(api), _) => api.value,
            (None, DataPlane::Ambient) => RoutingApi::GatewayApi,
            (None, DataPlane::Sidecar) => RoutingApi::Istio,
        };
        let sampling = i.trace_sampling.as_ref().map_or(100.0, |s| self.percent(s));
        if let Some(s) = &i.trace_sampling
            && s.value != 100.0
            && !val(&i.tracing, false)
        {
            self.err(
                s,
                "trace_sampling needs tracing = true: without tracing nothing is sampled, and \
                 the rate would be dropped",
            );
        }
        // The first proxy of a request decides whether it is traced. With
        // Istio's API that is the ingress gateway in istio-system, which every
        // profile of the cluster shares: no profile may set its rate.
        if let Some(s) = &i.trace_sampling
            && (0.0..100.0).contains(&s.value)
            && routing_api == RoutingApi::Istio
        {
            self.err(
                s,
                "with routing_api = \"istio\" traces start at the shared ingress gateway in \
                 istio-system, which samples by the mesh-wide Telemetry every profile of the \
                 cluster shares (100%); set the rate with routing_api = \"gateway-api\" (the \
                 gateway runs in the chain's namespace), or leave trace_sampling out",
            );
        }
        // ztunnel does not read the outbound traffic policy (istio/istio#54281):
        // a lock that holds only with sidecars must not be promised.
        if let Some(e) = &i.egress
            && e.value == schema::Egress::RegistryOnly
            && data_plane == DataPlane::Ambient
        {
            self.err(
                e,
                "ztunnel does not enforce REGISTRY_ONLY (istio/istio#54281): in ambient mode \
                 calls to unregistered hosts would still leave the cluster; set egress = \
                 \"ALLOW_ANY\" (and lock egress with an egress gateway or a NetworkPolicy), or \
                 use data_plane = \"sidecar\"",
            );
        }
        Mesh {
            mtls: val(&i.mtls, false),
            tracing: val(&i.tracing, false).then_some(Tracing {
                sampling_percent: sampling,
            }),
            metrics: val(&i.grafana, false),
            servicegraph: val(&i.servicegraph, false),
            egress: match val(&i.egress, schema::Egress::AllowAny) {
                schema::Egress::AllowAny => Egress::AllowAny,
                schema::Egress::RegistryOnly => Egress::RegistryOnly,
            },
            access_log: val(&i.access_log, true),
            routing_api,
            data_plane,
            default_retries: self.mesh_retries(&i.mesh_retries),
            revision: i.revision.as_ref().map(|r| {
                self.label(r, "Istio revision");
                // Istio names the revision's control plane `istiod-<revision>`.
                if r.value.len() > 56 {
                    self.err(
                        r,
                        format!(
                            "a revision of {} characters makes Istio name its control plane \
                             istiod-<revision>, over Kubernetes' 63; use at most 56",
                            r.value.len()
                        ),
                    );
                }
                r.value.clone()
            }),
        }
    }

    fn image(&mut self, i: &schema::Image, protocol: Protocol) -> Image {
        if let Some(r) = &i.registry
            && let Err(why) = image_registry(&r.value)
        {
            self.err(
                r,
                format!(
                    "\"{}\" is not an image registry/path like \"localhost/meshgen\" or \
                     \"registry.example:5000/team\": {why}",
                    r.value.escape_debug()
                ),
            );
        }
        if let Some(t) = &i.tag {
            let ok = !t.value.is_empty()
                && t.value.len() <= 128
                && !t.value.starts_with(['.', '-'])
                && t.value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                self.err(
                    t,
                    format!(
                        "\"{}\" is not an image tag (1 to 128 letters, digits, '.', '_', '-')",
                        t.value.escape_debug()
                    ),
                );
            }
        }
        let registry = val(&i.registry, "localhost/meshgen".to_owned());
        let tag = val(&i.tag, "latest".to_owned());
        Image {
            reference: format!("{registry}/{}:{tag}", protocol.binary()),
            stub_reference: format!("{registry}/{}:{tag}", Protocol::Http.binary()),
            pull_policy: match val(&i.pull_policy, schema::PullPolicy::IfNotPresent) {
                schema::PullPolicy::Always => PullPolicy::Always,
                schema::PullPolicy::IfNotPresent => PullPolicy::IfNotPresent,
                schema::PullPolicy::Never => PullPolicy::Never,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<(Upstream, Sourced<String>)>> {
        pairs
            .iter()
            .map(|(s, us)| {
                let list = us
                    .iter()
                    .map(|u| {
                        let item = Sourced {
                            value: u.to_string(),
                            source: 0,
                            span: 0..0,
                        };
                        (
                            Upstream::Service {
                                name: u.to_string(),
                            },
                            item,
                        )
                    })
                    .collect();
                (s.to_string(), list)
            })
            .collect()
    }

    #[test]
    fn hops_wait_past_every_route_timeout_behind_them() {
        let up = calls(&[("a", &["b"]), ("b", &["c"]), ("c", &[]), ("x", &[])]);
        let s = Duration::from_secs;
        let base = s(8);
        // No timeout anywhere: the retries' budget.
        let w = hop_waits(&up, &BTreeMap::new(), base);
        assert!(w.values().all(|d| *d == base), "{w:?}");
        // c's route times out at 30 s: b waits 31 s, a 32 s; x is untouched.
        let w = hop_waits(&up, &[("c".to_owned(), s(30))].into(), base);
        assert_eq!((w["a"], w["b"], w["c"], w["x"]), (s(32), s(31), base, base));
        // b's own timeout of 5 s ends a's call to b, whatever waits behind it.
        let w = hop_waits(
            &up,
            &[("c".to_owned(), s(30)), ("b".to_owned(), s(5))].into(),
            base,
        );
        assert_eq!((w["a"], w["b"]), (base, s(31)));
        // Never past the hop's bound.
        let w = hop_waits(&up, &[("c".to_owned(), s(3599))].into(), base);
        assert_eq!(w["a"], HopConfig::MAX_UPSTREAM_TIMEOUT);
    }
}
