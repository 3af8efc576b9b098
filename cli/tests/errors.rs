//! Bad input: one clear message naming file:line:col and key, exit 2, nothing written.

mod common;

use common::*;

const BASE: &str = r#"name = "demo"
namespace = "demo"

[routing.retries]
attempts = 3
per_try_timeout = "2s"

[routing.canary.middleware]
subset = "canary"
header = "x-dev-user"
value = "super-secret"

[[service]]
name = "frontend"
upstream = "middleware"

[[service]]
name = "middleware"
versions = ["prod", "canary"]
upstream = ["backend", "https://api.example.com/v1"]

[[service]]
name = "backend"
"#;

/// Replaces `from` in BASE (which must occur) and validates + renders the result.
fn case(from: &str, to: &str, extra: &[&str], expected: &str) {
    assert!(BASE.contains(from), "{from}");
    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(tmp.path(), "p.toml", &BASE.replacen(from, to, 1));
    let out = tmp.path().join("out");
    let out_s = out.display().to_string();
    for cmd in ["validate", "render"] {
        let mut args = vec![cmd, p.as_str()];
        args.extend_from_slice(extra);
        if cmd == "render" {
            args.extend_from_slice(&["-o", &out_s]);
        }
        let r = meshgen(&args);
        assert_eq!(
            r.code, 2,
            "{cmd} {from:?} -> {to:?} should fail; stderr: {}",
            r.stderr
        );
        let expected = expected.replace("{p}", &p);
        assert!(
            r.stderr.contains(&expected),
            "{cmd}: expected {expected:?} in stderr:\n{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
    assert!(!out.exists(), "nothing may be written on bad input");
}

#[test]
fn the_base_profile_is_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(tmp.path(), "p.toml", BASE);
    let r = meshgen(&["validate", &p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn unknown_key() {
    case(
        "upstream = \"middleware\"",
        "upstream = \"middleware\"\nreplica = 2",
        &[],
        "error: {p}:16:1: service[0].replica: unknown field `replica`, expected one of",
    );
    case(
        "[routing.retries]",
        "[routing.retry]",
        &[],
        "error: {p}:4:10: routing.retry: unknown field `retry`",
    );
}

#[test]
fn wrong_type() {
    case(
        "attempts = 3",
        "attempts = \"3\"",
        &[],
        "error: {p}:5:12: routing.retries.attempts: invalid type: string \"3\", expected a whole number from 0 to 4294967295",
    );
    case(
        "name = \"backend\"",
        "name = \"backend\"\nwork = \"yes\"",
        &[],
        "{p}:24:8: service[2].work: invalid type: string \"yes\", expected a boolean",
    );
}

#[test]
fn names_must_be_dns_labels() {
    case(
        "namespace = \"demo\"",
        "namespace = \"Demo_NS\"",
        &[],
        "error: {p}:2:13: namespace: \"Demo_NS\" is not a valid namespace: only lowercase letters, digits and '-' are allowed",
    );
    case(
        "versions = [\"prod\", \"canary\"]",
        "versions = [\"prod\", \"-canary\"]",
        &[],
        "error: {p}:19:21: service[1].versions[1]: \"-canary\" is not a valid version: must start and end with a letter or digit",
    );
    case(
        "name = \"backend\"",
        "name = \"9backend\"",
        &[],
        "{p}:23:8: service[2].name: \"9backend\" is not a valid service name: must start with a lowercase letter",
    );
}

#[test]
fn upstream_naming_no_service() {
    case(
        "upstream = \"middleware\"",
        "upstream = \"midleware\"",
        &[],
        "error: {p}:15:12: service[0].upstream: \"midleware\" names no service (known: frontend, middleware, backend)",
    );
    case(
        "[\"backend\", \"https://api.example.com/v1\"]",
        "[\"backend\", \"ftp://api.example.com/v1\"]",
        &[],
        "{p}:20:24: service[1].upstream[1]: \"ftp://api.example.com/v1\" is not a usable URL",
    );
    case(
        "[\"backend\", \"https://api.example.com/v1\"]",
        "[\"backend\", \"http://api.example.com/v1 x\"]",
        &[],
        "{p}:20:24: service[1].upstream[1]: \"http://api.example.com/v1 x\" is not a usable URL: `http://api.example.com/v1 x`: ' ' is not allowed in a URL",
    );
    // With tracing, the hops' span exports take port 4317 around their sidecar.
    case(
        "[\"backend\", \"https://api.example.com/v1\"]",
        "[\"backend\", \"http://otel.example.com:4317/\"]",
        &["--set", "istio.tracing=true"],
        "{p}:20:24: service[1].upstream[1]: port 4317 is where the hops send their spans around their sidecar",
    );
}

#[test]
fn cycle() {
    case(
        "name = \"backend\"",
        "name = \"backend\"\nupstream = \"frontend\"",
        &[],
        "error: {p}:24:12: service[2].upstream: call cycle: frontend -> middleware -> backend -> frontend",
    );
}

#[test]
fn weights_must_sum_to_100_and_name_versions() {
    case(
        "[[service]]\nname = \"frontend\"",
        "[routing.weights.middleware]\nprod = 70\ncanary = 20\n\n[[service]]\nname = \"frontend\"",
        &[],
        "error: {p}:13:1: routing.weights.middleware: weights of \"middleware\" sum to 90, not 100",
    );
    case(
        "[[service]]\nname = \"frontend\"",
        "[routing.weights.middleware]\nprod = 70\nbeta = 30\n\n[[service]]\nname = \"frontend\"",
        &[],
        "error: {p}:15:1: routing.weights.middleware.beta: \"beta\" is not a version of service \"middleware\" (versions: prod, canary)",
    );
}

#[test]
fn canary_subset_must_be_a_version() {
    case(
        "subset = \"canary\"",
        "subset = \"beta\"",
        &[],
        "error: {p}:9:10: routing.canary.middleware.subset: \"beta\" is not a version of service \"middleware\" (versions: prod, canary)",
    );
    case(
        "[routing.canary.middleware]",
        "[routing.canary.midleware]",
        &[],
        "error: {p}:8:17: routing.canary.midleware: \"midleware\" names no service",
    );
}

#[test]
fn bad_duration_or_probability() {
    case(
        "per_try_timeout = \"2s\"",
        "per_try_timeout = \"2 seconds\"",
        &[],
        "error: {p}:6:19: routing.retries.per_try_timeout: \"2 seconds\" is not a duration",
    );
    // Valid alone, but a hop would wait 4 x 20m for its upstream: more than it accepts.
    case(
        "per_try_timeout = \"2s\"",
        "per_try_timeout = \"20m\"",
        &[],
        "error: {p}:6:19: routing.retries.per_try_timeout: (attempts + 1) x per_try_timeout is 4800s, \
         longer than the 3600s a hop waits for an upstream",
    );
    case(
        "[[service]]\nname = \"frontend\"",
        "[routing.fault.backend]\nabort = { percent = 150.0 }\n\n[[service]]\nname = \"frontend\"",
        &[],
        "error: {p}:14:21: routing.fault.backend.abort.percent: 150 is not a percentage between 0 and 100",
    );
    case(
        "[[service]]\nname = \"frontend\"",
        "[istio]\ntrace_sampling = -1.0\n\n[[service]]\nname = \"frontend\"",
        &[],
        "{p}:14:18: istio.trace_sampling: -1 is not a percentage between 0 and 100",
    );
}

#[test]
fn toml_syntax_error() {
    case(
        "name = \"demo\"",
        "name = \"demo",
        &[],
        "error: {p}:1:13: invalid basic string",
    );
}

#[test]
fn missing_required_keys() {
    case(
        "namespace = \"demo\"\n",
        "",
        &[],
        "error: {p}: missing required key `namespace`",
    );
}

#[test]
fn bad_set_values_point_at_the_argument() {
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "routing.retries.attempts=many"],
        "error: --set routing.retries.attempts=many:1:26: routing.retries.attempts: invalid type: string \"many\", expected a whole number from 0 to 4294967295",
    );
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "istio.mtsl=true"],
        "error: --set istio.mtsl=true:1:7: istio.mtsl: unknown field `mtsl`",
    );
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "istio.mtls"],
        "expected KEY=VALUE",
    );
    // One service by name: the value's column, a name that is no service.
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "service.backend.work=maybe"],
        "error: --set service.backend.work=maybe:1:22: work: invalid type: string \"maybe\", expected a boolean",
    );
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "service.bakend.work=true"],
        "error: --set service.bakend.work=true: no service named \"bakend\" (known: frontend, middleware, backend)",
    );
    case(
        "name = \"demo\"",
        "name = \"demo\"",
        &["--set", "service.backend.colour=red"],
        "error: --set service.backend.colour=red:1:17: colour: unknown field `colour`",
    );
}

