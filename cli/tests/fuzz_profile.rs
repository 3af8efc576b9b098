//! Fuzz-style properties of profile parsing and layering, in-process through
//! the library (`load` -> `resolve` -> `render`), over arbitrary bytes,
//! profile-shaped texts with plausible and hostile values, mutations of
//! profiles/demo.toml and arbitrary `--set` values:
//! - nothing panics;
//! - every case returns within a bound (each runs on its own thread, waited
//!   for through a channel; a timeout fails the test);
//! - a failure carries at least one diagnostic, and every diagnostic reads
//!   `error: ...` with a non-empty message.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use meshgen::error::Diagnostic;
use meshgen::profile::{Layers, load};
use meshgen::render::render;
use meshgen::validate::resolve;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::Config;

/// How long one case may take (load, resolve and render of a tiny profile take
/// milliseconds).
const BOUND: Duration = Duration::from_secs(5);

fn config(cases: u32) -> Config {
    let mut config = Config::with_cases(cases);
    // Only the test files may be created in the repository.
    config.failure_persistence = None;
    config
}

// ---------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------

fn pipeline(layers: &Layers) -> Result<usize, Vec<Diagnostic>> {
    let loaded = load(layers)?;
    let model = resolve(&loaded)?;
    Ok(render(&model, None)?.len())
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".to_owned())
}

/// Runs the pipeline on its own thread: how many files it rendered or why
/// it refused; `Err` on a panic or a timeout.
fn bounded(layers: Layers) -> Result<Result<usize, Vec<Diagnostic>>, String> {
    let (tx, rx) = mpsc::channel();
    let case = move || {
        let r = panic::catch_unwind(AssertUnwindSafe(|| pipeline(&layers)));
        let _ = tx.send(r.map_err(panic_message));
    };
    let spawned = thread::Builder::new().name("fuzz-case".into()).spawn(case);
    spawned.expect("spawn a case thread");
    match rx.recv_timeout(BOUND) {
        Ok(outcome) => outcome.map_err(|panic| format!("panicked: {panic}")),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("took longer than {BOUND:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the case thread died".into()),
    }
}

/// The properties every case must have.
fn check(layers: Layers) -> Result<(), TestCaseError> {
    let diags = match bounded(layers).map_err(TestCaseError::fail)? {
        Ok(files) => {
            prop_assert!(files > 0, "a rendered profile produced no file");
            return Ok(());
        }
        Err(diags) => diags,
    };
    prop_assert!(!diags.is_empty(), "refused without any diagnostic");
    for d in &diags {
        let shown = d.to_string();
        let reads_error = shown.starts_with("error: ") && shown.len() > "error: ".len();
        prop_assert!(reads_error, "not `error: ...`: {shown:?}");
        prop_assert!(!d.message.trim().is_empty(), "empty message: {shown:?}");
    }
    Ok(())
}

/// A temp dir holding a copy of every shipped profile, so `extends` resolves.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for p in common::shipped_profiles() {
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// `bytes` as fuzz.toml in `dir`: the profile, or an `-f` layer over the demo.
fn layers(dir: &Path, bytes: &[u8], as_layer: bool) -> Layers {
    let path: PathBuf = dir.join("fuzz.toml");
    std::fs::write(&path, bytes).unwrap();
    let mut layers = Layers::default();
    if as_layer {
        (layers.profile, layers.files) = (dir.join("demo.toml"), vec![path]);
    } else {
        layers.profile = path;
    }
    layers
}

// ---------------------------------------------------------------------------
// (a) arbitrary bytes, and texts shaped like profiles
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    /// Arbitrary bytes as the profile, or as an `-f` layer over the demo.
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), as_layer in any::<bool>()) {
        let dir = workdir();
        check(layers(dir.path(), &bytes, as_layer))?;
    }
}

