//! Property tests over random *valid* profiles, run in-process through the
//! library (`load` -> `resolve` -> `render`):
//! - every rendered object has a unique identity, and the chain's objects are
//!   exactly `model::identity::objects`;
//! - every header a route matches on is forwarded by every hop on every path
//!   from the ingress to the routed service, both by the model's hop
//!   configuration and by what the rendered Deployments' environment says
//!   (what a pod reads, through `HopConfig::from_env`);
//! - rendering is deterministic;
//! - the first cases' output passes the strict schema validators of
//!   `schemas.rs` (one run of each validator for all of them; they are slow to
//!   start). Missing validators fail the test, as in `schemas.rs`.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::{self, Write as _};
use std::path::Path;
use std::process::Command;

use contract::http::{HeaderMap, HeaderName, HeaderValue};
use contract::{HopConfig, Target, headers};
use meshgen::model::{Model, Placement, Upstream, identity, istio};
use meshgen::profile::{Layers, load};
use meshgen::render::{File, render};
use meshgen::validate::resolve;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::{Config, TestError, TestRunner};
use serde::Deserialize;
use serde_json::Value as Json;

/// Cases of the property run.
const CASES: u32 = 64;
/// How many of them (the first ones) go through the schema validators.
const SCHEMA_CASES: usize = 12;

const HOW: &str =
    "run scripts/test (it installs the test tools into .tools/ via scripts/install-test-tools)";

// ---------------------------------------------------------------------------
// Random valid profiles
// ---------------------------------------------------------------------------

/// Versions a service may have besides the default subset ("prod").
const EXTRA_VERSIONS: [&str; 4] = ["canary", "v2", "beta", "exp-1"];
const DEFAULT_SUBSET: &str = "prod";
const GRPC_CODES: [&str; 4] = [
    "UNAVAILABLE",
    "INTERNAL",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
];

#[derive(Clone, Debug)]
struct GenService {
    name: String,
    /// Always contains [`DEFAULT_SUBSET`].
    versions: Vec<String>,
    /// Whether `versions` is written (it may be left out when it is only the default).
    write_versions: bool,
    /// Service names (only later services, so no cycles) and URLs, in call order.
    upstreams: Vec<String>,
    replicas: Option<u32>,
    work: Option<bool>,
}

#[derive(Clone, Debug)]
struct GenCanary {
    subset: String,
    header: String,
    value: String,
}

