//! Every shipped profile's manifests through a real security scanner: checkov
//! (PyPI, installed by scripts/install-test-tools) with its Kubernetes checks.
//! No check may fail. The checks skipped everywhere are in
//! tests/security/checkov.yaml, those skipped for one addon in its template's
//! `checkov.io/skipN` annotations, each with its reason.

mod common;

use std::process::Command;

use common::*;
use hop::testkit::tool;
use serde_json::Value as Json;

#[test]
fn checkov_passes_every_shipped_profile() {
    let checkov = tool("checkov");
    let config = repo().join("cli/tests/security/checkov.yaml");
    for profile in shipped_profiles() {
        // Not render(): checkov skips directories whose name starts with a dot,
        // which tempfile's default names do.
        let dir = tempfile::Builder::new()
            .prefix("meshgen-scan-")
            .tempdir()
            .unwrap();
        let rendered = meshgen(&[
            "render",
            &profile.display().to_string(),
            "-o",
            &dir.path().join("out").display().to_string(),
        ]);
        assert_eq!(rendered.code, 0, "{}", rendered.stderr);
        let out = Command::new(&checkov)
            .arg("--config-file")
            .arg(&config)
            .arg("--directory")
            .arg(dir.path().join("out"))
            .args(["--output", "json", "--quiet", "--skip-download"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", checkov.display()));
        // Exit code 1 means failed checks; the report says which.
        let report: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "checkov printed no JSON report ({e}); exit {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let summary = &report["summary"];
        let count = |key: &str| summary[key].as_u64().unwrap_or_else(|| panic!("{report}"));
        let failed: Vec<String> = report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} {} ({}): {}",
                    c["check_id"].as_str().unwrap_or("?"),
                    c["resource"].as_str().unwrap_or("?"),
                    c["file_path"].as_str().unwrap_or("?"),
                    c["check_name"].as_str().unwrap_or("?"),
                )
            })
            .collect();
        let name = profile.file_name().unwrap().to_string_lossy();
        assert_eq!(count("parsing_errors"), 0, "{name}: {summary}");
        assert!(count("resource_count") >= 20, "{name}: {summary}");
        assert!(count("passed") >= 500, "{name}: {summary}");
        assert!(
            failed.is_empty(),
            "{name}: checkov failed {} check(s):\n{}",
            failed.len(),
            failed.join("\n")
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {summary}");
    }
}
