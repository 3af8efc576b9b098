//! What the pieces of the local data plane cost on this machine: the CA,
//! an Envoy sidecar's start and memory, the latency and CPU of one and two
//! proxy passes (plain text, then mutual TLS with RBAC), and full mTLS
//! handshakes against a sidecar's inbound side (`openssl s_time`).
//! Figures, not assertions: run it with scripts/bench-sidecar.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hop::testkit::{
    HopProcess, Protocol, Stub, StubMode, TIME_JSON, free_port, grpc_call, http_get,
    workspace_binary,
};
use localmesh::ca::{Authority, Credentials};
use localmesh::envoy::types::Address;
use localmesh::envoy::{Outbound, Sidecar};
use localmesh::identity;
use localmesh::process::{self, Envoy};
use localmesh::usage;
use meshgen::model::Model;

#[path = "../tests/common/mod.rs"]
mod common;

const REQUESTS: usize = 2000;

fn model(name: &str, sets: &[&str]) -> Model {
    common::model(name, sets)
}

fn cpu_seconds(pid: u32) -> f64 {
    usage::cpu_seconds(pid).expect("/proc stat")
}

fn rss_mib(pid: u32) -> f64 {
    usage::rss_mib(pid).unwrap_or(0.0)
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(0.99))
    )
}

async fn measure(protocol: Protocol, port: u16) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        let start = Instant::now();
        let ok = match protocol {
            Protocol::Http => matches!(http_get(port, "/", &[]).await, Ok((200, _, _))),
            Protocol::Grpc => grpc_call(port, &[]).await.is_ok(),
        };
        assert!(ok, "a call on port {port} failed");
        samples.push(start.elapsed());
    }
    samples
}

