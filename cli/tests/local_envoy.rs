//! The Envoy target: every shipped profile, in every retry mode, with and
//! without tracing and ServiceEntries, passes `envoy --mode validate`.

mod local_support;

use std::process::Command;

use local_support::{envoy, model};
use meshgen_cli::local::RetryMode;
use meshgen_cli::local::envoy::bootstrap;
use meshgen_cli::local::ports::{LayoutInput, Ports, layout};

#[test]
fn generated_configs_pass_envoy_validate() {
    let envoy = envoy();
    let dir = tempfile::tempdir().unwrap();
    let mut profiles: Vec<String> = std::fs::read_dir(local_support::repo().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    profiles.sort();
    assert!(profiles.len() >= 3, "profiles/ holds the shipped profiles");
    let mut checked = 0;
    for p in &profiles {
        let m = model(p, None, &[]);
        let hosts: Vec<String> = m.externals.iter().map(|e| e.host.clone()).collect();
        for (stub, without, collector) in [
            (Some(1), vec![], Some(("127.0.0.1".to_string(), 4317))),
            (None, hosts.clone(), None),
        ] {
            let mut ports = Ports::default();
            let l = layout(
                &m,
                &LayoutInput {
                    stub,
                    without_service_entry: &without,
                    resolve: &[],
                    collector,
                },
                &mut ports,
            )
            .unwrap();
            for mode in RetryMode::ALL {
                let file = dir
                    .path()
                    .join(format!("{p}-{}-{checked}.json", mode.as_str()));
                let config = bootstrap(&m, &l, mode);
                std::fs::write(&file, serde_json::to_string_pretty(&config).unwrap()).unwrap();
                let out = Command::new(&envoy)
                    .args([
                        "--mode",
                        "validate",
                        "--disable-hot-restart",
                        "-l",
                        "error",
                        "-c",
                    ])
                    .arg(&file)
                    .output()
                    .expect("run envoy");
                assert!(
                    out.status.success(),
                    "{p} ({}) fails envoy --mode validate:\n{}{}",
                    mode.as_str(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, profiles.len() * 6);
}

#[test]
fn routes_follow_the_virtual_service() {
    let m = model(
        "demo.toml",
        Some("[routing.weights.middleware]\nprod = 80\ncanary = 20\n"),
        &[],
    );
    let mut ports = Ports::default();
    let l = layout(
        &m,
        &LayoutInput {
            stub: Some(1),
            without_service_entry: &[],
            resolve: &[],
            collector: None,
        },
        &mut ports,
    )
    .unwrap();
    let b = bootstrap(&m, &l, RetryMode::On);
    let listeners = b["static_resources"]["listeners"].as_array().unwrap();
    let mw = listeners
        .iter()
        .find(|x| x["name"] == "outbound_middleware")
        .expect("middleware listener");
    let routes = &mw["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
        [0]["routes"];
    // Canary header match first, then the weighted split.
    assert_eq!(routes[0]["match"]["headers"][0]["name"], "x-dev-user");
    assert_eq!(
        routes[0]["route"]["cluster"],
        "outbound|80|canary|middleware.istio101.svc.cluster.local"
    );
    let w = &routes[1]["route"]["weighted_clusters"]["clusters"];
    assert_eq!(w[0]["weight"], 80);
    assert_eq!(
        w[1]["name"],
        "outbound|80|canary|middleware.istio101.svc.cluster.local"
    );
    let retry = &routes[1]["route"]["retry_policy"];
    let meshgen::model::RetryPolicy::Retry(r) = &m.services[1].route.retries else {
        panic!("the profile sets attempts")
    };
    assert_eq!(retry["retry_on"], r.retry_on);
    assert_eq!(retry["num_retries"], 3);
    assert_eq!(retry["host_selection_retry_max_attempts"], 5);
    assert_eq!(routes[1]["route"]["timeout"], "0s");
    // Circuit breaker raised on every cluster.
    for c in b["static_resources"]["clusters"].as_array().unwrap() {
        assert_eq!(
            c["circuit_breakers"]["thresholds"][0]["max_retries"],
            4_294_967_295u64
        );
    }
}
