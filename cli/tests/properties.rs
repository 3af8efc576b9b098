//! Property tests over random *valid* profiles (tests/common/random_profile.rs),
//! run in-process through the library (`load` -> `resolve` -> `render`). The
//! profiles cover every valid mesh: sidecar or ambient data plane, Istio or
//! Gateway API routes (VirtualServices and DestinationRules, or HTTPRoutes /
//! GRPCRoutes to per-version Services), with or without an Istio revision.
//! For each of 64 profiles:
//! - rendering is deterministic;
//! - every rendered object has a unique identity, the chain's objects are
//!   exactly `model::identity::objects`, and none has the identity of an
//!   object Istio makes for the chain's Gateways (`identity::made_by_istio`:
//!   `<entry>-gateway-istio`, `waypoint`);
//! - every reference between the chain's objects resolves: Services and
//!   AuthorizationPolicy selectors select a rendered Deployment's pods,
//!   Deployments run as a rendered ServiceAccount, Gateway API routes attach
//!   to a rendered Gateway or Service port and send to a rendered Service
//!   port, VirtualServices to a rendered Gateway and to a DestinationRule
//!   subset, AuthorizationPolicies allow ServiceAccounts that exist (rendered,
//!   Istio's ingress gateway's, or made by Istio), the namespace's waypoint is
//!   a rendered Gateway of class `istio-waypoint`; every label value is one
//!   Kubernetes takes;
//! - every header a route matches on is forwarded by every hop on every path
//!   from the ingress to the routed service, both by the model's hop
//!   configuration (`Model::hop_config`) and by the rendered Deployments'
//!   environment, read as a pod reads it (`HopConfig::from_env`).
//!
//! - in ambient mode with mTLS, every Service of the chain is the target of
//!   an L7 AuthorizationPolicy (the waypoint authorizes per Service: one left
//!   out is a way around the edges the policies allow).
//!
//! The output of every one of them then passes the strict schema validators
//! of tests/common/schema.rs (core kinds, Istio's CRDs, the Gateway API's
//! CRDs, maxItems and patterns included), each run once for all of them
//! (they are slow to start). Missing validators fail the test, as in
//! `schemas.rs`.
//!
//! A fixed chain checks the reference check itself: leaving out one object
//! (a Service, a ServiceAccount, the waypoint, a DestinationRule...) makes a
//! reference dangle, and the check says which.
//!
//! Two narrower properties over targeted profiles, for what the schemas do
//! not say:
//! - Istio refuses a ServiceEntry listing a port twice: a profile meshgen
//!   accepts never renders one, and a host port called both with and without
//!   TLS (the way to one) is refused;
//! - kubectl reads YAML 1.1, where a plain `no` is a boolean: names that look
//!   like booleans, nulls or numbers (`no`, `on`, `123`, `0o17`, `nan`,
//!   `1e3`..., the Istio revision included) mean the same to a YAML 1.1 reader
//!   as to meshgen, whatever the mesh.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::path::Path;

