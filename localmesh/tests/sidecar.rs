//! Real sidecars (Envoy) in front of a real hop, over HTTP and gRPC, with the
//! demo profile: under `mtls = true` the backend's inbound side refuses plain
//! text and a certificate from another CA, lets middleware's identity through
//! and answers frontend's with 403 / PERMISSION_DENIED; a client sidecar
//! refuses a server that is not the destination it expects. Under
//! `mtls = false` (PERMISSIVE, no policy) both plain text and mutual TLS get
//! through. Every call is a client sidecar's outbound listener, so the
//! ISTIO_MUTUAL side is exercised too.

mod common;

use hop::testkit::{Protocol, Stub, StubMode, TIME_JSON, free_port, grpc_call, http_get, raw_http};
use localmesh::ca::{Authority, Credentials};
use localmesh::envoy::types::Address;
use localmesh::envoy::{MtlsMode, Outbound};
use localmesh::identity;

/// What a call through a client sidecar came back with.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// HTTP 200 / gRPC OK, answered by the backend hop.
    Ok,
    /// HTTP 403 / gRPC PERMISSION_DENIED.
    Denied,
    /// HTTP 503 / gRPC UNAVAILABLE: the connection to the server was refused.
    Refused,
    Other(String),
}

async fn call(protocol: Protocol, port: u16) -> Outcome {
    match protocol {
        Protocol::Http => match http_get(port, "/", &[]).await {
            Ok((200, _, body)) if body.contains("backend") => Outcome::Ok,
            Ok((403, _, body)) if body.contains("RBAC: access denied") => Outcome::Denied,
            Ok((503, _, _)) => Outcome::Refused,
            other => Outcome::Other(format!("{other:?}")),
        },
        Protocol::Grpc => match grpc_call(port, &[]).await {
            Ok((_, reply)) if format!("{reply:?}").contains("backend") => Outcome::Ok,
            Err(s) if s.code() == tonic::Code::PermissionDenied => Outcome::Denied,
            Err(s) if s.code() == tonic::Code::Unavailable => Outcome::Refused,
            other => Outcome::Other(format!("{other:?}")),
        },
    }
}

