//! No credential header leaves a hop, whatever its configuration says: the
//! external API is one of the upstreams a hop calls, and a recording stub on
//! 127.0.0.1 stands in for it.

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