use common::random_profile::{DEFAULT_SUBSET, GenProfile, GenService, mesh, profile, q};
use common::schema;
use contract::{external, headers as policy};
// The hop's own view of the contract (`hop` re-exports `contract`): what a pod runs.
use hop::headers::forwarded;
use hop::{HopConfig, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use meshgen::error::Diagnostic;
use meshgen::model::{HeaderMatch, LoadBalancer, Model, Placement, Service, Upstream, Workload};
use meshgen::model::{identity, istio};
use meshgen::profile::{Layers, Loaded, load};
use meshgen::render::{File, render};
use meshgen::validate::resolve;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use proptest::test_runner::{Config, TestError, TestRunner};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// Cases of the main property run.
const CASES: u32 = 64;

/// What `resolve` says of a name kubectl would misread.
/// What `resolve` says of a host port called with and without TLS.
const ONE_PROTOCOL: &str = "one port of a host speaks one protocol";

// ---------------------------------------------------------------------------
// Running the library
// ---------------------------------------------------------------------------

/// Runs `test` over `cases` values of `strategy`; panics with the minimal failing one.
fn run<S: Strategy>(strategy: S, cases: u32, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut config = Config::with_cases(cases);
    // Only the test files may be created in the repository.
    config.failure_persistence = None;
    match TestRunner::new(config).run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(why, p)) => panic!("property failed: {why}\nminimal input: {p:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn shown(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

fn failed(what: &str) -> impl Fn(Vec<Diagnostic>) -> TestCaseError + '_ {
    move |d| TestCaseError::fail(format!("{what}:\n{}", shown(&d)))
}

/// Writes `p` into `dir` and loads it.
fn load_profile(p: &GenProfile, dir: &Path) -> Result<Loaded, TestCaseError> {
    let profile = dir.join("profile.toml");
    std::fs::write(&profile, p.toml()).unwrap();
    let layers = Layers {
        profile,
        ..Default::default()
    };
    load(&layers).map_err(failed("load failed"))
}

/// Every non-empty YAML document of the rendered files, with its file.
fn documents(files: &[File]) -> Result<Vec<(String, Json)>, String> {
    let mut out = Vec::new();
    for f in files {
        let before = out.len();
        for de in serde_norway::Deserializer::from_str(&f.content) {
            let doc = Json::deserialize(de).map_err(|e| format!("{}: not YAML: {e}", f.path))?;
            if !doc.is_null() {
                out.push((f.path.clone(), doc));
            }
        }
        let (path, says, holds) = (&f.path, f.documents, out.len() - before);
        if says != holds {
            return Err(format!("{path}: says {says} documents, holds {holds}"));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The main properties
// ---------------------------------------------------------------------------

/// (kind, namespace, name)
type Identity = (String, String, String);

fn identity_of(doc: &Json) -> Identity {
    let s = |v: &Json| v.as_str().unwrap_or_default().to_owned();
    let meta = &doc["metadata"];
    (s(&doc["kind"]), s(&meta["namespace"]), s(&meta["name"]))
}

fn show(id: &Identity) -> String {
    format!("{} {}/{}", id.0, id.1, id.2)
}

/// Identities are unique overall and, in the chain's namespace, exactly the model's.
fn check_identities(model: &Model, docs: &[(String, Json)]) -> Result<(), TestCaseError> {
    let mut seen: BTreeMap<Identity, &str> = BTreeMap::new();
    for (file, doc) in docs {
        let id = identity_of(doc);
        prop_assert!(
            !id.0.is_empty() && !id.2.is_empty(),
            "{file}: no kind or name"
        );
        if let Some(first) = seen.insert(id.clone(), file) {
            let twice = format!("{} is rendered twice ({first} and {file})", show(&id));
            return Err(TestCaseError::fail(twice));
        }
    }
    let ns = &model.namespace;
    let in_chain =
        |(kind, n, name): &Identity| n == ns || (kind == "Namespace" && n.is_empty() && name == ns);
    let rendered: BTreeSet<Identity> = seen.into_keys().filter(in_chain).collect();
    let objects = identity::objects(model).into_iter();
    let expected: BTreeSet<Identity> = objects
        .map(|(o, _)| (o.kind.to_owned(), o.namespace, o.name))
        .collect();
    let only = |a: &BTreeSet<Identity>, b| a.difference(b).map(show).collect::<Vec<_>>();
    prop_assert!(
        rendered == expected,
        "rendered objects of the chain differ from identity::objects:\n  rendered only: {:?}\n  model only: {:?}",
        only(&rendered, &expected),
        only(&expected, &rendered)
    );
    for (o, _) in identity::made_by_istio(model) {
        let id = (o.kind.to_owned(), o.namespace, o.name);
        prop_assert!(
            !rendered.contains(&id),
            "{} is rendered, and Istio makes it too (it would fight Istio's controller)",
            show(&id)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// References between the chain's objects
// ---------------------------------------------------------------------------

fn text(v: &Json) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A `matchLabels`-like map as (key, value) strings.
fn string_map(v: &Json) -> BTreeMap<String, String> {
    let entries = v.as_object().into_iter().flatten();
    entries.map(|(k, v)| (k.clone(), text(v))).collect()
}

/// Whether a selector (non-empty) picks pods labelled `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A Kubernetes label value: at most 63 characters, alphanumerics at both
/// ends, `-`, `_`, `.` inside.
fn label_value_ok(v: &str) -> bool {
    let inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.chars().all(inner))
}

/// The chain's rendered objects, for looking references up.
struct Chain<'d> {
    docs: Vec<&'d Json>,
}

impl<'d> Chain<'d> {
    fn of_kind(&self, kind: &str) -> impl Iterator<Item = &'d Json> + '_ {
        let kind = kind.to_owned();
        self.docs
            .iter()
            .copied()
            .filter(move |d| d["kind"] == kind.as_str())
    }

    fn named(&self, kind: &str, name: &str) -> Option<&'d Json> {
        self.of_kind(kind).find(|d| d["metadata"]["name"] == name)
    }

    /// The pod labels of every Deployment.
    fn pods(&self) -> Vec<BTreeMap<String, String>> {
        let pods = self.of_kind("Deployment");
        pods.map(|d| string_map(&d["spec"]["template"]["metadata"]["labels"]))
            .collect()
    }

    /// Whether Service `name` is rendered with port `port`.
    fn service_port(&self, name: &str, port: &Json) -> bool {
        self.named("Service", name).is_some_and(|s| {
            let ports = s["spec"]["ports"].as_array().into_iter().flatten();
            ports.clone().any(|p| &p["port"] == port)
        })
    }

    fn gateway_api_gateway(&self, name: &str) -> Option<&'d Json> {
        let gateways = self.of_kind("Gateway");
        gateways
            .filter(|d| schema::is_gateway_api(d))
            .find(|d| d["metadata"]["name"] == name)
    }
}

/// Every reference between the chain's rendered objects resolves (see the
/// header), and every label value is one Kubernetes takes.
fn check_references(model: &Model, docs: &[(String, Json)]) -> Result<(), TestCaseError> {
    let ns = model.namespace.as_str();
    let chain = Chain {
        docs: docs
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d["metadata"]["namespace"] == ns)
            .collect(),
    };
    let pods = chain.pods();
    let mut problems = Vec::new();
    let mut problem = |at: &Json, why: String| {
        problems.push(format!("{} {}: {why}", at["kind"], at["metadata"]["name"]));
    };

    // Label values, everywhere they are written.
    for (_, d) in docs {
        let maps = [
            &d["metadata"]["labels"],
            &d["spec"]["selector"],
            &d["spec"]["selector"]["matchLabels"],
            &d["spec"]["template"]["metadata"]["labels"],
            &d["spec"]["podSelector"]["matchLabels"],
        ];
        for (k, v) in maps.into_iter().flat_map(string_map) {
            if !label_value_ok(&v) {
                problem(d, format!("label {k}: {v:?} is not a valid label value"));
            }
        }
    }
    // ServiceAccounts that exist in the chain's namespace: rendered, or made by Istio.
    let mut accounts: BTreeSet<String> = chain
        .of_kind("ServiceAccount")
        .map(|d| text(&d["metadata"]["name"]))
        .collect();
    let by_istio = identity::made_by_istio(model).into_iter();
    accounts.extend(
        by_istio
            .filter(|(o, _)| o.kind == "ServiceAccount")
            .map(|(o, _)| o.name),
    );
    let ingress_account = istio::principal(istio::NAMESPACE, istio::INGRESS_ACCOUNT);

    for d in chain.of_kind("Deployment") {
        let account = text(&d["spec"]["template"]["spec"]["serviceAccountName"]);
        if chain.named("ServiceAccount", &account).is_none() {
            problem(
                d,
                format!("runs as ServiceAccount {account:?}, not rendered"),
            );
        }
        let selector = string_map(&d["spec"]["selector"]["matchLabels"]);
        let own = string_map(&d["spec"]["template"]["metadata"]["labels"]);
        if !selects(&selector, &own) {
            problem(d, "its selector does not select its own pods".into());
        }
    }
    for d in chain.of_kind("Service") {
        let selector = string_map(&d["spec"]["selector"]);
        if !pods.iter().any(|p| selects(&selector, p)) {
            problem(
                d,
                format!("selects no rendered Deployment's pods ({selector:?})"),
            );
        }
    }
    for d in chain.of_kind("AuthorizationPolicy") {
        let spec = &d["spec"];
        let selector = string_map(&spec["selector"]["matchLabels"]);
        if spec.get("selector").is_some() && !pods.iter().any(|p| selects(&selector, p)) {
            problem(
                d,
                format!("selects no rendered Deployment's pods ({selector:?})"),
            );
        }
        for t in spec["targetRefs"].as_array().into_iter().flatten() {
            let name = text(&t["name"]);
            if t["kind"] != "Service" || chain.named("Service", &name).is_none() {
                problem(d, format!("targets {t}, not a rendered Service"));
            }
        }
        let rules = spec["rules"].as_array().into_iter().flatten();
        let from = rules.flat_map(|r| r["from"].as_array().into_iter().flatten());
        let principals =
            from.flat_map(|f| f["source"]["principals"].as_array().into_iter().flatten());
        for p in principals.map(text) {
            let ours = p
                .strip_prefix(&format!("{}/ns/{ns}/sa/", istio::TRUST_DOMAIN))
                .is_some_and(|sa| accounts.contains(sa));
            if !ours && p != ingress_account {
                problem(d, format!("allows {p}, which no ServiceAccount is"));
            }
        }
    }
    for d in chain.of_kind("HTTPRoute").chain(chain.of_kind("GRPCRoute")) {
        for p in d["spec"]["parentRefs"].as_array().into_iter().flatten() {
            let name = text(&p["name"]);
            let found = match p["kind"].as_str() {
                Some("Service") => chain.service_port(&name, &p["port"]),
                None | Some("Gateway") => chain.gateway_api_gateway(&name).is_some(),
                Some(_) => false,
            };
            if !found {
                problem(d, format!("attaches to {p}, which is not rendered"));
            }
        }
        let rules = d["spec"]["rules"].as_array().into_iter().flatten();
        for b in rules.flat_map(|r| r["backendRefs"].as_array().into_iter().flatten()) {
            if !chain.service_port(&text(&b["name"]), &b["port"]) {
                problem(
                    d,
                    format!("sends to {b}, which is not a rendered Service port"),
                );
            }
        }
    }
    for d in chain.of_kind("VirtualService") {
        let spec = &d["spec"];
        for g in spec["gateways"].as_array().into_iter().flatten().map(text) {
            let istio_gateway = chain
                .of_kind("Gateway")
                .any(|x| schema::is_istio(x) && x["metadata"]["name"] == g.as_str());
            if !istio_gateway {
                problem(d, format!("binds to Gateway {g:?}, not rendered"));
            }
        }
        let http = spec["http"].as_array().into_iter().flatten();
        let dests = http.flat_map(|h| h["route"].as_array().into_iter().flatten());
        for dest in dests.map(|r| &r["destination"]) {
            let host = text(&dest["host"]);
            let rule = chain
                .of_kind("DestinationRule")
                .find(|r| r["spec"]["host"] == host.as_str());
            let subset = dest["subset"].as_str();
            let has_subset = |r: &Json| {
                let subsets = r["spec"]["subsets"].as_array().into_iter().flatten();
                subsets.clone().any(|s| s["name"].as_str() == subset)
            };
            if !rule.is_some_and(|r| subset.is_none() || has_subset(r)) {
                problem(
                    d,
                    format!("routes to {dest}, which no DestinationRule subset defines"),
                );
            }
        }
    }
    for d in chain.of_kind("DestinationRule") {
        let host = text(&d["spec"]["host"]);
        let service = host.strip_suffix(&format!(".{ns}.svc.cluster.local"));
        if service.and_then(|s| chain.named("Service", s)).is_none() {
            problem(d, format!("is for host {host:?}, not a rendered Service"));
        }
    }
    let namespace = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == "Namespace");
    let namespace = namespace.expect("the chain's Namespace is rendered");
    if let Some(waypoint) = namespace["metadata"]["labels"]["istio.io/use-waypoint"].as_str() {
        let gateway = chain.gateway_api_gateway(waypoint);
        if !gateway.is_some_and(|g| g["spec"]["gatewayClassName"] == "istio-waypoint") {
            problem(
                namespace,
                format!("uses waypoint {waypoint:?}, not a rendered waypoint Gateway"),
            );
        }
    }
    prop_assert!(
        problems.is_empty(),
        "unresolved references:\n  {}",
        problems.join("\n  ")
    );
    Ok(())
}

/// Ambient with mTLS: the Services of the chain are exactly the Services its
/// L7 AuthorizationPolicies target.
fn check_waypoint_policies(model: &Model, docs: &[(String, Json)]) -> Result<(), TestCaseError> {
    if !(model.mesh.mtls && model.mesh.data_plane == meshgen::model::DataPlane::Ambient) {
        return Ok(());
    }
    let of_kind = |kind: &'static str| {
        docs.iter().map(|(_, d)| d).filter(move |d| {
            d["kind"] == kind && d["metadata"]["namespace"] == model.namespace.as_str()
        })
    };
    let services: BTreeSet<String> = of_kind("Service")
        .map(|d| text(&d["metadata"]["name"]))
        .collect();
    let targeted: BTreeSet<String> = of_kind("AuthorizationPolicy")
        .flat_map(|d| {
            d["spec"]["targetRefs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|r| r["kind"] == "Service")
        .map(|r| text(&r["name"]))
        .collect();
    prop_assert_eq!(
        services,
        targeted,
        "Services against the L7 policies' targets"
    );
    Ok(())
}

/// Services reachable from `from` through service upstreams (`from` included).
fn reachable(m: &Model, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([from.to_owned()]);
    let mut queue = VecDeque::from([from.to_owned()]);
    while let Some(s) = queue.pop_front() {
        for u in &m.service(&s).expect("known service").upstreams {
            if let Upstream::Service { name } = u
                && seen.insert(name.clone())
            {
                queue.push_back(name.clone());
            }
        }
    }
    seen
}

/// Where the Kubernetes target places the hop of `service`.
fn placement(m: &Model, service: &Service) -> Placement {
    let (scheme, port) = (m.wire.protocol.scheme(), m.wire.service_port);
    let target = |u: &Upstream| {
        let url = match u {
            Upstream::Service { name } => {
                format!("{scheme}://{}:{port}", istio::host(name, &m.namespace))
            }
            Upstream::External { url, .. } => url.clone(),
        };
        Target::parse(&url).expect("validated upstreams parse")
    };
    Placement {
        address: contract::HopConfig::EVERY_ADDRESS,
        port: 8080,
        metrics_port: 9464,
        pod: None,
        upstreams: service.upstreams.iter().map(target).collect(),
        otlp_endpoint: Some("http://collector:4317".into()),
    }
}

/// Deployment name -> its container's environment.
type Env = BTreeMap<String, BTreeMap<String, String>>;

/// The environment of every rendered Deployment of the chain.
fn deployment_env(model: &Model, docs: &[(String, Json)]) -> Env {
    let s = |x: &Json| x.as_str().unwrap_or_default().to_owned();
    let ours = |d: &&Json| d["metadata"]["namespace"] == model.namespace;
    let env_of = |d: &Json| {
        let env = d["spec"]["template"]["spec"]["containers"][0]["env"].as_array();
        let vars = env.into_iter().flatten();
        let vars = vars.map(|v| (s(&v["name"]), s(&v["value"])));
        (s(&d["metadata"]["name"]), vars.collect())
    };
    let deployments = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "Deployment");
    deployments.filter(ours).map(env_of).collect()
}

/// The configuration the rendered Deployment of `w` gives its hop.
fn rendered_config(model: &Model, w: &Workload, env: &Env) -> Result<HopConfig, TestCaseError> {
    let fail = |why: String| TestCaseError::fail(format!("Deployment {}: {why}", w.name));
    let vars = env
        .get(&w.name)
        .ok_or_else(|| fail("not rendered".into()))?;
    let read = HopConfig::from_env(model.wire.protocol, |k| vars.get(k).cloned());
    read.map_err(|e| fail(format!("its hop cannot read its environment {vars:?}: {e}")))
}

/// Whether a hop configured by `config` passes `header: value` on to its upstreams.
fn passes_on(m: &HeaderMatch, config: &HopConfig) -> bool {
    let name = HeaderName::try_from(&m.header).expect("validated header name");
    let value = HeaderValue::from_str(&m.value).expect("validated header value");
    let mut incoming = HeaderMap::new();
    incoming.insert(name.clone(), value.clone());
    incoming.insert("x-request-id", HeaderValue::from_static("r-1"));
    incoming.insert("authorization", HeaderValue::from_static("secret"));
    let tracing = config.otlp_endpoint.is_some();
    forwarded(&incoming, tracing, &config.forward_headers).get(&name) == Some(&value)
}

/// The header matches of the routes of the services behind `s`, with the
/// service; a consistent hash on a header counts as a match on it.
fn matches_behind<'m>(model: &'m Model, s: &str) -> Vec<(&'m str, HeaderMatch)> {
    let behind = reachable(model, s).into_iter().filter(|t| t != s);
    let behind = behind.map(|t| model.service(&t).expect("known service"));
    let matches = |t: &'m Service| {
        let hashed = match &t.traffic.load_balancer {
            Some(LoadBalancer::ConsistentHash { http_header_name }) => Some(HeaderMatch {
                header: http_header_name.clone(),
                value: "u-1".into(),
                subset: String::new(),
            }),
            _ => None,
        };
        let name = t.name.as_str();
        t.route
            .header_matches
            .iter()
            .cloned()
            .chain(hashed)
            .map(move |m| (name, m))
    };
    behind.flat_map(matches).collect()
}

