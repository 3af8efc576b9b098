//! The local mesh with a real Envoy and the real chain binaries, both protocols:
//! canary routing, weights, retries (profile / none / Istio default), egress
//! control and one trace across Envoy and every hop. Statistical bounds are at
//! least 4 standard deviations wide; nothing is timed.

mod local_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use local_support::{demo, drive, model, one_mesh_at_a_time, options, start, start_mode};
use meshgen::model::Protocol;
use meshgen_cli::local::{Options, RetryMode};

const CANARY: (&str, &str) = ("x-dev-user", "super-secret");

async fn canary_and_weights(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let mut mesh = start_mode(model(demo(protocol), None, &[]), RetryMode::On).await;
    let with = drive(&mesh, 100, &[CANARY]).await;
    assert_eq!(with.successes(), 100, "{:?}", with.samples[0].error);
    assert_eq!(with.count("middleware", "canary"), 100);
    assert_eq!(with.count("middleware", "prod"), 0);
    let without = drive(&mesh, 100, &[]).await;
    assert_eq!(without.successes(), 100);
    assert_eq!(without.count("middleware", "prod"), 100);
    assert_eq!(without.count("middleware", "canary"), 0);
    mesh.stop();

    // A canary on a header of the profile's own: every hop in front of the
    // route must forward it (the hop configuration's FORWARD_HEADERS).
    let own = "[routing.canary.middleware]\nheader = \"x-canary\"\nvalue = \"beta\"\n";
    let mut mesh = start_mode(model(demo(protocol), Some(own), &[]), RetryMode::On).await;
    let with = drive(&mesh, 20, &[("x-canary", "beta")]).await;
    assert_eq!(with.successes(), 20, "{:?}", with.samples[0].error);
    assert_eq!(with.count("middleware", "canary"), 20);
    let without = drive(&mesh, 20, &[CANARY]).await;
    assert_eq!(without.count("middleware", "prod"), 20);
    mesh.stop();

    let weights = "[routing.weights.middleware]\nprod = 80\ncanary = 20\n";
    let mesh = start_mode(model(demo(protocol), Some(weights), &[]), RetryMode::On).await;
    let out = drive(&mesh, 1000, &[]).await;
    assert_eq!(out.successes(), 1000);
    let canary = out.count("middleware", "canary") as f64 / 1000.0;
    // sd = sqrt(0.2 * 0.8 / 1000) = 0.013: +-0.05 is about 4 sd.
    assert!(
        (0.15..=0.25).contains(&canary),
        "canary share {canary}, expected 0.20"
    );
    assert_eq!(
        out.count("middleware", "prod") + out.count("middleware", "canary"),
        1000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_canary_and_weights() {
    canary_and_weights(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_canary_and_weights() {
    canary_and_weights(Protocol::Grpc).await;
}

const N: usize = 600;

/// Success ratio and retries made for one load with `headers`.
async fn ratio(mesh: &meshgen_cli::local::Mesh, headers: &[(&str, &str)]) -> (f64, u64) {
    let before = mesh.retries().await.expect("stats");
    let out = drive(mesh, N, headers).await;
    let after = mesh.retries().await.expect("stats");
    eprintln!(
        "{:?} retries {} {headers:?}: success {:.3}, {} Envoy retries",
        mesh.protocol(),
        mesh.mode.as_str(),
        out.success_ratio(),
        after - before
    );
    (out.success_ratio(), after - before)
}

async fn retries(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let hops = 3; // frontend, middleware, backend each roll `fail`
    let expected_off = 0.7f64.powi(hops);
    // sd at 0.343 over 600 requests: 0.019; +-0.09 is about 4.7 sd.
    let off_bounds = (expected_off - 0.09)..=(expected_off + 0.09);
    let fail = [("fail", "0.3")];

    let mut mesh = start_mode(model(demo(protocol), None, &[]), RetryMode::Off).await;
    let (off, off_retries) = ratio(&mesh, &fail).await;
    assert!(
        off_bounds.contains(&off),
        "retries off: {off}, expected ~{expected_off:.3}"
    );
    assert_eq!(off_retries, 0);

    mesh.set_retry_mode(RetryMode::On).await.unwrap();
    let (on, on_retries) = ratio(&mesh, &fail).await;
    // Theory (1 - 0.3^4)^3 = 0.976; sd 0.006.
    assert!(on > 0.93, "profile retries: {on}, expected ~0.976");
    assert!(
        on_retries > 100,
        "profile retries made {on_retries} retries"
    );

    // Istio's default policy: the hop's own failure (HTTP 500 / gRPC INTERNAL) is not retried.
    mesh.set_retry_mode(RetryMode::Default).await.unwrap();
    let (default, default_retries) = ratio(&mesh, &fail).await;
    assert!(
        off_bounds.contains(&default),
        "default policy with 500/INTERNAL: {default}, expected ~{expected_off:.3}"
    );
    assert_eq!(
        default_retries, 0,
        "500 / INTERNAL must not be retried by default"
    );

    match protocol {
        Protocol::Grpc => {
            // ... but UNAVAILABLE is: (1 - 0.3^3)^3 = 0.92.
            let (r, n) = ratio(&mesh, &[("fail", "0.3"), ("fail-status", "UNAVAILABLE")]).await;
            assert!(
                r > 0.85,
                "default policy with UNAVAILABLE: {r}, expected ~0.92"
            );
            assert!(n > 50, "UNAVAILABLE retried {n} times");
        }
        Protocol::Http => {
            // Istio >= 1.24: 503 is not retried by default either.
            let (r, n) = ratio(&mesh, &[("fail", "0.3"), ("fail-status", "503")]).await;
            assert!(off_bounds.contains(&r), "default policy with 503: {r}");
            assert_eq!(n, 0, "503 must not be retried by default");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_retries() {
    retries(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_retries() {
    retries(Protocol::Grpc).await;
}

async fn egress(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let locked = model(demo(protocol), None, &[]);
    assert_eq!(locked.mesh.egress, meshgen::model::Egress::RegistryOnly);
    let host = locked.externals[0].host.clone();

    // With its ServiceEntry (what render writes), the external API answers.
    let mesh = start(locked.clone(), &options()).await;
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
    drop(mesh);

    // Without one, REGISTRY_ONLY blocks it the way Istio does: HTTP 502, empty body.
    let without = Options {
        without_service_entry: vec![host.clone()],
        ..options()
    };
    let mesh = start(locked, &without).await;
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 0);
    for s in &out.samples {
        let e = s.error.as_deref().unwrap_or_default();
        assert!(e.contains("backend") && e.contains("502"), "{e}");
    }
    drop(mesh);

    // ALLOW_ANY lets it through without a ServiceEntry.
    let open = model(demo(protocol), None, &["istio.egress=\"ALLOW_ANY\""]);
    let mesh = start(open, &without).await;
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_egress() {
    egress(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_egress() {
    egress(Protocol::Grpc).await;
}

async fn tracing(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let receiver = hop::testkit::OtlpReceiver::start().await;
    let m = model(demo(protocol), None, &[]);
    assert!(m.mesh.tracing.is_some());
    let ns = m.namespace.clone();
    // Two spellings users write: the hops get http://HOST:PORT either way.
    let endpoint = match protocol {
        Protocol::Http => receiver.endpoint(),
        Protocol::Grpc => receiver.endpoint().replace("http://127.0.0.1", "localhost") + "/",
    };
    let opts = Options {
        otlp_endpoint: Some(endpoint),
        ..options()
    };
    let mesh = start(m, &opts).await;
    let out = drive(&mesh, 1, &[]).await;
    assert_eq!(out.successes(), 1);

    // Envoy: the gateway and the three sidecars playing the callers; hops: their own names.
    let want: BTreeSet<String> = [
        "istio-ingressgateway.istio-system".to_string(),
        format!("frontend.{ns}"),
        format!("middleware.{ns}"),
        format!("backend.{ns}"),
        "frontend".into(),
        "middleware".into(),
        "backend".into(),
    ]
    .into();
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let mut by_trace: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in receiver.spans() {
            by_trace.entry(s.trace_id).or_default().insert(s.service);
        }
        if by_trace.values().any(|services| want.is_subset(services)) {
            break;
        }
        assert!(
            Instant::now() < end,
            "no trace spans every Envoy and hop within 30s: {by_trace:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_tracing() {
    tracing(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_tracing() {
    tracing(Protocol::Grpc).await;
}

/// canary-weights.toml: the backend route aborts 10% (HTTP 503 / gRPC UNAVAILABLE)
/// and delays 5%; injected faults are never retried, even with the profile's retries.
async fn fault(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let sets: &[&str] = match protocol {
        Protocol::Http => &[],
        Protocol::Grpc => &["protocol=\"grpc\""],
    };
    let mesh = start_mode(model("canary-weights.toml", None, sets), RetryMode::On).await;
    let before = mesh.retries().await.unwrap();
    let out = drive(&mesh, 600, &[]).await;
    let retried = mesh.retries().await.unwrap() - before;
    let ok = out.success_ratio();
    // sd at 0.9 over 600: 0.012; +-0.06 is 5 sd.
    assert!((0.84..=0.96).contains(&ok), "fault 10%: success {ok}");
    assert_eq!(retried, 0, "injected faults are not retried");
    let code = match protocol {
        Protocol::Http => "503",
        Protocol::Grpc => "UNAVAILABLE",
    };
    for s in out.samples.iter().filter(|s| !s.ok) {
        let e = s.error.as_deref().unwrap_or_default();
        assert!(e.contains("middleware") && e.contains(code), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_fault() {
    fault(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_fault() {
    fault(Protocol::Grpc).await;
}

/// `stub_external = true`: the profile deploys its own stub of the external
/// API, so the local mesh needs no `--stub-external` and no internet; the stub
/// answers like the real API (the hop that stands in for it in a cluster
/// ignores `fail`: chain-http/tests/http_chain.rs).
async fn profile_stub(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(demo(protocol), None, &["stub_external=true"]);
    assert!(m.externals.iter().all(|e| e.stub));
    let opts = Options {
        stub_external: false,
        ..options()
    };
    let mesh = start(m, &opts).await;
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_profile_stub() {
    profile_stub(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_profile_stub() {
    profile_stub(Protocol::Grpc).await;
}
