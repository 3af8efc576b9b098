//! `compare --experiment`: each experiment on the resilience profiles over
//! HTTP and gRPC, on the local mesh (real Envoys and hops). Every figure the
//! settings predict must be measured within its tolerance, and the protocols
//! must part ways where Envoy and Kubernetes make them: one long-lived gRPC
//! connection without a mesh reaches one pod of three; without a
//! per-connection limit, a 1-connection pool refuses HTTP/1.1 requests and
//! none of gRPC's; a route timeout reads 504 over HTTP and UNAVAILABLE over
//! gRPC.

mod local_support;

use local_support::{model, one_mesh_at_a_time, options};
use meshgen::model::Protocol;
use meshgen_cli::local::experiment::{self, Experiment, Finding};

/// The experiment's findings on resilience.toml and resilience-grpc.toml.
async fn run(e: Experiment) -> Vec<Finding> {
    let _turn = one_mesh_at_a_time().await;
    let mut findings = Vec::new();
    for profile in ["resilience.toml", "resilience-grpc.toml"] {
        let m = model(profile, None, &[]);
        experiment::run(&[e], profile, &m, &options(), &mut findings)
            .await
            .unwrap_or_else(|err| panic!("{} on {profile}: {err}", e.name()));
    }
    assert!(
        findings.iter().any(|f| f.protocol == Protocol::Http)
            && findings.iter().any(|f| f.protocol == Protocol::Grpc),
        "{findings:#?}"
    );
    findings
}

/// Every predicted figure agrees with the measured one.
fn all_agree(findings: &[Finding]) {
    let differ: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.agrees() == Some(false))
        .collect();
    assert!(
        differ.is_empty(),
        "measured beside expected differ: {differ:#?}"
    );
    assert!(
        findings.iter().any(|f| f.expected.is_some()),
        "nothing predicted: {findings:#?}"
    );
}