/// `s` as a TOML basic string, every character kept (escaped when needed).
fn toml_str(s: &str) -> String {
    let escaped = s.chars().map(|c| match c {
        '"' => "\\\"".to_owned(),
        '\\' => "\\\\".to_owned(),
        c if c.is_control() => format!("\\u{:04X}", c as u32),
        c => c.to_string(),
    });
    format!("\"{}\"", escaped.collect::<String>())
}

/// Plausible TOML values of every type, and strangers.
const SCALARS: &str = r#"
    "prod" "canary" "frontend" "middleware" "backend" "http://a.example/"
    "https://b.example:8443/x" "http://a.example:4317/" "grpc" "http" "REGISTRY_ONLY"
    "ALLOW_ANY" "x-dev-user" "x-canary" "2s" "1.005s" "0ms" "25h" "UNAVAILABLE"
    "demo.toml" "canary-weights.toml" "fuzz.toml" "*" "" "no" "0b101"
    true false 0 1 3 10 11 100 503 -1 4294967296 0.5 100.0 nan inf -0.0 [] {}
"#;

/// Any value: plausible ones of every type, and strangers.
fn any_value() -> BoxedStrategy<String> {
    let scalar = prop_oneof![
        6 => select(SCALARS.split_whitespace().collect::<Vec<_>>()).prop_map(str::to_owned),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:?}")),
        1 => any::<String>().prop_map(|s| toml_str(&s)),
        1 => "[ -~]{0,20}".prop_map(|s| toml_str(&s)),
    ];
    let array =
        prop::collection::vec(scalar.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", ")));
    prop_oneof![5 => scalar, 1 => array].boxed()
}

/// Known tables and keys, in order, with valid and invalid values: the file
/// says how it reads.
const SHAPE: &str = include_str!("common/fuzz/profile-shape.txt");

/// The keys of a table, each present or not.
type Keys = Vec<BoxedStrategy<Option<String>>>;

/// One line of [`SHAPE`] as a strategy: with its probability, the key and
/// mostly a valid value, now and then an invalid one, rarely any value at all.
fn key(line: &str) -> BoxedStrategy<Option<String>> {
    let (key, rest) = line.split_once(' ').expect("key probability values");
    let rest = rest.trim_start();
    let (p, values) = rest.split_once(' ').expect("probability values");
    let (valid, invalid) = values.split_once(" || ").unwrap_or((values, ""));
    let values = |vs: &str| -> Vec<String> {
        let vs = vs.split(" ; ").map(|v| v.trim().replace("\\n", "\n"));
        vs.filter(|v| !v.is_empty()).collect()
    };
    let (valid, invalid) = (select(values(valid)), values(invalid));
    let value = if invalid.is_empty() {
        prop_oneof![60 => valid, 1 => any_value()].boxed()
    } else {
        prop_oneof![60 => valid, 3 => select(invalid), 1 => any_value()].boxed()
    };
    let prefix = match key {
        "-" => String::new(),
        key => format!("{key} = "),
    };
    let value = value.prop_map(move |v| format!("{prefix}{v}"));
    // `weighted` takes a probability strictly between 0 and 1.
    match p.parse::<f64>().expect("a probability") {
        1.0.. => value.prop_map(Some).boxed(),
        p => prop::option::weighted(p, value).boxed(),
    }
}

/// A table: its header, then the keys drawn; nothing when no key is drawn,
/// unless `always`.
fn table(header: String, keys: Keys, always: bool) -> BoxedStrategy<String> {
    let text = keys.prop_map(move |lines| {
        let lines: Vec<String> = lines.into_iter().flatten().collect();
        if lines.is_empty() && !always {
            return String::new();
        }
        format!("\n{header}\n{}\n", lines.join("\n"))
    });
    text.boxed()
}

/// `[routing.KIND.SERVICE]`, at most once.
fn routed(kind: &str, keys: Keys) -> BoxedStrategy<String> {
    let kind = kind.to_owned();
    let known = select(vec!["frontend", "middleware", "backend"]);
    let service = prop_oneof![10 => known, 1 => Just("nope")];
    let header = move |svc| format!("[routing.{kind}.{svc}]");
    let one = service.prop_flat_map(move |svc| table(header(svc), keys.clone(), true));
    prop::collection::vec(one, 0..2)
        .prop_map(|t| t.concat())
        .boxed()
}