/// Every hop reachable from the ingress forwards the headers the routes of
/// the services behind it match on, as the model and as its Deployment say.
fn check_forwarding(model: &Model, docs: &[(String, Json)]) -> Result<(), TestCaseError> {
    let env = deployment_env(model, docs);
    for s in reachable(model, &model.ingress.service) {
        let service = model.service(&s).expect("known service");
        let matches = matches_behind(model, &s);
        for w in &service.versions {
            let rendered = rendered_config(model, w, &env)?;
            prop_assert_eq!((&rendered.service, &rendered.version), (&s, &w.version));
            let configured = model.hop_config(service, w, placement(model, service));
            for (what, config) in [("model", configured), ("rendered", rendered)] {
                for (target, m) in &matches {
                    prop_assert!(
                        passes_on(m, &config),
                        "{what}: hop {} drops `{}` which the route of {target} matches on (forwards {:?})",
                        w.name,
                        m.header,
                        config.forward_headers
                    );
                }
            }
        }
    }
    Ok(())
}

/// Whether `host` could be answered inside the cluster or by the pod, judged
/// without `contract::external`: an address, a single label, a last label
/// that is not letters only (a namespace), or a zone of the cluster, the pod
/// or the chain's namespace.
fn resolvable_inside(host: &str, namespace: &str) -> bool {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let last = name.rsplit('.').next().unwrap_or_default();
    let zones = [
        "svc",
        "pod",
        "cluster",
        "local",
        "localhost",
        "internal",
        "default",
    ];
    host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
        || !name.contains('.')
        || last.len() < 2
        || !last.chars().all(|c| c.is_ascii_lowercase())
        || zones.contains(&last)
        || last == namespace
}

