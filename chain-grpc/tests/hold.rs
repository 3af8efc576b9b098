//! The gRPC hop holds under hostile and faulty traffic (`--nocapture` prints
//! the figures): a stream flood on one connection, idle connections, the
//! caller's deadline, SIGTERM with a health watch open. Linux: memory is
//! read from /proc.

use std::time::{Duration, Instant};

use hop::testkit::{HopProcess, Protocol, Stub, StubMode, grpc_call, hold, workspace_binary};

async fn hop(upstream: &str, extra: &[(&str, &str)]) -> HopProcess {
    let binary = workspace_binary("chain-grpc");
    HopProcess::hop(
        &binary,
        Protocol::Grpc,
        ("frontend", "prod"),
        upstream,
        extra,
    )
    .await
}

#[tokio::test]
async fn a_stream_flood_on_one_connection_stays_within_the_pod_limit() {
    hold::assert_stream_flood_holds(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_others_still_served() {
    hold::assert_idle_connections_close(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
}

#[tokio::test]
async fn the_callers_deadline_reaches_the_upstream() {
    // The stub speaks h2c too: it records the upstream call's metadata.
    let stub = Stub::start(StubMode::Answer("")).await;
    let hop = hop(&format!("grpc://127.0.0.1:{}", stub.port), &[]).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", hop.port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = chain_proto::v1::hop_client::HopClient::new(channel);
    let mut request = tonic::Request::new(chain_proto::CallRequest {});
    request.set_timeout(Duration::from_millis(50));
    let _ = client.call(request).await;
    let received = stub.received();
    let sent = received[0]["grpc-timeout"].to_str().unwrap();
    let budget = hop::deadline::grpc_timeout(&received[0]).expect("a grpc-timeout");
    eprintln!("chain-grpc: caller's deadline 50ms, upstream got grpc-timeout {sent}");
    assert!(budget <= Duration::from_millis(50), "{sent}");
}

#[tokio::test]
async fn sigterm_ends_health_watches_and_exits_promptly() {
    let mut hop = hop("", &[]).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", hop.port))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let request = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    };
    let mut watch = health.watch(request).await.unwrap().into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, 1, "SERVING first");
    let start = Instant::now();
    hop.sigterm();
    let mut statuses = Vec::new();
    while let Ok(Ok(Some(update))) =
        tokio::time::timeout(Duration::from_secs(5), watch.message()).await
    {
        statuses.push(update.status);
    }
    let status = hop.wait(Duration::from_secs(5)).await;
    let took = start.elapsed();
    eprintln!(
        "chain-grpc: SIGTERM with a Health/Watch open: exit after {took:?}, watch saw {statuses:?}"
    );
    assert!(status.success());
    assert_eq!(statuses, [2], "NOT_SERVING, then the stream ends");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// SIGTERM of the middle hop under 32 concurrent callers, then a restart on
/// the same port: the front hop loses no call the middle hop had accepted
/// (GOAWAY: calls above its last stream id are sent again); calls made while
/// it was down fail to connect and are counted apart.
#[tokio::test]
async fn sigterm_of_a_middle_hop_under_load_loses_no_accepted_call() {
    let binary = workspace_binary("chain-grpc");
    let answers = hold::restart_middle_under_load(&binary, Protocol::Grpc, |port| async move {
        match grpc_call(port, &[]).await {
            Ok((_, reply)) => match &reply.upstreams[0].answer {
                Some(chain_proto::Answer::Reply(r)) => format!("whole {}", r.service),
                other => format!("{other:?}"),
            },
            Err(status) => format!("frontend call failed: {status}"),
        }
    })
    .await;
    let whole = answers.iter().filter(|a| a.starts_with("whole")).count();
    let refused = answers
        .iter()
        .filter(|a| a.contains("Connection refused"))
        .count();
    let others: Vec<&String> = answers
        .iter()
        .filter(|a| !a.starts_with("whole") && !a.contains("Connection refused"))
        .collect();
    eprintln!(
        "chain-grpc: middle hop SIGTERM + restart under 32 callers: {} calls, {whole} whole, \
         {} lost, {refused} refused while it was down",
        answers.len(),
        others.len()
    );
    assert!(others.is_empty(), "{others:?}");
}

/// Past MAX_IN_FLIGHT calls at once (over all connections), the hop answers
/// RESOURCE_EXHAUSTED "overloaded" at once instead of holding more.
#[tokio::test]
async fn past_max_in_flight_calls_are_answered_overloaded_at_once() {
    let stub = Stub::start(StubMode::Hang).await;
    let hop = hop(
        &stub.url(),
        &[("MAX_IN_FLIGHT", "4"), ("UPSTREAM_TIMEOUT", "5s")],
    )
    .await;
    let port = hop.port;
    let calls: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async move { grpc_call(port, &[]).await }))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = calls.iter().filter(|c| c.is_finished()).count();
    // Health checks do not count: a probe passes while MAX_IN_FLIGHT is held.
    assert!(hop.healthy().await, "the health check was refused");
    let mut overloaded = 0;
    for call in calls {
        if call.is_finished()
            && let Err(status) = call.await.unwrap()
        {
            assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status}");
            overloaded += 1;
        }
    }
    eprintln!(
        "chain-grpc: 8 calls with MAX_IN_FLIGHT=4: {answered} answered within 1s, {overloaded} overloaded"
    );
    assert_eq!((answered, overloaded), (4, 4));
}

