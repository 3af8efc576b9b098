//! Chains mixing both binaries (HTTP -> gRPC -> HTTP), and one trace across
//! all hops received by a real OTLP/gRPC receiver.
//!
//! chain-http is another crate's binary: it is found next to this test in
//! target/<profile>/, where `cargo test --workspace` (scripts/test) builds it.

use std::path::Path;

use hop::testkit::{
    HopProcess, OtlpReceiver, Protocol, ReceivedSpan, Stub, StubMode, http_get, workspace_binary,
};

const GRPC: &str = env!("CARGO_BIN_EXE_chain-grpc");
const STUB_BODY: &str = r#"{"time": "12:43:09 AM", "by": "stub"}"#;

async fn start(
    binary: &Path,
    protocol: Protocol,
    service: &str,
    upstream: &str,
    extra: &[(&str, &str)],
) -> HopProcess {
    let mut env = vec![
        ("SERVICE_NAME", service),
        ("SERVICE_VERSION", "prod"),
        ("UPSTREAM", upstream),
    ];
    env.extend_from_slice(extra);
    HopProcess::start(binary, protocol, &env).await
}

/// frontend (HTTP) -> middleware (gRPC) -> backend (HTTP) -> stub.
async fn mixed_chain(stub: &Stub, extra: &[(&str, &str)]) -> [HopProcess; 3] {
    let http = workspace_binary("chain-http");
    let backend = start(&http, Protocol::Http, "backend", &stub.url(), extra).await;
    let middleware = start(
        Path::new(GRPC),
        Protocol::Grpc,
        "middleware",
        &backend.url(),
        extra,
    )
    .await;
    let frontend = start(&http, Protocol::Http, "frontend", &middleware.url(), extra).await;
    [frontend, middleware, backend]
}

#[tokio::test]
async fn http_grpc_http_chain() {
    let stub = Stub::start(StubMode::Answer(STUB_BODY)).await;
    let [frontend, middleware, backend] = mixed_chain(&stub, &[]).await;
    let sent = [
        ("x-request-id", "mixed-1"),
        ("x-dev-user", "super-secret"),
        ("fail", "0"),
    ];
    let (status, _, text) = http_get(frontend.port, "/", &sent).await.unwrap();
    assert_eq!(status, 200, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("frontend-prod - "), "{text}");
    assert!(
        lines[1].starts_with(&format!("{} -> middleware-prod - ", middleware.url())),
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!("{} -> backend-prod - ", backend.url())),
        "{text}"
    );
    assert_eq!(lines[3], format!("{} -> {STUB_BODY}", stub.url()));
    let received = stub.received();
    for (name, value) in sent {
        assert_eq!(received[0].get(name).unwrap(), value, "{name}");
    }

    // fail=1 at the HTTP entry: 500, and the gRPC hop is never called.
    let (status, _, body) = http_get(frontend.port, "/", &[("fail", "1")])
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (500, ""));
    assert_eq!(stub.received().len(), 1);
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn one_trace_across_all_hops() {
    let otlp = OtlpReceiver::start().await;
    let stub = Stub::start(StubMode::Answer(STUB_BODY)).await;
    let endpoint = otlp.endpoint();
    let tracing = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("WORK", "true"),
        // The single-threaded runtime (what the benchmark runs) must export too.
        ("TOKIO_WORKER_THREADS", "1"),
    ];
    let mut hops = mixed_chain(&stub, &tracing).await;

    let traceparent = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let (status, _, text) = http_get(hops[0].port, "/", &[("traceparent", &traceparent)])
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        text.lines().next().unwrap().contains(" num="),
        "WORK reports num and isOdd: {text}"
    );

    // A caller speaking B3 only (Envoy's Zipkin provider) joins its trace too.
    let b3_trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let b3 = format!("{b3_trace}-e457b5a2e4d86bd1-1");
    assert_eq!(
        http_get(hops[0].port, "/", &[("b3", &b3)]).await.unwrap().0,
        200
    );

    // SIGTERM flushes the batch exporters; exit 0 says the drain went well.
    for hop in &mut hops {
        assert!(hop.terminate().await.success());
    }
    let spans = otlp.spans();
    let trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == TRACE_ID).collect();
    assert_eq!(trace.len(), 15, "5 spans per hop: {trace:#?}");
    assert_eq!(
        spans.iter().filter(|s| s.trace_id == b3_trace).count(),
        15,
        "{spans:#?}"
    );

    let find = |service: &str, name: &str| -> &ReceivedSpan {
        let found: Vec<_> = trace
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert_eq!(found.len(), 1, "{service} / {name}: {trace:#?}");
        found[0]
    };
    const SERVER: i32 = 2;
    const CLIENT: i32 = 3;

    // frontend (HTTP) <- the caller
    let frontend_server = find("frontend", "GET /");
    assert_eq!(
        (
            frontend_server.kind,
            frontend_server.parent_span_id.as_str()
        ),
        (SERVER, CALLER_SPAN)
    );
    assert_eq!(
        frontend_server.attribute("http.response.status_code"),
        Some("200")
    );
    let frontend_client = find("frontend", "chain.v1.Hop/Call");
    assert_eq!(
        (frontend_client.kind, &frontend_client.parent_span_id),
        (CLIENT, &frontend_server.span_id)
    );
    assert_eq!(frontend_client.attribute("rpc.system"), Some("grpc"));

    // middleware (gRPC) <- frontend's client span
    let middleware_server = find("middleware", "chain.v1.Hop/Call");
    assert_eq!(
        (middleware_server.kind, &middleware_server.parent_span_id),
        (SERVER, &frontend_client.span_id)
    );
    assert_eq!(
        middleware_server.attribute("rpc.grpc.status_code"),
        Some("0")
    );
    let middleware_client = find("middleware", "GET");
    assert_eq!(
        (middleware_client.kind, &middleware_client.parent_span_id),
        (CLIENT, &middleware_server.span_id)
    );

    // backend (HTTP) <- middleware's client span
    let backend_server = find("backend", "GET /");
    assert_eq!(
        (backend_server.kind, &backend_server.parent_span_id),
        (SERVER, &middleware_client.span_id)
    );
    let backend_client = find("backend", "GET");
    assert_eq!(backend_client.parent_span_id, backend_server.span_id);
    assert_eq!(
        backend_client.attribute("url.full"),
        Some(stub.url().as_str())
    );

    // The work spans hang under each hop's server span.
    for (service, server) in [
        ("frontend", frontend_server),
        ("middleware", middleware_server),
        ("backend", backend_server),
    ] {
        let work = find(service, "Fibonacci Odd Or Even");
        assert_eq!(work.parent_span_id, server.span_id, "{service}");
        assert_eq!(
            find(service, "Fibonacci Calculation").parent_span_id,
            work.span_id,
            "{service}"
        );
        assert_eq!(
            find(service, "Sleep").parent_span_id,
            work.span_id,
            "{service}"
        );
    }

    // The stub (outside the trace's hops) got the backend's client span as parent, W3C and B3.
    let received = &stub.received()[0];
    let expected = format!("00-{TRACE_ID}-{}-01", backend_client.span_id);
    assert_eq!(received.get("traceparent").unwrap(), expected.as_str());
    assert_eq!(received.get("x-b3-traceid").unwrap(), TRACE_ID);
    assert_eq!(
        received.get("x-b3-spanid").unwrap(),
        backend_client.span_id.as_str()
    );
    assert!(
        received
            .get("b3")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(TRACE_ID)
    );
}
