//! The HTTP hop as a real process on 127.0.0.1: a 3-hop chain, the dice,
//! propagation, bad input, dead and hanging upstreams, metrics, SIGTERM.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use hop::testkit::{
    HopProcess, Protocol, Stub, StubMode, TIME_JSON, free_port, http_get, raw_http, tool,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_chain-http");

async fn hop(service: &str, version: &str, upstream: &str, extra: &[(&str, &str)]) -> HopProcess {
    HopProcess::hop(
        Path::new(BIN),
        Protocol::Http,
        (service, version),
        upstream,
        extra,
    )
    .await
}

/// frontend -> middleware -> backend -> stub.
async fn chain(stub: &Stub) -> [HopProcess; 3] {
    HopProcess::chain(Path::new(BIN), Protocol::Http, &stub.url()).await
}

/// The "<service>-<version> - <s>secs" line, seconds checked to be a number.
fn assert_hop_line(line: &str, prefix: &str) {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("`{line}` does not start with `{prefix}`"));
    let seconds = rest
        .strip_prefix(" - ")
        .and_then(|r| r.strip_suffix("secs"))
        .expect(line);
    seconds
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("`{seconds}` in `{line}`"));
}

#[tokio::test]
async fn three_hops_answer_the_chain_and_forward_headers() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let [frontend, middleware, backend] = chain(&stub).await;
    let sent = [
        ("x-request-id", "req-1"),
        ("x-dev-user", "super-secret"),
        ("fail", "0"),
        ("fail-status", "503"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("baggage", "user=alice"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
        ("x-ot-span-context", "ot"),
        ("authorization", "Bearer not-for-upstreams"),
        ("x-unrelated", "no"),
    ];
    let (status, _, text) = http_get(frontend.port, "/", &sent).await.unwrap();
    assert_eq!(status, 200, "{text}");

    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_hop_line(lines[0], "frontend-prod");
    assert_hop_line(
        lines[1],
        &format!("{} -> middleware-canary", middleware.url()),
    );
    assert_hop_line(lines[2], &format!("{} -> backend-prod", backend.url()));
    assert_eq!(lines[3], format!("{} -> {TIME_JSON}", stub.url()));

    // Tracing is off here: every listed header arrives verbatim, nothing else.
    let received = stub.received();
    assert_eq!(received.len(), 1);
    for (name, value) in &sent[..13] {
        assert_eq!(
            received[0].get(*name).map(|v| v.to_str().unwrap()),
            Some(*value),
            "{name}"
        );
    }
    assert!(!received[0].contains_key("authorization"));
    assert!(!received[0].contains_key("x-unrelated"));

    // The same chain as JSON, mirroring the proto reply.
    let (status, headers, json) = http_get(frontend.port, "/", &[("accept", "application/json")])
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let reply: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(reply["service"], "frontend");
    assert_eq!(reply["version"], "prod");
    assert!(reply["seconds"].is_f64());
    let middle = &reply["upstreams"][0];
    assert_eq!(middle["target"], middleware.url());
    assert_eq!(middle["reply"]["service"], "middleware");
    assert_eq!(middle["reply"]["version"], "canary");
    let last = &middle["reply"]["upstreams"][0]["reply"]["upstreams"][0];
    assert_eq!(last["target"], stub.url());
    assert_eq!(last["body"], TIME_JSON);
}

#[tokio::test]
async fn the_fail_dice() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let [frontend, _middleware, _backend] = chain(&stub).await;

    // fail=1: 500, empty body, and no upstream is called.
    let (status, _, body) = http_get(frontend.port, "/", &[("fail", "1")])
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (500, ""));
    assert_eq!(stub.received().len(), 0);

    // Out-of-range is clamped: 7 means always.
    let (status, _, _) = http_get(frontend.port, "/", &[("fail", "7")])
        .await
        .unwrap();
    assert_eq!(status, 500);

    // fail-status picks the code; a gRPC name maps to its HTTP code.
    let (status, _, _) = http_get(frontend.port, "/", &[("fail", "1"), ("fail-status", "503")])
        .await
        .unwrap();
    assert_eq!(status, 503);
    let (status, _, _) = http_get(
        frontend.port,
        "/",
        &[("fail", "1"), ("fail-status", "UNAVAILABLE")],
    )
    .await
    .unwrap();
    assert_eq!(status, 503);
    let (status, _, _) = http_get(frontend.port, "/", &[("fail", "1"), ("fail-status", "200")])
        .await
        .unwrap();
    assert_eq!(status, 500);

    // Nonsense never fails and never crashes; the chain is called.
    for value in ["0", "abc", "NaN", "-1", "", "1e999999x"] {
        let (status, _, text) = http_get(frontend.port, "/", &[("fail", value)])
            .await
            .unwrap();
        assert_eq!(status, 200, "fail: {value}");
        assert!(text.contains(TIME_JSON), "fail: {value}: {text}");
    }
    assert_eq!(stub.received().len(), 6);
}

