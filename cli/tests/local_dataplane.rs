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
use localmesh::ca::Credentials;
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
    call(mesh.protocol(), port, Some(c))
}

/// One call of the real curl or grpcurl at `port`, under mutual TLS with
/// `credentials` or in plain text: `Ok(())`, or what it got (HTTP code, gRPC
/// code name, an error).
fn call(protocol: Protocol, port: u16, credentials: Option<&Credentials>) -> Result<(), String> {
    let mut cmd = match protocol {
        Protocol::Http => Command::new("curl"),
        Protocol::Grpc => Command::new(hop::testkit::tool("grpcurl")),
    };
    match protocol {
        Protocol::Http => cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ]),
        Protocol::Grpc => cmd.args(["-max-time", "10"]),
    };
    match (protocol, credentials) {
        // The server's certificate has a SPIFFE URI and no DNS name: its
        // identity is not what is checked here (-k), the client's is.
        (Protocol::Http, Some(c)) => {
            cmd.arg("-k")
                .arg("--cert")
                .arg(&c.cert_chain)
                .arg("--key")
                .arg(&c.key);
            cmd.arg(format!("https://127.0.0.1:{port}/"))
        }
        (Protocol::Http, None) => cmd.arg(format!("http://127.0.0.1:{port}/")),
        (Protocol::Grpc, Some(c)) => {
            cmd.arg("-insecure")
                .arg("-cert")
                .arg(&c.cert_chain)
                .arg("-key")
                .arg(&c.key);
            cmd.arg(format!("127.0.0.1:{port}"))
                .arg("chain.v1.Hop/Call")
        }
        (Protocol::Grpc, None) => cmd
            .arg("-plaintext")
            .arg(format!("127.0.0.1:{port}"))
            .arg("chain.v1.Hop/Call"),
    };
    let out = cmd.output().expect("curl / grpcurl runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match protocol {
        Protocol::Http if stdout == "200" => Ok(()),
        Protocol::Http => Err(stdout),
        Protocol::Grpc if out.status.success() => Ok(()),
        Protocol::Grpc => Err(format!("{stdout}{stderr}")),
    }
}

/// A plain-text client at `port` (an HTTP/1.1 request, or the HTTP/2
/// preface gRPC starts with): whether it got an answer in plain text (an
/// HTTP/1.1 status line, or an HTTP/2 frame). A STRICT inbound side finds no
/// filter chain for it and closes the connection; an HBONE port's TLS may
/// first send an alert record, which is no answer.
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
    let mut first = Vec::new();
    let _ = conn.take(9).read_to_end(&mut first);
    match protocol {
        Protocol::Http => first.starts_with(b"HTTP/"),
        // A frame header: 3 bytes of length, then the type (SETTINGS first).
        Protocol::Grpc => first.len() == 9 && first[3] == 0x04,
    }
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

/// An Envoy that tunnels each connection at its port to `authority`
/// through the HBONE port `hbone`, holding `who`'s certificate: a pod
/// that got hold of another's identity, or a rogue ztunnel. Built from the
/// mesh's own HBONE pieces, so it speaks exactly as ztunnel does.
fn tunnel_as(
    mesh: &Mesh,
    who: &str,
    hbone: u16,
    peer: &str,
    authority: String,
    dir: &std::path::Path,
) -> (localmesh::process::Envoy, u16) {
    use localmesh::envoy::{ProxyOptions, hbone, proxy::Proxy, tls};
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let name = format!("rogue-{who}-{port}");
    let bootstrap = Proxy {
        model: &mesh.model,
        name: name.clone(),
        options: &ProxyOptions::default(),
    }
    .bootstrap(
        name.clone(),
        vec![hbone::originate(&name, Some(port), &name, authority)],
        vec![hbone::tunnels(&name, hbone, tls::DEFAULT_SECRET, peer)],
        tls::secrets(mesh.credentials(who).expect("a mesh identity")),
    );
    let path = localmesh::envoy::write_bootstrap(&bootstrap, dir, &name).unwrap();
    let envoy = localmesh::process::Envoy::start(
        &local_support::envoy(),
        &name,
        &path,
        dir,
        std::time::Duration::from_secs(30),
    )
    .expect("the rogue Envoy starts");
    (envoy, port)
}

