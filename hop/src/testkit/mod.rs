//! Helpers for the binaries' integration tests (feature `testkit`): real
//! child processes on 127.0.0.1, a recording stub upstream, an OTLP/gRPC
//! receiver, and small clients. Everything is bounded in time.

pub mod attack;
mod client;
pub mod hold;
pub mod limits;
mod otlp;
mod process;
mod stub;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::probe::{grpc_serving, http_get};
pub use client::{grpc_call, raw_http};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::{HopProcess, Protocol};
pub use stub::{Stub, StubMode, TIME_JSON};

/// An outside program the tests need (grpcurl, promtool, envoy, ...): on PATH,
/// else in the workspace's .tools/bin where scripts/install-test-tools puts it.
/// Missing is a test failure that says how to get it, never a silent skip.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin");
    std::env::split_paths(&path)
        .chain([installed])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not on PATH nor in .tools/bin: run the tests with scripts/test, \
                 which installs it there and puts it on PATH"
            )
        })
}

/// A binary of another crate of the workspace, built next to the running
/// test's own binaries (target/<profile>/): `cargo test --workspace` (what
/// scripts/test runs) builds every binary before running any test.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let binary = dir.join(name);
    assert!(
        binary.is_file(),
        "{} not found: build it first (`cargo build -p {name}`), or run the whole workspace's \
         tests (`cargo test --workspace`, as scripts/test does)",
        binary.display()
    );
    binary
}

/// A free port on 127.0.0.1, held for the rest of the test process.
///
/// The port stays bound (SO_REUSEPORT, not listening), so no other test's
/// `bind` and no outgoing connection can take it, while a hop
/// ([`crate::serve::listen`]) or an Envoy (SO_REUSEPORT by default) can
/// still listen on it. Until something listens, a call to it is refused.
pub fn free_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<tokio::net::TcpSocket>> = std::sync::Mutex::new(Vec::new());
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket
        .bind((std::net::Ipv4Addr::LOCALHOST, 0).into())
        .expect("a free port on 127.0.0.1");
    let port = socket.local_addr().expect("a bound socket").port();
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(socket);
    port
}

/// Polls `check` until it holds, for at most `limit`; panics naming `what`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while !check().await {
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
