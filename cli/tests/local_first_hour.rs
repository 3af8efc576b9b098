//! A newcomer's mistakes with `up` and `compare` (issue 20): each is said
//! first, with the command that fixes it, and no measurement is ever lost.
//! Every request goes to 127.0.0.1; the "offline" external API is a closed
//! local port.

mod local_support;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use local_support::{alive, bin_dir, descendants, envoy, one_program_at_a_time, profile_path};

fn meshgen() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meshgen"));
    cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    cmd
}

/// `meshgen up` or `meshgen compare` with the test's Envoy and hops.
fn local(subcommand: &str) -> Command {
    let mut cmd = meshgen();
    cmd.arg(subcommand)
        .arg("--envoy")
        .arg(envoy())
        .arg("--bin-dir")
        .arg(bin_dir());
    cmd
}

/// A meshgen started by a test, stopped (SIGTERM, then reaped) when the test
/// ends, even by a failed assertion: no mesh outlives its test.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let _ = self.0.wait();
        }
    }
}

/// `meshgen up PROFILE EXTRA...` with the test's Envoy and hops, and the
/// first line it printed (empty if it ended first). Keep its stdout while it
/// runs: a closed one would end it (SIGPIPE).
fn up(profile: &std::ffi::OsStr, extra: &[&str]) -> (Stopped, BufReader<ChildStdout>, String) {
    let mut child = local("up")
        .arg(profile)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Stopped)
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    (child, stdout, line)
}

impl Stopped {
    /// SIGTERM, as Ctrl-C would be: `up` must exit 0. Returns its stderr.
    fn stop(&mut self) -> String {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
        assert_eq!(
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) },
            0
        );
        let mut stderr = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(self.0.wait().unwrap().success(), "{stderr}");
        stderr
    }
}

impl std::ops::Deref for Stopped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Stopped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The demo whose backend calls an external API that does not answer: a
/// port on 127.0.0.1 nothing listens on (taken, then freed).
/// The API is `offline.example.com` (an in-cluster name is not external),
/// played at that port with `--resolve`, the second value: no name is
/// looked up and nothing leaves the machine.
fn offline_profile(dir: &Path) -> (PathBuf, String) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let path = dir.join("offline.toml");
    std::fs::write(
        &path,
        format!(
            "extends = {:?}\n\
             [[service]]\nname = \"frontend\"\nupstream = \"middleware\"\n\
             [[service]]\nname = \"middleware\"\nversions = [\"prod\", \"canary\"]\nupstream = \"backend\"\n\
             [[service]]\nname = \"backend\"\nupstream = \"http://offline.example.com:{closed}/\"\n",
            profile_path("demo.toml").to_str().unwrap()
        ),
    )
    .unwrap();
    (path, format!("offline.example.com:{closed}:127.0.0.1"))
}