/// Texts shaped like profiles (see [`SHAPE`]): many get past the TOML parser
/// and validation into rendering; the others fail on one or two keys.
fn profile_shaped() -> impl Strategy<Value = String> {
    let (mut parts, mut services) = (vec![], vec![]);
    let mut header = String::new();
    let mut keys = vec![];
    let lines = SHAPE
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    for line in lines.chain(["[end]"]) {
        if !line.starts_with('[') {
            keys.push(key(line));
            continue;
        }
        let keys = std::mem::take(&mut keys);
        match header
            .strip_prefix("[routing.")
            .and_then(|h| h.strip_suffix(".*]"))
        {
            _ if header == "[[service]]" => services.push(table(header.clone(), keys, true)),
            Some(kind) => parts.push(routed(kind, keys)),
            None => parts.push(table(header.clone(), keys, header.is_empty())),
        }
        header = line.to_owned();
    }
    let count = prop_oneof![1 => 0..=2usize, 4 => Just(3usize)];
    (parts, services, count)
        .prop_map(|(parts, services, n)| parts.concat() + &services[..n].concat())
}

proptest! {
    #![proptest_config(config(256))]

    /// Texts shaped like profiles, with plausible and hostile values.
    #[test]
    fn profile_shaped_texts(text in profile_shaped()) {
        let dir = workdir();
        check(layers(dir.path(), text.as_bytes(), false))
            .map_err(|e| TestCaseError::fail(format!("{e}\n----- fuzz.toml -----\n{text}")))?;
    }
}

// ---------------------------------------------------------------------------
// (b) mutations of profiles/demo.toml
// ---------------------------------------------------------------------------

/// Keys, values and lines a profile is made of, and some it should not be:
/// one a line, `\n` a line break.
const DICTIONARY: &str = include_str!("common/fuzz/dictionary.txt");

fn dictionary() -> Vec<String> {
    let listed = DICTIONARY.lines().filter(|l| !l.is_empty());
    let mut d: Vec<String> = listed.map(|l| l.replace("\\n", "\n")).collect();
    let long = "a".repeat(70_000);
    d.extend(["\r\n", "\t", "\u{feff}"].map(str::to_owned));
    d.push(format!("name = \"{long}\""));
    d.push(format!(
        "upstream = \"http://{}.example/\"",
        "b".repeat(300)
    ));
    d.push(format!("{long} = 1"));
    d.push(format!("name = \"{}\"", "a".repeat(64)));
    d.extend(["[a]\n", "x = [", "x = {"].map(|s| s.repeat(200)));
    d
}

