//! docs/local.md run as written, in order (issue 20): every command of its
//! code blocks, in a copy of `profiles/` with a fresh home folder, with the
//! programs cargo built (meshgen and the hops) and Envoy and grpcurl (from
//! PATH or `.tools/bin`) on PATH. Each exits as the doc says, and where the
//! doc shows output, the same lines come out (ports, temporary folders and
//! measured figures aside). Every request goes to 127.0.0.1: `up` and
//! `compare` run with `--stub-external`, as the doc writes them.
//!
//! The doc's blocks are transcripts: a line starting with one of
//! [`PROGRAMS`] is a command, any other line is the output of the command
//! above it. A block of output alone (the Gateway API and ambient table) is
//! the output of the `meshgen ...` command the paragraph before it names.
//!
//! `meshgen up` runs until stopped: it is started in the background, its
//! `ingress:` line read, the `curl` / `grpcurl` lines below it sent to that
//! ingress (the doc's port replaced by the one `up` chose), then it is
//! stopped with SIGTERM and must exit 0 leaving no process behind.
//!
//! Skipped, each for a reason said in [`skip_reason`] and printed: what
//! needs kubectl and a cluster (the port-forwards and `compare --ingress`
//! of a deployed mesh).

mod local_support;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use local_support::{alive, bin_dir, descendants, envoy, repo};
use regex::Regex;

/// The first word of a command line in the doc's blocks.
const PROGRAMS: [&str; 4] = ["meshgen", "curl", "grpcurl", "kubectl"];

/// Commands run with a bound (a hung one fails the test, it never hangs it).
const BOUND: Duration = Duration::from_secs(300);

/// What the doc's own command would cost, made small: the extra arguments
/// given to a `meshgen compare` command, and why. Everything else runs
/// exactly as written (`compare profiles/demo.toml profiles/demo-grpc.toml
/// --stub-external --fail 0.3` included: 6 points of 1,000 requests, about
/// 12 s on a debug build, and its success ratios are then close enough to
/// the doc's expectations to check them).
fn smaller(line: &str) -> Option<(&'static [&'static str], &'static str)> {
    if line.contains("--report") {
        Some((
            &["--requests", "20"],
            "as written: 6 fail probabilities x 4 modes (bare implied, its latency run 3 times) \
             x 2 profiles x 1,000 requests, minutes; 20 each show the report is written",
        ))
    } else if line.contains("demo-grpc-ambient.toml") {
        Some((
            &["--requests", "20"],
            "as written: 12 points of 1,000 requests; 20 each show the table's rows and \
             expectations, whose measured columns vary anyway",
        ))
    } else {
        None
    }
}

/// Why a documented command is not run, or None when it is.
fn skip_reason(line: &str) -> Option<&'static str> {
    if line.starts_with("kubectl ") {
        Some("kubectl port-forward to a cluster's ingress gateway: needs kubectl and a cluster")
    } else if line.contains(" --ingress ") {
        Some(
            "drives a deployed mesh through the two port-forwards above: needs a cluster \
             (cli/tests/local_up.rs runs --ingress against `meshgen up`)",
        )
    } else {
        None
    }
}

/// One command of the doc, with the output the doc shows after it.
#[derive(Debug)]
struct Documented {
    line: String,
    output: Vec<String>,
    /// The block it belongs to (0-based), for the ingress of `up`.
    block: usize,
    /// Named in the paragraph before a block of output alone.
    from_prose: bool,
}

fn is_command(line: &str) -> bool {
    PROGRAMS
        .iter()
        .any(|p| line.split_whitespace().next() == Some(p))
}

