//! A small gRPC load generator for scripts/bench-chain (no ghz here): N
//! HTTP/2 connections with one call in flight each, for a bounded time.
//!
//! Like wrk for the HTTP chain, it sends a fixed request and checks the
//! status without decoding the reply, so that the load generator's own CPU
//! (it shares the 2 cores with the hops) stays small.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use hop::{Target, TargetScheme};

/// An empty `CallRequest`: uncompressed flag, then a zero length.
const EMPTY_CALL: &[u8] = &[0, 0, 0, 0, 0];

pub async fn run(target: &str, connections: usize, duration: Duration, headers: &[String]) -> i32 {
    let target = match Target::parse(target) {
        Ok(target) if target.scheme == TargetScheme::Grpc => target,
        Ok(_) => {
            eprintln!("bench: the target must be grpc://host:port");
            return 2;
        }
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    let mut metadata = HeaderMap::new();
    metadata.insert("content-type", HeaderValue::from_static("application/grpc"));
    metadata.insert("te", HeaderValue::from_static("trailers"));
    for header in headers {
        let parsed = header.split_once(['=', ':']).and_then(|(k, v)| {
            Some((
                HeaderName::try_from(k.trim()).ok()?,
                HeaderValue::try_from(v.trim()).ok()?,
            ))
        });
        let Some((name, value)) = parsed else {
            eprintln!("bench: -H {header}: expected name=value");
            return 2;
        };
        metadata.insert(name, value);
    }
    let uri: http::Uri = format!("{}chain.v1.Hop/Call", target.uri)
        .parse()
        .expect("a valid path");
    let authority = target
        .uri
        .authority()
        .expect("checked by Target::parse")
        .to_string();

    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let sender = match connect(&authority).await {
            Ok(sender) => sender,
            Err(e) => {
                eprintln!("bench: {}: {e}", target.raw);
                return 1;
            }
        };
        let (uri, metadata) = (uri.clone(), metadata.clone());
        workers.push(tokio::spawn(worker(sender, uri, metadata, deadline)));
    }
    let started = Instant::now();
    let (mut all, mut errors) = (Vec::new(), 0u64);
    for worker in workers {
        if let Ok((latencies, e)) = worker.await {
            all.extend(latencies);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        let Some(last) = all.len().checked_sub(1) else {
            return 0.0;
        };
        let index = ((all.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(last);
        all[index].as_secs_f64() * 1e3
    };
    println!(
        "requests={} errors={errors} seconds={elapsed:.1} rps={:.0} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99)
    );
    if all.is_empty() { 1 } else { 0 }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Calls until the deadline; returns the latencies of good calls and the
/// number of failed ones (transport error or a non-OK grpc-status).
async fn worker(
    mut sender: SendRequest<Full<Bytes>>,
    uri: http::Uri,
    metadata: HeaderMap,
    deadline: Instant,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::with_capacity(100_000);
    let mut errors = 0;
    while Instant::now() < deadline {
        let mut request = Request::post(uri.clone())
            .body(Full::new(Bytes::from_static(EMPTY_CALL)))
            .expect("request");
        *request.headers_mut() = metadata.clone();
        let start = Instant::now();
        let ok = match sender.send_request(request).await {
            Err(_) => false,
            Ok(response) => {
                let in_headers = response.headers().get("grpc-status").cloned();
                match response.into_body().collect().await {
                    Err(_) => false,
                    Ok(body) => {
                        let status = in_headers.or_else(|| {
                            body.trailers().and_then(|t| t.get("grpc-status").cloned())
                        });
                        status.is_some_and(|s| s == "0")
                    }
                }
            }
        };
        match ok {
            true => latencies.push(start.elapsed()),
            false => errors += 1,
        }
    }
    (latencies, errors)
}