fn one<'a>(findings: &'a [Finding], p: Protocol, setting: &str, measure: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.protocol == p && f.setting.contains(setting) && f.measure.contains(measure))
        .unwrap_or_else(|| panic!("no {setting} / {measure} for {p:?}: {findings:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancing_pins_one_grpc_connection_to_one_pod_without_a_mesh() {
    let f = run(Experiment::LoadBalancing).await;
    all_agree(&f);
    assert_eq!(one(&f, Protocol::Grpc, "bare", "reached").measured, 1.0);
    assert_eq!(one(&f, Protocol::Http, "bare", "reached").measured, 3.0);
    for p in [Protocol::Http, Protocol::Grpc] {
        assert_eq!(one(&f, p, "mesh", "reached").measured, 3.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_breaking_overflows_http_where_grpc_multiplexes() {
    let f = run(Experiment::CircuitBreaking).await;
    all_agree(&f);
    for p in [Protocol::Http, Protocol::Grpc] {
        let task = one(
            &f,
            p,
            "Istio's task: 1 connection, 1 pending, 1 request per connection: concurrency 8",
            "refused",
        );
        assert!(task.measured > 0.3, "{task:#?}");
    }
    let http = one(
        &f,
        Protocol::Http,
        "1 connection, 1 pending: concurrency 8",
        "refused",
    );
    assert!(http.measured > 0.3, "{http:#?}");
    let grpc = one(
        &f,
        Protocol::Grpc,
        "1 connection, 1 pending: concurrency 8",
        "refused",
    );
    assert_eq!(grpc.measured, 0.0, "{grpc:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_detection_ejects_the_failing_pod_over_both_protocols() {
    let f = run(Experiment::OutlierDetection).await;
    all_agree(&f);
    for p in [Protocol::Http, Protocol::Grpc] {
        assert!(one(&f, p, "fails every request", "ejections").measured >= 1.0);
        let windows = f.iter().filter(|x| x.protocol == p && x.plotted).count();
        assert!(windows >= 6, "success over time, {windows} windows: {f:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_read_504_over_http_and_unavailable_over_grpc() {
    let f = run(Experiment::Timeouts).await;
    all_agree(&f);
    let http = one(&f, Protocol::Http, "answers in 900ms", "timed out");
    assert!(
        http.note.contains("504") && http.note.contains("upstream request timeout"),
        "{http:#?}"
    );
    let grpc = one(&f, Protocol::Grpc, "answers in 900ms", "timed out");
    assert!(
        grpc.note.contains("UNAVAILABLE") && grpc.note.contains("upstream request timeout"),
        "{grpc:#?}"
    );
    // The gRPC caller's deadline ends the call before the route's timeout.
    one(&f, Protocol::Grpc, "client deadline", "p50 latency");
    assert!(
        f.iter()
            .all(|x| x.protocol == Protocol::Grpc || !x.setting.contains("deadline"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirroring_copies_the_share_asked_and_its_failures_never_reach_the_caller() {
    let f = run(Experiment::Mirroring).await;
    all_agree(&f);
    for p in [Protocol::Http, Protocol::Grpc] {
        for percent in ["20%", "50%"] {
            assert_eq!(one(&f, p, percent, "callers' success").measured, 1.0);
        }
    }
}

#[test]
fn unknown_or_conflicting_experiments_are_refused_before_anything_runs() {
    let refused = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshgen"))
            .arg("compare")
            .arg(local_support::profile_path("resilience.toml"))
            .args(args)
            .output()
            .expect("meshgen runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = refused(&["--experiment", "retries"]);
    assert!(
        e.contains("load-balancing") && e.contains("mirroring"),
        "{e}"
    );
    let e = refused(&["--experiment", "timeouts", "--cost"]);
    assert!(e.contains("--cost"), "{e}");
    let e = refused(&["--experiment", "timeouts", "--fail", "0.3"]);
    assert!(e.contains("--fail"), "{e}");
}

/// `compare --ingress URL --experiment ...` on a mesh already running (here
/// a local one standing in for a cluster): the profile's own settings, the
/// pods counted from their names, the delay asked by the `delay` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_mesh_runs_the_experiments_it_allows() {
    let _turn = one_mesh_at_a_time().await;
    let mut findings = Vec::new();
    for profile in ["resilience.toml", "resilience-grpc.toml"] {
        let m = model(profile, None, &[]);
        let mesh = local_support::start(m.clone(), &options()).await;
        let url = format!("{}/", mesh.ingress_url());
        let chosen = Experiment::ALL;
        experiment::run_deployed(&chosen, profile, &m, &url, &mut findings)
            .await
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
    }
    all_agree(&findings);
    let ran: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.experiment.name()).collect();
    assert_eq!(
        ran,
        ["circuit-breaking", "load-balancing", "timeouts"].into(),
        "outlier detection and mirroring need a pod made to fail: local only"
    );
    for p in [Protocol::Http, Protocol::Grpc] {
        assert_eq!(one(&findings, p, "deployed", "reached").measured, 3.0);
        assert_eq!(
            one(&findings, p, "asked to wait 4000ms", "timed out").measured,
            1.0
        );
    }
}

/// Ambient: the waypoint balances, limits and mirrors as a sidecar would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambient_plays_the_experiments_at_the_waypoint() {
    let _turn = one_mesh_at_a_time().await;
    let mut f = Vec::new();
    let runs = [
        ("demo-grpc-ambient.toml", Experiment::LoadBalancing),
        ("demo-grpc-ambient.toml", Experiment::CircuitBreaking),
        ("demo-ambient.toml", Experiment::Mirroring),
    ];
    for (profile, e) in runs {
        let m = model(profile, None, &[]);
        experiment::run(&[e], profile, &m, &options(), &mut f)
            .await
            .unwrap_or_else(|err| panic!("{} on {profile}: {err}", e.name()));
    }
    assert!(
        f.iter()
            .all(|x| x.data_plane == meshgen::model::DataPlane::Ambient)
    );
    all_agree(&f);
    assert_eq!(one(&f, Protocol::Grpc, "bare", "reached").measured, 1.0);
    assert_eq!(one(&f, Protocol::Grpc, "mesh", "reached").measured, 3.0);
    let grpc = one(
        &f,
        Protocol::Grpc,
        "1 connection, 1 pending: concurrency 8",
        "refused",
    );
    assert_eq!(grpc.measured, 0.0, "{grpc:#?}");
    assert_eq!(
        one(&f, Protocol::Http, "50%", "callers' success").measured,
        1.0
    );
}
