//! The Gateway API and ambient profiles under the local mesh, both protocols:
//! their routes come from the same model as the classic form's, so canary,
//! retries and the egress lock must behave as they do there, except where
//! the Gateway API or ambient mode says otherwise: a GRPCRoute has no retries
//! of its own (Istio's default policy applies, which leaves the hop's INTERNAL
//! alone), and ztunnel does not enforce REGISTRY_ONLY, so the ambient profiles
//! allow any egress and meshgen refuses the lock there.
//! Statistical bounds are at least 4 standard deviations wide; nothing is timed.

mod local_support;

use local_support::{drive, model, one_mesh_at_a_time, options, start, start_mode};
use meshgen::model::{DataPlane, Egress, Protocol, RetryPolicy, RoutingApi};
use meshgen_cli::local::{Options, RetryMode};

const CANARY: (&str, &str) = ("x-dev-user", "super-secret");

async fn behaves_like_the_classic_form(profile: &str, data_plane: DataPlane) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(profile, None, &[]);
    assert_eq!(m.mesh.routing_api, RoutingApi::GatewayApi);
    assert_eq!(m.mesh.data_plane, data_plane);
    let protocol = m.wire.protocol;
    let host = m.externals[0].host.clone();
    let mesh = start_mode(m.clone(), RetryMode::On).await;

    // Canary by header, 20/20 each way.
    let with = drive(&mesh, 20, &[CANARY]).await;
    assert_eq!(with.successes(), 20, "{:?}", with.samples[0].error);
    assert_eq!(with.count("middleware", "canary"), 20);
    let without = drive(&mesh, 20, &[]).await;
    assert_eq!(without.count("middleware", "prod"), 20);

    // fail=0.3 at each of 3 hops: (1 - 0.3)^3 = 0.343 without retries.
    let out = drive(&mesh, 100, &[("fail", "0.3")]).await;
    let ok = out.successes();
    match (protocol, &m.services[0].route.retries) {
        // HTTPRoute retry, codes 500/502/503/504, 3 attempts: (1 - 0.3^4)^3 = 0.976;
        // 93 is 4.2 sd below it.
        (Protocol::Http, RetryPolicy::Retry(r)) => {
            assert_eq!(r.status_codes, [500, 502, 503, 504]);
            assert!(ok >= 93, "HTTPRoute retries hid only {ok}/100 failures");
        }
        // A GRPCRoute: Istio's default policy, which does not retry INTERNAL:
        // 0.343, sd 0.047; 60 is 5.5 sd above it.
        (Protocol::Grpc, RetryPolicy::Default) => {
            assert!(ok <= 60, "{ok}/100: INTERNAL was retried");
        }
        (p, r) => panic!("{profile}: unexpected {p:?} retries {r:?}"),
    }
    drop(mesh);

    // Without the ServiceEntry: with sidecars, REGISTRY_ONLY blocks the
    // external API; in ambient mode nothing does.
    let without_entry = Options {
        without_service_entry: vec![host],
        ..options()
    };
    let egress = m.mesh.egress;
    let mesh = start(m, &without_entry).await;
    let out = drive(&mesh, 20, &[]).await;
    match data_plane {
        DataPlane::Sidecar => {
            assert_eq!(egress, Egress::RegistryOnly);
            assert_eq!(out.successes(), 0);
            for s in &out.samples {
                let e = s.error.as_deref().unwrap_or_default();
                assert!(e.contains("backend") && e.contains("502"), "{e}");
            }
        }
        DataPlane::Ambient => {
            assert_eq!(egress, Egress::AllowAny);
            assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_gateway_api() {
    behaves_like_the_classic_form("demo-gateway-api.toml", DataPlane::Sidecar).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gateway_api() {
    behaves_like_the_classic_form("demo-grpc-gateway-api.toml", DataPlane::Sidecar).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ambient() {
    behaves_like_the_classic_form("demo-ambient.toml", DataPlane::Ambient).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_ambient() {
    behaves_like_the_classic_form("demo-grpc-ambient.toml", DataPlane::Ambient).await;
}
