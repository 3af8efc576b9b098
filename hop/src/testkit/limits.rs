//! Each limit of a hop shown working against a real hop process, the same
//! scenario for both binaries, with what the client receives. Small limits
//! (a few connections, 1 s timeouts) keep each one fast; all on 127.0.0.1.

use std::future::poll_fn;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::hold::{h2_call, h2_hello};
use super::{HopProcess, Protocol, Stub, StubMode};

/// A hop of `binary` calling an upstream that never answers, with `extra`.
async fn hop_over_hang(
    binary: &Path,
    protocol: Protocol,
    extra: &[(&str, &str)],
) -> (HopProcess, Stub) {
    let stub = Stub::start(StubMode::Hang).await;
    let upstream = match protocol {
        Protocol::Http => stub.url(),
        Protocol::Grpc => format!("grpc://127.0.0.1:{}", stub.port),
    };
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), &upstream, extra).await;
    (hop, stub)
}

/// How a socket ended, read for at most `limit`.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The hop closed it (EOF or reset) after sending these many bytes.
    Closed(usize),
    /// Still open at the limit.
    Open,
}

async fn ending(socket: &mut TcpStream, limit: Duration) -> Ending {
    let mut received = 0;
    let mut buf = [0u8; 4096];
    let end = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end.into(), socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Ending::Closed(received),
            Ok(Ok(n)) => received += n,
            Err(_) => return Ending::Open,
        }
    }
}

/// A request the hop will keep open (its upstream hangs).
fn busy_request(protocol: Protocol) -> Vec<u8> {
    match protocol {
        Protocol::Http => b"GET / HTTP/1.1\r\nhost: hop\r\n\r\n".to_vec(),
        Protocol::Grpc => [h2_hello(), h2_call(protocol, 1)].concat(),
    }
}

/// `MAX_CONNECTIONS=2`: a third connection closes the one idle longest
/// (twice), and once both are busy a new one is closed at once, unanswered.
/// Returns how each idle connection ended and how the refused one did.
pub async fn connection_cap(binary: &Path, protocol: Protocol) -> [Ending; 3] {
    let extra = [("MAX_CONNECTIONS", "2"), ("UPSTREAM_TIMEOUT", "20s")];
    let (hop, _stub) = hop_over_hang(binary, protocol, &extra).await;
    let connect = || TcpStream::connect(("127.0.0.1", hop.port));
    let pause = || tokio::time::sleep(Duration::from_millis(100));
    let mut idle_first = connect().await.expect("connect");
    pause().await;
    let mut idle_second = connect().await.expect("connect");
    pause().await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut socket = connect().await.expect("connect");
        socket
            .write_all(&busy_request(protocol))
            .await
            .expect("write");
        busy.push(socket);
        pause().await;
    }
    let first = ending(&mut idle_first, Duration::from_secs(2)).await;
    let second = ending(&mut idle_second, Duration::from_secs(2)).await;
    let mut refused = connect().await.expect("connect");
    let _ = refused.write_all(&busy_request(protocol)).await;
    let third = ending(&mut refused, Duration::from_secs(2)).await;
    // The busy ones are still open, still waiting for their answer.
    for socket in &mut busy {
        assert_eq!(
            ending(socket, Duration::from_millis(200)).await,
            Ending::Open
        );
    }
    [first, second, third]
}

