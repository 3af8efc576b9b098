//! Istio's data plane as `meshgen up` plays it, over HTTP and gRPC: a sidecar
//! per pod (five Envoys for the demo: the gateway and four pods), each
//! replica a pod of its own that receives traffic; under `mtls = true` every
//! inbound side refuses plain text, and a client holding a certificate of
//! the mesh is let through or refused by the callee's AuthorizationPolicy
//! (checked with the real curl and grpcurl, holding the mesh's own
//! certificates).

mod local_support;

use std::process::Command;

use hop::probe::http_get_within;
use local_support::{demo, drive, model, one_mesh_at_a_time, options, start, start_mode};
use meshgen::model::Protocol;
use meshgen_cli::local::{Mesh, RetryMode};

/// `chain_requests_total` of a pod's hop, from its Prometheus port.
async fn served(port: u16) -> u64 {
    let (status, _, body) =
        http_get_within(port, "/metrics", &[], std::time::Duration::from_secs(5))
            .await
            .expect("the hop's /metrics answers");
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| l.starts_with("chain_requests_total"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn replicas(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(demo(protocol), None, &["service.backend.replicas=3"]);
    let mesh = start(m, &options()).await;
    // The gateway and a sidecar per pod: frontend, middleware prod and
    // canary, three backends.
    assert_eq!(mesh.proxies().count(), 7);
    assert_eq!(mesh.plan.pods.len(), 6);
    let out = drive(&mesh, 60, &[]).await;
    assert_eq!(out.successes(), 60, "{:?}", out.samples[0].error);
    let backends: Vec<_> = mesh.plan.pods_of("backend", None).collect();
    assert_eq!(backends.len(), 3);
    for pod in backends {
        let n = served(pod.metrics).await;
        // Each middleware sidecar balances its calls over the three
        // (LEAST_REQUEST): 60 calls leave none of them out.
        assert!(n >= 3, "{} served {n} of 60", pod.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_replicas_are_pods_that_all_get_traffic() {
    replicas(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_replicas_are_pods_that_all_get_traffic() {
    replicas(Protocol::Grpc).await;
}

/// What a client holding `who`'s certificate gets from `service`'s first
/// pod's inbound side: `Ok(())`, or the status (HTTP code, gRPC code name).
fn call_as(mesh: &Mesh, who: &str, service: &str) -> Result<(), String> {
    let c = mesh.credentials(who).expect("a mesh identity");
    let port = mesh.plan.pods_of(service, None).next().unwrap().inbound;
    let out = match mesh.protocol() {
        // The server's certificate has a SPIFFE URI and no DNS name: its
        // identity is not what is checked here (-k), the client's is.
        Protocol::Http => Command::new("curl")
            .args([
                "-sk",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "10",
            ])
            .arg("--cert")
            .arg(&c.cert_chain)
            .arg("--key")
            .arg(&c.key)
            .arg(format!("https://127.0.0.1:{port}/"))
            .output(),
        Protocol::Grpc => Command::new(hop::testkit::tool("grpcurl"))
            .args(["-insecure", "-max-time", "10"])
            .arg("-cert")
            .arg(&c.cert_chain)
            .arg("-key")
            .arg(&c.key)
            .arg(format!("127.0.0.1:{port}"))
            .arg("chain.v1.Hop/Call")
            .output(),
    }
    .expect("curl / grpcurl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match mesh.protocol() {
        Protocol::Http if stdout == "200" => Ok(()),
        Protocol::Http => Err(stdout),
        Protocol::Grpc if out.status.success() => Ok(()),
        Protocol::Grpc => Err(format!("{stdout}{stderr}")),
    }
}

/// A plain-text client at `port` (an HTTP/1.1 request, or the HTTP/2
/// preface gRPC starts with): whether any byte came back. A STRICT inbound
/// side finds no filter chain for it and closes the connection.
fn plain_text_answered(protocol: Protocol, port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let hello: &[u8] = match protocol {
        Protocol::Http => b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n",
        // The preface and an empty SETTINGS frame.
        Protocol::Grpc => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    };
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    conn.write_all(hello).expect("send");
    let mut first = [0u8; 1];
    matches!(conn.read(&mut first), Ok(1))
}

async fn strict(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(demo(protocol), None, &[]);
    assert!(m.mesh.mtls);
    let mesh = start(m, &options()).await;
    assert_eq!(mesh.proxies().count(), 5, "the gateway and four sidecars");
    // Through the gateway, every edge allowed.
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
    // The gateway takes plain text from clients (the check can see an answer)...
    assert!(plain_text_answered(protocol, mesh.ingress_port()));
    // ...and STRICT: no pod's inbound side answers plain text.
    for pod in &mesh.plan.pods {
        assert!(
            !plain_text_answered(protocol, pod.inbound),
            "{}'s sidecar answered plain text",
            pod.name
        );
    }
    // The backend's policy allows middleware, not frontend.
    assert_eq!(call_as(&mesh, "middleware", "backend"), Ok(()));
    let denied = call_as(&mesh, "frontend", "backend").unwrap_err();
    match protocol {
        Protocol::Http => assert_eq!(denied, "403"),
        Protocol::Grpc => assert!(denied.contains("PermissionDenied"), "{denied}"),
    }
    // The entry service lets the gateway's identity in, not middleware's.
    let gateway = localmesh::identity::ingress(&mesh.model).name;
    assert_eq!(call_as(&mesh, &gateway, "frontend"), Ok(()));
    assert!(call_as(&mesh, "middleware", "frontend").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_strict_mtls_and_authorization() {
    strict(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_strict_mtls_and_authorization() {
    strict(Protocol::Grpc).await;
}

/// Clients that lie and clients that stall: Envoy's own control headers
/// (`x-envoy-retry-on`, `x-envoy-max-retries`, a 1 ms
/// `x-envoy-upstream-rq-timeout-ms`) sent by a client are not obeyed by the
/// gateway, which takes the client as external (Istio's gateways do, by
/// `use_remote_address`), so a mesh without retries makes none; and a
/// hundred silent connections held open at the gateway and at every
/// sidecar's inbound side keep no request from being answered.
async fn hostile_clients(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(demo(protocol), None, &[]);
    let mesh = start_mode(m, RetryMode::Off).await;
    let steer = [
        ("fail", "0.3"),
        (
            "x-envoy-retry-on",
            "5xx,reset,connect-failure,retriable-status-codes",
        ),
        ("x-envoy-retry-grpc-on", "internal,unavailable"),
        ("x-envoy-retriable-status-codes", "500"),
        ("x-envoy-max-retries", "5"),
        ("x-envoy-upstream-rq-timeout-ms", "1"),
    ];
    let before = mesh.retries().await.expect("stats");
    let out = drive(&mesh, 200, &steer).await;
    assert_eq!(
        mesh.retries().await.expect("stats") - before,
        0,
        "a client made the mesh retry"
    );
    // 0.7^3 = 0.343 without retries; 200 requests: far inside 0.2..0.5. A
    // 1 ms timeout obeyed would have failed them all.
    let ratio = out.successes() as f64 / 200.0;
    assert!(
        (0.2..0.5).contains(&ratio),
        "success {ratio} under headers {steer:?}"
    );

    let mut silent = Vec::new();
    let ports =
        std::iter::once(mesh.ingress_port()).chain(mesh.plan.pods.iter().map(|p| p.inbound));
    for port in ports {
        for _ in 0..100 {
            silent.push(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"));
        }
    }
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_clients_cannot_steer_or_starve_the_mesh() {
    hostile_clients(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_clients_cannot_steer_or_starve_the_mesh() {
    hostile_clients(Protocol::Grpc).await;
}

/// The local addresses of the TCP sockets listening on `port`, from
/// /proc/net/tcp and tcp6 (hex `ADDR:PORT`, state 0A).
fn listening_on(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let Some((addr, p)) = f.get(1).and_then(|a| a.split_once(':')) else {
                continue;
            };
            if f.get(3) == Some(&"0A") && u16::from_str_radix(p, 16) == Ok(port) {
                out.push(addr.to_owned());
            }
        }
    }
    out
}

/// Nothing of a local mesh listens beyond the machine: every hop's port,
/// its metrics port, every sidecar's inbound side and the gateway are on
/// 127.0.0.1 only (`0100007F` in /proc's byte order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_listens_on_loopback_only() {
    let _turn = one_mesh_at_a_time().await;
    let mesh = start(model("demo.toml", None, &[]), &options()).await;
    let mut ports = vec![mesh.ingress_port()];
    for p in &mesh.plan.pods {
        ports.extend([p.hop, p.metrics, p.inbound]);
        ports.extend(p.outbound.values());
    }
    for port in ports {
        // One socket per Envoy worker (reuse_port), each on 127.0.0.1.
        let addresses = listening_on(port);
        assert!(!addresses.is_empty(), "nothing listens on {port}");
        assert!(
            addresses.iter().all(|a| a == "0100007F"),
            "port {port}: {addresses:?}"
        );
    }
}