#[test]
fn errors_in_layers_point_at_their_own_file() {
    let tmp = tempfile::tempdir().unwrap();
    let base = write_profile(tmp.path(), "base.toml", BASE);
    let child = write_profile(
        tmp.path(),
        "child.toml",
        "extends = \"base.toml\"\n\n[routing.canary.middleware]\nsubset = \"gamma\"\n",
    );
    let r = meshgen(&["validate", &child]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!(
            "error: {child}:4:10: routing.canary.middleware.subset: \"gamma\""
        )),
        "{}",
        r.stderr
    );
    // An -f layer's error names the -f file, not the profile.
    let layer = write_profile(tmp.path(), "layer.toml", "[istio]\nmtls = \"yes\"\n");
    let r = meshgen(&["validate", &base, "-f", &layer]);
    assert!(
        r.stderr
            .contains(&format!("error: {layer}:2:8: istio.mtls: invalid type")),
        "{}",
        r.stderr
    );
}

#[test]
fn unreadable_files() {
    let r = meshgen(&["validate", "/nonexistent/profile.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot read /nonexistent/profile.toml"),
        "{}",
        r.stderr
    );

    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(tmp.path(), "p.toml", "extends = \"missing.toml\"\n");
    let r = meshgen(&["validate", &p]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(&format!("error: {p}:1:11: extends: cannot read")),
        "{}",
        r.stderr
    );

    let a = write_profile(tmp.path(), "a.toml", "extends = \"b.toml\"\n");
    write_profile(tmp.path(), "b.toml", "extends = \"a.toml\"\n");
    let r = meshgen(&["validate", &a]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`extends` cycle"), "{}", r.stderr);
}

#[test]
fn template_errors_name_the_template_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(tmp.path(), "p.toml", BASE);
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    let file = tpl.join("05-telemetry.yaml.j2");
    let out = tmp.path().join("out");
    let (tpl_s, out_s) = (tpl.display().to_string(), out.display().to_string());
    let run = || meshgen(&["render", &p, "--templates", &tpl_s, "-o", &out_s]);

    std::fs::write(&file, "apiVersion: v1\nkind: Namespace\n{% if %}\n").unwrap();
    let r = run();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!(
            "error: template {}:3: syntax error",
            file.display()
        )),
        "{}",
        r.stderr
    );

    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ model.nmespace }}\n",
    )
    .unwrap();
    let r = run();
    assert!(
        r.stderr
            .contains(&format!("template {}:4: undefined value", file.display())),
        "{}",
        r.stderr
    );

    std::fs::write(&file, "apiVersion: v1\nkind: Namespace\nmetadata: [\n").unwrap();
    let r = run();
    assert!(
        r.stderr.contains("rendered YAML is invalid at output line"),
        "{}",
        r.stderr
    );

    std::fs::remove_file(&file).unwrap();
    std::fs::write(tpl.join("20-workload.yaml.j2"), "").unwrap();
    let r = run();
    assert!(
        r.stderr
            .contains("20-workload.yaml.j2 is not a meshgen template"),
        "{}",
        r.stderr
    );

    // The chain's objects are built in code since 0.2: an old override says so.
    std::fs::remove_file(tpl.join("20-workload.yaml.j2")).unwrap();
    std::fs::write(tpl.join("20-workloads.yaml.j2"), "").unwrap();
    let r = run();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("20-workloads.yaml.j2: the chain's objects are no longer templates")
            && r.stderr.contains("--kustomization"),
        "{}",
        r.stderr
    );

    let r = meshgen(&[
        "render",
        &p,
        "--templates",
        "/nonexistent/tpl",
        "-o",
        &out_s,
    ]);
    assert!(
        r.stderr
            .contains("/nonexistent/tpl: cannot read templates directory"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

/// `compare`'s own settings are refused before anything starts: no mesh, no
/// load, exit 2 and a message naming the flag.
#[test]
fn compare_refuses_bad_load_settings() {
    let demo = profile("demo.toml");
    let cases: [(&[&str], &str); 7] = [
        (&["--rate", "0"], "--rate 0"),
        (&["--rate", "NaN"], "--rate NaN"),
        (&["--rate=-5"], "--rate -5"),
        (&["--sweep", "0,1.5"], "1.5"),
        (&["--fail=-0.1"], "-0.1"),
        (
            &[
                "--ingress",
                "http://127.0.0.1:9/",
                "--ingress",
                "http://127.0.0.1:9/",
            ],
            "once per profile",
        ),
        (&["--requests", "0"], "--requests"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["compare", demo.as_str()];
        all.extend_from_slice(args);
        let r = meshgen(&all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}

/// A newcomer's mistakes when the input is not a profile: each error says
/// the next step (issue 20).
#[test]
fn mistakes_that_are_not_profiles_say_the_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let demo = profile("demo.toml");
    for (args, says) in [
        (
            vec!["render", &demo, "-o", file.to_str().unwrap()],
            "not a folder; -o names the folder",
        ),
        (
            vec!["validate", "out/20-workloads.yaml"],
            "a profile is TOML",
        ),
        (vec!["up", "out"], "a folder, not a profile"),
        (vec!["render", "out"], "e.g. profiles/demo.toml"),
        (
            vec!["validate", &demo, "--set", "ingress.hosts=*"],
            r#"a list on a command line: --set 'KEY=["a", "b"]'"#,
        ),
    ] {
        let r = meshgen(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"", "-o FILE left alone");

    // validate takes several profiles, each on its own.
    let grpc = profile("demo-grpc.toml");
    let r = meshgen(&["validate", &demo, &grpc]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches(": valid: ").count(), 2, "{}", r.stderr);
    let r = meshgen(&["validate", &demo, "/nonexistent/b.toml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/b.toml"), "{}", r.stderr);

    // `extends` is relative to the profile that says it.
    let child = dir.path().join("child.toml");
    std::fs::write(&child, "extends = \"demo.toml\"\n").unwrap();
    let r = meshgen(&["validate", child.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("`extends` is relative to the folder of the profile that says it"),
        "{}",
        r.stderr
    );
}

/// A reader that stops early (`meshgen ... | head`) ends meshgen as it ends
/// any Unix filter, by SIGPIPE: never a panic's exit 101 and its message.
#[test]
fn a_closed_pipe_ends_meshgen_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshgen"))
        .args(["render", &profile("demo.toml"), "-o", "-"])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end of stdout before meshgen writes its stream.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}

/// Input quoted in a message is bounded wherever it is quoted: a key of
/// 900,000 characters (which the location's key path and the message both
/// name) gives a few kilobytes, not a megabyte, and keeps both ends.
#[test]
fn a_huge_key_gives_a_short_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = format!("a{}z", "k".repeat(900_000));
    let p = write_profile(dir.path(), "huge.toml", &format!("{key} = 1\n"));
    let r = meshgen(&["validate", &p]);
    assert_eq!(r.code, 2, "{}", r.stderr.len());
    assert!(r.stderr.len() < 8 * 1024, "{} bytes", r.stderr.len());
    assert!(r.stderr.contains("characters left out"), "{}", r.stderr);
    assert!(r.stderr.contains("huge.toml:1:1"), "{}", &r.stderr[..200]);
}