/// Ambient mode with `mtls = true`: three Envoys (the gateway, ztunnel, the
/// waypoint); the chain works through HBONE; no HBONE port answers plain
/// text; the waypoint enforces each Service's L7 policy on the principal
/// that opened the tunnel (a tunnel under frontend's identity to backend
/// gets 403 / PERMISSION_DENIED, under middleware's it gets through); and
/// ztunnel lets only the waypoint reach a pod (a tunnel straight to the
/// backend pod under middleware's identity is refused at L4, under the
/// waypoint's it gets through).
async fn ambient(protocol: Protocol) {
    let _turn = one_mesh_at_a_time().await;
    let profile = match protocol {
        Protocol::Http => "demo-ambient.toml",
        Protocol::Grpc => "demo-grpc-ambient.toml",
    };
    let m = model(profile, None, &[]);
    assert!(m.mesh.mtls);
    let mesh = start(m, &options()).await;
    let names: Vec<&str> = mesh.proxies().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["ingress gateway", "ztunnel", "waypoint"]);
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);

    let waypoint_port = mesh.plan.waypoint.expect("ambient has a waypoint");
    for port in mesh
        .plan
        .pods
        .iter()
        .map(|p| p.inbound)
        .chain([waypoint_port])
    {
        assert!(
            !plain_text_answered(protocol, port),
            "HBONE port {port} answered plain text"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let m = &mesh.model;
    let waypoint = localmesh::identity::waypoint(m);
    let to = |service: &str| {
        let d = localmesh::plan::Destination::Service(service.to_owned());
        localmesh::envoy::hbone::authority(m, &d)
    };
    // L7, at the waypoint: backend's policy allows middleware only. The
    // chain's own traffic left the waypoint's connections to backend's
    // routes open under middleware's principal: frontend's tunnel must
    // not be handed one of them.
    let via_waypoint = |who: &str, service: &str| {
        let peer = waypoint.spiffe_uri();
        let (_envoy, port) = tunnel_as(&mesh, who, waypoint_port, &peer, to(service), dir.path());
        call(protocol, port, None)
    };
    let forbidden = |outcome: Result<(), String>| match (protocol, outcome) {
        (Protocol::Http, Err(status)) => status == "403",
        (Protocol::Grpc, Err(e)) => e.contains("PermissionDenied"),
        (_, Ok(())) => false,
    };
    assert!(forbidden(via_waypoint("frontend", "backend")));
    assert_eq!(via_waypoint("middleware", "backend"), Ok(()));
    // The per-version Services the ingress routes name (`frontend-prod`)
    // carry the entry service's policy: the gateway only.
    let gateway = localmesh::identity::ingress(m).name;
    assert_eq!(via_waypoint(&gateway, "frontend-prod"), Ok(()));
    assert!(forbidden(via_waypoint("middleware", "frontend-prod")));
    assert!(forbidden(via_waypoint("middleware", "frontend")));
    // L4, at ztunnel: only the waypoint reaches the backend pod.
    let pod = mesh.plan.pods_of("backend", None).next().unwrap();
    let straight_to = |who: &str, authority: String| {
        let peer = localmesh::identity::service(m, "backend").spiffe_uri();
        let (_envoy, port) = tunnel_as(&mesh, who, pod.inbound, &peer, authority, dir.path());
        call(protocol, port, None)
    };
    assert_eq!(straight_to(&waypoint.name, pod.authority()), Ok(()));
    assert!(straight_to("middleware", pod.authority()).is_err());
    // A pod's HBONE port leads to that pod only: another pod's address,
    // or anything else on the machine, is refused even to the waypoint.
    let frontend = mesh.plan.pods_of("frontend", None).next().unwrap();
    assert!(straight_to(&waypoint.name, frontend.authority()).is_err());
    assert!(straight_to(&waypoint.name, "127.0.0.1:22".into()).is_err());

    // A caller the policies deny still gets its tunnels (the L7 check needs
    // a request inside): a hundred of them held open, under frontend's
    // identity to backend, keep the chain answering.
    let peer = waypoint.spiffe_uri();
    let (_rogue, port) = tunnel_as(
        &mesh,
        "frontend",
        waypoint_port,
        &peer,
        to("backend"),
        dir.path(),
    );
    let held: Vec<_> = (0..100)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    let out = drive(&mesh, 20, &[]).await;
    assert_eq!(out.successes(), 20, "{:?}", out.samples[0].error);
    drop(held);

    // A peer that connects and never finishes its handshake is dropped.
    use std::io::Read as _;
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", waypoint_port)).unwrap();
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut byte = [0u8; 1];
    match silent.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("a silent connection to the waypoint was kept: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_ambient_hbone_and_both_layers_of_authorization() {
    ambient(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_ambient_hbone_and_both_layers_of_authorization() {
    ambient(Protocol::Grpc).await;
}

/// Clients that lie and clients that stall: Envoy's own control headers
/// (`x-envoy-retry-on`, `x-envoy-max-retries`, a 1 ms
/// `x-envoy-upstream-rq-timeout-ms`) sent by a client are not obeyed by the
/// gateway, which takes the client as external (Istio's gateways do, by
/// `use_remote_address`), so a mesh without retries makes none; and a
/// hundred silent connections held open at the gateway, at every pod's
/// inbound side (a sidecar's, or its HBONE port in ambient mode) and at the
/// waypoint keep no request from being answered.
async fn hostile_clients(profile: &str) {
    let _turn = one_mesh_at_a_time().await;
    let m = model(profile, None, &[]);
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
    let ports = std::iter::once(mesh.ingress_port())
        .chain(mesh.plan.pods.iter().map(|p| p.inbound))
        .chain(mesh.plan.waypoint);
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
    hostile_clients(demo(Protocol::Http)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_clients_cannot_steer_or_starve_the_mesh() {
    hostile_clients(demo(Protocol::Grpc)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_clients_cannot_steer_or_starve_ambient() {
    hostile_clients("demo-ambient.toml").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_clients_cannot_steer_or_starve_ambient() {
    hostile_clients("demo-grpc-ambient.toml").await;
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