/// Nothing the cluster or the pod answers is rendered as external (a
/// ServiceEntry host, an external of the model), on no port of the mesh; no
/// hop forwards a credential, nor any header but those the routes behind it
/// match on, nor more than the bound.
fn check_outside_and_forwarded(
    model: &Model,
    docs: &[(String, Json)],
) -> Result<(), TestCaseError> {
    let ns = model.namespace.as_str();
    let entries = docs.iter().filter(|(_, d)| d["kind"] == "ServiceEntry");
    for (file, doc) in entries {
        for host in doc["spec"]["hosts"].as_array().into_iter().flatten() {
            let host = host.as_str().unwrap_or_default();
            let why = external::in_cluster(host, ns);
            prop_assert!(why.is_none(), "{file}: ServiceEntry host {host}: {why:?}");
            prop_assert!(
                !resolvable_inside(host, ns),
                "{file}: ServiceEntry host {host}"
            );
        }
        for port in doc["spec"]["ports"].as_array().into_iter().flatten() {
            let number = port["number"].as_u64().unwrap_or(0);
            let mesh = u16::try_from(number).ok().and_then(external::mesh_port);
            prop_assert!((1..=65535).contains(&number), "{file}: port {number}");
            prop_assert!(mesh.is_none(), "{file}: port {number} is {mesh:?}");
        }
    }
    for e in &model.externals {
        prop_assert!(!resolvable_inside(&e.host, ns), "external {}", e.host);
    }
    let env = deployment_env(model, docs);
    for service in &model.services {
        let behind: BTreeSet<String> = matches_behind(model, &service.name)
            .into_iter()
            .map(|(_, m)| m.header)
            .filter(|h| !policy::APP.contains(&h.as_str()))
            .collect();
        let behind: BTreeSet<&str> = behind.iter().map(String::as_str).collect();
        for w in &service.versions {
            let vars = env.get(&w.name);
            let list = vars.and_then(|v| v.get("FORWARD_HEADERS"));
            let names: BTreeSet<&str> = list.into_iter().flat_map(|l| l.split(',')).collect();
            for name in &names {
                prop_assert!(!policy::is_credential(name), "{}: forwards {name}", w.name);
                prop_assert!(
                    policy::check_match_name(name).is_ok(),
                    "{}: forwards {name}",
                    w.name
                );
            }
            prop_assert!(names.len() <= policy::MAX_ROUTE_HEADERS);
            prop_assert_eq!(
                &names,
                &behind,
                "{} forwards more or less than the routes behind it",
                w.name
            );
            // Every upstream outside the mesh is one the route headers never
            // reach, read back as the pod reads it.
            let upstream: Vec<&str> = vars
                .and_then(|v| v.get("UPSTREAM"))
                .map_or(vec![], |l| l.split(',').collect());
            let outside: BTreeSet<&str> = vars
                .and_then(|v| v.get("EXTERNAL_UPSTREAMS"))
                .map_or(BTreeSet::new(), |l| l.split(',').collect());
            let externals = service
                .upstreams
                .iter()
                .zip(&upstream)
                .filter(|(u, _)| matches!(u, Upstream::External { .. }))
                .map(|(_, t)| *t)
                .collect::<BTreeSet<&str>>();
            prop_assert_eq!(&outside, &externals, "{}: EXTERNAL_UPSTREAMS", w.name);
        }
    }
    Ok(())
}