/// A plain-text client at `port`: whether anything answered.
async fn plain_text_answered(protocol: Protocol, port: u16) -> bool {
    match protocol {
        Protocol::Http => {
            let reply = raw_http(port, b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n").await;
            reply.starts_with("HTTP/1.1 200")
        }
        Protocol::Grpc => grpc_call(port, &[]).await.is_ok(),
    }
}

/// To `service`'s `prod` pods (every service of the demo has them) at `inbound`.
fn to(service: &str, listener_port: u16, inbound: u16) -> Outbound {
    Outbound {
        listener_port: Some(listener_port),
        service: service.to_owned(),
        subsets: [("prod".to_owned(), vec![Address::local(inbound)])].into(),
        mutual_tls: true,
        authorization: None,
    }
}

async fn strict(protocol: Protocol) {
    let m = common::model(common::demo(protocol), &[]);
    assert_eq!(MtlsMode::of(&m), MtlsMode::Strict);
    let ca = Authority::new().expect("a CA");
    let stranger = Authority::new().expect("another CA");
    let issue = |ca: &Authority, name| ca.issue(&identity::service(&m, name)).expect("issued");
    let (backend_id, middleware_id, frontend_id) = (
        issue(&ca, "backend"),
        issue(&ca, "middleware"),
        issue(&ca, "frontend"),
    );
    // Middleware's name signed by a CA the mesh does not trust, held by a
    // client that trusts the mesh's root (which is public): only the
    // backend's check of the client certificate can stop it.
    let forged_id = Credentials {
        root_cert: ca.root_cert().to_owned(),
        ..issue(&stranger, "middleware")
    };
    let dir = ca.dir();

    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let hop = common::hop(
        protocol,
        "backend",
        &format!("http://127.0.0.1:{}/", stub.port),
    )
    .await;
    let backend_in = free_port();
    let backend = common::sidecar(&m, "backend", &backend_id, backend_in, hop.port, vec![]);
    let backend = common::start(&backend, dir).expect("backend's sidecar");

    let (allowed, wrong_server, denied, foreign) =
        (free_port(), free_port(), free_port(), free_port());
    // Middleware's sidecar: to the backend, and to the backend's pod while
    // expecting frontend's identity there.
    let middleware = common::sidecar(
        &m,
        "middleware",
        &middleware_id,
        free_port(),
        free_port(),
        vec![
            to("backend", allowed, backend_in),
            to("frontend", wrong_server, backend_in),
        ],
    );
    let middleware = common::start(&middleware, dir).expect("middleware's sidecar");
    let frontend = common::sidecar(
        &m,
        "frontend",
        &frontend_id,
        free_port(),
        free_port(),
        vec![to("backend", denied, backend_in)],
    );
    let _frontend = common::start(&frontend, dir).expect("frontend's sidecar");
    // Middleware's name, signed by a CA the mesh does not trust.
    let forged = common::sidecar(
        &m,
        "middleware",
        &forged_id,
        free_port(),
        free_port(),
        vec![to("backend", foreign, backend_in)],
    );
    let forged = common::sidecar_pod(forged, "middleware-forged-0");
    let _forged = common::start(&forged, dir).expect("the forged sidecar");

    assert_eq!(
        call(protocol, allowed).await,
        Outcome::Ok,
        "middleware -> backend"
    );
    assert_eq!(
        call(protocol, denied).await,
        Outcome::Denied,
        "frontend -> backend"
    );
    assert!(
        common::stat(&backend, "rbac", "denied") >= 1,
        "the backend's RBAC denied it"
    );

    assert_eq!(
        call(protocol, foreign).await,
        Outcome::Refused,
        "another CA"
    );
    assert!(
        common::stat(
            &backend,
            &format!("listener.127.0.0.1_{backend_in}."),
            "ssl.fail_verify_error"
        ) >= 1,
        "the backend refused the certificate: {}",
        backend.admin_get("/stats?filter=ssl").unwrap().1
    );
    assert_eq!(
        call(protocol, wrong_server).await,
        Outcome::Refused,
        "not frontend's pod"
    );
    assert!(
        common::stat(&middleware, "frontend", "ssl.fail_verify_san") >= 1,
        "middleware's sidecar refused the server's identity"
    );

    assert!(
        !plain_text_answered(protocol, backend_in).await,
        "STRICT: plain text refused"
    );
    // And the one allowed path still works after all that.
    assert_eq!(call(protocol, allowed).await, Outcome::Ok);
}

async fn permissive(protocol: Protocol) {
    let m = common::model(common::demo(protocol), &["istio.mtls=false"]);
    assert_eq!(MtlsMode::of(&m), MtlsMode::Permissive);
    let ca = Authority::new().expect("a CA");
    let issue = |name| ca.issue(&identity::service(&m, name)).expect("issued");
    let (backend_id, frontend_id) = (issue("backend"), issue("frontend"));
    let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
    let hop = common::hop(
        protocol,
        "backend",
        &format!("http://127.0.0.1:{}/", stub.port),
    )
    .await;
    let backend_in = free_port();
    let backend = common::sidecar(&m, "backend", &backend_id, backend_in, hop.port, vec![]);
    let backend = common::start(&backend, ca.dir()).expect("backend's sidecar");
    let through = free_port();
    let frontend = common::sidecar(
        &m,
        "frontend",
        &frontend_id,
        free_port(),
        free_port(),
        vec![to("backend", through, backend_in)],
    );
    let _frontend = common::start(&frontend, ca.dir()).expect("frontend's sidecar");

    // No AuthorizationPolicy: frontend may call the backend, over mutual TLS
    // (auto mTLS), and so may a plain-text client.
    assert_eq!(call(protocol, through).await, Outcome::Ok);
    let listener = format!("listener.127.0.0.1_{backend_in}.");
    assert!(
        common::stat(&backend, &listener, "ssl.handshake") >= 1,
        "mutual TLS used"
    );
    assert!(
        plain_text_answered(protocol, backend_in).await,
        "PERMISSIVE: plain text served"
    );
}

#[tokio::test]
async fn http_strict() {
    strict(Protocol::Http).await;
}

#[tokio::test]
async fn grpc_strict() {
    strict(Protocol::Grpc).await;
}

#[tokio::test]
async fn http_permissive() {
    permissive(Protocol::Http).await;
}

#[tokio::test]
async fn grpc_permissive() {
    permissive(Protocol::Grpc).await;
}

/// The entry service lets the ingress proxy's identity in (Istio's ingress
/// gateway, or under the Gateway API the gateway Istio deploys in the
/// namespace), and nobody else: here a client holding the ingress identity,
/// then one holding middleware's.
#[tokio::test]
async fn the_gateway_reaches_the_entry_service() {
    for profile in ["demo.toml", "demo-gateway-api.toml"] {
        let m = common::model(profile, &[]);
        let ca = Authority::new().expect("a CA");
        let entry = &m.ingress.service;
        let entry_id = ca.issue(&identity::service(&m, entry)).unwrap();
        let gateway_id = ca.issue(&identity::ingress(&m)).unwrap();
        let middleware_id = ca.issue(&identity::service(&m, "middleware")).unwrap();
        let stub = Stub::start(StubMode::Answer(TIME_JSON)).await;
        let hop = common::hop(
            Protocol::Http,
            "backend",
            &format!("http://127.0.0.1:{}/", stub.port),
        )
        .await;
        let entry_in = free_port();
        let sidecar = common::sidecar(&m, entry, &entry_id, entry_in, hop.port, vec![]);
        let _entry = common::start(&sidecar, ca.dir()).expect("the entry's sidecar");
        let (through_gateway, through_middleware) = (free_port(), free_port());
        // The gateway is no service of the chain: its proxy is played here by
        // a sidecar holding its identity.
        let gateway = common::sidecar(
            &m,
            "backend",
            &gateway_id,
            free_port(),
            free_port(),
            vec![to(entry, through_gateway, entry_in)],
        );
        let gateway = common::sidecar_pod(gateway, "gateway-0");
        let _gateway = common::start(&gateway, ca.dir()).expect("the gateway");
        let middleware = common::sidecar(
            &m,
            "middleware",
            &middleware_id,
            free_port(),
            free_port(),
            vec![to(entry, through_middleware, entry_in)],
        );
        let _middleware = common::start(&middleware, ca.dir()).expect("middleware's sidecar");
        assert_eq!(
            call(Protocol::Http, through_gateway).await,
            Outcome::Ok,
            "{profile}"
        );
        assert_eq!(
            call(Protocol::Http, through_middleware).await,
            Outcome::Denied,
            "{profile}"
        );
    }
}