#[derive(Clone, Debug)]
struct GenFault {
    /// (percent, http_status, grpc_status)
    abort: Option<(String, Option<u16>, Option<&'static str>)>,
    /// (fixed, percent)
    delay: Option<(String, String)>,
}

#[derive(Clone)]
struct GenProfile {
    name: String,
    namespace: String,
    protocol: Option<&'static str>,
    /// `[istio]` keys with their TOML values.
    istio: Vec<(&'static str, String)>,
    image_tag: Option<String>,
    ingress_service: Option<String>,
    hosts: Option<Vec<String>>,
    default_subset_explicit: bool,
    /// (attempts, per_try_timeout)
    retries: Option<(u32, Option<String>)>,
    canaries: Vec<(String, GenCanary)>,
    weights: Vec<(String, Vec<(String, u32)>)>,
    faults: Vec<(String, GenFault)>,
    services: Vec<GenService>,
}

/// A TOML basic string.
fn q(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => write!(out, "\\u{:04X}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

impl GenProfile {
    fn toml(&self) -> String {
        let mut t = String::new();
        writeln!(t, "name = {}", q(&self.name)).unwrap();
        writeln!(t, "namespace = {}", q(&self.namespace)).unwrap();
        if let Some(p) = self.protocol {
            writeln!(t, "protocol = {}", q(p)).unwrap();
        }
        if !self.istio.is_empty() {
            t.push_str("\n[istio]\n");
            for (k, v) in &self.istio {
                writeln!(t, "{k} = {v}").unwrap();
            }
        }
        if let Some(tag) = &self.image_tag {
            write!(t, "\n[image]\ntag = {}\n", q(tag)).unwrap();
        }
        if self.ingress_service.is_some() || self.hosts.is_some() {
            t.push_str("\n[ingress]\n");
            if let Some(s) = &self.ingress_service {
                writeln!(t, "service = {}", q(s)).unwrap();
            }
            if let Some(h) = &self.hosts {
                writeln!(t, "hosts = {}", list(h)).unwrap();
            }
        }
        if self.default_subset_explicit {
            write!(t, "\n[routing]\ndefault_subset = {}\n", q(DEFAULT_SUBSET)).unwrap();
        }
        if let Some((attempts, per_try)) = &self.retries {
            write!(t, "\n[routing.retries]\nattempts = {attempts}\n").unwrap();
            if let Some(d) = per_try {
                writeln!(t, "per_try_timeout = {}", q(d)).unwrap();
            }
        }
        for (svc, c) in &self.canaries {
            write!(
                t,
                "\n[routing.canary.{svc}]\nsubset = {}\nheader = {}\nvalue = {}\n",
                q(&c.subset),
                q(&c.header),
                q(&c.value)
            )
            .unwrap();
        }
        for (svc, split) in &self.weights {
            write!(t, "\n[routing.weights.{svc}]\n").unwrap();
            for (subset, w) in split {
                writeln!(t, "{subset} = {w}").unwrap();
            }
        }
        for (svc, f) in &self.faults {
            write!(t, "\n[routing.fault.{svc}]\n").unwrap();
            if let Some((percent, http, grpc)) = &f.abort {
                let mut parts = vec![format!("percent = {percent}")];
                if let Some(h) = http {
                    parts.push(format!("http_status = {h}"));
                }
                if let Some(g) = grpc {
                    parts.push(format!("grpc_status = {}", q(g)));
                }
                writeln!(t, "abort = {{ {} }}", parts.join(", ")).unwrap();
            }
            if let Some((fixed, percent)) = &f.delay {
                writeln!(t, "delay = {{ fixed = {}, percent = {percent} }}", q(fixed)).unwrap();
            }
        }
        for s in &self.services {
            write!(t, "\n[[service]]\nname = {}\n", q(&s.name)).unwrap();
            if s.write_versions || s.versions != [DEFAULT_SUBSET] {
                writeln!(t, "versions = {}", list(&s.versions)).unwrap();
            }
            match s.upstreams.as_slice() {
                [] => {}
                [one] => writeln!(t, "upstream = {}", q(one)).unwrap(),
                many => writeln!(t, "upstream = {}", list(many)).unwrap(),
            }
            if let Some(r) = s.replicas {
                writeln!(t, "replicas = {r}").unwrap();
            }
            if let Some(w) = s.work {
                writeln!(t, "work = {w}").unwrap();
            }
        }
        t
    }

    /// No two generated objects may share an identity (validate would rightly
    /// refuse the profile): workload names `{service}-{version}` and the entry
    /// route `{entry}-ingress` must not collide.
    fn identities_are_distinct(&self) -> bool {
        let mut workloads = BTreeSet::new();
        for s in &self.services {
            for v in &s.versions {
                if !workloads.insert(format!("{}-{v}", s.name)) {
                    return false;
                }
            }
        }
        let entry = self
            .ingress_service
            .clone()
            .unwrap_or_else(|| self.services[0].name.clone());
        let route = format!("{entry}-ingress");
        !self.services.iter().any(|s| s.name == route)
    }
}

/// The profile text, so proptest prints the minimal failing profile readably.
impl fmt::Debug for GenProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n----- profile.toml -----\n{}------------------------",
            self.toml()
        )
    }
}

fn service_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?"
}

fn percent() -> impl Strategy<Value = String> {
    (0u32..=1000).prop_map(|n| format!("{}.{}", n / 10, n % 10))
}