/// Runs one generated valid profile through the library and checks the main
/// properties; returns the rendered files.
fn check(p: &GenProfile, dir: &Path) -> Result<Vec<File>, TestCaseError> {
    let refused = failed("a valid profile was refused");
    let model = resolve(&load_profile(p, dir)?).map_err(refused)?;
    let files = render(&model, None).map_err(failed("render failed"))?;
    let again = render(&model, None).map_err(failed("second render failed"))?;
    prop_assert!(files == again, "two renders of one model differ");
    let docs = documents(&files).map_err(TestCaseError::fail)?;
    check_identities(&model, &docs)?;
    check_references(&model, &docs)?;
    check_forwarding(&model, &docs)?;
    check_waypoint_policies(&model, &docs)?;
    check_outside_and_forwarded(&model, &docs)?;
    Ok(files)
}

#[test]
fn random_valid_profiles_render_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let kept: RefCell<Vec<(GenProfile, Vec<File>)>> = RefCell::default();
    run(profile(), CASES, |p| {
        let files = check(&p, dir.path())?;
        kept.borrow_mut().push((p, files));
        Ok(())
    });
    // Every case, not a sample: each validator starts once for all of them.
    let kept = kept.into_inner();
    assert_eq!(kept.len(), CASES as usize);
    let mut docs = Vec::new();
    for (i, (_, files)) in kept.iter().enumerate() {
        let case = documents(files).unwrap().into_iter();
        docs.extend(case.map(|(file, doc)| (format!("case-{i:02} {file}"), doc)));
    }
    if let Err(e) = schema::strict(&docs) {
        let profiles = kept.iter().enumerate();
        let profiles = profiles.map(|(i, (p, _))| format!("case-{i:02}: {p:?}\n"));
        panic!("{e}\n\n{}", profiles.collect::<String>());
    }
}