#[derive(Clone, Debug)]
enum Mutation {
    ReplaceByte(Index, u8),
    InsertByte(Index, u8),
    Delete(Index, usize),
    /// Dictionary entry at any byte.
    Splice(Index, Index),
    /// Dictionary entry on a line of its own.
    SpliceLine(Index, Index),
    /// A copy of a slice of the text, elsewhere.
    Duplicate(Index, usize, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use Mutation::*;
    let (at, byte) = (any::<Index>, any::<u8>);
    prop_oneof![
        1 => (at(), byte()).prop_map(|(i, b)| ReplaceByte(i, b)),
        1 => (at(), byte()).prop_map(|(i, b)| InsertByte(i, b)),
        1 => (at(), 1usize..64).prop_map(|(i, n)| Delete(i, n)),
        1 => (at(), at()).prop_map(|(i, w)| Splice(i, w)),
        4 => (at(), at()).prop_map(|(i, w)| SpliceLine(i, w)),
        1 => (at(), 1usize..200, at()).prop_map(|(i, n, to)| Duplicate(i, n, to)),
    ]
}

fn apply(text: &mut Vec<u8>, m: &Mutation, dict: &[String]) {
    let at = |i: &Index, text: &Vec<u8>| i.index(text.len() + 1);
    match m {
        Mutation::ReplaceByte(i, b) if !text.is_empty() => {
            let i = i.index(text.len());
            text[i] = *b;
        }
        Mutation::ReplaceByte(..) => {}
        Mutation::InsertByte(i, b) => text.insert(at(i, text), *b),
        Mutation::Delete(i, n) => {
            let i = at(i, text);
            text.drain(i..(i + n).min(text.len()));
        }
        Mutation::Splice(i, w) => {
            let i = at(i, text);
            text.splice(i..i, w.get(dict).bytes());
        }
        Mutation::SpliceLine(i, w) => {
            let i = at(i, text);
            // The start of the line holding byte i.
            let start = text[..i]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            text.splice(start..start, format!("{}\n", w.get(dict)).into_bytes());
        }
        Mutation::Duplicate(i, n, to) => {
            let i = at(i, text);
            let slice = text[i..(i + n).min(text.len())].to_vec();
            let to = at(to, text);
            text.splice(to..to, slice);
        }
    }
}

/// A mutated demo profile; Debug shows the text (lossily), so a minimal
/// failing case is readable.
#[derive(Clone)]
struct Mutated(Vec<u8>);

impl std::fmt::Debug for Mutated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (len, text) = (self.0.len(), String::from_utf8_lossy(&self.0));
        write!(
            f,
            "\n----- fuzz.toml ({len} bytes) -----\n{text}\n-----\nbytes: {:?}",
            self.0
        )
    }
}

fn mutated_demo() -> impl Strategy<Value = Mutated> {
    let dict = dictionary();
    let demo = std::fs::read(common::repo().join("profiles/demo.toml")).unwrap();
    prop::collection::vec(mutation(), 1..5).prop_map(move |ms| {
        let mut text = demo.clone();
        ms.iter().for_each(|m| apply(&mut text, m, &dict));
        Mutated(text)
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Mutations of the demo, as the profile or as an `-f` layer over it.
    #[test]
    fn mutated_demo_profiles(text in mutated_demo(), as_layer in prop::bool::weighted(0.2)) {
        let dir = workdir();
        check(layers(dir.path(), &text.0, as_layer))?;
    }
}

// ---------------------------------------------------------------------------
// --set values
// ---------------------------------------------------------------------------

/// Keys of `--set` (and the empty key).
const SET_KEYS: &str = "
    name namespace extends protocol istio.mtls istio.trace_sampling routing.default_subset
    routing.retries.attempts routing.retries.per_try_timeout routing.canary.middleware.header
    routing.weights.middleware.prod ingress.hosts service service.frontend.work
    service.middleware.versions service.backend.upstream service.backend.name
    service.nope.replicas service..x a..b .
";

/// Values of `--set`, one a line (and the empty value).
const SET_VALUES: &str = r#"
true
flase
5
-1
4294967296
"x"
["a", "b"]
[
{ a = 1 }
nan
"\u0000"
1\nname = "injected"
"demo.toml"
=
no
0b1
"#;

fn set_arg() -> impl Strategy<Value = String> {
    let values = SET_VALUES.lines().skip(1).map(|l| l.replace("\\n", "\n"));
    let values = values.chain([String::new()]).collect::<Vec<_>>();
    let keys = SET_KEYS.split_whitespace().chain([""]).collect::<Vec<_>>();
    let key = prop_oneof![
        select(keys).prop_map(str::to_owned),
        "(service\\.[a-z.]{0,10}\\.)?[a-z_.-]{1,20}",
        any::<String>(),
    ];
    let value = prop_oneof![select(values), ".{0,40}", any::<String>()];
    prop_oneof![
        8 => (key, value).prop_map(|(k, v)| format!("{k}={v}")),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    /// `--set` layers over the demo.
    #[test]
    fn arbitrary_sets(sets in prop::collection::vec(set_arg(), 1..4)) {
        let dir = workdir();
        let mut layers = Layers::default();
        (layers.profile, layers.sets) = (dir.path().join("demo.toml"), sets);
        check(layers)?;
    }
}
