//! Every shipped profile, laid out as `meshgen up` lays it out (a plan), with
//! mTLS on and off, traced or not, with and without ServiceEntries, and the
//! demo in every retry mode: each proxy's bootstrap (the gateway, every
//! pod's sidecar, or ztunnel and the waypoint) is accepted by Envoy (`--mode validate`),
//! and is the typed value serialized, nothing else.

mod common;

use std::collections::BTreeMap;

use localmesh::ca::{Authority, Credentials};
use localmesh::envoy::{ProxyOptions, RetryMode, bootstraps};
use localmesh::identity;
use localmesh::plan::{Collector, Input, Plan, Ports};

#[test]
fn every_profile_s_proxies_validate() {
    let mut profiles: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".toml"))
            .collect();
    profiles.sort();
    assert!(profiles.len() >= 8, "profiles/ holds the shipped profiles");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for profile in &profiles {
        // Two variants: STRICT, traced, externals stubbed; PERMISSIVE,
        // untraced, no ServiceEntry (REGISTRY_ONLY blocks or ALLOW_ANY passes).
        for mtls in [true, false] {
            let m = common::model(profile, &[&format!("istio.mtls={mtls}")]);
            let hosts: Vec<String> = m.externals.iter().map(|e| e.host.clone()).collect();
            let input = match mtls {
                true => Input {
                    stub: Some(1),
                    collector: Some(("127.0.0.1".into(), 4317)),
                    ..Input::default()
                },
                false => Input {
                    without_service_entry: &hosts,
                    ..Input::default()
                },
            };
            let plan = Plan::new(&m, &input, &mut Ports::default()).unwrap();
            let ca = Authority::new().unwrap();
            let credentials: BTreeMap<String, Credentials> = identity::mesh(&m)
                .iter()
                .map(|id| (id.name.clone(), ca.issue(id).expect("issued")))
                .collect();
            let modes: &[RetryMode] = match profile.as_str() {
                "demo.toml" | "demo-grpc.toml" => &RetryMode::ALL,
                _ => &[RetryMode::On],
            };
            for &retry_mode in modes {
                let options = ProxyOptions {
                    retry_mode,
                    // PERMISSIVE also with plain text between the proxies.
                    peer_mtls: mtls,
                    collector: plan.collector.clone().or(Some(Collector {
                        host: "collector.example".into(),
                        port: 4317,
                    })),
                };
                for (name, bootstrap) in bootstraps(&m, &plan, &credentials, &options) {
                    let what = format!("{profile} (mtls={mtls}, retries {})", retry_mode.as_str());
                    if let Err(e) = common::checks::accepted_by_envoy(dir.path(), &name, &bootstrap)
                    {
                        panic!("{what} {name}: {e}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 60, "{checked} proxies checked");
}