/// `HEADER_TIMEOUT=1s`: an HTTP/2 client sending its HEADERS frame a byte
/// every 200 ms (no request ever complete). Returns how the connection ended
/// within 6 s and how many bytes the client had sent.
pub async fn slow_header(binary: &Path, protocol: Protocol) -> (Ending, usize) {
    let extra = [("HEADER_TIMEOUT", "1s")];
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), "", &extra).await;
    let mut socket = TcpStream::connect(("127.0.0.1", hop.port))
        .await
        .expect("connect");
    socket.write_all(&h2_hello()).await.expect("preface");
    let headers = h2_call(protocol, 1);
    let mut sent = 0;
    let end = Instant::now() + Duration::from_secs(6);
    // One byte short of a complete HEADERS frame, then nothing more.
    while Instant::now() < end && sent + 1 < headers.len() {
        if socket.write_all(&headers[sent..=sent]).await.is_err() {
            break;
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left = end.saturating_duration_since(Instant::now());
    (ending(&mut socket, left).await, sent)
}

/// An HTTP/2 client of the hop (the h2 crate's), its stream window `window`.
async fn h2_client(port: u16, window: u32) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .handshake::<_, Bytes>(tcp)
        .await
        .expect("h2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send.ready().await.expect("h2 ready")
}

fn grpc_request(port: u16) -> http::Request<()> {
    http::Request::post(format!("http://127.0.0.1:{port}/chain.v1.Hop/Call"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a request")
}

/// What the client of one HTTP/2 request got: its status (or the reset's
/// reason), and `grpc-status` from the headers or trailers.
#[derive(Debug)]
pub struct H2Answer {
    pub status: Result<u16, String>,
    pub grpc_status: Option<String>,
    pub grpc_message: Option<String>,
}

async fn answer(response: h2::client::ResponseFuture, limit: Duration) -> H2Answer {
    let read = async {
        let reset = |e: h2::Error| format!("{e} (reason {:?})", e.reason());
        let response = response.await.map_err(reset)?;
        let status = response.status().as_u16();
        let field = |h: &http::HeaderMap, k| {
            h.get(k)
                .map(|v: &http::HeaderValue| v.to_str().unwrap_or("?").to_owned())
        };
        let (mut grpc_status, mut grpc_message) = (
            field(response.headers(), "grpc-status"),
            field(response.headers(), "grpc-message"),
        );
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(reset)?;
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        if let Some(trailers) = body.trailers().await.map_err(reset)? {
            grpc_status = grpc_status.or(field(&trailers, "grpc-status"));
            grpc_message = grpc_message.or(field(&trailers, "grpc-message"));
        }
        Ok::<_, String>(H2Answer {
            status: Ok(status),
            grpc_status,
            grpc_message,
        })
    };
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => H2Answer {
            status: Err(e),
            grpc_status: None,
            grpc_message: None,
        },
        Err(_) => H2Answer {
            status: Err(format!("no answer within {limit:?}")),
            grpc_status: None,
            grpc_message: None,
        },
    }
}

/// One gRPC call whose message is `len` bytes (an empty `CallRequest`
/// padded with an unknown field, which a decoder skips).
pub async fn grpc_message_of(port: u16, len: usize) -> H2Answer {
    let mut send = h2_client(port, 65_535).await;
    let (response, mut body) = send.send_request(grpc_request(port), false).expect("send");
    let mut message = vec![0u8];
    message.extend_from_slice(&(len as u32).to_be_bytes());
    message.extend(unknown_field(len));
    let mut message = Bytes::from(message);
    // As the hop's windows let it (it may answer before taking it all).
    while !message.is_empty() {
        body.reserve_capacity(message.len());
        match poll_fn(|cx| body.poll_capacity(cx)).await {
            Some(Ok(n)) if n > 0 => {
                let chunk = message.split_to(n.min(message.len()));
                let _ = body.send_data(chunk, message.is_empty());
            }
            _ => break,
        }
    }
    answer(response, Duration::from_secs(5)).await
}

/// A protobuf field 15 (length-delimited) of `len` bytes in all (0, or at
/// least 2): tag, length, padding.
fn unknown_field(len: usize) -> Vec<u8> {
    let varint = |mut n: usize| {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    };
    if len == 0 {
        return Vec::new();
    }
    (1..=4)
        .map(|k| len.saturating_sub(1 + k))
        .find(|&pad| 1 + varint(pad).len() + pad == len)
        .map(|pad| [vec![0x7a], varint(pad), vec![b'a'; pad]].concat())
        .expect("a padding for a length of 2 or more")
}

/// `REQUEST_TIMEOUT=1s`: a request that is never finished (gRPC: no
/// message; HTTP: its upstream never answers) is reset by the hop. Returns
/// what the client got and how long it took.
pub async fn never_ending(binary: &Path, protocol: Protocol) -> (H2Answer, Duration) {
    let extra = [("REQUEST_TIMEOUT", "1s"), ("UPSTREAM_TIMEOUT", "20s")];
    let (hop, _stub) = hop_over_hang(binary, protocol, &extra).await;
    let mut send = h2_client(hop.port, 65_535).await;
    let request = match protocol {
        Protocol::Http => http::Request::get(format!("http://127.0.0.1:{}/", hop.port))
            .body(())
            .expect("a request"),
        Protocol::Grpc => grpc_request(hop.port),
    };
    let start = Instant::now();
    // HTTP: a complete GET whose handler waits on the upstream; gRPC: the
    // headers alone, the message never comes.
    let (response, _body) = send
        .send_request(request, protocol == Protocol::Http)
        .expect("send");
    let answer = answer(response, Duration::from_secs(10)).await;
    (answer, start.elapsed())
}

/// `REQUEST_TIMEOUT=1s`: a client that never opens its window (0) cannot
/// get its answer; the hop closes the connection once the answer is
/// overdue. Returns how the call ended and how long it took.
pub async fn zero_window(binary: &Path, protocol: Protocol) -> (H2Answer, Duration) {
    let extra = [("REQUEST_TIMEOUT", "1s")];
    let hop = HopProcess::hop(binary, protocol, ("frontend", "prod"), "", &extra).await;
    let mut send = h2_client(hop.port, 0).await;
    let start = Instant::now();
    let response = match protocol {
        Protocol::Http => {
            let request = http::Request::get(format!("http://127.0.0.1:{}/", hop.port))
                .body(())
                .expect("a request");
            send.send_request(request, true).expect("send").0
        }
        Protocol::Grpc => {
            let (response, mut body) = send
                .send_request(grpc_request(hop.port), false)
                .expect("send");
            body.send_data(Bytes::from_static(&[0, 0, 0, 0, 0]), true)
                .expect("message");
            response
        }
    };
    // The head comes (HEADERS are not flow-controlled); the body cannot.
    let answer = answer(response, Duration::from_secs(10)).await;
    (answer, start.elapsed())
}
