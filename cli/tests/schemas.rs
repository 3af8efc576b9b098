//! Every document rendered from every shipped profile, checked against real schemas:
//! - core kinds with `kubernetes-validate --strict -k 1.33.0` (PyPI);
//! - Istio kinds with `@kubernetes-models/istio@3` (npm, Node 22), through
//!   tests/schema/validate-istio.mjs;
//! - Istio kinds again, strictly, against the Istio CRDs' openAPIV3Schema vendored in
//!   tests/schema/istio-crds.yaml (the npm models accept unknown fields).
//!
//! The outside programs are installed by `scripts/test` (into .tools/). When one is
//! missing these tests fail and say so; they never skip.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use hop::testkit::tool;
use serde::Deserialize;
use serde_json::Value as Json;

const HOW: &str =
    "run scripts/test (it installs the test tools into .tools/ via scripts/install-test-tools)";

fn node_path() -> String {
    let np = std::env::var("NODE_PATH")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| repo().join(".tools/node_modules").display().to_string());
    let found = std::env::split_paths(&np)
        .any(|d| d.join("@kubernetes-models/istio/package.json").is_file());
    assert!(
        found,
        "@kubernetes-models/istio is not in NODE_PATH ({np}): {HOW}"
    );
    np
}

/// (profile file name, rendered file, document) for every shipped profile.
fn all_documents() -> Vec<(String, String, Json)> {
    let mut out = Vec::new();
    for p in shipped_profiles() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let dir = render(&[&p.display().to_string()]);
        for (file, doc) in documents(&dir.path().join("out")) {
            let json: Json = serde_json::to_value(&doc).unwrap();
            out.push((name.clone(), file, json));
        }
    }
    out
}

fn is_istio(doc: &Json) -> bool {
    doc["apiVersion"].as_str().unwrap().contains(".istio.io/")
}

fn is_core(doc: &Json) -> bool {
    let api = doc["apiVersion"].as_str().unwrap();
    matches!(
        api,
        "v1" | "apps/v1" | "rbac.authorization.k8s.io/v1" | "networking.k8s.io/v1"
    )
}

#[test]
fn every_document_is_covered_by_a_validator() {
    for (p, f, d) in all_documents() {
        assert!(
            is_core(&d) || is_istio(&d),
            "{p} {f}: no validator for {}",
            d["apiVersion"]
        );
    }
}

#[test]
fn core_kinds_pass_kubernetes_validate_strict() {
    let kv = tool("kubernetes-validate");
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut count = 0;
    let mut by_file: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    let docs = all_documents();
    for (p, f, d) in &docs {
        if is_core(d) {
            by_file
                .entry(format!("{p}--{}", f.replace('/', "-")))
                .or_default()
                .push(d);
            count += 1;
        }
    }
    for (name, docs) in by_file {
        let path = tmp.path().join(name);
        let text: String = docs
            .iter()
            .map(|d| format!("---\n{}", serde_norway::to_string(d).unwrap()))
            .collect();
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let out = Command::new(&kv)
        .args(["--strict", "-k", "1.33.0"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}: {HOW}", kv.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubernetes-validate failed:\n{stdout}\n{stderr}"
    );
    let passed = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("passed for resource"))
        .count();
    assert_eq!(
        passed, count,
        "every core document must be validated, not skipped:\n{stdout}\n{stderr}"
    );
}

#[test]
fn istio_kinds_pass_kubernetes_models() {
    let node = tool("node");
    let np = node_path();
    let items: Vec<Json> = all_documents()
        .into_iter()
        .filter(|(_, _, d)| is_istio(d))
        .map(|(p, f, d)| serde_json::json!({ "file": format!("{p}: {f}"), "doc": d }))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("docs.json");
    std::fs::write(&input, serde_json::to_vec(&items).unwrap()).unwrap();
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
        "Istio validation failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "validated {} Istio resources, 0 failures",
            items.len()
        )),
        "{stdout}\n{stderr}"
    );
}

/// group -> kind -> version -> openAPIV3Schema
type Crds = BTreeMap<String, BTreeMap<String, BTreeMap<String, Json>>>;

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

/// Checks `value` against an OpenAPI v3 structural schema: unknown fields, types,
/// enums and required fields.
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

#[test]
fn istio_kinds_have_no_unknown_fields() {
    let crds = crds();
    let mut errors = Vec::new();
    let mut checked = 0;
    for (p, f, d) in all_documents().iter().filter(|(_, _, d)| is_istio(d)) {
        let (group, version) = d["apiVersion"].as_str().unwrap().split_once('/').unwrap();
        let kind = d["kind"].as_str().unwrap();
        if group == "install.istio.io" {
            // The IstioOperator CRD is not part of Istio's CRDs any more (istioctl reads
            // the file itself); kubernetes-models checks it.
            continue;
        }
        let schema = crds
            .get(group)
            .and_then(|g| g.get(kind))
            .and_then(|k| k.get(version))
            .unwrap_or_else(|| panic!("{p} {f}: no CRD schema for {group}/{version} {kind}"));
        let name = d["metadata"]["name"].as_str().unwrap();
        walk(
            &d["spec"],
            &schema["properties"]["spec"],
            &format!("{p} {f} {kind}/{name} spec"),
            &mut errors,
        );
        checked += 1;
    }
    assert!(checked > 20, "too few Istio documents checked: {checked}");
    assert!(
        errors.is_empty(),
        "Istio CRD schema violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_strict_walk_rejects_what_it_should() {
    let crds = crds();
    let vs = &crds["networking.istio.io"]["VirtualService"]["v1"]["properties"]["spec"];
    let mut errors = Vec::new();
    let bad = serde_json::json!({
        "hosts": ["a"],
        "http": [{"retries": {"attempts": "3", "retryon": "5xx"}}]
    });
    walk(&bad, vs, "spec", &mut errors);
    let all = errors.join("\n");
    assert!(all.contains("unknown field `retryon`"), "{all}");
    assert!(all.contains("attempts: \"3\" is not of type"), "{all}");
}