/// A duration Istio takes, short enough that 6 tries fit in a hop's hour.
fn per_try_timeout() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["1.005s", "500ms", "2s", "1m", "250ms", "1ms", "1.5s"]).prop_map(str::to_owned),
        (1u32..=600_000).prop_map(|ms| format!("{ms}ms")),
        (0u32..=599, 0u32..1000)
            .prop_filter("at least 1ms", |(s, ms)| s + ms > 0)
            .prop_map(|(s, ms)| format!("{s}.{ms:03}s")),
    ]
}

fn external_url() -> impl Strategy<Value = String> {
    (
        select(vec!["http", "https"]),
        "[a-z]{1,6}",
        prop::option::of(select(vec![80u16, 443, 8080, 8443, 9000])),
        select(vec!["/", "/api", "/v1/time", ""]),
    )
        .prop_map(|(scheme, host, port, path)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}://{host}.example{port}{path}")
        })
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![1 => Just("x-dev-user".to_owned()), 4 => "x-[a-z]{1,8}"]
}

/// Printable ASCII from a safe set, no surrounding spaces.
fn header_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]([A-Za-z0-9 _.-]{0,14}[A-Za-z0-9_.-])?"
}

/// Weights of `versions` summing to 100, zero weights included now and then.
fn weights(versions: Vec<String>) -> impl Strategy<Value = Vec<(String, u32)>> {
    let cut = prop_oneof![1 => Just(0u32), 1 => Just(100u32), 4 => 0u32..=100];
    prop::collection::vec(cut, versions.len() - 1).prop_map(move |mut cuts| {
        cuts.sort_unstable();
        let mut bounds = vec![0];
        bounds.extend(cuts);
        bounds.push(100);
        versions
            .iter()
            .cloned()
            .zip(bounds.windows(2).map(|w| w[1] - w[0]))
            .collect()
    })
}

fn fault() -> impl Strategy<Value = GenFault> {
    let abort = (
        percent(),
        prop::option::of(200u16..=599),
        prop::option::of(select(GRPC_CODES.to_vec())),
    );
    let delay = (per_try_timeout(), percent());
    prop_oneof![
        abort.clone().prop_map(|a| GenFault {
            abort: Some(a),
            delay: None
        }),
        delay.clone().prop_map(|d| GenFault {
            abort: None,
            delay: Some(d)
        }),
        (abort, delay).prop_map(|(a, d)| GenFault {
            abort: Some(a),
            delay: Some(d)
        }),
    ]
}

/// Service `i` of `names`: calls only services after it, so no cycles.
fn service(names: &[String], i: usize) -> impl Strategy<Value = GenService> + use<> {
    let name = names[i].clone();
    let later: Vec<String> = names[i + 1..].to_vec();
    let k = later.len();
    (
        subsequence(EXTRA_VERSIONS.to_vec(), 0..=2),
        any::<Index>(),
        any::<bool>(),
        subsequence(later, 0..=k).prop_shuffle(),
        prop::option::weighted(0.25, external_url()),
        any::<Index>(),
        prop::option::weighted(0.2, 1u32..=3),
        prop::option::weighted(0.3, any::<bool>()),
    )
        .prop_map(
            move |(extra, at, write_versions, mut upstreams, external, ext_at, replicas, work)| {
                let mut versions: Vec<String> = extra.into_iter().map(str::to_owned).collect();
                versions.insert(at.index(versions.len() + 1), DEFAULT_SUBSET.to_owned());
                if let Some(url) = external {
                    upstreams.insert(ext_at.index(upstreams.len() + 1), url);
                }
                GenService {
                    name: name.clone(),
                    versions,
                    write_versions,
                    upstreams,
                    replicas,
                    work,
                }
            },
        )
}

