//! Every document rendered from every shipped profile, checked against real schemas:
//! - core kinds with `kubernetes-validate --strict -k 1.33.0` (PyPI);
//! - Istio kinds with `@kubernetes-models/istio@3` (npm, Node 22), through
//!   tests/schema/validate-istio.mjs;
//! - Istio and Gateway API kinds, strictly (unknown fields, types, enums,
//!   patterns, bounds), against the CRDs' openAPIV3Schema vendored in
//!   tests/schema/ (the npm models accept unknown fields): Istio's, and the
//!   Gateway API v1.4.1 experimental channel, the version Istio 1.28 supports.
//!
//! The validators live in tests/common/schema.rs (properties.rs uses them too).
//! The outside programs are installed by `scripts/test` (into .tools/). When one is
//! missing these tests fail and say so; they never skip.

mod common;

use common::schema::{self, Doc};
use common::*;
use serde_json::Value as Json;

/// Every document rendered from every shipped profile, as
/// (`{profile} {rendered file}`, document).
fn all_documents() -> Vec<Doc> {
    let mut out = Vec::new();
    for p in shipped_profiles() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let dir = render(&[&p.display().to_string()]);
        for (file, doc) in documents(&dir.path().join("out")) {
            let json: Json = serde_json::to_value(&doc).unwrap();
            out.push((format!("{name} {file}"), json));
        }
    }
    out
}

#[test]
fn every_document_is_covered_by_a_validator() {
    let uncovered = schema::uncovered(&all_documents());
    assert!(uncovered.is_empty(), "{}", uncovered.join("\n"));
}

#[test]
fn core_kinds_pass_kubernetes_validate_strict() {
    let docs = all_documents();
    let passed = schema::kubernetes_validate(&docs).unwrap_or_else(|e| panic!("{e}"));
    assert!(passed > 0, "no core document validated");
}

#[test]
fn istio_kinds_pass_kubernetes_models() {
    let docs = all_documents();
    let passed = schema::kubernetes_models(&docs).unwrap_or_else(|e| panic!("{e}"));
    assert!(passed > 0, "no Istio document validated");
}

#[test]
fn crd_kinds_have_no_unknown_fields() {
    let crds = schema::crds();
    let mut errors = Vec::new();
    let mut checked = 0;
    for (at, doc) in all_documents()
        .iter()
        .filter(|(_, d)| schema::is_crd_kind(d))
    {
        if schema::crd_check(&crds, at, doc, &mut errors) {
            checked += 1;
        }
    }
    assert!(checked > 20, "too few Istio documents checked: {checked}");
    assert!(
        errors.is_empty(),
        "CRD schema violations (Istio, Gateway API):\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_strict_walk_rejects_what_it_should() {
    let crds = schema::crds();
    let vs = &crds["networking.istio.io"]["VirtualService"]["v1"]["properties"]["spec"];
    let mut errors = Vec::new();
    let bad = serde_json::json!({
        "hosts": ["a"],
        "http": [{"retries": {"attempts": "3", "retryon": "5xx"}}]
    });
    schema::walk(&bad, vs, "spec", &mut errors);
    let all = errors.join("\n");
    assert!(all.contains("unknown field `retryon`"), "{all}");
    assert!(all.contains("attempts: \"3\" is not of type"), "{all}");
}

#[test]
fn the_strict_walk_checks_gateway_api_patterns_and_bounds() {
    let crds = schema::crds();
    let route = &crds["gateway.networking.k8s.io"]["HTTPRoute"]["v1"]["properties"]["spec"];
    let mut errors = Vec::new();
    // Istio writes "1.005s"; the Gateway API only takes "1s5ms".
    let bad = serde_json::json!({
        "rules": [{
            "timeouts": {"backendRequest": "1.005s"},
            "retry": {"attempts": 3, "codes": [200]}
        }]
    });
    schema::walk(&bad, route, "spec", &mut errors);
    let all = errors.join("\n");
    assert!(
        all.contains("backendRequest: \"1.005s\" does not match"),
        "{all}"
    );
    assert!(all.contains("codes[0]: 200 is below 400"), "{all}");
}
