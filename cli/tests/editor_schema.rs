//! Editor support for the profiles: `profiles/meshgen.schema.json` is the JSON
//! Schema that `meshgen schema` prints, committed, and every shipped profile
//! names it on its first line with Taplo's schema directive (what Even Better
//! TOML and other Taplo-based editors read), by a path relative to the profile:
//!
//! ```toml
//! #:schema ./meshgen.schema.json
//! ```
//!
//! The profiles are checked against the committed schema by a real JSON Schema
//! validator, `check-jsonschema` (PyPI, reads TOML; installed into .tools/ by
//! scripts/install-test-tools), and a bad profile is shown to fail that same
//! check, so that it cannot pass for want of checking anything. When the
//! validator is missing these tests fail and say so; they never skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use hop::testkit::tool;
use serde_json::Value as Json;

/// The first line of every shipped profile.
const DIRECTIVE: &str = "#:schema ./meshgen.schema.json";

/// How to bring the committed schema up to date.
const REFRESH: &str = "cargo run -q --bin meshgen -- schema > profiles/meshgen.schema.json";

fn committed_schema() -> PathBuf {
    repo().join("profiles/meshgen.schema.json")
}

/// check-jsonschema over `instances` against the committed schema, in one run:
/// (exit code, its JSON report).
fn check_jsonschema(instances: &[PathBuf]) -> (i32, Json) {
    let validator = tool("check-jsonschema");
    let out = Command::new(&validator)
        .arg("--schemafile")
        .arg(committed_schema())
        .args(["--output-format", "json", "--color", "never"])
        .args(instances)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema printed no JSON report ({e}); exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

/// The validation and parse errors of a report, as `file: path: message`.
/// (`parse_errors` is there only when a file did not parse.)
fn errors(report: &Json) -> Vec<String> {
    let validation = report["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no `errors` in the report: {report}"));
    let parse = report["parse_errors"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    validation
        .iter()
        .chain(parse)
        .map(|e| {
            let file = e["filename"].as_str().unwrap_or("?");
            let name = Path::new(file)
                .file_name()
                .map_or(file.into(), |n| n.to_string_lossy().into_owned());
            format!(
                "{name}: {}: {}",
                e["path"].as_str().unwrap_or("?"),
                e["message"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[test]
fn committed_schema_is_what_meshgen_schema_prints() {
    let path = committed_schema();
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): write it with `{REFRESH}`",
            path.display()
        )
    });
    let run = meshgen(&["schema"]);
    assert_eq!(run.code, 0, "meshgen schema failed: {}", run.stderr);
    if committed != run.stdout.as_bytes() {
        let committed = String::from_utf8_lossy(&committed);
        let line = committed
            .lines()
            .zip(run.stdout.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || committed.lines().count().min(run.stdout.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "profiles/meshgen.schema.json differs from `meshgen schema` (first at line {line}): \
             the profile format changed; refresh the committed schema with `{REFRESH}`"
        );
    }
}

#[test]
fn every_shipped_profile_names_the_schema_on_its_first_line() {
    // The directive's path is relative to the profile, as Taplo resolves it.
    let target = DIRECTIVE.strip_prefix("#:schema ").unwrap();
    let mut wrong = Vec::new();
    for p in shipped_profiles() {
        let text = std::fs::read_to_string(&p).unwrap();
        let first = text.lines().next().unwrap_or("");
        if first != DIRECTIVE {
            wrong.push(format!("{}: first line is {first:?}", p.display()));
        }
        let schema = p.parent().unwrap().join(target);
        assert!(
            schema.is_file()
                && schema.canonicalize().unwrap() == committed_schema().canonicalize().unwrap(),
            "{}: `{DIRECTIVE}` names {}, not the committed schema",
            p.display(),
            schema.display()
        );
    }
    assert!(
        wrong.is_empty(),
        "every shipped profile starts with `{DIRECTIVE}` (Taplo's schema directive, for \
         editor completion):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_shipped_profile_validates_against_the_committed_schema() {
    // Profiles with `extends` are partial; every field of the schema is optional.
    let profiles = shipped_profiles();
    let (code, report) = check_jsonschema(&profiles);
    let found = errors(&report);
    assert!(
        code == 0 && report["status"] == "ok" && found.is_empty(),
        "check-jsonschema (exit {code}) rejects shipped profiles:\n{}\n{report}",
        found.join("\n")
    );
}

#[test]
fn check_jsonschema_rejects_an_unknown_key_and_a_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let demo = profile("demo.toml");
    let unknown = write_profile(
        dir.path(),
        "unknown-key.toml",
        &format!("{DIRECTIVE}\nextends = {demo:?}\nistio.mtsl = true\n"),
    );
    let wrong_type = write_profile(
        dir.path(),
        "wrong-type.toml",
        &format!("{DIRECTIVE}\nextends = {demo:?}\n\n[istio]\nmtls = \"yes\"\n"),
    );
    let (code, report) = check_jsonschema(&[PathBuf::from(&unknown), PathBuf::from(&wrong_type)]);
    let found = errors(&report);
    let all = found.join("\n");
    assert_eq!(code, 1, "check-jsonschema should fail: {report}");
    assert_eq!(report["status"], "fail", "{report}");
    assert_eq!(found.len(), 2, "one error per file expected:\n{all}");
    assert!(
        found.contains(
            &"unknown-key.toml: $.istio: Additional properties are not allowed ('mtsl' was unexpected)"
                .to_string()
        ),
        "{all}"
    );
    assert!(
        found
            .contains(&"wrong-type.toml: $.istio.mtls: 'yes' is not of type 'boolean'".to_string()),
        "{all}"
    );
    // meshgen refuses both too: the schema and the parser agree.
    for (path, needle) in [(&unknown, "istio.mtsl"), (&wrong_type, "istio.mtls")] {
        let run = meshgen(&["validate", path]);
        assert_ne!(run.code, 0, "meshgen accepts {path}");
        assert!(run.stderr.contains(needle), "{path}: {}", run.stderr);
    }
}