fn istio_flags() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let flag = || prop::option::of(any::<bool>().prop_map(|b| b.to_string()));
    (
        flag(),
        flag(),
        flag(),
        flag(),
        flag(),
        prop::option::of(select(vec!["REGISTRY_ONLY", "ALLOW_ANY"]).prop_map(q)),
        prop::option::weighted(0.2, percent()),
    )
        .prop_map(
            |(mtls, tracing, grafana, servicegraph, access_log, egress, sampling)| {
                [
                    ("mtls", mtls),
                    ("tracing", tracing),
                    ("grafana", grafana),
                    ("servicegraph", servicegraph),
                    ("access_log", access_log),
                    ("egress", egress),
                    ("trace_sampling", sampling),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect()
            },
        )
}

fn profile() -> impl Strategy<Value = GenProfile> {
    let names = prop::collection::vec(service_name(), 1..=8).prop_map(|names| {
        let mut seen = BTreeSet::new();
        names
            .into_iter()
            .filter(|n| seen.insert(n.clone()))
            .collect::<Vec<_>>()
    });
    let services = names.prop_flat_map(|names| {
        (0..names.len())
            .map(|i| service(&names, i).boxed())
            .collect::<Vec<_>>()
    });
    let globals = (
        "[a-z][a-z0-9]{0,8}",
        "mg-[a-z0-9]{1,8}",
        prop::option::of(select(vec!["http", "grpc"])),
        istio_flags(),
        prop::option::weighted(0.2, "[a-z0-9][a-z0-9._-]{0,10}"),
        prop::option::weighted(
            0.3,
            subsequence(
                vec!["*", "demo.example", "*.apps.example", "a-b.c.example"],
                1..=3,
            ),
        ),
        any::<bool>(),
        prop::option::weighted(0.6, (0u32..=5, prop::option::of(per_try_timeout()))),
    );
    (services, globals)
        .prop_flat_map(|(services, globals)| {
            let routed = |p: f64, multi_only: bool| {
                services
                    .iter()
                    .map(|s| {
                        if multi_only && s.versions.len() < 2 {
                            Just(None).boxed()
                        } else {
                            let v = s.versions.clone();
                            let name = s.name.clone();
                            prop::option::weighted(p, Just(()))
                                .prop_map(move |o| o.map(|()| (name.clone(), v.clone())))
                                .boxed()
                        }
                    })
                    .collect::<Vec<_>>()
            };
            let canaries = routed(0.5, true)
                .into_iter()
                .map(|s| {
                    s.prop_flat_map(|o| match o {
                        None => Just(None).boxed(),
                        Some((svc, versions)) => (select(versions), header_name(), header_value())
                            .prop_map(move |(subset, header, value)| {
                                Some((
                                    svc.clone(),
                                    GenCanary {
                                        subset,
                                        header,
                                        value,
                                    },
                                ))
                            })
                            .boxed(),
                    })
                })
                .collect::<Vec<_>>();
            let splits = routed(0.4, true)
                .into_iter()
                .map(|s| {
                    s.prop_flat_map(|o| match o {
                        None => Just(None).boxed(),
                        Some((svc, versions)) => weights(versions)
                            .prop_map(move |w| Some((svc.clone(), w)))
                            .boxed(),
                    })
                })
                .collect::<Vec<_>>();
            let faults = routed(0.15, false)
                .into_iter()
                .map(|s| {
                    s.prop_flat_map(|o| match o {
                        None => Just(None).boxed(),
                        Some((svc, _)) => fault().prop_map(move |f| Some((svc.clone(), f))).boxed(),
                    })
                })
                .collect::<Vec<_>>();
            let entries: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
            (
                Just(services),
                Just(globals),
                canaries,
                splits,
                faults,
                prop::option::weighted(0.3, select(entries)),
            )
        })
        .prop_map(
            |(services, globals, canaries, splits, faults, ingress_service)| {
                let (name, namespace, protocol, istio, image_tag, hosts, explicit, retries) =
                    globals;
                GenProfile {
                    name,
                    namespace,
                    protocol,
                    istio,
                    image_tag,
                    ingress_service,
                    hosts: hosts.map(|h| h.into_iter().map(str::to_owned).collect()),
                    default_subset_explicit: explicit,
                    // A per-try timeout with no retries is refused (it would have no effect).
                    retries: retries.map(|(a, d)| (a, d.filter(|_| a > 0))),
                    canaries: canaries.into_iter().flatten().collect(),
                    weights: splits.into_iter().flatten().collect(),
                    faults: faults.into_iter().flatten().collect(),
                    services,
                }
            },
        )
        .prop_filter("object identities must be distinct", |p| {
            p.identities_are_distinct()
        })
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

fn shown<T: fmt::Display>(diags: &[T]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every non-empty YAML document of the rendered files, with its file.
fn documents(files: &[File]) -> Result<Vec<(String, Json)>, String> {
    let mut out = Vec::new();
    for f in files {
        let mut count = 0;
        for de in serde_norway::Deserializer::from_str(&f.content) {
            let doc = Json::deserialize(de).map_err(|e| format!("{}: not YAML: {e}", f.path))?;
            if !doc.is_null() {
                out.push((f.path.clone(), doc));
                count += 1;
            }
        }
        if count != f.documents {
            return Err(format!(
                "{}: says {} documents, holds {count}",
                f.path, f.documents
            ));
        }
    }
    Ok(out)
}

type Identity = (String, String, String);

fn identity_of(doc: &Json) -> Identity {
    let s = |v: &Json| v.as_str().unwrap_or_default().to_owned();
    (
        s(&doc["kind"]),
        s(&doc["metadata"]["namespace"]),
        s(&doc["metadata"]["name"]),
    )
}

fn show(id: &Identity) -> String {
    format!("{} {}/{}", id.0, id.1, id.2)
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

/// The upstreams of `service` as the Kubernetes target reaches them.
fn targets(m: &Model, service: &str) -> Vec<Target> {
    m.service(service)
        .expect("known service")
        .upstreams
        .iter()
        .map(|u| {
            let url = match u {
                Upstream::Service { name } => format!(
                    "{}://{}:{}",
                    m.wire.protocol.scheme(),
                    istio::host(name, &m.namespace),
                    m.wire.service_port
                ),
                Upstream::External { url, .. } => url.clone(),
            };
            Target::parse(&url).expect("validated upstreams parse")
        })
        .collect()
}

/// Whether a hop configured with `forward` (and tracing or not) passes
/// `header: value` on to its upstreams.
fn passes_on(header: &str, value: &str, tracing: bool, forward: &[HeaderName]) -> bool {
    let mut incoming = HeaderMap::new();
    let name = HeaderName::try_from(header).expect("validated header name");
    let value = HeaderValue::from_str(value).expect("validated header value");
    incoming.insert(name.clone(), value.clone());
    incoming.insert("x-request-id", HeaderValue::from_static("r-1"));
    incoming.insert("authorization", HeaderValue::from_static("secret"));
    let out = headers::forwarded(&incoming, tracing, forward);
    out.get(&name) == Some(&value)
}

/// Runs one generated profile through the library and checks every property;
/// returns the rendered files for the schema check.
fn check(p: &GenProfile, dir: &Path) -> Result<Vec<File>, TestCaseError> {
    let path = dir.join("profile.toml");
    std::fs::write(&path, p.toml()).unwrap();
    let layers = Layers {
        profile: path,
        ..Default::default()
    };
    let loaded =
        load(&layers).map_err(|d| TestCaseError::fail(format!("load failed:\n{}", shown(&d))))?;
    let model = resolve(&loaded)
        .map_err(|d| TestCaseError::fail(format!("a valid profile was refused:\n{}", shown(&d))))?;
    let files = render(&model, None)
        .map_err(|d| TestCaseError::fail(format!("render failed:\n{}", shown(&d))))?;

    // Determinism.
    let again = render(&model, None)
        .map_err(|d| TestCaseError::fail(format!("second render failed:\n{}", shown(&d))))?;
    prop_assert!(files == again, "two renders of one model differ");

    // Identities: unique overall; in the chain's namespace, exactly the model's.
    let docs = documents(&files).map_err(TestCaseError::fail)?;
    let mut seen: BTreeMap<Identity, &str> = BTreeMap::new();
    for (file, doc) in &docs {
        let id = identity_of(doc);
        prop_assert!(
            !id.0.is_empty() && !id.2.is_empty(),
            "{file}: a document without kind or name"
        );
        if let Some(first) = seen.insert(id.clone(), file) {
            return Err(TestCaseError::fail(format!(
                "{} is rendered twice ({first} and {file})",
                show(&id)
            )));
        }
    }
    let rendered: BTreeSet<Identity> = seen
        .keys()
        .filter(|(kind, ns, name)| {
            *ns == model.namespace
                || (kind == "Namespace" && ns.is_empty() && *name == model.namespace)
        })
        .cloned()
        .collect();
    let expected: BTreeSet<Identity> = identity::objects(&model)
        .into_iter()
        .map(|(o, _)| (o.kind.to_owned(), o.namespace, o.name))
        .collect();
    prop_assert!(
        rendered == expected,
        "rendered objects of the chain differ from identity::objects:\n  rendered only: {:?}\n  model only: {:?}",
        rendered.difference(&expected).map(show).collect::<Vec<_>>(),
        expected.difference(&rendered).map(show).collect::<Vec<_>>()
    );

    // Route headers reach every hop in front of the routed service.
    let env: BTreeMap<String, BTreeMap<String, String>> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["namespace"] == model.namespace)
        .map(|(_, d)| {
            let vars = d["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    let s = |x: &Json| x.as_str().unwrap_or_default().to_owned();
                    (s(&v["name"]), s(&v["value"]))
                })
                .collect();
            (identity_of(d).2, vars)
        })
        .collect();
    let from_ingress = reachable(&model, &model.ingress.service);
    for target in &model.services {
        for m in &target.route.header_matches {
            // Every hop on a path ingress -> ... -> target, before the target.
            let in_front = from_ingress
                .iter()
                .filter(|s| **s != target.name && reachable(&model, s).contains(&target.name));
            for s in in_front {
                let service = model.service(s).expect("known service");
                for w in &service.versions {
                    let config = model.hop_config(
                        service,
                        w,
                        Placement {
                            port: 8080,
                            metrics_port: 9464,
                            upstreams: targets(&model, s),
                            otlp_endpoint: Some("http://collector:4317".into()),
                        },
                    );
                    prop_assert!(
                        passes_on(
                            &m.header,
                            &m.value,
                            config.otlp_endpoint.is_some(),
                            &config.forward_headers
                        ),
                        "model: hop {} drops `{}` which the route of {} matches on (forwards {:?})",
                        w.name,
                        m.header,
                        target.name,
                        config.forward_headers
                    );
                    let vars = env.get(&w.name).ok_or_else(|| {
                        TestCaseError::fail(format!("no Deployment {} rendered", w.name))
                    })?;
                    let read = HopConfig::from_env(model.wire.protocol, |k| vars.get(k).cloned())
                        .map_err(|e| {
                        TestCaseError::fail(format!(
                            "Deployment {}: its hop cannot read its environment: {e}",
                            w.name
                        ))
                    })?;
                    prop_assert_eq!(&read.service, &service.name);
                    prop_assert_eq!(&read.version, &w.version);
                    prop_assert!(
                        passes_on(
                            &m.header,
                            &m.value,
                            read.otlp_endpoint.is_some(),
                            &read.forward_headers
                        ),
                        "rendered: Deployment {} drops `{}` which the route of {} matches on (env {:?})",
                        w.name,
                        m.header,
                        target.name,
                        vars
                    );
                }
            }
        }
    }
    Ok(files)
}

#[test]
fn random_valid_profiles_render_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let kept: RefCell<Vec<(String, Vec<File>)>> = RefCell::new(Vec::new());
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        // Only the two test files may be created in the repository.
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&profile(), |p| {
        let files = check(&p, dir.path())?;
        let mut kept = kept.borrow_mut();
        if kept.len() < SCHEMA_CASES {
            kept.push((p.toml(), files));
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, p)) => panic!("property failed: {why}\nminimal input: {p:?}"),
        Err(e) => panic!("{e}"),
    }
    let kept = kept.into_inner();
    assert_eq!(
        kept.len(),
        SCHEMA_CASES,
        "too few cases for the schema check"
    );
    strict_schemas(&kept);
}

