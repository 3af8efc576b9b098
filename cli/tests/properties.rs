//! Property tests over random *valid* profiles (tests/common/random_profile.rs),
//! run in-process through the library (`load` -> `resolve` -> `render`). For
//! each of 64 profiles:
//! - rendering is deterministic;
//! - every rendered object has a unique identity, and the chain's objects are
//!   exactly `model::identity::objects`;
//! - every header a route matches on is forwarded by every hop on every path
//!   from the ingress to the routed service, both by the model's hop
//!   configuration (`Model::hop_config`) and by the rendered Deployments'
//!   environment, read as a pod reads it (`HopConfig::from_env`).
//!
//! The first 12 profiles' output then passes the strict schema validators of
//! tests/common/schema.rs, each run once for all of them (they are slow to
//! start). Missing validators fail the test, as in `schemas.rs`.
//!
//! Two narrower properties over targeted profiles, for what the schemas do
//! not say:
//! - Istio refuses a ServiceEntry listing a port twice: a profile meshgen
//!   accepts never renders one, and a host port called both with and without
//!   TLS (the way to one) is refused;
//! - kubectl reads YAML 1.1, where a plain `no` is a boolean: meshgen refuses
//!   such names, and the tricky names it accepts (`true`, `0x1f`, `1e3`...)
//!   mean the same to a YAML 1.1 reader as to meshgen.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use common::random_profile::{DEFAULT_SUBSET, GenProfile, GenService, profile, q};
use common::schema;
// The hop's own view of the contract (`hop` re-exports `contract`): what a pod runs.
use hop::headers::forwarded;
use hop::{HopConfig, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use meshgen::error::Diagnostic;
use meshgen::model::{HeaderMatch, Model, Placement, Service, Upstream, Workload};
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
/// How many of them (the first ones) go through the schema validators.
const SCHEMA_CASES: usize = 12;

/// What `resolve` says of a name kubectl would misread.
const YAML11_REFUSAL: &str = "kubectl reads it as a boolean or a number (YAML 1.1)";
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
        port: 8080,
        metrics_port: 9464,
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

/// The header matches of the routes of the services behind `s`, with the service.
fn matches_behind<'m>(model: &'m Model, s: &str) -> Vec<(&'m str, &'m HeaderMatch)> {
    let behind = reachable(model, s).into_iter().filter(|t| t != s);
    let behind = behind.map(|t| model.service(&t).expect("known service"));
    let matches = |t: &'m Service| t.route.header_matches.iter().map(|m| (t.name.as_str(), m));
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
    check_forwarding(&model, &docs)?;
    Ok(files)
}

#[test]
fn random_valid_profiles_render_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let kept: RefCell<Vec<(GenProfile, Vec<File>)>> = RefCell::default();
    run(profile(), CASES, |p| {
        let files = check(&p, dir.path())?;
        let mut kept = kept.borrow_mut();
        if kept.len() < SCHEMA_CASES {
            kept.push((p, files));
        }
        Ok(())
    });
    let kept = kept.into_inner();
    assert!(kept.len() == SCHEMA_CASES, "too few schema cases");
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
        format!("{scheme}://{host}.example{port}/")
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

/// Words kubectl's YAML 1.1 parser reads as booleans or numbers: refused.
const REFUSED_WORDS: [&str; 14] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "0b101", "0b0", "0x1f", "017",
    "123",
];
/// Names YAML readers might take for something else, yet DNS-1123 labels
/// meshgen accepts (for names, namespaces and versions); those starting with
/// a letter are DNS-1035 labels too, and service names.
const TRICKY_LABELS: [&str; 10] = [
    "ok", "nope", "yes1", "n0", "nan", "inf", "0o17", "1e3", "1e-3", "0b2",
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
    (label(), label(), services, versions)
        .prop_map(|(name, namespace, names, versions)| {
            let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
            let service = |(i, s): (usize, &String)| {
                let extra = versions[i].iter().map(|v| (*v).to_owned());
                let versions = [DEFAULT_SUBSET.to_owned()].into_iter().chain(extra);
                GenService::new(s, versions.collect(), names[i + 1..].to_vec())
            };
            let services = names.iter().enumerate().map(service).collect();
            GenProfile::new(&name, &namespace, services)
        })
        .prop_filter("distinct identities", GenProfile::identities_are_distinct)
}

/// A profile with `word` where `field` goes.
fn with_word(field: &str, word: &str) -> GenProfile {
    let frontend = GenService::new("frontend", vec![DEFAULT_SUBSET.to_owned()], vec![]);
    let mut p = GenProfile::new("demo", "demo", vec![frontend]);
    let service = &mut p.services[0];
    match field {
        "name" => p.name = word.into(),
        "namespace" => p.namespace = word.into(),
        "service name" => service.name = word.into(),
        "version" => service.versions.push(word.into()),
        "routing.default_subset" => {
            service.versions = vec![word.into()];
            p.settings.push((field.into(), q(word)));
        }
        _ => unreachable!("{field}"),
    }
    p
}

/// `resolve` refuses every word kubectl would misread, wherever a name goes
/// (service names start with a letter: words with a digit first are refused
/// as such).
fn assert_misread_names_are_refused(dir: &Path) {
    let fields = ["name", "namespace", "service name", "version"];
    for field in fields.into_iter().chain(["routing.default_subset"]) {
        for word in REFUSED_WORDS {
            if field != "service name" || word.starts_with(|c: char| c.is_ascii_lowercase()) {
                assert_refused(&with_word(field, word), field, word, dir);
            }
        }
    }
}

/// `resolve` refuses `p` for `word` in `field`, and for nothing else.
fn assert_refused(p: &GenProfile, field: &str, word: &str, dir: &Path) {
    let loaded = load_profile(p, dir).unwrap_or_else(|e| panic!("{e}{p:?}"));
    let Err(diags) = resolve(&loaded) else {
        panic!("{field} {word:?} was accepted{p:?}");
    };
    let why = shown(&diags);
    let as_yaml11 = |d: &Diagnostic| d.message.contains(YAML11_REFUSAL) && d.message.contains(word);
    assert!(
        diags.iter().all(as_yaml11),
        "{field} {word:?} refused so:\n{why}{p:?}"
    );
}

/// `kubectl` reads manifests with a YAML 1.1 parser (go-yaml v2 through
/// sigs.k8s.io/yaml), where a plain `no`, `y` or `on` is a boolean: such names
/// are refused, and every rendered document of a profile with tricky names
/// means the same to a YAML 1.1 reader (PyYAML, as kubernetes-validate uses)
/// as to meshgen's own YAML 1.2 parser. One run of the reader for all cases.
#[test]
fn yaml_1_1_readers_see_the_same_documents() {
    let dir = tempfile::tempdir().unwrap();
    assert_misread_names_are_refused(dir.path());
    let items: RefCell<Vec<Json>> = RefCell::default();
    let case = Cell::new(0);
    run(yaml_tricky_profile(), 16, |p| {
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
