//! No credential header leaves a hop, whatever its configuration says, and
//! no route header reaches an API outside the mesh, whatever it is named:
//! recording stubs on 127.0.0.1 stand in for the upstreams.

use hop::metrics::Metrics;
use hop::telemetry::Telemetry;
use hop::testkit::{Stub, StubMode, TIME_JSON};
use hop::upstream::Upstreams;
use hop::{HopConfig, Protocol, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;

/// A configuration built in code, past `HopConfig::from_env` (which refuses
/// such a `FORWARD_HEADERS`), forwarding credentials by name.
#[tokio::test]
async fn an_upstream_never_receives_credentials() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let mut config = HopConfig::new(Protocol::Http, "frontend", "prod");
    config.upstreams = vec![Target::parse(&stub.url()).unwrap()];
    config.forward_headers = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-canary",
    ]
    .map(HeaderName::from_static)
    .to_vec();
    let upstreams = Upstreams::new(&config).unwrap();

    let mut incoming = HeaderMap::new();
    for (name, value) in [
        ("authorization", "Bearer caller-token"),
        ("proxy-authorization", "Basic cHJveHk="),
        ("cookie", "session=caller"),
        ("x-api-key", "caller-key"),
        ("x-canary", "yes"),
        ("x-dev-user", "tester"),
    ] {
        incoming.insert(name, HeaderValue::from_static(value));
    }
    let (telemetry, metrics) = (Telemetry::off(), Metrics::new("frontend"));
    let replies = upstreams
        .call_all(&incoming, None, &Context::new(), &telemetry, &metrics)
        .await;
    assert_eq!(replies.len(), 1);

    let received = stub.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got["x-canary"], "yes");
    assert_eq!(got["x-dev-user"], "tester");
    for name in [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    ] {
        assert!(!got.contains_key(name), "{name} reached the upstream");
    }
}

/// A hop refuses, by the variable's name, a `FORWARD_HEADERS` naming a
/// credential, so no environment can make it forward one.
#[test]
fn forward_headers_naming_a_credential_are_refused() {
    for value in ["authorization", "x-canary,cookie", "proxy-authorization"] {
        let err = HopConfig::from_env(Protocol::Http, |k| {
            (k == "FORWARD_HEADERS").then(|| value.to_owned())
        })
        .unwrap_err();
        assert_eq!(err.var(), "FORWARD_HEADERS", "{err}");
        assert!(err.to_string().contains("credentials"), "{err}");
    }
}

/// A route header goes to the chain's own upstreams, where routes match on
/// it, and never to an API outside the mesh (`EXTERNAL_UPSTREAMS`): a
/// credential under a name no list knows still stays in the cluster.
#[tokio::test]
async fn route_headers_never_reach_an_external_api() {
    let (chain, api) = (
        Stub::start(StubMode::Answer(TIME_JSON)).await,
        Stub::start(StubMode::Answer(TIME_JSON)).await,
    );
    let (chain_url, api_url) = (chain.url(), api.url());
    let env = |key: &str| match key {
        "UPSTREAM" => Some(format!("{chain_url},{api_url}")),
        "EXTERNAL_UPSTREAMS" => Some(api_url.clone()),
        "FORWARD_HEADERS" => Some("x-canary,x-tenant-handle".to_owned()),
        _ => None,
    };
    let config = HopConfig::from_env(Protocol::Http, env).unwrap();
    let upstreams = Upstreams::new(&config).unwrap();
    let mut incoming = HeaderMap::new();
    for (name, value) in [
        ("x-canary", "yes"),
        ("x-tenant-handle", "caller-secret"),
        ("x-dev-user", "tester"),
        ("x-request-id", "r1"),
    ] {
        incoming.insert(name, HeaderValue::from_static(value));
    }
    let (telemetry, metrics) = (Telemetry::off(), Metrics::new("frontend"));
    upstreams
        .call_all(&incoming, None, &Context::new(), &telemetry, &metrics)
        .await;

    let inside = &chain.received()[0];
    assert_eq!(inside["x-canary"], "yes");
    assert_eq!(inside["x-tenant-handle"], "caller-secret");
    let outside = &api.received()[0];
    assert!(!outside.contains_key("x-canary"), "{outside:?}");
    assert!(!outside.contains_key("x-tenant-handle"), "{outside:?}");
    // Nor the app's own: the demo's canary header and the failure dice stay
    // in the mesh too. The request id goes on, for the API's own logs.
    assert!(!outside.contains_key("x-dev-user"), "{outside:?}");
    assert_eq!(outside["x-request-id"], "r1");
    assert_eq!(inside["x-dev-user"], "tester");
}

/// `EXTERNAL_UPSTREAMS` names entries of `UPSTREAM`, or the hop refuses it.
#[test]
fn external_upstreams_must_be_upstreams() {
    let err = HopConfig::from_env(Protocol::Http, |k| match k {
        "UPSTREAM" => Some("http://backend/".to_owned()),
        "EXTERNAL_UPSTREAMS" => Some("http://api.example.com/".to_owned()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.var(), "EXTERNAL_UPSTREAMS", "{err}");
}