// ---------------------------------------------------------------------------
// Strict schemas, once for all kept cases (as schemas.rs does for the shipped
// profiles)
// ---------------------------------------------------------------------------

fn is_istio(doc: &Json) -> bool {
    doc["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .contains(".istio.io/")
}

fn is_core(doc: &Json) -> bool {
    matches!(
        doc["apiVersion"].as_str().unwrap_or_default(),
        "v1" | "apps/v1" | "rbac.authorization.k8s.io/v1" | "networking.k8s.io/v1"
    )
}

fn node_path() -> String {
    let np = std::env::var("NODE_PATH")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            common::repo()
                .join(".tools/node_modules")
                .display()
                .to_string()
        });
    let found = std::env::split_paths(&np)
        .any(|d| d.join("@kubernetes-models/istio/package.json").is_file());
    assert!(
        found,
        "@kubernetes-models/istio is not in NODE_PATH ({np}): {HOW}"
    );
    np
}

fn strict_schemas(cases: &[(String, Vec<File>)]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut core_files = Vec::new();
    let mut core_count = 0;
    let mut istio_items = Vec::new();
    let mut crd_errors = Vec::new();
    let crds = crds();
    let profiles: String = cases
        .iter()
        .enumerate()
        .map(|(i, (text, _))| format!("----- case-{i:02} -----\n{text}"))
        .collect();
    for (i, (_, files)) in cases.iter().enumerate() {
        let case = format!("case-{i:02}");
        let case_dir = tmp.path().join(&case);
        std::fs::create_dir(&case_dir).unwrap();
        let docs = documents(files).unwrap();
        let mut by_file: BTreeMap<&str, Vec<&Json>> = BTreeMap::new();
        for (file, doc) in &docs {
            assert!(
                is_core(doc) || is_istio(doc),
                "{case} {file}: no validator for {}",
                doc["apiVersion"]
            );
            if is_core(doc) {
                by_file.entry(file.as_str()).or_default().push(doc);
                core_count += 1;
            } else {
                istio_items
                    .push(serde_json::json!({ "file": format!("{case}: {file}"), "doc": doc }));
                strict_crd(&crds, &case, file, doc, &mut crd_errors);
            }
        }
        for (file, docs) in by_file {
            let path = case_dir.join(file.replace('/', "--"));
            let text: String = docs
                .iter()
                .map(|d| format!("---\n{}", serde_norway::to_string(d).unwrap()))
                .collect();
            std::fs::write(&path, text).unwrap();
            core_files.push(path);
        }
    }
    assert!(
        crd_errors.is_empty(),
        "Istio CRD schema violations:\n{}\n\n{profiles}",
        crd_errors.join("\n")
    );

    // Core kinds: kubernetes-validate --strict, one run for every case.
    let kv = hop::testkit::tool("kubernetes-validate");
    let out = Command::new(&kv)
        .args(["--strict", "-k", "1.33.0"])
        .args(&core_files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}: {HOW}", kv.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubernetes-validate failed:\n{stdout}\n{stderr}\n\n{profiles}"
    );
    let passed = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("passed for resource"))
        .count();
    assert_eq!(
        passed, core_count,
        "every core document must be validated, not skipped:\n{stdout}\n{stderr}"
    );

    // Istio kinds: @kubernetes-models/istio, one run for every case.
    let node = hop::testkit::tool("node");
    let np = node_path();
    let input = tmp.path().join("istio-docs.json");
    std::fs::write(&input, serde_json::to_vec(&istio_items).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/validate-istio.mjs");
    let out = Command::new(&node)
        .arg(&script)
        .arg(&input)
        .env("NODE_PATH", &np)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}: {HOW}", node.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Istio validation failed:\n{stdout}\n{stderr}\n\n{profiles}"
    );
    assert!(
        stdout.contains(&format!(
            "validated {} Istio resources, 0 failures",
            istio_items.len()
        )),
        "{stdout}\n{stderr}"
    );
}