/// The reference check finds what it should: with one object of a valid
/// chain left out, the references to it dangle, under either kind of routes.
#[test]
fn the_reference_check_finds_dangling_references() {
    let dir = tempfile::tempdir().unwrap();
    let versions = |v: &[&str]| v.iter().map(|v| (*v).to_owned()).collect();
    let a = GenService::new("a", versions(&[DEFAULT_SUBSET]), vec!["b".to_owned()]);
    let b = GenService::new("b", versions(&[DEFAULT_SUBSET, "canary"]), vec![]);
    let mut p = GenProfile::new("demo", "mg-demo", vec![a, b]);
    p.settings = vec![
        ("istio.mtls".into(), "true".into()),
        (
            "routing.weights.b".into(),
            "{ prod = 50, canary = 50 }".into(),
        ),
    ];
    let mut ambient = p.clone();
    ambient
        .settings
        .push(("istio.data_plane".into(), q("ambient")));
    let cases = [
        (&ambient, "Service", "b-canary", "sends to"),
        (&ambient, "Service", "b", "attaches to"),
        (&ambient, "ServiceAccount", "a", "runs as ServiceAccount"),
        (
            &ambient,
            "ServiceAccount",
            "a",
            "which no ServiceAccount is",
        ),
        (&ambient, "Gateway", "waypoint", "uses waypoint"),
        (&ambient, "Gateway", "a-gateway", "attaches to"),
        (
            &ambient,
            "Deployment",
            "b-canary",
            "selects no rendered Deployment",
        ),
        (
            &p,
            "DestinationRule",
            "b",
            "no DestinationRule subset defines",
        ),
        (&p, "Gateway", "a-gateway", "binds to Gateway"),
    ];
    for (p, kind, name, says) in cases {
        let loaded = load_profile(p, dir.path()).unwrap();
        let model = resolve(&loaded).unwrap_or_else(|d| panic!("{}{p:?}", shown(&d)));
        let docs = documents(&render(&model, None).unwrap()).unwrap();
        check_references(&model, &docs).unwrap_or_else(|e| panic!("{e}{p:?}"));
        let left_out =
            |(_, d): &&(String, Json)| d["kind"] != kind || d["metadata"]["name"] != name;
        let fewer: Vec<_> = docs.iter().filter(left_out).cloned().collect();
        assert!(fewer.len() < docs.len(), "no {kind} {name}{p:?}");
        match check_references(&model, &fewer) {
            Ok(()) => panic!("without {kind} {name}, no reference dangles{p:?}"),
            Err(e) => assert!(e.to_string().contains(says), "without {kind} {name}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// ServiceEntry ports
// ---------------------------------------------------------------------------

/// Profiles whose services call a few external hosts over both schemes and
/// the same few ports.
fn external_heavy_profile() -> impl Strategy<Value = GenProfile> {
    let port = prop::option::of(select(vec![80u16, 443, 8080]));
    let url = (select(vec!["http", "https"]), select(vec!["a", "b"]), port);
    let url = url.prop_map(|(scheme, host, port)| {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}://{host}.example.com{port}/")
    });
    let per_service = prop::collection::btree_set(url, 1..=3);
    prop::collection::vec(per_service, 1..=3).prop_map(|per_service| {
        let versions = || vec![DEFAULT_SUBSET.to_owned()];
        let services = per_service.into_iter().enumerate();
        let services = services.map(|(i, urls)| {
            GenService::new(&format!("s{i}"), versions(), urls.into_iter().collect())
        });
        GenProfile::new("ext", "mg-ext", services.collect())
    })
}

/// No ServiceEntry of `files` lists one port number or one port name twice.
fn service_entry_ports_unique(files: &[File]) -> Result<(), TestCaseError> {
    let docs = documents(files).map_err(TestCaseError::fail)?;
    for (file, doc) in docs.iter().filter(|(_, d)| d["kind"] == "ServiceEntry") {
        let (mut numbers, mut names) = (BTreeSet::new(), BTreeSet::new());
        let ports = &doc["spec"]["ports"];
        for port in ports.as_array().into_iter().flatten() {
            let (number, name) = (&port["number"], &port["name"]);
            prop_assert!(
                numbers.insert(number.to_string()) && names.insert(name.to_string()),
                "{file}: ServiceEntry {} lists port {number} or name {name} twice (Istio refuses it: \"service entry port {number} already defined\"):\n{ports:#}",
                doc["metadata"]["name"],
            );
        }
    }
    Ok(())
}

/// Istio's own validation (the istiod webhook, which no schema expresses)
/// refuses a ServiceEntry listing one port number or one port name twice, so
/// `kubectl apply` of such an output fails: a profile meshgen accepts never
/// renders one. These profiles are refused only for calling a host port both
/// with and without TLS, and both outcomes must occur (about 60% are accepted).
#[test]
fn service_entry_ports_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let (accepted, refused) = (Cell::new(0), Cell::new(0));
    let protocols = |d: &Diagnostic| d.message.contains(ONE_PROTOCOL);
    run(external_heavy_profile(), 32, |p| {
        match resolve(&load_profile(&p, dir.path())?) {
            Ok(model) => {
                accepted.set(accepted.get() + 1);
                let files = render(&model, None).map_err(failed("render failed"))?;
                service_entry_ports_unique(&files)
            }
            Err(diags) => {
                refused.set(refused.get() + 1);
                let why = shown(&diags);
                prop_assert!(diags.iter().all(protocols), "refused:\n{why}");
                Ok(())
            }
        }
    });
    let (accepted, refused) = (accepted.get(), refused.get());
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}

// ---------------------------------------------------------------------------
// YAML 1.1 readers (kubectl)
// ---------------------------------------------------------------------------

/// Names YAML readers might take for something else (YAML 1.1 booleans and
/// numbers, and their near misses), yet DNS-1123 labels meshgen accepts (for
/// names, namespaces and versions); those starting with a letter are DNS-1035
/// labels too, and service names.
const TRICKY_LABELS: [&str; 24] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "0b101", "0x1f", "017", "123",
    "ok", "nope", "yes1", "n0", "nan", "inf", "0o17", "1e3", "1e-3", "0b2", "12-30",
];

/// Profiles whose name, namespace, services and versions are tricky words;
/// each service calls all later ones.
fn yaml_tricky_profile() -> impl Strategy<Value = GenProfile> {
    let label = || select(TRICKY_LABELS.to_vec()).prop_map(str::to_owned);
    let lettered = TRICKY_LABELS
        .into_iter()
        .filter(|w| w.as_bytes()[0].is_ascii_lowercase());
    let services = subsequence(lettered.collect::<Vec<_>>(), 1..=3).prop_shuffle();
    let versions = prop::collection::vec(subsequence(TRICKY_LABELS.to_vec(), 0..=2), 3);
    let revision = prop::option::of(label());
    let names = (label(), label(), services);
    (names, versions, revision, mesh())
        .prop_map(|((name, namespace, names), versions, revision, mesh)| {
            let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
            let service = |(i, s): (usize, &String)| {
                let extra = versions[i].iter().map(|v| (*v).to_owned());
                let versions = [DEFAULT_SUBSET.to_owned()].into_iter().chain(extra);
                GenService::new(s, versions.collect(), names[i + 1..].to_vec())
            };
            let services = names.iter().enumerate().map(service).collect();
            let mut p = GenProfile::new(&name, &namespace, services);
            p.settings = mesh;
            let revision = revision.map(|r| ("istio.revision".to_owned(), q(&r)));
            p.settings.extend(revision);
            p
        })
        .prop_filter("distinct identities", GenProfile::identities_are_distinct)
}

/// `kubectl` reads manifests with a YAML 1.1 parser (go-yaml v2 through
/// sigs.k8s.io/yaml), where a plain `no`, `y` or `on` is a boolean: every
/// rendered document of a profile with such names means the same to a YAML
/// 1.1 reader (PyYAML, as kubernetes-validate uses) as to meshgen's own YAML
/// 1.2 parser. One run of the reader for all cases.
#[test]
fn yaml_1_1_readers_see_the_same_documents() {
    let dir = tempfile::tempdir().unwrap();
    let items: RefCell<Vec<Json>> = RefCell::default();
    let case = Cell::new(0);
    run(yaml_tricky_profile(), 32, |p| {
        let files = check(&p, dir.path())?;
        case.set(case.get() + 1);
        for f in &files {
            let docs = documents(std::slice::from_ref(f)).map_err(TestCaseError::fail)?;
            let docs: Vec<Json> = docs.into_iter().map(|(_, d)| d).collect();
            let at = format!("case {} {}", case.get(), f.path);
            let item = json!({ "where": at, "profile": p.toml(), "text": f.content, "docs": docs });
            items.borrow_mut().push(item);
        }
        Ok(())
    });
    schema::yaml11_reads_the_same(&items.into_inner()).unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------
// Hostile upstreams and route headers in otherwise valid profiles
// ---------------------------------------------------------------------------

/// A DNS label as a service or namespace is written.
fn dns_label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// 127.0.0.0/8, 0.0.0.0/8 or 169.254.0.0/16, dotted, as one integer, or hexadecimal.
fn pod_or_node_ipv4() -> impl Strategy<Value = String> {
    let block = select(vec![0x7f00_0000u32, 0, 0xa9fe_0000]);
    (block, any::<u16>(), any::<u8>(), 0u8..3).prop_map(|(block, low, mid, form)| {
        let mask = if block == 0xa9fe_0000 {
            0xffff
        } else {
            0xff_ffff
        };
        let ip = block | ((u32::from(mid) << 16 | u32::from(low)) & mask);
        match form {
            0 => std::net::Ipv4Addr::from(ip).to_string(),
            1 => ip.to_string(),
            _ => format!("0x{ip:x}"),
        }
    })
}

/// Hosts the cluster or the pod of a chain in `namespace` with a service
/// `service` answers, in any letter case, some with a trailing dot.
fn inside_host(namespace: String, service: String) -> impl Strategy<Value = String> {
    let zone = select(vec![
        "svc",
        "svc.cluster.local",
        "cluster.local",
        "pod.cluster.local",
    ]);
    let kubernetes = select(vec![
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]);
    let v6 = select(vec![
        "[::1]",
        "[::]",
        "[fe80::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
    ]);
    let ns = namespace.clone();
    let hosts = prop_oneof![
        Just(service.clone()),
        Just(format!("{service}.{namespace}")),
        dns_label(),
        dns_label().prop_map(move |n| format!("{n}.{ns}")),
        (dns_label(), dns_label(), zone).prop_map(|(n, ns, z)| format!("{n}.{ns}.{z}")),
        (dns_label(), "[a-z]{0,6}[0-9-][a-z0-9]{0,4}[a-z0-9]")
            .prop_map(|(n, ns)| format!("{n}.{ns}")),
        kubernetes.prop_map(str::to_owned),
        prop_oneof![
            Just("localhost".to_owned()),
            dns_label().prop_map(|n| format!("{n}.localhost"))
        ],
        pod_or_node_ipv4(),
        v6.prop_map(str::to_owned),
    ];
    let case = prop::option::weighted(0.25, any::<u32>());
    (hosts, case, prop::bool::weighted(0.25)).prop_map(|(host, case, dot)| {
        let flip = |(i, c): (usize, char)| match case.map(|bits| bits >> (i % 32) & 1) {
            Some(1) => c.to_ascii_uppercase(),
            _ => c,
        };
        let mut host: String = host.chars().enumerate().map(flip).collect();
        if dot && !host.ends_with(']') {
            host.push('.');
        }
        host
    })
}

/// A hostile URL and what its refusal says (either of two texts).
type Hostile = (String, [&'static str; 2]);

/// What the refusal of a hostile URL says: the host is inside the cluster
/// (or is a chain service), or the port is not one to call.
const INSIDE: [&str; 2] = ["is inside the cluster", "as if it were outside"];
const BAD_PORT: [&str; 2] = ["the mesh's own ports", "a number from 1 to 65535"];

/// A URL the profile may not call as an external API (a host inside the
/// cluster or the pod, or a port of the mesh or none at all), with what its
/// refusal says.
fn hostile_url(namespace: String, service: String) -> impl Strategy<Value = Hostile> {
    let scheme = select(vec!["http", "https"]);
    let port = prop::option::of(1u32..=65535);
    let inside =
        (scheme.clone(), inside_host(namespace, service), port).prop_map(|(scheme, host, port)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            (format!("{scheme}://{host}{port}/"), INSIDE)
        });
    let mesh_ports: Vec<u16> = external::MESH_PORTS.iter().map(|(p, _)| *p).collect();
    let bad_port = prop_oneof![
        select(mesh_ports).prop_map(u64::from),
        65_536u64..=10_000_000_000,
    ];
    let outside_bad_port = (scheme, bad_port)
        .prop_map(|(scheme, port)| (format!("{scheme}://api.example.com:{port}/v1"), BAD_PORT));
    prop_oneof![4 => inside, 1 => outside_bad_port]
}

/// A valid profile, one of its services, and a hostile URL it then calls.
/// Half the namespaces are letters only, as a top-level domain is
/// (`frontend.demo` is still the chain's own frontend).
fn profile_calling_inside() -> impl Strategy<Value = (GenProfile, usize, Hostile)> {
    let namespace =
        prop::option::of("[a-z]{2,8}".prop_filter("a namespace of its own", |n| n != "default"));
    (profile(), namespace).prop_flat_map(|(mut p, namespace)| {
        p.namespace = namespace.unwrap_or(p.namespace);
        let names: Vec<String> = p.services.iter().map(|s| s.name.clone()).collect();
        let namespace = p.namespace.clone();
        (Just(p), 0..names.len()).prop_flat_map(move |(p, i)| {
            let url = hostile_url(namespace.clone(), names[i].clone());
            (Just(p), Just(i), url)
        })
    })
}

/// Whatever else a valid profile says, an upstream URL of a host the cluster
/// or the pod answers (its own services by any name, the API server, loopback,
/// link-local and unspecified addresses in any notation) or on a mesh or
/// impossible port is refused, at that upstream.
#[test]
fn upstreams_inside_the_cluster_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    run(profile_calling_inside(), 256, |(mut p, i, (url, says))| {
        p.services[i].upstreams.push(url.clone());
        let key = format!("service[{i}].upstream");
        match resolve(&load_profile(&p, dir.path())?) {
            Ok(model) => {
                let externals: Vec<&str> =
                    model.externals.iter().map(|e| e.host.as_str()).collect();
                Err(TestCaseError::fail(format!(
                    "{url} accepted (externals {externals:?})"
                )))
            }
            Err(diags) => {
                let at = |d: &Diagnostic| {
                    let text = d.to_string();
                    let why = says.iter().any(|s| text.contains(s));
                    text.contains(&key) && text.contains(&url) && why
                };
                prop_assert!(
                    diags.iter().any(at),
                    "{url} not refused at {key} for saying {says:?}:\n{}",
                    shown(&diags)
                );
                Ok(())
            }
        }
    });
}

/// Route headers the policy refuses: credentials (by name or by the usual
/// words), headers hops and proxies set, protocol and tracing prefixes, gRPC
/// binary metadata.
fn refused_header() -> impl Strategy<Value = String> {
    let fixed = select(vec![
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "accept",
        "host",
        "user-agent",
        "te",
        "x-request-id",
        "content-type",
        "content-length",
        "traceparent",
        "tracestate",
        "b3",
        "baggage",
        "grpc-trace-bin",
    ])
    .prop_map(str::to_owned);
    let credential = "x[-_][a-z]{0,4}(auth|token|secret|session|api[-_]key|apikey|password|cookie|jwt|cert)[a-z]{0,4}";
    let prefixed = "(grpc|x-envoy|x-forwarded|x-b3|content)-[a-z]{1,8}";
    let binary = "x-[a-z]{1,8}-bin";
    prop_oneof![
        fixed,
        credential.prop_map(|s| s),
        prefixed.prop_map(|s| s),
        binary.prop_map(|s| s)
    ]
}

/// Whatever else a valid profile says, a canary on a header the policy
/// refuses is refused at that header, with a reason.
#[test]
fn refused_route_headers_are_refused_in_any_profile() {
    let dir = tempfile::tempdir().unwrap();
    let case = profile().prop_flat_map(|p| {
        let n = p.services.len();
        (Just(p), 0..n, refused_header())
    });
    run(case, 128, |(mut p, i, header)| {
        let name = p.services[i].name.clone();
        let key = format!("routing.canary.{name}");
        let s = &mut p.services[i];
        s.routing.retain(|(k, _)| *k != key);
        let canary = format!(
            "{{ subset = {}, header = {}, value = \"v1\" }}",
            q(DEFAULT_SUBSET),
            q(&header)
        );
        s.routing.push((key.clone(), canary));
        let diags = match resolve(&load_profile(&p, dir.path())?) {
            Ok(_) => return Err(TestCaseError::fail(format!("canary on {header} accepted"))),
            Err(diags) => diags,
        };
        let at = format!("{key}.header: \"{header}\" cannot be a canary header: ");
        prop_assert!(
            diags.iter().any(|d| d.to_string().contains(&at)),
            "{header} not refused at {key}.header:\n{}",
            shown(&diags)
        );
        Ok(())
    });
}