fn start(envoy: &Path, s: &Sidecar, dir: &Path) -> (Envoy, Duration) {
    let bootstrap = s.write_bootstrap(dir).expect("bootstrap");
    let begin = Instant::now();
    let e = Envoy::start(
        envoy,
        &s.proxy_name(),
        &bootstrap,
        dir,
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (e, begin.elapsed())
}

fn sidecar<'a>(
    m: &'a Model,
    service: &str,
    pod: &str,
    c: &'a Credentials,
    inbound: u16,
    app: u16,
    outbound: Vec<Outbound>,
) -> Sidecar<'a> {
    common::sidecar_pod(common::sidecar(m, service, c, inbound, app, outbound), pod)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let envoy = process::find(None).expect("envoy on PATH");
    let m = model("demo.toml", &[]);

    // The CA.
    let begin = Instant::now();
    let ca = Authority::new().unwrap();
    let made = begin.elapsed();
    let begin = Instant::now();
    let n = 100;
    let scratch = Authority::new().unwrap();
    for i in 0..n {
        let mut id = identity::service(&m, "backend");
        id.name = format!("backend-{i}");
        scratch.issue(&id).unwrap();
    }
    println!(
        "CA: made in {:.2} ms; {:.2} ms per workload certificate (EC P-256, {n} issued)",
        made.as_secs_f64() * 1000.0,
        begin.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
    drop(scratch);

    // Start, memory: the demo's 4 pods plus a fifth sidecar (the gateway's count).
    let creds: Vec<Credentials> = ["frontend", "middleware", "middleware", "backend", "backend"]
        .iter()
        .map(|s| {
            ca.issue(&{
                let mut id = identity::service(&m, s);
                id.name = format!("{s}-{}", free_port());
                id
            })
        })
        .collect::<Result<_, _>>()
        .unwrap();
    let pods = [
        "frontend-prod-0",
        "middleware-prod-0",
        "middleware-canary-0",
        "backend-prod-0",
        "backend-prod-1",
    ];
    let mut starts = Vec::new();
    let mut envoys = Vec::new();
    for (pod, c) in pods.iter().zip(&creds) {
        let service = pod.split('-').next().unwrap();
        let s = sidecar(&m, service, pod, c, free_port(), free_port(), vec![]);
        let (e, took) = start(&envoy, &s, ca.dir());
        starts.push(took);
        envoys.push(e);
    }
    let rss: Vec<String> = envoys
        .iter()
        .map(|e| format!("{:.1}", rss_mib(e.pid())))
        .collect();
    println!(
        "Envoy start to /ready, 5 sidecars one after the other: {:?} (RSS once ready, MiB: {})",
        starts
            .iter()
            .map(|d| format!("{:.0} ms", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>(),
        rss.join(", ")
    );
    drop(envoys);

    for protocol in [Protocol::Http, Protocol::Grpc] {
        let name = match protocol {
            Protocol::Http => "demo.toml",
            Protocol::Grpc => "demo-grpc.toml",
        };
        let strict = model(name, &[]);
        let open = model(name, &["istio.mtls=false"]);
        let binary = workspace_binary(match protocol {
            Protocol::Http => "chain-http",
            Protocol::Grpc => "chain-grpc",
        });
        let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
        let hop = HopProcess::hop(
            &binary,
            protocol,
            ("backend", "prod"),
            &format!("http://127.0.0.1:{}/", stub.port),
            &[],
        )
        .await;
        let backend_id = ca
            .issue(&{
                let mut id = identity::service(&strict, "backend");
                id.name = format!("backend-{name}");
                id
            })
            .unwrap();
        let middleware_id = ca
            .issue(&{
                let mut id = identity::service(&strict, "middleware");
                id.name = format!("middleware-{name}");
                id
            })
            .unwrap();

        let bare = measure(protocol, hop.port).await;
        println!(
            "{name}: bare hop ({REQUESTS} calls, one at a time, a new client connection each): {}",
            percentiles(bare)
        );

        // One pass, plain text: the backend's sidecar under PERMISSIVE.
        let plain_in = free_port();
        let s = sidecar(
            &open,
            "backend",
            &format!("backend-plain-{}", hop.port),
            &backend_id,
            plain_in,
            hop.port,
            vec![],
        );
        let (server, _) = start(&envoy, &s, ca.dir());
        let cpu = cpu_seconds(server.pid());
        let one = measure(protocol, plain_in).await;
        let server_cpu = cpu_seconds(server.pid()) - cpu;
        println!(
            "{name}: 1 pass, plain text (server sidecar): {}; server sidecar {:.3} CPU-s per 1,000 requests",
            percentiles(one),
            server_cpu * 1000.0 / REQUESTS as f64
        );
        drop(server);

        // Two passes, mutual TLS and RBAC: middleware's sidecar -> backend's.
        let strict_in = free_port();
        let out = free_port();
        let s = sidecar(
            &strict,
            "backend",
            &format!("backend-mtls-{}", hop.port),
            &backend_id,
            strict_in,
            hop.port,
            vec![],
        );
        let (server, _) = start(&envoy, &s, ca.dir());
        let c = sidecar(
            &strict,
            "middleware",
            &format!("middleware-mtls-{}", hop.port),
            &middleware_id,
            free_port(),
            free_port(),
            vec![Outbound {
                listener_port: Some(out),
                service: "backend".into(),
                subsets: [("prod".to_owned(), vec![Address::local(strict_in)])].into(),
                mutual_tls: true,
                authorization: None,
            }],
        );
        let (client, _) = start(&envoy, &c, ca.dir());
        let (cpu_s, cpu_c) = (cpu_seconds(server.pid()), cpu_seconds(client.pid()));
        let two = measure(protocol, out).await;
        let (cpu_s, cpu_c) = (
            cpu_seconds(server.pid()) - cpu_s,
            cpu_seconds(client.pid()) - cpu_c,
        );
        println!(
            "{name}: 2 passes, mTLS + RBAC (client and server sidecars): {}; CPU-s per 1,000 requests: client {:.3}, server {:.3}",
            percentiles(two),
            cpu_c * 1000.0 / REQUESTS as f64,
            cpu_s * 1000.0 / REQUESTS as f64,
        );

        // Full mutual TLS handshakes against the strict inbound side.
        if protocol == Protocol::Http {
            let before = cpu_seconds(server.pid());
            let out = Command::new("openssl")
                .args(["s_time", "-new", "-time", "5", "-connect"])
                .arg(format!("127.0.0.1:{strict_in}"))
                .arg("-cert")
                .arg(&middleware_id.cert_chain)
                .arg("-key")
                .arg(&middleware_id.key)
                .arg("-CAfile")
                .arg(ca.root_cert())
                .output();
            let used = cpu_seconds(server.pid()) - before;
            match out {
                Ok(o) => {
                    let text = String::from_utf8_lossy(&o.stdout);
                    let line = text
                        .lines()
                        .find(|l| l.contains("connections in") && l.contains("real seconds"))
                        .unwrap_or("no summary line")
                        .to_owned();
                    let count: f64 = line
                        .split_whitespace()
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0.0);
                    println!(
                        "full mTLS handshakes (openssl s_time -new, 5 s, one at a time): {line}; the server sidecar spent {:.3} CPU-ms per handshake",
                        if count > 0.0 {
                            used * 1000.0 / count
                        } else {
                            f64::NAN
                        }
                    );
                }
                Err(e) => println!("openssl s_time not run: {e}"),
            }
        }
    }
}
