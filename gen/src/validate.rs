//! From a merged profile to a [`Model`]: semantic checks (each error points at the
//! profile key it is about) and every default and derived decision.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Diagnostic;
use crate::model::{
    Abort, Caller, Delay, Duration, External, ExternalPort, Fault, HeaderMatch, Image, Ingress,
    Mesh, Model, Protocol, PullPolicy, Retries, Route, Service, Tracing, Upstream, WeightedSubset,
    Wire, Workload,
};
use crate::profile::Loaded;
use crate::profile::schema::{self, Egress, Upstreams};
use crate::profile::source::{SourceMap, Sourced};

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

    fn services(
        &mut self,
        list: &[schema::Service],
        default_subset: &Option<Sourced<String>>,
        default_name: &str,
    ) -> Vec<Spec> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for s in list {
            if let Err(why) = dns1035_label(&s.name.value) {
                self.err(
                    &s.name,
                    format!("\"{}\" is not a valid service name: {why}", s.name.value),
                );
            }
            if !seen.insert(s.name.value.clone()) {
                self.err(
                    &s.name,
                    format!("service \"{}\" is defined twice", s.name.value),
                );
            }
            let versions = match &s.versions {
                Some(v) => {
                    if v.value.is_empty() {
                        self.err(v, "a service needs at least one version");
                    }
                    let mut vs = BTreeSet::new();
                    for ver in &v.value {
                        self.label(ver, "version");
                        if !vs.insert(ver.value.clone()) {
                            self.err(ver, format!("version \"{}\" is listed twice", ver.value));
                        }
                    }
                    if !v.value.is_empty() && !vs.contains(default_name) {
                        self.err(
                            v,
                            format!(
                                "service \"{}\" has no version \"{default_name}\" (routing.default_subset), which gets its default traffic",
                                s.name.value
                            ),
                        );
                    }
                    v.value.clone()
                }
                None => vec![match default_subset {
                    Some(d) => d.clone(),
                    None => Sourced {
                        value: default_name.to_owned(),
                        source: s.name.source,
                        span: s.name.span.clone(),
                    },
                }],
            };
            let upstreams = match &s.upstream {
                None => Vec::new(),
                Some(u) => match &u.value {
                    Upstreams::One(one) => vec![Sourced {
                        value: one.clone(),
                        source: u.source,
                        span: u.span.clone(),
                    }],
                    Upstreams::Many(many) => many.clone(),
                },
            };
            let replicas = match &s.replicas {
                Some(r) if r.value == 0 || r.value > 100 => {
                    self.err(r, "replicas must be between 1 and 100");
                    1
                }
                r => val(r, 1),
            };
            out.push(Spec {
                name: s.name.clone(),
                versions,
                upstreams,
                replicas,
                work: val(&s.work, false),
            });
        }
        out
    }

    fn upstream(
        &mut self,
        item: &Sourced<String>,
        from: &str,
        known: &[&str],
        known_list: &str,
    ) -> Option<Upstream> {
        let text = item.value.as_str();
        if text.contains("://") {
            return match parse_url(text) {
                Ok(u) => Some(u),
                Err(why) => {
                    self.err(item, format!("\"{text}\" is not a usable URL: {why}"));
                    None
                }
            };
        }
        if text == from {
            self.err(item, format!("service \"{from}\" cannot call itself"));
            return None;
        }
        if !known.contains(&text) {
            self.err(item, format!("\"{text}\" names no service (known: {known_list}); external URLs start with http:// or https://"));
            return None;
        }
        Some(Upstream::Service {
            name: text.to_owned(),
        })
    }

    /// A call graph with a cycle would recurse forever at run time.
    fn cycles(&mut self, specs: &[Spec], ups: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut mark: BTreeMap<&str, Mark> = specs
            .iter()
            .map(|s| (s.name.value.as_str(), Mark::New))
            .collect();
        let mut reported = false;
        for start in specs {
            if mark[start.name.value.as_str()] != Mark::New || reported {
                continue;
            }
            // Iterative DFS: (service, next edge index).
            let mut stack: Vec<(&str, usize)> = vec![(start.name.value.as_str(), 0)];
            mark.insert(start.name.value.as_str(), Mark::Active);
            while let Some((node, i)) = stack.last().copied() {
                let edges = ups.get(node).map(Vec::as_slice).unwrap_or(&[]);
                if i == edges.len() {
                    mark.insert(node, Mark::Done);
                    stack.pop();
                    continue;
                }
                stack.last_mut().expect("non-empty").1 += 1;
                let (Upstream::Service { name }, at) = &edges[i] else {
                    continue;
                };
                match mark.get(name.as_str()).copied() {
                    Some(Mark::New) => {
                        mark.insert(name.as_str(), Mark::Active);
                        stack.push((name.as_str(), 0));
                    }
                    Some(Mark::Active) => {
                        let pos = stack
                            .iter()
                            .position(|(n, _)| *n == name.as_str())
                            .unwrap_or(0);
                        let mut path: Vec<&str> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        path.push(name.as_str());
                        self.err(at, format!("call cycle: {}", path.join(" -> ")));
                        reported = true;
                        break;
                    }
                    _ => {}
                }
            }
        }
    }

    fn ingress(
        &mut self,
        i: &schema::Ingress,
        known: &[&str],
        known_list: &str,
        specs: &[Spec],
    ) -> Option<Ingress> {
        let service = match &i.service {
            Some(s) => {
                if !known.contains(&s.value.as_str()) {
                    self.err(
                        s,
                        format!("\"{}\" names no service (known: {known_list})", s.value),
                    );
                    return None;
                }
                s.value.clone()
            }
            None => specs.first()?.name.value.clone(),
        };
        let hosts = match &i.hosts {
            Some(h) => {
                if h.value.is_empty() {
                    self.err(h, "at least one host is needed (\"*\" answers any)");
                }
                for host in &h.value {
                    if let Err(why) = gateway_host(&host.value) {
                        self.err(
                            host,
                            format!("\"{}\" is not a valid host: {why}", host.value),
                        );
                    }
                }
                h.value.iter().map(|s| s.value.clone()).collect()
            }
            None => vec!["*".to_owned()],
        };
        Some(Ingress { service, hosts })
    }

    fn retries(&mut self, r: &schema::Retries, wire: &Wire) -> Option<Retries> {
        let per_try = r
            .per_try_timeout
            .as_ref()
            .map_or(Duration::from_millis(2000), |d| self.duration(d));
        // No `attempts`: the route carries no `retries` block and Istio's default
        // policy applies. `attempts = 0` must stay explicit: it is the only way to
        // turn that default off.
        let a = r.attempts.as_ref()?;
        if a.value > 10 {
            self.err(
                a,
                "more than 10 retries per try would multiply the load; use at most 10",
            );
        }
        // Each hop waits for every try of its upstream call (`UPSTREAM_TIMEOUT`, see
        // `resolve`); the hop refuses to start with more than its maximum.
        let waits = per_try.saturating_mul(u64::from(a.value) + 1);
        if u128::from(waits.as_millis()) > hop::duration::MAX.as_millis() {
            let msg = format!(
                "(attempts + 1) x per_try_timeout is {waits}, longer than the {}s a hop \
                 waits for an upstream",
                hop::duration::MAX.as_secs()
            );
            match &r.per_try_timeout {
                Some(p) => self.err(p, msg),
                None => self.err(a, msg),
            }
        }
        Some(Retries {
            attempts: a.value,
            per_try_timeout: per_try,
            retry_on: wire.retry_on.to_owned(),
        })
    }

    /// Checks that a routing key names a service; returns its versions.
    fn routed_service<'v>(
        &mut self,
        key: &Sourced<String>,
        versions_of: &'v BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> Option<&'v Vec<&'v str>> {
        let v = versions_of.get(key.value.as_str());
        if v.is_none() {
            self.err(
                key,
                format!("\"{}\" names no service (known: {known_list})", key.value),
            );
        }
        v
    }

    fn subset_of(&mut self, subset: &Sourced<String>, service: &str, versions: &[&str]) {
        if !versions.contains(&subset.value.as_str()) {
            self.err(
                subset,
                format!(
                    "\"{}\" is not a version of service \"{service}\" (versions: {})",
                    subset.value,
                    versions.join(", ")
                ),
            );
        }
    }

    fn canaries(
        &mut self,
        map: &BTreeMap<Sourced<String>, schema::Canary>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> BTreeMap<String, HeaderMatch> {
        let mut out = BTreeMap::new();
        for (svc, c) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let (Some(subset), Some(header), Some(value)) = (&c.subset, &c.header, &c.value) else {
                self.err(svc, "a canary needs `subset`, `header` and `value`");
                continue;
            };
            self.subset_of(subset, &svc.value, versions);
            let token =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
            if header.value.is_empty()
                || !header.value.chars().all(token)
                || header.value.starts_with(':')
            {
                self.err(
                    header,
                    format!(
                        "\"{}\" is not a lowercase header name like \"x-dev-user\"",
                        header.value
                    ),
                );
            }
            if value.value.is_empty() {
                self.err(value, "the header value to match cannot be empty");
            }
            out.insert(
                svc.value.clone(),
                HeaderMatch {
                    header: header.value.clone(),
                    value: value.value.clone(),
                    subset: subset.value.clone(),
                },
            );
        }
        out
    }

    fn weights(
        &mut self,
        map: &BTreeMap<Sourced<String>, Sourced<schema::Split>>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> BTreeMap<String, Vec<WeightedSubset>> {
        let mut out = BTreeMap::new();
        for (svc, table) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let mut sum: u64 = 0;
            let mut split = Vec::new();
            for (subset, w) in &table.value {
                self.subset_of(subset, &svc.value, versions);
                sum += u64::from(w.value);
                if w.value > 0 {
                    split.push(WeightedSubset {
                        subset: subset.value.clone(),
                        weight: w.value,
                    });
                }
            }
            if sum != 100 {
                self.err(
                    table,
                    format!("weights of \"{}\" sum to {sum}, not 100", svc.value),
                );
            }
            // Profile order is lost in the map; list by version order for stable output.
            split.sort_by_key(|s| versions.iter().position(|v| *v == s.subset));
            out.insert(svc.value.clone(), split);
        }
        out
    }

    fn faults(
        &mut self,
        map: &BTreeMap<Sourced<String>, schema::Fault>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
        wire: &Wire,
    ) -> BTreeMap<String, Fault> {
        let mut out = BTreeMap::new();
        for (svc, f) in map {
            if self.routed_service(svc, versions_of, known_list).is_none() {
                continue;
            }
            if f.abort.is_none() && f.delay.is_none() {
                self.err(svc, "a fault needs `abort`, `delay` or both");
                continue;
            }
            let abort = f.abort.as_ref().and_then(|a| {
                let Some(p) = &a.percent else {
                    self.err(svc, "fault.abort needs `percent`");
                    return None;
                };
                let percent = self.percent(p);
                if let Some(h) = &a.http_status
                    && !(200..=599).contains(&h.value)
                {
                    self.err(
                        h,
                        format!("{} is not an HTTP status between 200 and 599", h.value),
                    );
                }
                if let Some(g) = &a.grpc_status
                    && hop::fail_status::grpc_code_by_name(&g.value).is_none()
                {
                    self.err(
                        g,
                        format!(
                            "\"{}\" is not a gRPC code name (e.g. UNAVAILABLE, INTERNAL)",
                            g.value
                        ),
                    );
                }
                Some(match wire.protocol {
                    Protocol::Http => Abort {
                        percent,
                        http_status: Some(val(&a.http_status, wire.default_abort_http)),
                        grpc_status: None,
                    },
                    Protocol::Grpc => Abort {
                        percent,
                        http_status: None,
                        grpc_status: Some(val(&a.grpc_status, wire.default_abort_grpc.to_owned())),
                    },
                })
            });
            let delay = f.delay.as_ref().and_then(|d| {
                let (Some(fixed), Some(p)) = (&d.fixed, &d.percent) else {
                    self.err(svc, "fault.delay needs `fixed` and `percent`");
                    return None;
                };
                Some(Delay {
                    fixed: self.duration(fixed),
                    percent: self.percent(p),
                })
            });
            out.insert(svc.value.clone(), Fault { abort, delay });
        }
        out
    }
}