/// MAX_CONNECTIONS=2: a new connection closes the one idle longest; when
/// both are busy, a new one is closed at once, unanswered.
#[tokio::test]
async fn past_max_connections_the_idlest_is_closed_or_the_new_one_refused() {
    use hop::testkit::limits::{Ending, connection_cap};
    let [first, second, refused] =
        connection_cap(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
    eprintln!(
        "chain-grpc: MAX_CONNECTIONS=2: idle ones {first:?}, {second:?}; new one while both busy {refused:?}"
    );
    assert!(matches!(first, Ending::Closed(_)), "{first:?}");
    assert!(matches!(second, Ending::Closed(_)), "{second:?}");
    assert_eq!(refused, Ending::Closed(0));
}

/// HEADER_TIMEOUT=1s: an HTTP/2 HEADERS frame sent a byte every 200 ms is
/// never completed: the hop closes the connection.
#[tokio::test]
async fn an_http2_header_trickled_past_header_timeout_closes_the_connection() {
    use hop::testkit::limits::{Ending, slow_header};
    let (ending, sent) = slow_header(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
    eprintln!(
        "chain-grpc: HEADERS a byte every 200 ms, HEADER_TIMEOUT=1s: {ending:?} after {sent} bytes"
    );
    assert!(matches!(ending, Ending::Closed(_)), "{ending:?}");
}

/// REQUEST_TIMEOUT=1s: a client that never opens its window cannot take
/// its answer; the hop closes the connection instead of holding it.
#[tokio::test]
async fn an_answer_stuck_behind_a_zero_window_closes_its_connection() {
    let (answer, took) =
        hop::testkit::limits::zero_window(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
    eprintln!("chain-grpc: zero window, REQUEST_TIMEOUT=1s: {answer:?} after {took:?}");
    let error = answer.status.expect_err("the body cannot have come");
    assert!(!error.contains("no answer within"), "{error}");
}

/// REQUEST_TIMEOUT=1s: a call whose message never comes is reset by the hop
/// (RST_STREAM CANCEL: the client's CANCELLED) instead of held forever.
#[tokio::test]
async fn a_call_whose_message_never_comes_is_reset_at_request_timeout() {
    let (answer, took) =
        hop::testkit::limits::never_ending(&workspace_binary("chain-grpc"), Protocol::Grpc).await;
    eprintln!("chain-grpc: REQUEST_TIMEOUT=1s, no message: {answer:?} after {took:?}");
    let error = answer.status.expect_err("reset");
    assert!(error.contains("CANCEL"), "{error}");
}

/// A message longer than MAX_MESSAGE_BYTES (16 KiB by default) is refused
/// before it is buffered: OUT_OF_RANGE, as tonic answers; one at the limit
/// is served.
#[tokio::test]
async fn a_message_over_max_message_bytes_is_refused_out_of_range() {
    use hop::testkit::limits::grpc_message_of;
    let hop = hop("", &[]).await;
    let over = grpc_message_of(hop.port, 20_000).await;
    eprintln!("chain-grpc: 20,000-byte message: {over:?}");
    assert_eq!(over.grpc_status.as_deref(), Some("11"), "{over:?}");
    let at_limit = grpc_message_of(hop.port, 16 << 10).await;
    assert_eq!(at_limit.grpc_status.as_deref(), Some("0"), "{at_limit:?}");
}
