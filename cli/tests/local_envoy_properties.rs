//! Every string of a profile reaches Envoy's configuration (listener,
//! cluster and secret names, CONNECT authorities, SPIFFE IDs, route
//! headers): for random valid profiles, sidecars and ambient, every proxy
//! of the plan `up` would run is accepted by Envoy (`--mode validate`), no
//! two listeners or clusters of one proxy share a name, and no two things
//! of the plan share a port.

mod common;
mod local_support;

use std::collections::BTreeSet;
use std::process::Command;

use common::random_profile::profile;
use localmesh::ca::Authority;
use localmesh::envoy::{ProxyOptions, bootstraps, write_bootstrap};
use localmesh::identity;
use localmesh::plan::{Collector, Input, Plan, Ports};
use meshgen::profile::{Layers, load};
use meshgen::validate::resolve;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

#[test]
fn random_profiles_give_proxies_envoy_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_cases(16);
    // Only the test files may be created in the repository.
    config.failure_persistence = None;
    let outcome = TestRunner::new(config).run(&profile(), |p| {
        let file = dir.path().join("profile.toml");
        std::fs::write(&file, p.toml()).unwrap();
        let layers = Layers {
            profile: file,
            ..Default::default()
        };
        let loaded = load(&layers).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        let m = resolve(&loaded).map_err(|d| TestCaseError::fail(format!("{d:?}")))?;
        let input = Input {
            stub: Some(1),
            collector: Some(("127.0.0.1".into(), 4317)),
            ..Input::default()
        };
        let plan = Plan::new(&m, &input, &mut Ports::default()).map_err(TestCaseError::fail)?;
        let mut ports: Vec<u16> = vec![plan.ingress];
        ports.extend(plan.waypoint);
        for pod in &plan.pods {
            ports.extend([pod.hop, pod.metrics, pod.inbound]);
            ports.extend(pod.outbound.values());
        }
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        if distinct.len() != ports.len() {
            return Err(TestCaseError::fail("a port planned twice"));
        }
        let ca = Authority::new().unwrap();
        let credentials = identity::mesh(&m)
            .iter()
            .map(|id| (id.name.clone(), ca.issue(id).expect("issued")))
            .collect();
        let options = ProxyOptions {
            collector: plan.collector.clone().or(Some(Collector {
                host: "127.0.0.1".into(),
                port: 4317,
            })),
            ..ProxyOptions::default()
        };
        for (name, bootstrap) in bootstraps(&m, &plan, &credentials, &options) {
            let json = serde_json::to_value(&bootstrap).unwrap();
            for kind in ["listeners", "clusters"] {
                let names: Vec<&str> = json["static_resources"][kind]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["name"].as_str().unwrap())
                    .collect();
                let unique: BTreeSet<&str> = names.iter().copied().collect();
                if unique.len() != names.len() {
                    return Err(TestCaseError::fail(format!("{name}: {kind} {names:?}")));
                }
            }
            let path = write_bootstrap(&bootstrap, dir.path(), &name.replace(' ', "-")).unwrap();
            let out = Command::new(local_support::envoy())
                .args([
                    "--mode",
                    "validate",
                    "--disable-hot-restart",
                    "-l",
                    "error",
                    "-c",
                ])
                .arg(&path)
                .output()
                .expect("envoy runs");
            if !out.status.success() {
                return Err(TestCaseError::fail(format!(
                    "{name}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        Ok(())
    });
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(why, p)) => panic!("property failed: {why}\nminimal input: {p:?}"),
        Err(e) => panic!("{e}"),
    }
}