/// `meshgen up` and `compare` right after a build of meshgen alone: the
/// missing hop is the first and only thing said, with the command that
/// builds it. meshgen is copied into a folder of its own, with a PATH that
/// holds no hop, as after `cargo run --bin meshgen` or `cargo install`.
#[test]
fn without_the_hops_up_and_compare_say_how_to_build_them_before_anything_else() {
    let alone = tempfile::tempdir().unwrap();
    let exe = alone.path().join("meshgen");
    std::fs::copy(env!("CARGO_BIN_EXE_meshgen"), &exe).unwrap();
    let demo = profile_path("demo.toml");
    for args in [
        vec!["up", demo.to_str().unwrap(), "--stub-external"],
        vec!["compare", demo.to_str().unwrap(), "--stub-external"],
    ] {
        let out = Command::new(&exe)
            .args(&args)
            .arg("--envoy")
            .arg(envoy())
            .env("PATH", "/usr/bin:/bin")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        assert!(
            stderr.starts_with("error: chain-http not found next to meshgen"),
            "{args:?}: the missing hop comes first: {stderr}"
        );
        assert!(
            stderr.contains("`cargo build --release --bins`"),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("note:"),
            "{args:?}: no note before: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    }
}

/// Offline without `--stub-external`: `compare` does not report 0.000 in
/// every mode and exit 0; it stops at the warm-up, says why and how to fix it.
#[test]
fn compare_offline_without_the_stub_fails_with_the_reason_and_the_fix() {
    let _turn = one_program_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (profile, resolve) = offline_profile(dir.path());
    let out = meshgen()
        .arg("compare")
        .arg(profile)
        .args(["--resolve", &resolve])
        .args(["--requests", "20", "--envoy"])
        .arg(envoy())
        .arg("--bin-dir")
        .arg(bin_dir())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no row: {}", text(&out.stdout));
    assert!(
        stderr.contains("none of 20 warm-up requests") && stderr.contains("503"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the chain calls offline.example.com for real")
            && stderr.contains("add --stub-external"),
        "{stderr}"
    );
}

/// `up` on the same profile still comes up (one may want to look), but
/// warns before the ingress line, with the same hint.
#[test]
fn up_offline_without_the_stub_warns_with_the_fix() {
    let _turn = one_program_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let (profile, resolve) = offline_profile(dir.path());
    let (mut child, _stdout, line) = up(profile.as_os_str(), &["--resolve", &resolve]);
    assert!(line.starts_with("ingress: http://127.0.0.1:"), "{line}");
    let stderr = child.stop();
    assert!(
        stderr.contains("warning: none of the first requests through the ingress succeeded")
            && stderr.contains("add --stub-external"),
        "{stderr}"
    );
}

fn compare_with_report(report: &Path) -> Output {
    local("compare")
        .arg(profile_path("demo.toml"))
        .arg("--stub-external")
        .arg("--report")
        .arg(report)
        .output()
        .unwrap()
}

/// A report that could not be written is refused before anything runs (no
/// note, no mesh), where the run used to measure for minutes and then lose it.
#[test]
fn an_unwritable_report_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/compare.html");
    let out = compare_with_report(&missing);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --report ") && stderr.contains("mkdir -p"),
        "{stderr}"
    );
    assert!(!stderr.contains("note:"), "{stderr}");

    let out = compare_with_report(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("a directory"), "{stderr}");

    // The run's own inputs (a profile, `--beside` rows, `-`) are no page.
    for name in ["demo.toml", "rows.json", "-"] {
        let out = compare_with_report(&dir.path().join(name));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("not an .html file name"),
            "{name}: {stderr}"
        );
    }

    let read_only = dir.path().join("read-only.html");
    std::fs::write(&read_only, "").unwrap();
    let mut perms = std::fs::metadata(&read_only).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&read_only, perms).unwrap();
    // root writes a read-only file anyway: then there is nothing to refuse.
    if std::fs::OpenOptions::new()
        .append(true)
        .open(&read_only)
        .is_err()
    {
        let out = compare_with_report(&read_only);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("cannot be written"), "{stderr}");
    }
}

