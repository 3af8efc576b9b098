//! `render --kustomization` with a real, current kubectl (kustomize inside):
//! `kubectl kustomize out` yields exactly the objects of `render -o -`, in
//! apply order, and an overlay on out/ patches them.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use hop::testkit::tool;
use serde::Deserialize;
use serde_norway::Value;

/// The documents of a YAML stream, numbers as floats: kustomize writes a
/// percentage of `100.0` as `100`, the same number.
fn stream(text: &str) -> Vec<Value> {
    fn floats(v: Value) -> Value {
        match v {
            Value::Number(n) => Value::from(n.as_f64().expect("a number")),
            Value::Sequence(s) => Value::Sequence(s.into_iter().map(floats).collect()),
            Value::Mapping(m) => {
                Value::Mapping(m.into_iter().map(|(k, v)| (k, floats(v))).collect())
            }
            other => other,
        }
    }
    serde_norway::Deserializer::from_str(text)
        .map(|de| floats(Value::deserialize(de).unwrap()))
        .filter(|v| !v.is_null())
        .collect()
}

fn kustomize(dir: &Path) -> Vec<Value> {
    let out = Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stream(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn kubectl_kustomize_builds_the_render_in_apply_order() {
    let demo = profile("demo.toml");
    let dir = render(&[&demo, "--kustomization"]);
    let out = dir.path().join("out");
    let r = meshgen(&["render", &demo, "-o", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = stream(&r.stdout);
    assert!(expected.len() > 40);
    assert_eq!(kustomize(&out), expected);

    // An overlay on out/, as a cluster's own kustomization would be (fifo too:
    // kustomize sorts each kustomization's output by kind otherwise).
    let overlay = dir.path().join("overlay");
    std::fs::create_dir(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "resources:\n- ../out\nsortOptions:\n  order: fifo\npatches:\n- target:\n    kind: Deployment\n    \
         name: frontend-prod\n  patch: |-\n    - op: replace\n      path: /spec/replicas\n      value: 3\n",
    )
    .unwrap();
    let patched = kustomize(&overlay);
    assert_eq!(patched.len(), expected.len());
    for (p, e) in patched.iter().zip(&expected) {
        if p["kind"] == "Deployment" && p["metadata"]["name"] == "frontend-prod" {
            assert_eq!(p["spec"]["replicas"].as_f64(), Some(3.0));
        } else {
            assert_eq!(p, e);
        }
    }
}

#[test]
fn the_kustomization_is_written_only_when_asked_and_then_kept_fresh() {
    let demo = profile("demo.toml");
    let dir = render(&[&demo]);
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    assert!(!out.join("kustomization.yaml").exists());
    let r = meshgen(&["render", &demo, "--kustomization", "-o", &out_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("kustomization.yaml").is_file());
    let r = meshgen(&["render", &demo, "--kustomization", "--check", "-o", &out_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Rendering without it again removes it, as any file the render no longer makes.
    let r = meshgen(&["render", &demo, "-o", &out_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!out.join("kustomization.yaml").exists());

    let r = meshgen(&["render", &demo, "--kustomization", "-o", "-"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--kustomization needs a directory"),
        "{}",
        r.stderr
    );
}