#[tokio::test]
async fn a_terminal_hop_answers_the_time_as_json() {
    let backend = hop("backend", "prod", "", &[]).await;
    let (status, _, text) = http_get(backend.port, "/", &[]).await.unwrap();
    assert_eq!(status, 200);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_hop_line(lines[0], "backend-prod");
    let time: Value = serde_json::from_str(lines[1]).unwrap();
    assert!(
        time["time"].is_string() && time["milliseconds_since_epoch"].is_u64(),
        "{time}"
    );
}

#[tokio::test]
async fn bad_requests_get_clean_errors_and_the_hop_keeps_serving() {
    let mut backend = hop("backend", "prod", "", &[]).await;
    let port = backend.port;

    let huge = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    assert!(
        raw_http(port, huge.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    let many: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nhost: x\r\n{many}\r\n");
    assert!(
        raw_http(port, many.as_bytes())
            .await
            .starts_with("HTTP/1.1 431")
    );
    assert!(
        raw_http(port, b"GARBAGE\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 400")
    );
    assert!(
        raw_http(port, b"GET / HTTP/1.1\r\nbad header\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 400")
    );
    // Bytes that are not text in `fail`: ignored, like any unusable value.
    let binary = b"GET / HTTP/1.1\r\nhost: x\r\nfail: \xff\xfe\r\nconnection: close\r\n\r\n";
    assert!(raw_http(port, binary).await.starts_with("HTTP/1.1 200"));
    assert!(
        raw_http(
            port,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .await
        .starts_with("HTTP/1.1 405")
    );
    assert_eq!(http_get(port, "/nope", &[]).await.unwrap().0, 404);
    // A client that sends half a request and goes away.
    let _ = raw_http(port, b"GET / HTTP/1.1\r\nhost").await;

    assert!(backend.is_running());
    assert_eq!(http_get(port, "/healthz", &[]).await.unwrap().0, 200);
    assert_eq!(http_get(port, "/", &[]).await.unwrap().0, 200);
}

#[tokio::test]
async fn dead_and_hanging_upstreams_answer_within_the_timeout() {
    let hanging = Stub::start(StubMode::Hang).await;
    let dead_http = format!("http://127.0.0.1:{}/", free_port());
    let dead_grpc = format!("grpc://127.0.0.1:{}", free_port());
    let upstream = format!("{dead_http},{},{dead_grpc}", hanging.url());
    let frontend = hop(
        "frontend",
        "prod",
        &upstream,
        &[("UPSTREAM_TIMEOUT", "300ms")],
    )
    .await;

    for _ in 0..2 {
        // Bounded by the test client's own timeout (10 s); the hop gives up after 300 ms.
        let (status, _, text) = http_get(frontend.port, "/", &[]).await.unwrap();
        assert_eq!(status, 200, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].starts_with(&format!("{dead_http} -> RequestError: ")),
            "{text}"
        );
        assert!(lines[1].contains("onnection refused"), "{text}");
        assert_eq!(
            lines[2],
            format!("{} -> TimeoutError: no answer within 300ms", hanging.url())
        );
        assert!(
            lines[3].starts_with(&format!("{dead_grpc} -> Status: UNAVAILABLE")),
            "{text}"
        );
    }
    assert_eq!(hanging.received().len(), 2);

    let metrics = http_get(frontend.metrics_port, "/metrics", &[])
        .await
        .unwrap()
        .2;
    let timeouts = format!(
        "chain_upstream_calls_total{{target=\"{}\",outcome=\"timeout\"}} 2",
        hanging.url()
    );
    assert!(metrics.contains(&timeouts), "{metrics}");
    let errors =
        format!("chain_upstream_calls_total{{target=\"{dead_http}\",outcome=\"error\"}} 2");
    assert!(metrics.contains(&errors), "{metrics}");
}

#[tokio::test]
async fn metrics_pass_promtool() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let frontend = hop("frontend", "prod", &stub.url(), &[("WORK", "true")]).await;
    for fail in ["0", "1"] {
        http_get(frontend.port, "/", &[("fail", fail)])
            .await
            .unwrap();
    }
    let (status, headers, text) = http_get(frontend.metrics_port, "/metrics", &[])
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    for needle in [
        "chain_requests_total{status=\"200\"} 1",
        "chain_requests_total{status=\"500\"} 1",
        "chain_request_duration_seconds_count{status=\"200\"} 1",
        &format!(
            "chain_upstream_calls_total{{target=\"{}\",outcome=\"ok\"}} 1",
            stub.url()
        ),
        "chain_upstream_call_duration_seconds_bucket{",
        "fib_count_total{service=\"frontend\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    promtool_accepts(&text);

    // Prometheus itself negotiates OpenMetrics.
    let (_, headers, open) = http_get(
        frontend.metrics_port,
        "/metrics",
        &[("accept", "application/openmetrics-text")],
    )
    .await
    .unwrap();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(open.ends_with("# EOF\n"));
}

fn promtool_accepts(text: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let hanging = Stub::start(StubMode::Hang).await;
    let mut frontend = hop(
        "frontend",
        "prod",
        &hanging.url(),
        &[("UPSTREAM_TIMEOUT", "1s")],
    )
    .await;
    let port = frontend.port;
    let in_flight = tokio::spawn(async move { http_get(port, "/", &[]).await });
    hop::testkit::wait_until(
        "the request to reach the upstream",
        Duration::from_secs(10),
        || async { !hanging.received().is_empty() },
    )
    .await;
    frontend.sigterm();
    let (status, _, text) = in_flight.await.unwrap().unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("TimeoutError"), "{text}");
    assert!(frontend.wait(Duration::from_secs(30)).await.success());
}

#[tokio::test]
async fn configuration_errors_exit_with_a_message() {
    let output = std::process::Command::new(BIN)
        .env_clear()
        .env("UPSTREAM", "ftp://nope/")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("UPSTREAM: `ftp://nope/`"), "{stderr}");

    // A pod's name reaches every answer: only a Kubernetes name passes, and
    // bytes that are not UTF-8 are refused by name, never read as unset.
    use std::os::unix::ffi::OsStrExt as _;
    let long = "a".repeat(254);
    let bad: [&[u8]; 5] = [
        b"p1\nhttp://bank/ -> {}",
        b"p\x1b]0;owned\x07",
        b"Backend-0",
        long.as_bytes(),
        b"g\xff\x01x",
    ];
    for value in bad {
        let output = std::process::Command::new(BIN)
            .env_clear()
            .env("POD_NAME", std::ffi::OsStr::from_bytes(value))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value:?}: {stderr}");
        assert!(stderr.contains("POD_NAME"), "{value:?}: {stderr}");
    }
}

/// `EXTERNAL_STUB=true` (the in-cluster stub of `stub_external`): the hop
/// answers the time like the external API it stands in for, and never rolls
/// the `fail` the chain forwards to it.
#[tokio::test]
async fn an_external_stub_answers_the_time_and_ignores_fail() {
    let stub = HopProcess::start(
        Path::new(BIN),
        Protocol::Http,
        &[
            ("SERVICE_NAME", "time.jsontest.com"),
            ("SERVICE_VERSION", "stub"),
            ("EXTERNAL_STUB", "true"),
        ],
    )
    .await;
    for _ in 0..20 {
        let (status, headers, body) = http_get(stub.port, "/", &[("fail", "1")]).await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["content-type"], "application/json");
        // The API's own answer, as the local stub of `meshgen up --stub-external` gives it.
        let json: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(json["milliseconds_since_epoch"].is_u64(), "{body}");
    }
    // Without the flag the same hop fails every time.
    let hop = HopProcess::start(Path::new(BIN), Protocol::Http, &[]).await;
    let (status, _, _) = http_get(hop.port, "/", &[("fail", "1")]).await.unwrap();
    assert_eq!(status, 500);
}
