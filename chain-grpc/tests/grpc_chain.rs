//! The gRPC hop as a real process on 127.0.0.1: a 3-hop chain, the dice
//! (trailers-only INTERNAL checked on the wire), health, reflection with the
//! real grpcurl, bad metadata, dead and hanging upstreams, metrics, SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use chain_proto::Answer;
use hop::testkit::{
    HopProcess, Protocol, Stub, StubMode, TIME_JSON, free_port, grpc_call, grpc_serving, http_get,
    tool,
};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tonic::Code;

const BIN: &str = env!("CARGO_BIN_EXE_chain-grpc");

async fn hop(service: &str, version: &str, upstream: &str, extra: &[(&str, &str)]) -> HopProcess {
    HopProcess::hop(
        Path::new(BIN),
        Protocol::Grpc,
        (service, version),
        upstream,
        extra,
    )
    .await
}

/// frontend -> middleware -> backend (all gRPC) -> stub (an HTTP API).
async fn chain(stub: &Stub) -> [HopProcess; 3] {
    HopProcess::chain(Path::new(BIN), Protocol::Grpc, &stub.url()).await
}

#[tokio::test]
async fn three_hops_answer_the_chain_and_forward_metadata() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let [frontend, middleware, backend] = chain(&stub).await;
    let sent = [
        ("x-request-id", "req-1"),
        ("x-dev-user", "super-secret"),
        ("fail", "0"),
        ("fail-status", "UNAVAILABLE"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("baggage", "user=alice"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-sampled", "1"),
        (
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        ),
        ("authorization", "Bearer not-for-upstreams"),
    ];
    let (_, reply) = grpc_call(frontend.port, &sent).await.unwrap();

    assert_eq!(
        (reply.service.as_str(), reply.version.as_str()),
        ("frontend", "prod")
    );
    assert!(reply.seconds > 0.0);
    assert_eq!(reply.upstreams.len(), 1);
    assert_eq!(reply.upstreams[0].target, middleware.url());
    let Some(Answer::Reply(middle)) = &reply.upstreams[0].answer else {
        panic!("{reply:?}")
    };
    assert_eq!(
        (middle.service.as_str(), middle.version.as_str()),
        ("middleware", "canary")
    );
    assert_eq!(middle.upstreams[0].target, backend.url());
    let Some(Answer::Reply(back)) = &middle.upstreams[0].answer else {
        panic!("{reply:?}")
    };
    assert_eq!(back.service, "backend");
    assert_eq!(back.upstreams[0].target, stub.url());
    assert_eq!(
        back.upstreams[0].answer,
        Some(Answer::Body(TIME_JSON.into()))
    );

    let text = hop::Reply::from(reply).to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("frontend-prod - ") && lines[0].ends_with("secs"),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!("{} -> middleware-canary - ", middleware.url())),
        "{text}"
    );
    assert_eq!(lines[3], format!("{} -> {TIME_JSON}", stub.url()));

    let received = stub.received();
    assert_eq!(received.len(), 1);
    for (name, value) in &sent[..11] {
        assert_eq!(
            received[0].get(*name).map(|v| v.to_str().unwrap()),
            Some(*value),
            "{name}"
        );
    }
    assert!(!received[0].contains_key("authorization"));
}