/// A service as read from the profile, with defaults applied.
struct Spec {
    name: Sourced<String>,
    versions: Vec<Sourced<String>>,
    upstreams: Vec<Sourced<String>>,
    replicas: u32,
    work: bool,
}

/// RFC 1123 label, as Kubernetes checks names of namespaces and label values.
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

/// RFC 1035 label, as Kubernetes checks Service names (must start with a letter).
pub fn dns1035_label(s: &str) -> Result<(), &'static str> {
    dns1123_label(s)?;
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter");
    }
    Ok(())
}

fn dns_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("a host name is 1 to 253 characters");
    }
    for label in host.split('.') {
        dns1123_label(label).map_err(
            |_| "each dot-separated part must be a DNS label (lowercase letters, digits, '-')",
        )?;
    }
    Ok(())
}

/// `*`, a DNS name, or `*.` followed by a DNS name.
fn gateway_host(host: &str) -> Result<(), &'static str> {
    if host == "*" {
        return Ok(());
    }
    dns_name(host.strip_prefix("*.").unwrap_or(host))
}

/// `http(s)://host[:port][/path]`; the host must be a DNS name (the egress
/// allow-list is by host).
fn parse_url(url: &str) -> Result<Upstream, &'static str> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(
            "external upstreams must be http:// or https:// (gRPC chains call outside over HTTP too)",
        );
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("credentials in URLs are not supported");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>().ok().filter(|p| *p > 0).ok_or("bad port")?,
        ),
        None => (authority, if tls { 443 } else { 80 }),
    };
    dns_name(host)?;
    Ok(Upstream::External {
        url: url.to_owned(),
        host: host.to_owned(),
        port,
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns1123_label("istio101").is_ok());
        assert!(dns1123_label("1a").is_ok());
        assert!(dns1035_label("1a").is_err());
        for bad in ["", "A", "a_b", "-a", "a-", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://time.jsontest.com/").unwrap(),
            Upstream::External {
                url: "http://time.jsontest.com/".into(),
                host: "time.jsontest.com".into(),
                port: 80,
                tls: false
            }
        );
        let Upstream::External { port, tls, .. } =
            parse_url("https://api.example.com:8443/x").unwrap()
        else {
            panic!()
        };
        assert_eq!((port, tls), (8443, true));
        for bad in [
            "grpc://x:1",
            "http://",
            "http://Bad_Host/",
            "http://h:0/",
            "http://u@h/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
