//! The strict validators of rendered documents, shared by schemas.rs (the
//! shipped profiles) and properties.rs (random profiles). Each outside program
//! runs once for all the documents it is given (they are slow to start):
//! - core kinds: `kubernetes-validate --strict -k 1.33.0` (PyPI);
//! - Istio kinds: `@kubernetes-models/istio@3` (npm, Node 22), through
//!   tests/schema/validate-istio.mjs;
//! - Istio and Gateway API kinds, strictly (unknown fields, types, enums,
//!   patterns, bounds), against the CRDs' openAPIV3Schema vendored in
//!   tests/schema/ (Gateway API: v1.4.1, experimental channel);
//! - YAML 1.1, as kubectl reads it: PyYAML, from kubernetes-validate's
//!   environment, through tests/common/yaml11.py.
//!
//! Documents come as `(where, document)`: `where` names the document's origin
//! in messages. The programs are installed by `scripts/test` (into .tools/);
//! a missing one fails the test and says so, never skips it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hop::testkit::tool;
use serde::Deserialize;
use serde_json::Value as Json;

pub const HOW: &str =
    "run scripts/test (it installs the test tools into .tools/ via scripts/install-test-tools)";

/// A rendered document and where it comes from.
pub type Doc = (String, Json);

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

pub fn is_istio(doc: &Json) -> bool {
    doc["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .contains(".istio.io/")
}

pub fn is_gateway_api(doc: &Json) -> bool {
    doc["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .starts_with("gateway.networking.k8s.io/")
}

/// Kinds the vendored CRDs define (Istio's and the Gateway API's).
pub fn is_crd_kind(doc: &Json) -> bool {
    is_istio(doc) || is_gateway_api(doc)
}

pub fn is_core(doc: &Json) -> bool {
    matches!(
        doc["apiVersion"].as_str().unwrap_or_default(),
        "v1" | "apps/v1" | "rbac.authorization.k8s.io/v1" | "networking.k8s.io/v1"
    )
}

/// The documents no validator covers, as messages.
pub fn uncovered(docs: &[Doc]) -> Vec<String> {
    docs.iter()
        .filter(|(_, d)| !is_core(d) && !is_crd_kind(d))
        .map(|(at, d)| format!("{at}: no validator for {}", d["apiVersion"]))
        .collect()
}

/// Runs `cmd`: its stdout and stderr if it succeeds, else `Err` showing them.
fn output(cmd: &mut Command) -> Result<(String, String), String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}: {HOW}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok((stdout, stderr))
    } else {
        Err(format!("{stdout}\n{stderr}"))
    }
}

/// `at` as a file name: `/`, spaces and the like made `-`.
fn file_name(at: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '.';
    at.chars().map(|c| if safe(c) { c } else { '-' }).collect()
}

/// `kubernetes-validate --strict` over the core documents of `docs`, one file
/// per `where`; how many passed, all of them or `Err`.
pub fn kubernetes_validate(docs: &[Doc]) -> Result<usize, String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut by_origin: BTreeMap<&str, String> = BTreeMap::new();
    for (at, doc) in docs.iter().filter(|(_, d)| is_core(d)) {
        let text = by_origin.entry(at).or_default();
        text.push_str("---\n");
        text.push_str(&serde_norway::to_string(doc).unwrap());
    }
    let files: Vec<PathBuf> = by_origin
        .iter()
        .enumerate()
        .map(|(i, (at, text))| {
            let path = tmp.path().join(format!("{i:03}-{}", file_name(at)));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let mut kv = Command::new(tool("kubernetes-validate"));
    kv.args(["--strict", "-k", "1.33.0"]).args(&files);
    let (stdout, stderr) =
        output(&mut kv).map_err(|e| format!("kubernetes-validate failed:\n{e}"))?;
    let expected = docs.iter().filter(|(_, d)| is_core(d)).count();
    let passed = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("passed for resource"))
        .count();
    if passed != expected {
        return Err(format!(
            "every core document must be validated, not skipped: {passed} of {expected} passed:\n{stdout}\n{stderr}"
        ));
    }
    Ok(passed)
}