#[tokio::test]
async fn the_fail_dice() {
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let [frontend, _middleware, _backend] = chain(&stub).await;

    let status = grpc_call(frontend.port, &[("fail", "1")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(stub.received().len(), 0, "a failing hop calls no upstream");
    let status = grpc_call(
        frontend.port,
        &[("fail", "1"), ("fail-status", "UNAVAILABLE")],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let status = grpc_call(frontend.port, &[("fail", "1"), ("fail-status", "503")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let status = grpc_call(frontend.port, &[("fail", "7")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);

    for value in ["0", "abc", "NaN", "-1", ""] {
        let (_, reply) = grpc_call(frontend.port, &[("fail", value)]).await.unwrap();
        assert_eq!(reply.service, "frontend", "fail: {value}");
    }
    assert_eq!(stub.received().len(), 5);
}

/// A raw HTTP/2 call, to see where `grpc-status` travels.
async fn raw_grpc_call(
    port: u16,
    metadata: &[(&str, &str)],
) -> (http::HeaderMap, Bytes, Option<http::HeaderMap>) {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    // An empty CallRequest: not compressed, length 0.
    let mut request = http::Request::post(format!("http://127.0.0.1:{port}/chain.v1.Hop/Call"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in metadata {
        // from_bytes: also lets a test send bytes that are not visible ASCII.
        request = request.header(
            *name,
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    let request = request
        .body(Full::new(Bytes::from_static(&[0, 0, 0, 0, 0])))
        .unwrap();
    let call = async {
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap();
        let trailers = body.trailers().cloned();
        (headers, body.to_bytes(), trailers)
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("raw call within 10s")
}

#[tokio::test]
async fn a_failing_hop_answers_trailers_only_on_the_wire() {
    let backend = hop("backend", "prod", "", &[]).await;

    let (headers, body, trailers) = raw_grpc_call(backend.port, &[("fail", "1")]).await;
    assert_eq!(
        headers.get("grpc-status").map(|v| v.to_str().unwrap()),
        Some("13"),
        "{headers:?}"
    );
    // grpc-message is percent-encoded on the wire.
    assert_eq!(
        headers.get("grpc-message").map(|v| v.to_str().unwrap()),
        Some("fail%20dice")
    );
    assert!(body.is_empty(), "trailers-only: no message");
    assert!(
        trailers.is_none(),
        "trailers-only: the status is in the headers, nothing follows"
    );

    // Success, for contrast: the status comes in real trailers after the message.
    let (headers, body, trailers) = raw_grpc_call(backend.port, &[]).await;
    assert!(!headers.contains_key("grpc-status"));
    assert!(body.len() > 5);
    assert_eq!(trailers.unwrap().get("grpc-status").unwrap(), "0");
}

#[tokio::test]
async fn health_and_reflection_with_grpcurl() {
    let grpcurl = tool("grpcurl");
    let backend = hop("backend", "prod", "", &[]).await;
    assert!(grpc_serving(backend.port, "").await);
    assert!(grpc_serving(backend.port, "chain.v1.Hop").await);

    let address = format!("127.0.0.1:{}", backend.port);
    let run = |args: &[&str]| {
        Command::new(&grpcurl)
            .args(["-plaintext", "-max-time", "10"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("grpcurl")
    };
    let list = run(&[&address, "list"]);
    assert!(list.status.success(), "{list:?}");
    let services = String::from_utf8_lossy(&list.stdout);
    assert!(services.lines().any(|l| l == "chain.v1.Hop"), "{services}");
    assert!(
        services.lines().any(|l| l == "grpc.health.v1.Health"),
        "{services}"
    );

    let describe = run(&[&address, "describe", "chain.v1.Reply"]);
    assert!(
        String::from_utf8_lossy(&describe.stdout).contains("repeated .chain.v1.Upstream upstreams"),
        "{describe:?}"
    );

    let call = run(&["-d", "{}", &address, "chain.v1.Hop/Call"]);
    assert!(call.status.success(), "{call:?}");
    let reply: serde_json::Value = serde_json::from_slice(&call.stdout).unwrap();
    assert_eq!(reply["service"], "backend");
    assert!(
        reply["body"]
            .as_str()
            .unwrap()
            .contains("milliseconds_since_epoch")
    );

    let failing = run(&["-rpc-header", "fail: 1", &address, "chain.v1.Hop/Call"]);
    assert!(!failing.status.success());
    let output = String::from_utf8_lossy(&failing.stderr).to_string()
        + &String::from_utf8_lossy(&failing.stdout);
    assert!(output.contains("Code: Internal"), "{output}");

    let health = run(&[
        "-d",
        r#"{"service":"chain.v1.Hop"}"#,
        &address,
        "grpc.health.v1.Health/Check",
    ]);
    assert!(
        String::from_utf8_lossy(&health.stdout).contains("SERVING"),
        "{health:?}"
    );
}

#[tokio::test]
async fn dead_and_hanging_upstreams_answer_within_the_deadline() {
    let hanging_http = Stub::start(StubMode::Hang).await;
    // Accepts connections (the kernel does) but never speaks HTTP/2.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging_grpc = format!("grpc://127.0.0.1:{}", silent.local_addr().unwrap().port());
    let dead_grpc = format!("grpc://127.0.0.1:{}", free_port());
    let upstream = format!("{dead_grpc},{hanging_grpc},{}", hanging_http.url());
    let frontend = hop(
        "frontend",
        "prod",
        &upstream,
        &[("UPSTREAM_TIMEOUT", "300ms")],
    )
    .await;

    for _ in 0..2 {
        let (_, reply) = grpc_call(frontend.port, &[]).await.unwrap();
        let text = hop::Reply::from(reply).to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[1].starts_with(&format!("{dead_grpc} -> Status: UNAVAILABLE")),
            "{text}"
        );
        assert!(
            lines[2].starts_with(&format!("{hanging_grpc} -> ")),
            "{text}"
        );
        assert!(
            lines[2].contains("Timeout") || lines[2].contains("DEADLINE_EXCEEDED"),
            "{text}"
        );
        assert_eq!(
            lines[3],
            format!(
                "{} -> TimeoutError: no answer within 300ms",
                hanging_http.url()
            )
        );
    }
    drop(silent);
}

/// The hop keeps one HTTP/2 connection per gRPC upstream: when the upstream
/// goes away (SIGTERM: GOAWAY, then exit) and comes back on the same port,
/// the next call opens a new connection.
#[tokio::test]
async fn a_restarted_grpc_upstream_is_reconnected() {
    let mut backend = hop("backend", "prod", "", &[]).await;
    let port = backend.port.to_string();
    let frontend = hop("frontend", "prod", &backend.url(), &[]).await;
    let upstream_answer = || async {
        let (_, reply) = grpc_call(frontend.port, &[]).await.unwrap();
        hop::Reply::from(reply)
            .to_text()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };

    assert!(upstream_answer().await.contains("-> backend-prod - "));
    assert!(backend.terminate().await.success());
    let down = upstream_answer().await;
    assert!(down.contains("-> Status: UNAVAILABLE"), "{down}");
    let _backend = hop("backend", "v2", "", &[("PORT", &port)]).await;
    for _ in 0..3 {
        assert!(upstream_answer().await.contains("-> backend-v2 - "));
    }
}

#[tokio::test]
async fn bad_metadata_gets_a_clean_error_and_the_hop_keeps_serving() {
    let mut backend = hop("backend", "prod", "", &[]).await;
    let huge = "a".repeat(100_000);
    let status = grpc_call(backend.port, &[("x-big", &huge)])
        .await
        .unwrap_err();
    assert_ne!(status.code(), Code::Ok);
    // Not text in `fail`: ignored.
    let stream = raw_grpc_call(
        backend.port,
        &[("fail", "\u{e9}t\u{e9}"), ("fail-status", "???")],
    )
    .await;
    assert!(!stream.0.contains_key("grpc-status"));
    assert!(backend.is_running());
    assert!(grpc_call(backend.port, &[]).await.is_ok());
}

#[tokio::test]
async fn metrics_pass_promtool() {
    use std::io::Write as _;
    let backend = hop("backend", "prod", "", &[("WORK", "1")]).await;
    grpc_call(backend.port, &[]).await.unwrap();
    grpc_call(backend.port, &[("fail", "1")]).await.unwrap_err();
    let (status, _, text) = http_get(backend.metrics_port, "/metrics", &[])
        .await
        .unwrap();
    assert_eq!(status, 200);
    for needle in [
        "chain_requests_total{status=\"OK\"} 1",
        "chain_requests_total{status=\"INTERNAL\"} 1",
        "chain_request_duration_seconds_count{status=\"OK\"} 1",
        "fib_count_total{service=\"backend\"} 1",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "promtool: {output:?}\n{text}");
}

#[tokio::test]
async fn sigterm_drains_in_flight_calls_then_exits_zero() {
    let hanging = Stub::start(StubMode::Hang).await;
    let mut frontend = hop(
        "frontend",
        "prod",
        &hanging.url(),
        &[("UPSTREAM_TIMEOUT", "1s")],
    )
    .await;
    let port = frontend.port;
    let in_flight = tokio::spawn(async move { grpc_call(port, &[]).await });
    hop::testkit::wait_until(
        "the call to reach the upstream",
        Duration::from_secs(10),
        || async { !hanging.received().is_empty() },
    )
    .await;
    frontend.sigterm();
    let (_, reply) = in_flight.await.unwrap().unwrap();
    assert!(hop::Reply::from(reply).to_text().contains("TimeoutError"));
    assert!(frontend.wait(Duration::from_secs(30)).await.success());
}

#[tokio::test]
async fn the_call_subcommand() {
    let backend = hop("backend", "prod", "", &[]).await;
    let ok = Command::new(BIN)
        .args(["call", &backend.url()])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("backend-prod - "));
    let failing = Command::new(BIN)
        .args(["call", &backend.url(), "-H", "fail=1"])
        .output()
        .unwrap();
    assert_eq!(failing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&failing.stderr).contains("Status: INTERNAL"),
        "{failing:?}"
    );
}
