//! The Grafana dashboard's queries: valid PromQL (Prometheus' own promtool
//! parses them as recording rules), and the hops' metrics they name are what a
//! real hop serves on /metrics.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;
use hop::testkit::{HopProcess, Protocol, http_get, tool, workspace_binary};
use serde_json::Value as Json;

/// Every panel query of the dashboard that `demo.toml` renders.
fn dashboard_queries() -> Vec<String> {
    let dir = render(&[&profile("demo.toml")]);
    let docs = documents(&dir.path().join("out"));
    let config_map = find(&docs, "ConfigMap", "grafana-dashboards-meshgen");
    let data = config_map["data"].as_mapping().unwrap();
    let (_, text) = data.iter().next().expect("one dashboard");
    let dashboard: Json = serde_json::from_str(text.as_str().unwrap()).unwrap();
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(queries.len() >= 6, "{queries:?}");
    queries
}

#[test]
fn dashboard_queries_are_valid_promql() {
    let promtool = tool("promtool");
    let tmp = tempfile::tempdir().unwrap();
    let rules: Vec<Json> = dashboard_queries()
        .iter()
        .enumerate()
        .map(|(i, expr)| {
            // Grafana fills $namespace in; any regex will do for parsing.
            let expr = expr.replace("$namespace", ".*");
            serde_json::json!({ "record": format!("dashboard:panel{i}"), "expr": expr })
        })
        .collect();
    let file = tmp.path().join("dashboard-rules.yaml");
    let groups = serde_json::json!({ "groups": [{ "name": "dashboard", "rules": rules }] });
    std::fs::write(&file, serde_norway::to_string(&groups).unwrap()).unwrap();
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    assert!(
        out.status.success(),
        "promtool check rules:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_hop_metrics_the_dashboard_names_are_served_by_a_real_hop() {
    let binary = workspace_binary("chain-http");
    let backend = hop_process(&binary, "backend", "", &[]).await;
    let frontend = hop_process(&binary, "frontend", &backend.url(), &[("WORK", "true")]).await;
    let (status, _, _) = http_get(frontend.port, "/", &[]).await.unwrap();
    assert_eq!(status, 200);
    let (_, _, metrics) = http_get(frontend.metrics_port, "/metrics", &[])
        .await
        .unwrap();

    // Series names and label names of what the hop serves.
    let mut served = BTreeSet::new();
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = line.split_once(['{', ' ']).unwrap();
        served.insert(name.to_owned());
        for pair in rest
            .split_once('}')
            .map_or("", |(labels, _)| labels)
            .split(',')
        {
            if let Some((label, _)) = pair.split_once('=') {
                served.insert(label.to_owned());
            }
        }
    }
    let mut named = 0;
    for query in dashboard_queries() {
        let words = query.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        for metric in words.filter(|w| w.starts_with("chain_") || w.starts_with("fib_")) {
            assert!(
                served.contains(metric),
                "{metric} is not served:\n{metrics}"
            );
            named += 1;
            // The labels it groups by, except those Prometheus adds (pod labels, namespace).
            let by = query
                .split_once("by (")
                .unwrap()
                .1
                .split_once(')')
                .unwrap()
                .0;
            for label in by.split(',').map(str::trim) {
                if !["app", "version", "namespace"].contains(&label) {
                    assert!(
                        served.contains(label),
                        "label {label} of {metric}:\n{metrics}"
                    );
                }
            }
        }
    }
    assert!(named >= 2, "the dashboard names no hop metric");
}

async fn hop_process(
    binary: &Path,
    name: &str,
    upstream: &str,
    extra: &[(&str, &str)],
) -> HopProcess {
    HopProcess::hop(binary, Protocol::Http, (name, "prod"), upstream, extra).await
}