/// group -> kind -> version -> openAPIV3Schema
type Crds = BTreeMap<String, BTreeMap<String, BTreeMap<String, Json>>>;

/// The Istio CRDs vendored for schemas.rs.
fn crds() -> Crds {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema/istio-crds.yaml"),
    )
    .unwrap();
    let mut out = Crds::new();
    for de in serde_norway::Deserializer::from_str(&text) {
        let crd = Json::deserialize(de).unwrap();
        if crd["kind"] != "CustomResourceDefinition" {
            continue;
        }
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap().to_owned();
        let kind = spec["names"]["kind"].as_str().unwrap().to_owned();
        for v in spec["versions"].as_array().unwrap() {
            out.entry(group.clone())
                .or_default()
                .entry(kind.clone())
                .or_default()
                .insert(
                    v["name"].as_str().unwrap().to_owned(),
                    v["schema"]["openAPIV3Schema"].clone(),
                );
        }
    }
    out
}

fn strict_crd(crds: &Crds, case: &str, file: &str, doc: &Json, errors: &mut Vec<String>) {
    let (group, version) = doc["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    let kind = doc["kind"].as_str().unwrap();
    if group == "install.istio.io" {
        // Not one of Istio's CRDs any more (istioctl reads it); node checks it.
        return;
    }
    let Some(schema) = crds
        .get(group)
        .and_then(|g| g.get(kind))
        .and_then(|k| k.get(version))
    else {
        errors.push(format!(
            "{case} {file}: no CRD schema for {group}/{version} {kind}"
        ));
        return;
    };
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    walk(
        &doc["spec"],
        &schema["properties"]["spec"],
        &format!("{case} {file} {kind}/{name} spec"),
        errors,
    );
}

/// Checks `value` against an OpenAPI v3 structural schema: unknown fields, types,
/// enums and required fields (the same walk as schemas.rs).
fn walk(value: &Json, schema: &Json, path: &str, errors: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == Json::Bool(true) {
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == Json::Bool(true);
    let ok_type = match schema["type"].as_str() {
        _ if int_or_string => value.is_string() || value.is_i64() || value.is_u64(),
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok_type {
        errors.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let Some(obj) = value.as_object() {
        if let Some(required) = schema["required"].as_array() {
            for r in required {
                if !obj.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{path}: missing required field {r}"));
                }
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (k, v) in obj {
                match props.get(k) {
                    Some(s) => walk(v, s, &format!("{path}.{k}"), errors),
                    None => errors.push(format!(
                        "{path}: unknown field `{k}` (known: {:?})",
                        props.keys().collect::<Vec<_>>()
                    )),
                }
            }
        } else if schema["additionalProperties"].is_object() {
            for (k, v) in obj {
                walk(
                    v,
                    &schema["additionalProperties"],
                    &format!("{path}.{k}"),
                    errors,
                );
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            walk(v, schema, &format!("{path}[{i}]"), errors);
        }
    }
}
