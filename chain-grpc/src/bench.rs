//! A small gRPC load generator for scripts/bench-chain (no ghz here): N
//! connections with one call in flight each, for a bounded time.

use std::time::{Duration, Instant};

use chain_proto::CallRequest;
use chain_proto::v1::hop_client::HopClient;
use hop::Target;
use hop::upstream::grpc_transport;

pub async fn run(target: &str, connections: usize, duration: Duration, headers: &[String]) -> i32 {
    let target = match Target::parse(target) {
        Ok(target) if target.scheme == hop::TargetScheme::Grpc => target,
        Ok(_) => {
            eprintln!("bench: the target must be grpc://host:port");
            return 2;
        }
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    let mut metadata = tonic::metadata::MetadataMap::new();
    for header in headers {
        let parsed = header.split_once(['=', ':']).and_then(|(k, v)| {
            Some((
                tonic::metadata::MetadataKey::from_bytes(k.trim().as_bytes()).ok()?,
                v.trim().parse().ok()?,
            ))
        });
        let Some((key, value)) = parsed else {
            eprintln!("bench: -H {header}: expected name=value");
            return 2;
        };
        metadata.insert(key, value);
    }
    let connections = connections.max(1);
    let deadline = Instant::now() + duration;
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        // One pool per worker: N HTTP/2 connections, like wrk's N sockets;
        // the same transport as the hops' upstream client.
        let mut client =
            HopClient::with_origin(grpc_transport(Duration::from_secs(5)), target.uri.clone());
        if let Err(status) = client.call(CallRequest {}).await {
            eprintln!("bench: {}: {status}", target.raw);
            return 1;
        }
        let metadata = metadata.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let mut request = tonic::Request::new(CallRequest {});
                *request.metadata_mut() = metadata.clone();
                let start = Instant::now();
                match client.call(request).await {
                    Ok(_) => latencies.push(start.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((latencies, e)) = worker.await {
            all.extend(latencies);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let index = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
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
