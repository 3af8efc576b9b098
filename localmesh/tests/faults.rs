//! What fails says what failed: a busy port, a missing certificate, an Envoy
//! that dies or cannot be started, each named; and no Envoy outlives the
//! thread that started it.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use localmesh::Error;
use localmesh::ca::Authority;
use localmesh::identity;
use localmesh::process::{self, Envoy};
use meshgen::model::Model;

fn backend<'a>(
    m: &'a Model,
    credentials: &'a localmesh::ca::Credentials,
    inbound: u16,
) -> localmesh::envoy::Sidecar<'a> {
    common::sidecar(
        m,
        "backend",
        credentials,
        inbound,
        hop::testkit::free_port(),
        vec![],
    )
}

/// Waits (bounded) until `envoy` has exited, and returns the error saying so.
fn exited(envoy: &mut Envoy) -> Error {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Err(e) = envoy.check() {
            return e;
        }
        assert!(Instant::now() < end, "Envoy still runs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_busy_inbound_port_is_named() {
    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = common::start(&backend(&m, &c, port), ca.dir())
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(matches!(e, Error::EnvoyExited { .. }), "{text}");
    assert!(
        text.contains("Envoy for sidecar backend-prod-0 exited"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("Address already in use"), "{text}");
}

#[test]
fn a_missing_certificate_file_is_named() {
    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    std::fs::remove_file(&c.key).unwrap();
    let sidecar = backend(&m, &c, hop::testkit::free_port());
    let e = common::start(&sidecar, ca.dir()).err().expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("Envoy for sidecar backend-prod-0 exited"),
        "{text}"
    );
    assert!(text.contains(&c.key.display().to_string()), "{text}");
}

#[test]
fn an_envoy_that_dies_is_named() {
    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    let mut envoy = common::start(&backend(&m, &c, hop::testkit::free_port()), ca.dir()).unwrap();
    envoy.check().expect("runs");
    // SAFETY: killing our own child.
    assert_eq!(unsafe { libc::kill(envoy.pid() as i32, libc::SIGKILL) }, 0);
    let text = exited(&mut envoy).to_string();
    assert!(
        text.contains("Envoy for sidecar backend-prod-0 exited"),
        "{text}"
    );
    assert!(text.contains("signal: 9"), "{text}");
}

#[test]
fn a_missing_program_is_named() {
    let missing = Path::new("/nonexistent/envoy");
    let text = process::find(Some(missing)).unwrap_err().to_string();
    assert!(text.contains("/nonexistent/envoy"), "{text}");

    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    let sidecar = backend(&m, &c, hop::testkit::free_port());
    let bootstrap = sidecar.write_bootstrap(ca.dir()).unwrap();
    let e = Envoy::start(
        missing,
        "sidecar backend-prod-0",
        &bootstrap,
        ca.dir(),
        common::READY_LIMIT,
    )
    .err()
    .expect("refused");
    let text = e.to_string();
    assert!(matches!(e, Error::EnvoyNotStarted { .. }), "{text}");
    assert!(
        text.contains("cannot start Envoy for sidecar backend-prod-0 (/nonexistent/envoy)"),
        "{text}"
    );
}

/// PR_SET_PDEATHSIG: when the thread that started Envoy ends (as when
/// meshgen dies), the kernel kills Envoy.
#[test]
fn envoy_dies_with_the_thread_that_started_it() {
    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    let sidecar = backend(&m, &c, hop::testkit::free_port());
    let bootstrap = sidecar.write_bootstrap(ca.dir()).unwrap();
    let dir = ca.dir().to_owned();
    let mut envoy = std::thread::spawn(move || {
        Envoy::start(
            &common::envoy(),
            "sidecar backend-prod-0",
            &bootstrap,
            &dir,
            common::READY_LIMIT,
        )
        .expect("ready")
    })
    .join()
    .unwrap();
    let text = exited(&mut envoy).to_string();
    assert!(text.contains("signal: 9"), "{text}");
}

/// Dropping an Envoy stops it: nothing is left running.
#[test]
fn a_dropped_envoy_is_gone() {
    let m = common::model("demo.toml", &[]);
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "backend")).unwrap();
    let envoy = common::start(&backend(&m, &c, hop::testkit::free_port()), ca.dir()).unwrap();
    let pid = envoy.pid() as i32;
    drop(envoy);
    // SAFETY: signal 0 only asks whether the (reaped) pid exists.
    assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "Envoy {pid} still exists");
}
