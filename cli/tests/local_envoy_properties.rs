//! Every string of a profile reaches Envoy's configuration (listener,
//! cluster and secret names, CONNECT authorities, SPIFFE IDs, route
//! headers): for random valid profiles, sidecars and ambient, every proxy
//! of the plan `up` would run is accepted by Envoy (`--mode validate`), no
//! two listeners or clusters of one proxy share a name, and no two things
//! of the plan share a port.

#[path = "../../localmesh/tests/common/checks.rs"]
mod checks;
mod common;

use common::random_profile::profile;
use localmesh::ca::Authority;
use localmesh::envoy::{ProxyOptions, bootstraps};
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
        checks::ports_once(&plan).map_err(TestCaseError::fail)?;
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
            checks::accepted_by_envoy(dir.path(), &name, &bootstrap)
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        }
        Ok(())
    });
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(why, p)) => panic!("property failed: {why}\nminimal input: {p:?}"),
        Err(e) => panic!("{e}"),
    }
}