/// Ctrl-C during `compare` prints the rows measured so far (and stops every
/// process it started), exit 130 as for any program stopped by SIGINT.
#[test]
fn an_interrupted_compare_prints_the_rows_measured_so_far() {
    let _turn = one_program_at_a_time();
    let mut child = local("compare")
        .arg(profile_path("demo.toml"))
        .args(["--stub-external", "--json", "--requests", "30"])
        .args(["--sweep", "0,0,0,0,0,0,0,0,0,0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Stopped)
        .unwrap();
    let pid = child.id();
    // Without a terminal, compare says each point it measured on stderr.
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut said = Vec::new();
    let end = Instant::now() + Duration::from_secs(120);
    let mut measured = 0;
    while measured < 2 {
        let line = rx
            .recv_timeout(end.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no second point measured within 120 s: {said:?}"));
        if line.starts_with("measured ") {
            measured += 1;
        }
        said.push(line);
    }
    let started = descendants(pid);
    assert!(!started.is_empty(), "the mesh runs: {said:?}");
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    said.extend(rx.try_iter());
    assert_eq!(status.code(), Some(130), "{said:?}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(
        (2..30).contains(&rows.len()),
        "the rows measured before the signal: {rows:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("interrupted: ")),
        "{said:?}"
    );
    let left: Vec<u32> = started.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// `up --port P --log-dir DIR`: the ingress on P, the logs in DIR, named, and
/// kept after exit; Envoy's access log (the profile's `istio.access_log`,
/// true by default) in each proxy's log in DIR, as `kubectl logs -c istio-proxy` shows it.
#[test]
fn up_listens_on_the_port_asked_and_keeps_its_logs_with_the_access_log() {
    let _turn = one_program_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // A port free now may be taken by another program before `up` listens
    // (CI shares the machine): `up` then says so, and another is tried.
    // Its stdout stays open while it runs: a closed one would end it (SIGPIPE).
    let (port, mut child, _stdout) = (0..5)
        .find_map(|_| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let port_text = port.to_string();
            let log_dir = logs.to_str().unwrap();
            let extra = [
                "--stub-external",
                "--routes",
                "--port",
                &port_text,
                "--log-dir",
                log_dir,
            ];
            let demo = profile_path("demo.toml");
            let (mut child, stdout, line) = up(demo.as_os_str(), &extra);
            if line.is_empty() {
                let mut stderr = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
                assert!(
                    stderr.contains("cannot listen on"),
                    "up did not start: {stderr}"
                );
                return None;
            }
            assert_eq!(line.trim(), format!("ingress: http://127.0.0.1:{port}"));
            Some((port, child, stdout))
        })
        .expect("a free port in five tries");
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: access-log-probe\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The gateway's access log has the probe; its request id is in the
    // access log of every pass after it: the gateway, then each hop's
    // caller and callee sidecars (the backend's to the external API).
    // Envoy writes its access log out every second: wait for the seven.
    let passes_of_probe = || {
        let gateway_log =
            std::fs::read_to_string(logs.join("ingress-gateway.log")).unwrap_or_default();
        let probe = gateway_log
            .lines()
            .find(|l| l.contains("\"GET / HTTP/1.1\" 200") && l.contains("\"access-log-probe\""))?;
        let request_id = probe
            .split('"')
            .nth(9)
            .expect("the request id field")
            .to_owned();
        let mut passes = Vec::new();
        for entry in std::fs::read_dir(&logs).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.starts_with("sidecar-") || name.starts_with("ingress-"))
                || !name.ends_with(".log")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let n = text.lines().filter(|l| l.contains(&request_id)).count();
            passes.extend(std::iter::repeat_n(name, n));
        }
        passes.sort();
        Some((request_id, passes))
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (request_id, passes) = loop {
        match passes_of_probe() {
            Some((id, passes)) if passes.len() >= 7 => break (id, passes),
            _ if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(100))
            }
            found => panic!("the probe's access log lines: {found:?}"),
        }
    };
    let stderr = child.stop();
    assert!(
        stderr.contains(&format!("logs: {}", logs.display())),
        "{stderr}"
    );
    // --routes: what each proxy got, in Istio's terms: the canary match of
    // frontend's sidecar's listener to middleware, and the demo's retries.
    let canary = stderr
        .lines()
        .find(|l| {
            l.starts_with("sidecar frontend-prod-0")
                && l.contains("outbound_middleware")
                && l.contains("x-dev-user=super-secret")
        })
        .unwrap_or_else(|| panic!("no canary route: {stderr}"));
    assert!(
        canary.contains("outbound|80|canary|middleware.istio101.svc.cluster.local")
            && canary.contains("3 x 5xx,connect-failure,refused-stream, 2s per try"),
        "{canary}"
    );
    assert_eq!(
        passes,
        [
            "ingress-gateway.log",
            "sidecar-backend-prod-0.log",
            "sidecar-backend-prod-0.log",
            "sidecar-frontend-prod-0.log",
            "sidecar-frontend-prod-0.log",
            "sidecar-middleware-prod-0.log",
            "sidecar-middleware-prod-0.log",
        ],
        "request {request_id}: seven proxy passes"
    );
    assert!(logs.join("frontend-prod-0.log").is_file());
}

/// `--json` saved, then `--report --beside` that file: the earlier run is
/// drawn beside the new one, each series named with the file it came from.
/// A file that is not such rows is refused before anything runs.
#[test]
fn a_saved_run_is_drawn_beside_a_new_one() {
    let _turn = one_program_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&std::ffi::OsStr]| {
        local("compare")
            .arg(profile_path("demo.toml"))
            .args(["--stub-external", "--requests", "20", "--sweep", "0,0.5"])
            .args(extra)
            .output()
            .unwrap()
    };
    let before = dir.path().join("before.json");
    let out = run(&["--json".as_ref()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(&before, &out.stdout).unwrap();
    let report = dir.path().join("r.html");
    let out = run(&[
        "--report".as_ref(),
        report.as_os_str(),
        "--beside".as_ref(),
        before.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&report).unwrap();
    for series in ["demo on", "demo (before) on", "demo (before) off"] {
        assert!(
            page.contains(&format!("\n{series}\n</text>")),
            "no series {series}"
        );
    }
    // The terminal shows this run only.
    assert!(!text(&out.stdout).contains("(before)"));

    let out = run(&[
        "--report".as_ref(),
        report.as_os_str(),
        "--beside".as_ref(),
        report.as_os_str(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("not the rows of `meshgen compare --json`") && !stderr.contains("note:"),
        "{stderr}"
    );
}

/// `-t 1s`, as fortio's: each point runs for a time instead of a count;
/// every mode gets a row with what it measured in that time.
#[test]
fn a_duration_runs_each_point_for_that_long() {
    let _turn = one_program_at_a_time();
    let out = meshgen()
        .arg("compare")
        .arg(profile_path("demo.toml"))
        .args(["--stub-external", "-t", "1s", "--json", "--envoy"])
        .arg(envoy())
        .arg("--bin-dir")
        .arg(bin_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        assert!(r["requests"].as_u64().unwrap() > 0, "{r}");
    }
    let out = meshgen()
        .arg("compare")
        .arg(profile_path("demo.toml"))
        .args(["-t", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--duration must be more than 0"));
}
