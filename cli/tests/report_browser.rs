//! The HTML report of `meshgen compare --report` in a real browser: Debian's
//! Chromium, driven by playwright-core through cli/tests/report/check-report.mjs.
//! First the checker itself, on small pages made here (one right, others wrong
//! in one way each); then the demo's report. Chromium, Node and playwright-core
//! come from scripts/install-test-tools; a missing one fails loudly, nothing is
//! ever skipped.

mod local_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use local_support::{bin_dir, envoy, one_program_at_a_time, profile_path, repo};
use serde_json::{Value, json};

const HOW: &str = "run scripts/install-test-tools (it apt-get installs chromium and npm installs \
                   playwright-core into .tools/node_modules), or run the tests with scripts/test";

/// Debian's Chromium: $CHROMIUM, or /usr/bin/chromium.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "Chromium is missing ({}): {HOW}",
        path.display()
    );
    path
}

/// NODE_PATH as set (by scripts/test) followed by .tools/node_modules; one of
/// them must hold playwright-core.
fn node_path() -> String {
    let mut dirs: Vec<PathBuf> = std::env::var_os("NODE_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(repo().join(".tools/node_modules"));
    assert!(
        dirs.iter()
            .any(|d| d.join("playwright-core/package.json").is_file()),
        "playwright-core is not in NODE_PATH nor .tools/node_modules: {HOW}"
    );
    std::env::join_paths(dirs)
        .expect("NODE_PATH")
        .into_string()
        .expect("NODE_PATH is UTF-8")
}

/// One browser at a time: the machine has 2 cores, and the tests of this
/// binary run on threads of their own.
fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

struct Checked {
    ok: bool,
    stdout: String,
    stderr: String,
    /// The checker's JSON summary (absent only if it could not start).
    summary: Value,
}

impl Checked {
    fn failures(&self) -> Vec<String> {
        self.summary["failures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn assert_fails_with(&self, what: &str, needle: &str) {
        assert!(
            !self.ok,
            "{what}: the checker passed a page it must fail:\n{}\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.failures().iter().any(|f| f.contains(needle)) && self.stderr.contains(needle),
            "{what}: the checker failed, but without saying `{needle}`:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// check-report.mjs on `report` against `expect`, with an optional screenshot.
fn check(report: &Path, expect: &Value, screenshot: Option<&Path>) -> Checked {
    let dir = tempfile::tempdir().expect("tempdir");
    let expect_file = dir.path().join("expect.json");
    std::fs::write(&expect_file, serde_json::to_vec_pretty(expect).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/check-report.mjs");
    let mut cmd = Command::new(hop::testkit::tool("node"));
    cmd.arg(&script)
        .arg(report)
        .arg(&expect_file)
        .args(screenshot)
        .env("CHROMIUM", chromium())
        .env("NODE_PATH", node_path());
    let _turn = one_browser_at_a_time();
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    // 2: the checker could not run at all (arguments, no browser); never a verdict.
    assert_ne!(
        out.status.code(),
        Some(2),
        "check-report.mjs could not run:\n{stdout}\n{stderr}"
    );
    assert!(
        summary.is_object(),
        "check-report.mjs printed no JSON summary ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert_eq!(
        summary["ok"].as_bool(),
        Some(out.status.success()),
        "the summary's verdict and the exit status disagree ({}):\n{stdout}\n{stderr}",
        out.status
    );
    Checked {
        ok: out.status.success(),
        stdout,
        stderr,
        summary,
    }
}

/// A page with one figure: an inline svg with two labelled series of three
/// circles each, and `extra` (HTML) at the end of the body.
fn fixture(extra: &str) -> String {
    let mut svg = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="320" height="160" viewBox="0 0 320 160">
<rect x="0" y="0" width="320" height="160" fill="#fff"/>
<polyline points="40,120 120,100 200,80" stroke="#c00" fill="none"/>
<polyline points="40,140 120,130 200,110" stroke="#00c" fill="none"/>
<text x="230" y="20">series a</text>
<text x="230" y="40">series b</text>
"##,
    );
    for (y, colour) in [(120, "#c00"), (140, "#00c")] {
        for (i, x) in [40, 120, 200].into_iter().enumerate() {
            svg.push_str(&format!(
                r#"<circle cx="{x}" cy="{}" r="3" fill="{colour}"/>"#,
                y - 10 * i
            ));
        }
    }
    svg.push_str("</svg>");
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>checker fixture</title></head>
<body>
<h1>checker fixture</h1>
<p>closed loop, meshgen 0.0.0</p>
<figure id="success">{svg}<figcaption>two series</figcaption></figure>
{extra}
</body></html>
"#
    )
}

fn fixture_expect() -> Value {
    json!({
        "plots": [{ "id": "success", "series": ["series a", "series b"], "points_per_series": 3 }],
        "texts": ["closed loop", "meshgen 0.0.0"],
    })
}

/// Writes `html` as report.html in a new temp dir.
fn page(html: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("report.html");
    std::fs::write(&path, html).unwrap();
    (dir, path)
}

#[test]
fn checker_passes_a_self_contained_page() {
    let (dir, report) = page(&fixture(""));
    let shot = dir.path().join("shot.png");
    let c = check(&report, &fixture_expect(), Some(&shot));
    assert!(c.ok, "a right page failed:\n{}\n{}", c.stdout, c.stderr);
    let plot = &c.summary["plots"][0];
    assert_eq!(plot["markers"], 6, "{}", c.stdout);
    assert_eq!(
        plot["labels"],
        json!(["series a", "series b"]),
        "{}",
        c.stdout
    );
    assert_eq!(c.summary["requests"], json!([]), "{}", c.stdout);
    assert!(
        c.summary["chromium"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "{}",
        c.stdout
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
        "not a PNG screenshot"
    );
    // The checker also takes a plain list of plots.
    let c = check(&report, &fixture_expect()["plots"], None);
    assert!(c.ok, "a list of plots:\n{}\n{}", c.stdout, c.stderr);
}

#[test]
fn checker_fails_a_page_that_loads_anything_from_outside() {
    // Each of these must be caught as a request, even one that fails anyway
    // (port 9 is closed) or would go to another local file.
    for (what, extra, url) in [
        (
            "image",
            r#"<img src="http://127.0.0.1:9/x.png" alt="">"#,
            "http://127.0.0.1:9/x.png",
        ),
        (
            "script",
            r#"<script src="https://cdn.invalid/plot.js"></script>"#,
            "https://cdn.invalid/plot.js",
        ),
        (
            "stylesheet",
            r#"<link rel="stylesheet" href="http://127.0.0.1:9/style.css">"#,
            "http://127.0.0.1:9/style.css",
        ),
        (
            "fetch",
            r#"<script>fetch("http://127.0.0.1:9/data.json").catch(() => {});</script>"#,
            "http://127.0.0.1:9/data.json",
        ),
        (
            "file beside the report",
            r#"<img src="beside.png" alt="">"#,
            "beside.png",
        ),
    ] {
        let (_dir, report) = page(&fixture(extra));
        let c = check(&report, &fixture_expect(), None);
        c.assert_fails_with(what, "network request");
        c.assert_fails_with(what, url);
        assert!(
            c.summary["requests"]
                .as_array()
                .is_some_and(|r| r.iter().any(|r| r["url"].as_str().unwrap().ends_with(url))),
            "{what}: {url} is not among the recorded requests:\n{}",
            c.stdout
        );
    }
}

#[test]
fn checker_fails_a_page_with_a_console_error() {
    let (_dir, report) = page(&fixture(
        r#"<script>console.error("the plot went wrong");</script>"#,
    ));
    check(&report, &fixture_expect(), None)
        .assert_fails_with("console.error", "console error: the plot went wrong");

    let (_dir, report) = page(&fixture(
        r#"<script>throw new Error("uncaught in the page");</script>"#,
    ));
    check(&report, &fixture_expect(), None)
        .assert_fails_with("uncaught error", "page error: Error: uncaught in the page");
}

#[test]
fn checker_fails_a_wrong_number_of_points() {
    let (_dir, report) = page(&fixture(""));
    let mut expect = fixture_expect();
    expect["plots"][0]["points_per_series"] = json!(4);
    check(&report, &expect, None).assert_fails_with(
        "4 points per series",
        "figure#success: 6 point markers (circle) in its svg, expected 8",
    );

    // A circle drawn outside the plots' figure does not count in it.
    let (_dir, report) = page(&fixture("").replace(
        "</figure>",
        r#"</figure><svg width="10" height="10"><circle cx="5" cy="5" r="2"/></svg>"#,
    ));
    assert!(check(&report, &fixture_expect(), None).ok);
    // One too many inside it does.
    let (_dir, report) =
        page(&fixture("").replace("</svg>", r#"<circle cx="1" cy="1" r="1"/></svg>"#));
    check(&report, &fixture_expect(), None).assert_fails_with(
        "an extra circle",
        "7 point markers (circle) in its svg, expected 6",
    );
}

#[test]
fn checker_fails_a_missing_series_figure_or_text() {
    let (_dir, report) = page(&fixture(""));
    let mut expect = fixture_expect();
    expect["plots"][0]["series"] = json!(["series a", "series c"]);
    check(&report, &expect, None).assert_fails_with(
        "series c",
        r#"figure#success: no series label "series c" in its svg"#,
    );

    // A label elsewhere on the page is not in the plot's legend.
    let (_dir, report) = page(&fixture("<p>series c</p>"));
    check(&report, &expect, None)
        .assert_fails_with("series c outside the svg", r#"no series label "series c""#);

    let mut expect = fixture_expect();
    expect["plots"][0]["id"] = json!("latency");
    check(&report, &expect, None).assert_fails_with(
        "figure#latency",
        "no figure#latency (figures on the page: success)",
    );

    let mut expect = fixture_expect();
    expect["texts"] = json!(["open loop"]);
    check(&report, &expect, None)
        .assert_fails_with("open loop", r#"text not in the page: "open loop""#);
}

/// The demo's report: both protocols, each retry mode, a sweep of three
/// failure rates, in Chromium.
#[test]
fn demo_report_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("compare.html");
    let tools = repo().join(".tools/bin");
    let path = std::env::join_paths(std::iter::once(tools).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let out = {
        let _turn = one_program_at_a_time();
        Command::new(env!("CARGO_BIN_EXE_meshgen"))
            .arg("compare")
            .arg(profile_path("demo.toml"))
            .arg(profile_path("demo-grpc.toml"))
            .arg("--stub-external")
            .arg("--report")
            .arg(&report)
            .args(["--requests", "40", "--sweep", "0,0.25,0.5"])
            .arg("--envoy")
            .arg(envoy())
            .arg("--bin-dir")
            .arg(bin_dir())
            .env("PATH", path)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()
            .expect("meshgen compare runs")
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "meshgen compare --report failed ({}):\n{stderr}",
        out.status
    );
    assert!(
        report.is_file(),
        "meshgen compare --report wrote no {}:\n{stderr}",
        report.display()
    );

    let expect = json!({
        "plots": [
            {
                "id": "success",
                "series": ["http on", "http off", "http default", "grpc on", "grpc off", "grpc default"],
                "points_per_series": 3,
            },
            {
                // p50, p90, p99, p99.9
                "id": "latency",
                "series": ["http bare", "http mesh, retries on", "grpc bare", "grpc mesh, retries on"],
                "points_per_series": 4,
            },
            {
                // What retries cost: p99 against fail, every mode and the bare chain.
                "id": "cost",
                "series": [
                    "http on", "http off", "http default", "http bare",
                    "grpc on", "grpc off", "grpc default", "grpc bare",
                ],
                "points_per_series": 3,
            },
        ],
        // The verdict in words, the runs behind each latency point, and how
        // the comparison was made.
        "texts": [
            "closed loop",
            "What it says",
            "http default: ",
            "does not retry HTTP 500 nor gRPC INTERNAL",
            "median of n = 3 runs (40 requests per point)",
            "1-minute load average",
            "builds",
            "--sweep 0,0.25,0.5",
        ],
    });
    // The screenshot stays beside the report (in the temp dir) for a person to
    // look at while debugging; MESHGEN_REPORT_SCREENSHOT puts it elsewhere.
    let shot = std::env::var_os("MESHGEN_REPORT_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("compare.png"));
    let c = check(&report, &expect, Some(&shot));
    assert!(
        c.ok,
        "the demo's report fails in Chromium:\n{}\n{}",
        c.stderr, c.stdout
    );
}

#[test]
fn experiments_report_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("experiments.html");
    let out = {
        let _turn = one_program_at_a_time();
        Command::new(env!("CARGO_BIN_EXE_meshgen"))
            .arg("compare")
            .arg(profile_path("resilience.toml"))
            .arg(profile_path("resilience-grpc.toml"))
            .args(["--stub-external", "--experiment", "all"])
            .arg("--report")
            .arg(&report)
            .arg("--envoy")
            .arg(envoy())
            .arg("--bin-dir")
            .arg(bin_dir())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .output()
            .expect("meshgen compare runs")
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "compare --experiment failed:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("DIFFERS"), "{stdout}");
    let series = ["resilience (http)", "resilience-grpc (grpc)"];
    let task = "Istio's task: 1 connection, 1 pending, 1 request per connection";
    let expect = json!({
        "plots": [
            // Bare, then mesh.
            { "id": "load-balancing", "series": series, "points_per_series": 2 },
            // Concurrency 1, 2, 4, 8, each variant a line of its own.
            {
                "id": "circuit-breaking",
                "series": [
                    format!("resilience (http), {task}"),
                    "resilience (http), 1 connection, 1 pending".to_owned(),
                    format!("resilience-grpc (grpc), {task}"),
                    "resilience-grpc (grpc), 1 connection, 1 pending".to_owned(),
                ],
                "points_per_series": 4,
            },
            // 200 requests at 50/s: eight half seconds.
            { "id": "outlier-detection", "series": series, "points_per_series": 8 },
            // Four delays of the target.
            { "id": "timeouts", "series": series, "points_per_series": 4 },
            // 20 % and 50 % mirrored.
            { "id": "mirroring", "series": series, "points_per_series": 2 },
        ],
        "texts": [
            "kube-proxy picks a pod when a connection opens",
            "INTERNAL is 500",
            "reads as UNAVAILABLE",
            "drops its answer",
            "upstream request timeout",
        ],
    });
    let c = check(&report, &expect, Some(&dir.path().join("experiments.png")));
    assert!(
        c.ok,
        "the experiments' report fails in Chromium:\n{}\n{}",
        c.stderr, c.stdout
    );
}