/// The last `` `meshgen ...` `` code span of `text`, its line breaks as spaces.
fn last_command_span(text: &str) -> Option<String> {
    let start = text.rfind("`meshgen ")? + 1;
    let end = start + text[start..].find('`')?;
    Some(
        text[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Every command of docs/local.md's code blocks, in order.
fn documented() -> Vec<Documented> {
    let doc = std::fs::read_to_string(repo().join("docs/local.md")).unwrap();
    let mut commands: Vec<Documented> = Vec::new();
    let mut prose = String::new();
    let mut block: Option<usize> = None;
    let mut blocks = 0;
    for line in doc.lines() {
        if line.starts_with("```") {
            block = match block {
                Some(_) => None,
                None => {
                    blocks += 1;
                    Some(blocks - 1)
                }
            };
            if block.is_none() {
                prose.clear();
            }
            continue;
        }
        let Some(b) = block else {
            prose.push_str(line);
            prose.push('\n');
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if is_command(line) {
            commands.push(Documented {
                line: line.to_owned(),
                output: vec![],
                block: b,
                from_prose: false,
            });
        } else {
            if commands.last().is_none_or(|c| c.block != b) {
                let named = last_command_span(&prose).unwrap_or_else(|| {
                    panic!("block {b}: output `{line}` with no command before it")
                });
                commands.push(Documented {
                    line: named,
                    output: vec![],
                    block: b,
                    from_prose: true,
                });
            }
            commands.last_mut().unwrap().output.push(line.to_owned());
        }
    }
    assert!(block.is_none(), "docs/local.md: a code block is not closed");
    commands
}

/// A doc output line as a pattern: the ports and temporary folders the doc
/// shows are examples.
fn pattern(doc_line: &str) -> Regex {
    let varying = Regex::new(r"127\.0\.0\.1:(\d+|PORT)|/tmp/meshgen-local-[A-Za-z0-9]+").unwrap();
    let mut p = String::from("^");
    let mut last = 0;
    for m in varying.find_iter(doc_line) {
        p.push_str(&regex::escape(&doc_line[last..m.start()]));
        p.push_str(if m.as_str().starts_with("127") {
            r"127\.0\.0\.1:\d+"
        } else {
            r"\S+/meshgen-local-[A-Za-z0-9]+"
        });
        last = m.end();
    }
    p.push_str(&regex::escape(&doc_line[last..]));
    p.push('$');
    Regex::new(&p).unwrap()
}

/// Where the commands run: a copy of `profiles/`, a fresh home, and a PATH
/// with meshgen, the hops, Envoy and grpcurl first.
struct Place {
    dir: tempfile::TempDir,
    home: PathBuf,
    path: std::ffi::OsString,
}

impl Place {
    fn new() -> Place {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let ok = Command::new("cp")
            .arg("-a")
            .arg(repo().join("profiles"))
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "copy profiles/");
        let tools = [
            bin_dir(),
            envoy().parent().unwrap().to_owned(),
            hop::testkit::tool("grpcurl").parent().unwrap().to_owned(),
        ];
        let path = std::env::join_paths(
            tools
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        Place { dir, home, path }
    }

    /// `line` run by bash, as a reader's shell runs it, in a process group of its own.
    fn bash(&self, line: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-euo", "pipefail", "-c", line])
            .current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("HOME", &self.home)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd
    }
}

/// A command started by the test, in its own process group: stopped
/// (SIGTERM to the group, SIGKILL after 10 s) and reaped when dropped, even
/// by a failed assertion, so nothing outlives the test.
struct Running {
    child: Child,
    lines: mpsc::Receiver<(bool, String)>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send((true, l));
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send((false, l));
            }
        });
        Running {
            child,
            lines,
            stdout: vec![],
            stderr: vec![],
        }
    }

    fn take(&mut self, (is_stdout, line): (bool, String)) {
        if is_stdout {
            self.stdout.push(line);
        } else {
            self.stderr.push(line);
        }
    }

    /// Reads until a stdout line starts with `prefix`, within the bound.
    fn until_stdout(&mut self, prefix: &str) -> String {
        let end = Instant::now() + BOUND;
        loop {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(l) => {
                    let found = l.0 && l.1.starts_with(prefix);
                    let text = l.1.clone();
                    self.take(l);
                    if found {
                        return text;
                    }
                }
                Err(_) => panic!(
                    "no `{prefix}` line (exited: {:?}); stderr so far:\n{}",
                    self.child.try_wait(),
                    self.stderr.join("\n")
                ),
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on the process group of our own child, not yet reaped.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), sig) };
    }

    /// Waits for the exit within `bound` (SIGTERM, then SIGKILL, past it),
    /// and for the rest of both outputs.
    fn finish(&mut self, bound: Duration) -> ExitStatus {
        let end = Instant::now() + bound;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > end {
                self.signal(libc::SIGTERM);
                std::thread::sleep(Duration::from_secs(10));
                self.signal(libc::SIGKILL);
                let _ = self.child.wait();
                panic!(
                    "still running after {bound:?}; stderr:\n{}",
                    self.stderr.join("\n")
                );
            }
            while let Ok(l) = self.lines.try_recv() {
                self.take(l);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Both readers end at EOF, once every process holding the pipes is gone.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.take(l);
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            self.signal(libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Runs `line` to its end within [`BOUND`].
fn run(place: &Place, line: &str) -> (ExitStatus, Vec<String>, Vec<String>) {
    let mut r = Running::start(place.bash(line));
    let status = r.finish(BOUND);
    (
        status,
        std::mem::take(&mut r.stdout),
        std::mem::take(&mut r.stderr),
    )
}

/// `meshgen up`, running, with its ingress address (HOST:PORT).
struct Up {
    profile: String,
    running: Running,
    ingress: String,
    started: Vec<u32>,
}

fn profile_of(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|w| w.ends_with(".toml"))
        .map(|w| w.trim_start_matches("profiles/").to_owned())
}

fn start_up(place: &Place, line: &str) -> Up {
    // exec: SIGTERM reaches meshgen itself, as Ctrl-C would.
    let mut running = Running::start(place.bash(&format!("exec {line}")));
    let ingress_line = running.until_stdout("ingress: ");
    let ingress = Regex::new(r"127\.0\.0\.1:\d+")
        .unwrap()
        .find(&ingress_line)
        .unwrap_or_else(|| panic!("`{line}`: {ingress_line}"))
        .as_str()
        .to_owned();
    let started = descendants(running.child.id());
    assert!(!started.is_empty(), "`{line}`: Envoy and the hops run");
    Up {
        profile: profile_of(line).expect("up names a profile"),
        running,
        ingress,
        started,
    }
}

/// SIGTERM, as the doc says: exit 0, Envoy and every hop gone.
fn stop_up(line: &str, mut up: Up) -> (Vec<String>, Vec<String>) {
    // SAFETY: kill(2) on our own child (meshgen, exec'd by bash), not yet reaped.
    assert_eq!(
        unsafe { libc::kill(up.running.child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let status = up.running.finish(Duration::from_secs(60));
    assert!(
        status.success(),
        "`{line}` after SIGTERM: {status}\n{}",
        up.running.stderr.join("\n")
    );
    let left: Vec<u32> = up.started.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "`{line}` left processes behind: {left:?}");
    (
        std::mem::take(&mut up.running.stdout),
        std::mem::take(&mut up.running.stderr),
    )
}

/// The output the doc shows after `up`, line by line, is what `up` printed
/// (stdout and stderr together, as a terminal shows them); and every note
/// or warning `up` printed is in the doc.
fn check_up_output(doc: &Documented, stdout: &[String], stderr: &[String]) {
    let printed: Vec<&String> = stdout.iter().chain(stderr).collect();
    for want in &doc.output {
        let p = pattern(want);
        assert!(
            printed.iter().any(|l| p.is_match(l)),
            "`{}`: the doc shows `{want}`, not printed:\n{}",
            doc.line,
            printed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    if !doc.output.is_empty() {
        for said in printed
            .iter()
            .filter(|l| l.starts_with("note: ") || l.starts_with("warning: "))
        {
            assert!(
                doc.output.iter().any(|w| w == *said),
                "`{}` says `{said}`, which the doc does not show",
                doc.line
            );
        }
    }
}

/// A `compare` table: the line above it, its rows as cells (split at two
/// spaces or more) under the header's names, and the lines below it.
struct Table {
    above: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    below: Vec<String>,
}

fn cells(line: &str) -> Vec<String> {
    Regex::new(r"\s{2,}")
        .unwrap()
        .split(line.trim())
        .map(str::to_owned)
        .collect()
}

fn table(lines: &[String]) -> Table {
    let h = lines
        .iter()
        .position(|l| l.starts_with("profile "))
        .unwrap_or_else(|| panic!("no table header: {lines:?}"));
    assert!(h >= 1, "a line above the table: {lines:?}");
    let header = cells(&lines[h]);
    let mut rows = vec![];
    let mut below = vec![];
    for l in &lines[h + 1..] {
        let c = cells(l);
        if below.is_empty() && c.len() == header.len() {
            rows.push(c);
        } else {
            below.push(l.clone());
        }
    }
    Table {
        above: lines[h - 1].clone(),
        header,
        rows,
        below,
    }
}

impl Table {
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {:?}", self.header))
    }

    fn cell<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        &row[self.col(name)]
    }
}

/// Measured, so any figure: the other columns are as the doc shows them.
const MEASURED: [&str; 5] = ["success", "req/s", "p50 ms", "p99 ms", "envoy retries"];

/// The table the doc shows and the one printed: the same line above, header,
/// rows (measured cells aside, which must be figures) and lines below.
fn check_table(line: &str, doc: &[String], printed: &[String]) {
    let want = table(doc);
    let got = table(printed);
    assert_eq!(got.above, want.above, "`{line}`");
    assert_eq!(got.header, want.header, "`{line}`");
    assert_eq!(
        got.rows.len(),
        want.rows.len(),
        "`{line}`: rows {:?}",
        got.rows
    );
    for (g, w) in got.rows.iter().zip(&want.rows) {
        for (i, name) in want.header.iter().enumerate() {
            if MEASURED.contains(&name.as_str()) {
                assert!(
                    g[i] == "-" || g[i].parse::<f64>().is_ok(),
                    "`{line}`: {name} {:?} in {g:?}",
                    g[i]
                );
            } else {
                assert_eq!(g[i], w[i], "`{line}`: {name} in {g:?}, the doc shows {w:?}");
            }
        }
    }
    assert_eq!(got.below, want.below, "`{line}`");
}

/// `compare ... --fail 0.3` of both demos, as written: what "What to expect
/// with `--fail 0.3` on the 3-hop demo" says, and one `measured` line per
/// point on stderr (no terminal), as the doc shows one.
fn check_compare_demos(line: &str, stdout: &[String], stderr: &[String]) {
    let t = table(stdout);
    assert_eq!(
        t.above, "routes istio, data plane sidecar, mtls on, fail 0.30",
        "`{line}`"
    );
    let mut seen = BTreeSet::new();
    for r in &t.rows {
        let (profile, retries) = (t.cell(r, "profile"), t.cell(r, "retries"));
        let expected: f64 = t.cell(r, "expected").parse().unwrap();
        let success: f64 = t.cell(r, "success").parse().unwrap();
        let envoy_retries: u64 = t.cell(r, "envoy retries").parse().unwrap();
        let doc_expected = match retries {
            "on" => 0.976, // (1 - 0.3^4)^3
            _ => 0.343,    // 0.7^3
        };
        assert_eq!(expected, doc_expected, "`{line}`: {r:?}");
        // 1,000 requests: a binomial spread of 0.015 at most; 0.1 is 6 of them.
        assert!(
            (success - expected).abs() < 0.1,
            "`{line}`: {r:?}, the doc expects about {expected}"
        );
        if retries == "on" {
            assert!(envoy_retries > 0, "`{line}`: {r:?}");
        } else {
            assert_eq!(envoy_retries, 0, "`{line}`: zero retries: {r:?}");
        }
        let protocol = t.cell(r, "protocol");
        let measured = Regex::new(&format!(
            r"^measured {} \({protocol}\), retries {retries}, fail 0\.3: success \d\.\d{{3}} of 1000$",
            regex::escape(profile)
        ))
        .unwrap();
        assert!(
            stderr.iter().any(|l| measured.is_match(l)),
            "`{line}`: no `{measured}` on stderr:\n{}",
            stderr.join("\n")
        );
        seen.insert((profile.to_owned(), retries.to_owned()));
    }
    for profile in ["demo", "demo-grpc"] {
        for mode in ["on", "off", "default"] {
            assert!(
                seen.contains(&(profile.to_owned(), mode.to_owned())),
                "`{line}`: no row {profile} {mode}: {:?}",
                t.rows
            );
        }
    }
    assert_eq!(
        t.below,
        ["versions that answered: backend:prod frontend:prod middleware:prod"],
        "`{line}`"
    );
}

/// `--report compare.html`: the page written where the command ran, no
/// script and nothing fetched from the network; the rows cover the default
/// sweep (0 to 0.5 by 0.1) and the `bare` baseline `--report` implies.
fn check_report(line: &str, dir: &Path, stdout: &[String]) {
    let page = std::fs::read_to_string(dir.join("compare.html"))
        .unwrap_or_else(|e| panic!("`{line}`: compare.html: {e}"));
    assert!(page.starts_with("<!DOCTYPE html>"), "`{line}`");
    assert!(page.contains("<svg"), "`{line}`: inline plots");
    for fetched in ["<script", "src=\"http", "href=\"http", "url(http"] {
        assert!(!page.contains(fetched), "`{line}`: {fetched} in the page");
    }
    let t = table(stdout);
    let fails: BTreeSet<&str> = t.rows.iter().map(|r| t.cell(r, "fail")).collect();
    assert_eq!(
        fails,
        BTreeSet::from(["0.00", "0.10", "0.20", "0.30", "0.40", "0.50"]),
        "`{line}`"
    );
    let modes: BTreeSet<&str> = t.rows.iter().map(|r| t.cell(r, "retries")).collect();
    assert_eq!(
        modes,
        BTreeSet::from(["on", "off", "default", "bare"]),
        "`{line}`"
    );
}

/// What a client line's comment names (`# demo-grpc.toml`), else the
/// profile of the `up` above it.
fn client_profile(line: &str, up_line: &str) -> String {
    line.split_once('#')
        .and_then(|(_, comment)| profile_of(comment))
        .or_else(|| profile_of(up_line))
        .unwrap()
}

#[test]
fn every_command_of_local_md_runs_as_written() {
    let commands = documented();
    let place = Place::new();
    let mut ran: Vec<String> = vec![];
    let mut skipped: Vec<(String, &str)> = vec![];
    // The `up` of the current block: its documented command, and it running.
    let mut up: Option<(&Documented, Up)> = None;
    // Whether that `up` runs another profile than the documented one.
    let mut derived_up = false;
    let mut checked = BTreeSet::new();
    // The ingress a client line names: the doc's example port, or PORT.
    let address = Regex::new(r"127\.0\.0\.1:(\d+|PORT)").unwrap();
    for (i, doc) in commands.iter().enumerate() {
        let line = doc.line.as_str();
        if let Some(reason) = skip_reason(line) {
            skipped.push((line.to_owned(), reason));
            continue;
        }
        if line.starts_with("meshgen up ") {
            assert!(up.is_none(), "one `up` a block");
            up = Some((doc, start_up(&place, line)));
            ran.push(line.to_owned());
        } else if line.starts_with("curl ") || line.starts_with("grpcurl ") {
            let (up_doc, _) = up
                .as_ref()
                .unwrap_or_else(|| panic!("`{line}`: no `meshgen up` above it in its block"));
            let profile = client_profile(line, &up_doc.line);
            if up.as_ref().unwrap().1.profile != profile {
                // The same `up`, for the profile the comment names.
                let (up_doc, current) = up.take().unwrap();
                let (stdout, stderr) = stop_up(&up_doc.line, current);
                check_up_output(up_doc, &stdout, &stderr);
                let derived = up_doc.line.replace(
                    &format!("profiles/{}", profile_of(&up_doc.line).unwrap()),
                    &format!("profiles/{profile}"),
                );
                let mut started = start_up(&place, &derived);
                ran.push(derived.clone());
                // For a gRPC chain the line is `ingress: 127.0.0.1:PORT`,
                // and `try:` is the doc's grpcurl line, at that ingress.
                assert_eq!(
                    started.running.stdout.last().unwrap(),
                    &format!("ingress: {}", started.ingress),
                    "`{derived}`"
                );
                let try_line = loop {
                    if let Some(t) = started
                        .running
                        .stderr
                        .iter()
                        .find(|l| l.starts_with("try: "))
                    {
                        break t.clone();
                    }
                    let l = started.running.lines.recv_timeout(BOUND).unwrap();
                    started.running.take(l);
                };
                let want = line.split('#').next().unwrap().trim();
                assert!(
                    pattern(&format!("try: {want}")).is_match(&try_line)
                        && try_line.contains(&started.ingress),
                    "`{derived}`: {try_line}, the doc runs `{want}`"
                );
                derived_up = true;
                up = Some((up_doc, started));
            }
            let ingress = &up.as_ref().unwrap().1.ingress;
            let sent = address.replace_all(line, ingress.as_str()).into_owned();
            let (status, stdout, stderr) = run(&place, &sent);
            let answer = stdout.join("\n");
            assert!(
                status.success(),
                "`{sent}`: {status}\n{}",
                stderr.join("\n")
            );
            if line.starts_with("grpcurl ") {
                for service in ["frontend", "middleware", "backend"] {
                    assert!(
                        answer.contains(&format!("\"service\": \"{service}\"")),
                        "`{sent}`: {answer}"
                    );
                }
            } else if line.contains("x-dev-user: super-secret") {
                assert!(
                    answer.contains("-> middleware-canary"),
                    "`{sent}`: {answer}"
                );
            } else if line.contains("fail:") {
                // Retries hide most failures, not all: a hop that failed
                // every try answers 500 (about 1 in 40), with an empty body
                // when it is the frontend. The chain answers, whatever its status.
                assert!(
                    answer.is_empty() || answer.starts_with("frontend-prod"),
                    "`{sent}`: {answer}"
                );
            } else {
                for hop in ["frontend-prod", "-> middleware-prod", "-> backend-prod"] {
                    assert!(answer.contains(hop), "`{sent}`: {answer}");
                }
            }
            ran.push(sent);
        } else if line.starts_with("meshgen ") {
            let mut args = line.to_owned();
            if let Some((extra, why)) = smaller(line) {
                args = format!("{line} {}", extra.join(" "));
                eprintln!("`{line}`: run with {extra:?}, {why}");
            }
            let (status, stdout, stderr) = run(&place, &args);
            assert!(
                status.success(),
                "`{args}`: {status}\n{}",
                stderr.join("\n")
            );
            if !doc.output.is_empty() {
                check_table(&args, &doc.output, &stdout);
                checked.insert("the Gateway API and ambient table");
            } else if line.contains("--report compare.html") {
                check_report(&args, place.dir.path(), &stdout);
                checked.insert("the report");
            } else if line
                == "meshgen compare profiles/demo.toml profiles/demo-grpc.toml --stub-external --fail 0.3"
            {
                check_compare_demos(&args, &stdout, &stderr);
                checked.insert("what to expect with --fail 0.3");
            }
            ran.push(if doc.from_prose {
                format!("{args} (named in prose above its output)")
            } else {
                args
            });
        } else {
            panic!("`{line}`: neither run nor skipped");
        }
        // The block ends: its `up` is stopped, and said what the doc shows.
        if commands.get(i + 1).is_none_or(|n| n.block != doc.block)
            && let Some((up_doc, running)) = up.take()
        {
            let (stdout, stderr) = stop_up(&up_doc.line, running);
            if !derived_up {
                check_up_output(up_doc, &stdout, &stderr);
            }
            derived_up = false;
        }
    }
    eprintln!("ran:");
    for r in &ran {
        eprintln!("  {r}");
    }
    eprintln!("skipped:");
    for (s, why) in &skipped {
        eprintln!("  {s}\n    ({why})");
    }
    assert!(
        ran.iter().filter(|r| r.starts_with("meshgen up ")).count() >= 3,
        "{ran:?}"
    );
    assert!(
        ran.iter()
            .filter(|r| r.starts_with("meshgen compare "))
            .count()
            >= 3,
        "{ran:?}"
    );
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(checked.len(), 3, "{checked:?}");
}
