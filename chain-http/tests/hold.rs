//! The HTTP hop holds under hostile and faulty traffic (`--nocapture` prints
//! the figures): a stream flood on one h2c connection, idle connections.
//! Linux: memory is read from /proc.

use std::time::Duration;

use hop::testkit::{HopProcess, Protocol, Stub, StubMode, hold, http_get, workspace_binary};

async fn hop(upstream: &str, extra: &[(&str, &str)]) -> HopProcess {
    let binary = workspace_binary("chain-http");
    HopProcess::hop(
        &binary,
        Protocol::Http,
        ("frontend", "prod"),
        upstream,
        extra,
    )
    .await
}

#[tokio::test]
async fn a_stream_flood_on_one_connection_stays_within_the_pod_limit() {
    hold::assert_stream_flood_holds(&workspace_binary("chain-http"), Protocol::Http).await;
}

#[tokio::test]
async fn idle_connections_are_closed_and_others_still_served() {
    hold::assert_idle_connections_close(&workspace_binary("chain-http"), Protocol::Http).await;
}

/// SIGTERM of the middle hop under 32 concurrent callers, then a restart on
/// the same port: calls the draining hop had accepted finish, and the front
/// hop never loses a call to a pooled connection the middle hop closed
/// ("connection closed before message completed"); calls refused while it
/// was down are counted apart.
#[tokio::test]
async fn sigterm_of_a_middle_hop_under_load_loses_no_accepted_call() {
    let binary = workspace_binary("chain-http");
    let bodies = hold::restart_middle_under_load(&binary, Protocol::Http, |port| async move {
        match http_get(port, "/", &[]).await {
            Ok((_, _, body)) => body,
            Err(e) => format!("frontend call failed: {e}"),
        }
    })
    .await;
    let count = |needle: &str| bodies.iter().filter(|b| b.contains(needle)).count();
    let lost = count("closed before message completed");
    let refused = count("Connection refused");
    let whole = count("backend-prod");
    eprintln!(
        "chain-http: middle hop SIGTERM + restart under 32 callers: {} calls, {whole} whole, \
         {lost} lost to a closed pooled connection, {refused} refused while it was down",
        bodies.len()
    );
    assert_eq!(lost, 0);
    assert_eq!(
        count("frontend call failed"),
        0,
        "the frontend itself failed a call"
    );
    assert_eq!(whole + refused, bodies.len(), "another failure: {bodies:?}");
}

/// Past MAX_IN_FLIGHT requests at once (over all connections), the hop
/// answers 503 "overloaded" at once instead of holding more.
#[tokio::test]
async fn past_max_in_flight_requests_are_answered_overloaded_at_once() {
    let stub = Stub::start(StubMode::Hang).await;
    let hop = hop(
        &stub.url(),
        &[("MAX_IN_FLIGHT", "4"), ("UPSTREAM_TIMEOUT", "5s")],
    )
    .await;
    let port = hop.port;
    let calls: Vec<_> = (0..8)
        .map(|_| tokio::spawn(async move { http_get(port, "/", &[]).await }))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answered = calls.iter().filter(|c| c.is_finished()).count();
    // Health checks do not count: a probe passes while MAX_IN_FLIGHT is held.
    assert!(hop.healthy().await, "the health check was refused");
    let mut overloaded = 0;
    for call in calls {
        if call.is_finished()
            && let Ok(Ok((503, _, body))) = call.await
        {
            assert_eq!(body, "overloaded\n");
            overloaded += 1;
        }
    }
    eprintln!(
        "chain-http: 8 calls with MAX_IN_FLIGHT=4: {answered} answered within 1s, {overloaded} overloaded"
    );
    assert_eq!((answered, overloaded), (4, 4));
}

/// SIGTERM while an HTTP/1.1 keep-alive request is in flight: the answer still
/// comes, says `connection: close`, and the hop then closes the connection.
#[tokio::test]
async fn a_request_in_flight_at_sigterm_is_answered_with_connection_close() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stub = Stub::start(StubMode::Hang).await;
    let mut hop = hop(&stub.url(), &[("UPSTREAM_TIMEOUT", "1s")]).await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", hop.port))
        .await
        .unwrap();
    socket
        .write_all(b"GET / HTTP/1.1\r\nhost: hop\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    hop.sigterm();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer));
    assert!(read.await.is_ok(), "the hop did not close the connection");
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    eprintln!(
        "chain-http: answer in flight at SIGTERM: {:?}",
        answer.lines().next()
    );
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(hop.wait(Duration::from_secs(10)).await.success());
}

/// MAX_CONNECTIONS=2: a new connection closes the one idle longest; when
/// both are busy, a new one is closed at once, unanswered.
#[tokio::test]
async fn past_max_connections_the_idlest_is_closed_or_the_new_one_refused() {
    use hop::testkit::limits::{Ending, connection_cap};
    let [first, second, refused] =
        connection_cap(&workspace_binary("chain-http"), Protocol::Http).await;
    eprintln!(
        "chain-http: MAX_CONNECTIONS=2: idle ones {first:?}, {second:?}; new one while both busy {refused:?}"
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
    let (ending, sent) = slow_header(&workspace_binary("chain-http"), Protocol::Http).await;
    eprintln!(
        "chain-http: HEADERS a byte every 200 ms, HEADER_TIMEOUT=1s: {ending:?} after {sent} bytes"
    );
    assert!(matches!(ending, Ending::Closed(_)), "{ending:?}");
}

/// REQUEST_TIMEOUT=1s: a client that never opens its window cannot take
/// its answer; the hop closes the connection instead of holding it.
#[tokio::test]
async fn an_answer_stuck_behind_a_zero_window_closes_its_connection() {
    let (answer, took) =
        hop::testkit::limits::zero_window(&workspace_binary("chain-http"), Protocol::Http).await;
    eprintln!("chain-http: zero window, REQUEST_TIMEOUT=1s: {answer:?} after {took:?}");
    let error = answer.status.expect_err("the body cannot have come");
    assert!(!error.contains("no answer within"), "{error}");
}

/// REQUEST_TIMEOUT=1s: a call whose upstream never answers (UPSTREAM_TIMEOUT
/// 20s) is reset by the hop (HTTP/2 RST_STREAM CANCEL).
#[tokio::test]
async fn a_request_past_request_timeout_is_reset() {
    let (answer, took) =
        hop::testkit::limits::never_ending(&workspace_binary("chain-http"), Protocol::Http).await;
    eprintln!("chain-http: REQUEST_TIMEOUT=1s, upstream hangs: {answer:?} after {took:?}");
    let error = answer.status.expect_err("reset");
    assert!(error.contains("CANCEL"), "{error}");
}

/// A body longer than MAX_MESSAGE_BYTES (16 KiB by default) is refused by
/// its length: 413, and the hop keeps serving.
#[tokio::test]
async fn a_body_over_max_message_bytes_is_answered_413() {
    let hop = hop("", &[]).await;
    let request = format!(
        "GET / HTTP/1.1\r\nhost: hop\r\ncontent-length: 20000\r\n\r\n{}",
        "a".repeat(20_000)
    );
    let answer = hop::testkit::raw_http(hop.port, request.as_bytes()).await;
    eprintln!("chain-http: 20,000-byte body: {:?}", answer.lines().next());
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let small =
        "GET / HTTP/1.1\r\nhost: hop\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
    let answer = hop::testkit::raw_http(hop.port, small.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