/// NODE_PATH as set (by scripts/test) or .tools/node_modules; it must hold the models.
pub fn node_path() -> String {
    let np = std::env::var("NODE_PATH")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            super::repo()
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

/// `@kubernetes-models/istio` over the Istio documents of `docs`; how many
/// passed, all of them or `Err`.
pub fn kubernetes_models(docs: &[Doc]) -> Result<usize, String> {
    let items: Vec<Json> = docs
        .iter()
        .filter(|(_, d)| is_istio(d))
        .map(|(at, d)| serde_json::json!({ "file": at, "doc": d }))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("istio-docs.json");
    std::fs::write(&input, serde_json::to_vec(&items).unwrap()).unwrap();
    let script = tests_dir().join("schema/validate-istio.mjs");
    let mut node = Command::new(tool("node"));
    node.arg(&script).arg(&input).env("NODE_PATH", node_path());
    let (stdout, stderr) =
        output(&mut node).map_err(|e| format!("Istio validation failed:\n{e}"))?;
    let summary = format!("validated {} Istio resources, 0 failures", items.len());
    if !stdout.contains(&summary) {
        return Err(format!("expected `{summary}`:\n{stdout}\n{stderr}"));
    }
    Ok(items.len())
}

/// group -> kind -> version -> openAPIV3Schema
pub type Crds = BTreeMap<String, BTreeMap<String, BTreeMap<String, Json>>>;

/// The vendored CRDs: Istio's, and the Gateway API's v1.4.1 experimental
/// channel (a superset of the standard one; HTTPRoute `retry` is in it only).
pub fn crds() -> Crds {
    let mut out = Crds::new();
    for file in [
        "istio-crds.yaml",
        "gateway-api-v1.4.1-experimental-crds.yaml",
    ] {
        let text = std::fs::read_to_string(tests_dir().join("schema").join(file)).unwrap();
        read_crds(&text, &mut out);
    }
    out
}

fn read_crds(text: &str, out: &mut Crds) {
    for de in serde_norway::Deserializer::from_str(text) {
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
}

/// Checks the spec of the Istio document `doc` against its CRD, adding what
/// is wrong to `errors`; whether it was checked (the IstioOperator is not one
/// of Istio's CRDs any more: istioctl reads it, and kubernetes-models checks it).
pub fn crd_check(crds: &Crds, at: &str, doc: &Json, errors: &mut Vec<String>) -> bool {
    let (group, version) = doc["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .split_once('/')
        .unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    if group == "install.istio.io" {
        return false;
    }
    let Some(schema) = crds
        .get(group)
        .and_then(|g| g.get(kind))
        .and_then(|k| k.get(version))
    else {
        errors.push(format!("{at}: no CRD schema for {group}/{version} {kind}"));
        return true;
    };
    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    walk(
        &doc["spec"],
        &schema["properties"]["spec"],
        &format!("{at} {kind}/{name} spec"),
        errors,
    );
    true
}

/// Checks `value` against an OpenAPI v3 structural schema: unknown fields,
/// types, enums and required fields.
pub fn walk(value: &Json, schema: &Json, path: &str, errors: &mut Vec<String>) {
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
    bounds(value, schema, path, errors);
    if let Some(obj) = value.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}: missing required field {r}"));
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
                let path = format!("{path}.{k}");
                walk(v, &schema["additionalProperties"], &path, errors);
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            walk(v, schema, &format!("{path}[{i}]"), errors);
        }
    }
}

/// `pattern`, `maxLength`, `minimum`, `maximum`, `maxItems`, `minItems` (the
/// CEL rules, `x-kubernetes-validations`, need an API server).
fn bounds(value: &Json, schema: &Json, path: &str, errors: &mut Vec<String>) {
    if let (Some(text), Some(pattern)) = (value.as_str(), schema["pattern"].as_str()) {
        let re = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{path}: {pattern}: {e}"));
        if !re.is_match(text) {
            errors.push(format!("{path}: {value} does not match {pattern}"));
        }
    }
    if let (Some(text), Some(max)) = (value.as_str(), schema["maxLength"].as_u64())
        && text.chars().count() as u64 > max
    {
        errors.push(format!("{path}: {value} is longer than {max}"));
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            errors.push(format!("{path}: {n} is below {}", schema["minimum"]));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            errors.push(format!("{path}: {n} is above {}", schema["maximum"]));
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if schema["maxItems"].as_u64().is_some_and(|max| n > max) {
            errors.push(format!("{path}: {n} items, at most {}", schema["maxItems"]));
        }
        if schema["minItems"].as_u64().is_some_and(|min| n < min) {
            errors.push(format!(
                "{path}: {n} items, at least {}",
                schema["minItems"]
            ));
        }
    }
}

/// Every check above over `docs`, each program run once.
pub fn strict(docs: &[Doc]) -> Result<(), String> {
    let mut errors = uncovered(docs);
    let crds = crds();
    for (at, doc) in docs.iter().filter(|(_, d)| is_crd_kind(d)) {
        crd_check(&crds, at, doc, &mut errors);
    }
    if !errors.is_empty() {
        return Err(format!(
            "Istio CRD schema violations:\n{}",
            errors.join("\n")
        ));
    }
    kubernetes_validate(docs)?;
    kubernetes_models(docs)?;
    Ok(())
}

/// The Python interpreter of kubernetes-validate's environment (it has PyYAML).
fn python() -> String {
    let kv = tool("kubernetes-validate");
    let script =
        std::fs::read_to_string(kv.canonicalize().unwrap_or(kv.clone())).unwrap_or_default();
    script
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| panic!("{} is not a Python script with PyYAML: {HOW}", kv.display()))
}

/// Whether a YAML 1.1 reader (PyYAML) reads each rendered `text` as the
/// documents `docs` meshgen meant. `items` are `{"where", "profile", "text",
/// "docs"}` objects; `Err` shows the first differences.
pub fn yaml11_reads_the_same(items: &[Json]) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("yaml11.json");
    std::fs::write(&input, serde_json::to_vec(items).unwrap()).unwrap();
    let reader = tests_dir().join("common/yaml11.py");
    let mut python = Command::new(python());
    python.arg(&reader).arg(&input);
    output(&mut python).map(drop).map_err(|e| {
        format!("rendered YAML means something else to YAML 1.1 readers such as kubectl:\n{e}")
    })
}
