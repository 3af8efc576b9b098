//! The Argo CD plugin (argocd/plugin.yaml), run as Argo CD's CMP server runs it:
//! its `generate` command and args, exec'd (no shell of Argo CD's, no `$`
//! expansion) in the Application's directory, with the sidecar's environment
//! (here only PATH, the built meshgen first), Argo CD's build variables, the
//! Application's `plugin.env` as `ARGOCD_ENV_*` and its parameters as
//! `ARGOCD_APP_PARAMETERS` (JSON) and `PARAM_<NAME>`, `PARAM_<NAME>_<INDEX>`,
//! `PARAM_<NAME>_<KEY>`. In Argo CD: cmpserver/plugin/plugin.go (`runCommand`,
//! `generateManifest`, `matchRepository`), reposerver/repository/repository.go
//! (`newEnv`, `getPluginEnvs`) and pkg/apis/application/v1alpha1/types.go
//! (`ApplicationSourcePluginParameters.Environ`, `escaped`).
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde::Deserialize;
use serde_norway::Value;

fn plugin() -> Value {
    let text = std::fs::read_to_string(repo().join("argocd/plugin.yaml")).unwrap();
    serde_norway::from_str(&text).expect("argocd/plugin.yaml parses")
}

/// `spec.generate.command` then `spec.generate.args`: the CMP server's
/// `exec.Command(command[0], append(command[1:], args...)...)`.
fn generate_argv() -> Vec<String> {
    let p = plugin();
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .map(|s| {
                s.iter()
                    .map(|a| a.as_str().expect("a string").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut argv = strings(&p["spec"]["generate"]["command"]);
    argv.extend(strings(&p["spec"]["generate"]["args"]));
    assert!(!argv.is_empty(), "spec.generate.command is empty");
    argv
}

/// One entry of an Application's `spec.source.plugin.parameters`.
enum Param {
    String(&'static str, String),
    Array(&'static str, Vec<String>),
    Map(&'static str, BTreeMap<String, String>),
}

fn set(values: &[&str]) -> Param {
    Param::Array("set", values.iter().map(|v| v.to_string()).collect())
}

fn profile_param(value: &str) -> Param {
    Param::String("profile", value.to_owned())
}

/// Argo CD's `escaped`: upper case, anything but `[A-Z0-9_]` becomes `_`.
fn escaped(name: &str) -> String {
    name.to_uppercase()
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The variables the repo-server sends with a manifest request, in its order:
/// build environment, KUBE_*, `plugin.env` (prefixed), then the parameters.
fn argocd_env(params: &[Param]) -> Vec<(String, String)> {
    const REVISION: &str = "f913b6cbf58aa5ae5ca1f8a2b149477aebcbd9d8";
    let mut env: Vec<(String, String)> = [
        ("ARGOCD_APP_NAME", "istio101"),
        ("ARGOCD_APP_NAMESPACE", "istio101"),
        ("ARGOCD_APP_PROJECT_NAME", "default"),
        ("ARGOCD_APP_REVISION", REVISION),
        ("ARGOCD_APP_REVISION_SHORT", &REVISION[..7]),
        ("ARGOCD_APP_REVISION_SHORT_8", &REVISION[..8]),
        (
            "ARGOCD_APP_SOURCE_REPO_URL",
            "https://git.example/team/mesh.git",
        ),
        ("ARGOCD_APP_SOURCE_PATH", "apps/istio101"),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", "HEAD"),
        ("KUBE_VERSION", "1.33.0"),
        ("KUBE_API_VERSIONS", "v1,apps/v1,networking.istio.io/v1"),
        // An Application's `plugin.env`: as untrusted as the parameters, and unused.
        ("ARGOCD_ENV_NOTE", "$(touch pwned)`touch pwned`"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let json: Vec<serde_json::Value> = params
        .iter()
        .map(|p| match p {
            Param::String(n, s) => serde_json::json!({"name": n, "string": s}),
            Param::Array(n, a) => serde_json::json!({"name": n, "array": a}),
            Param::Map(n, m) => serde_json::json!({"name": n, "map": m}),
        })
        .collect();
    env.push((
        "ARGOCD_APP_PARAMETERS".into(),
        serde_json::to_string(&json).unwrap(),
    ));
    for p in params {
        match p {
            Param::String(n, s) => env.push((format!("PARAM_{}", escaped(n)), s.clone())),
            Param::Array(n, a) => {
                for (i, v) in a.iter().enumerate() {
                    env.push((format!("PARAM_{}_{i}", escaped(n)), v.clone()));
                }
            }
            Param::Map(n, m) => {
                for (k, v) in m {
                    env.push((format!("PARAM_{}_{}", escaped(n), escaped(k)), v.clone()));
                }
            }
        }
    }
    env
}

/// The sidecar's PATH: the built meshgen's directory first, then the system's
/// (for `sh` and `printenv`).
fn sidecar_path() -> String {
    let meshgen_dir = Path::new(env!("CARGO_BIN_EXE_meshgen")).parent().unwrap();
    let system = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    format!("{}:{system}", meshgen_dir.display())
}

fn run_plugin_with_path(app: &Path, params: &[Param], path: &str) -> Run {
    let argv = generate_argv();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(app)
        .env_clear()
        .env("PATH", path)
        .envs(argocd_env(params))
        .stdin(Stdio::null())
        .output()
        .expect("the generate command runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run_plugin(app: &Path, params: &[Param]) -> Run {
    run_plugin_with_path(app, params, &sidecar_path())
}

/// `meshgen render PROFILE --set V... -o -` in `app`.
fn render_stdout(app: &Path, profile: &str, sets: &[&str]) -> Run {
    let mut args = vec!["render", profile];
    for s in sets {
        args.extend(["--set", s]);
    }
    args.extend(["-o", "-"]);
    let r = meshgen_in(app, &args);
    assert_eq!(r.code, 0, "meshgen render {args:?}: {}", r.stderr);
    r
}

fn yaml_documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|de| Value::deserialize(de).expect("a YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// What Argo CD gets from the plugin is what `meshgen render -o -` prints.
fn assert_same_render(plugin: &Run, direct: &Run) {
    assert_eq!(plugin.code, 0, "the plugin failed: {}", plugin.stderr);
    let got = yaml_documents(&plugin.stdout);
    let want = yaml_documents(&direct.stdout);
    assert!(want.len() > 10, "a whole demo: {} objects", want.len());
    assert_eq!(got.len(), want.len(), "as many objects");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            g,
            w,
            "{} {}",
            w["kind"].as_str().unwrap_or("?"),
            w["metadata"]["name"].as_str().unwrap_or("?")
        );
    }
    assert_eq!(
        plugin.stdout, direct.stdout,
        "meshgen's stream, byte for byte"
    );
    assert_eq!(plugin.stderr, direct.stderr, "meshgen's notes, unchanged");
}

/// A repository as the CMP server receives it:
/// `apps/istio101/{meshgen.toml, demo.toml, grpc.toml, variants/canary.toml}`
/// and, outside the app, `outside.toml` (a valid profile too). Returns the
/// repository and the app's directory.
fn repository() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let app = root.path().join("apps/istio101");
    std::fs::create_dir_all(app.join("variants")).unwrap();
    let demo = std::fs::read_to_string(profile("demo.toml")).unwrap();
    let grpc = std::fs::read_to_string(profile("demo-grpc.toml")).unwrap();
    assert!(
        !demo.lines().any(|l| l.trim_start().starts_with("extends")),
        "demo.toml extends another profile: copy it too"
    );
    assert!(grpc.contains("extends = \"demo.toml\""), "{grpc}");
    std::fs::write(app.join("meshgen.toml"), &demo).unwrap();
    std::fs::write(app.join("demo.toml"), &demo).unwrap();
    std::fs::write(app.join("grpc.toml"), &grpc).unwrap();
    // `extends` may leave the app's directory: it is reviewed in Git.
    std::fs::write(
        app.join("variants/canary.toml"),
        "extends = \"../meshgen.toml\"\nnamespace = \"istio101-canary\"\n\n[istio]\nmtls = false\n",
    )
    .unwrap();
    std::fs::write(root.path().join("outside.toml"), &demo).unwrap();
    (root, app)
}

/// Runs the plugin and checks it rendered nothing and wrote nothing (no
/// `pwned` file from an injected command, no stray output).
fn refused(app: &Path, params: &[Param]) -> Run {
    let before = snapshot(app);
    let r = run_plugin(app, params);
    assert_ne!(r.code, 0, "accepted: {}", r.stderr);
    assert_eq!(r.stdout, "", "no manifests from a refused render");
    assert_eq!(snapshot(app), before, "the app's directory changed");
    r
}

#[test]
fn without_parameters_it_renders_meshgen_toml() {
    let (_repo, app) = repository();
    let before = snapshot(&app);
    let r = run_plugin(&app, &[]);
    assert_same_render(&r, &render_stdout(&app, "meshgen.toml", &[]));
    let docs = yaml_documents(&r.stdout);
    assert!(docs.iter().any(|d| d["kind"].as_str() == Some("Namespace")
        && d["metadata"]["name"].as_str() == Some("istio101")));
    assert_eq!(snapshot(&app), before, "rendering writes nothing");

    // An empty `profile` is the default one.
    let r = run_plugin(&app, &[profile_param("")]);
    assert_same_render(&r, &render_stdout(&app, "meshgen.toml", &[]));
}

#[test]
fn set_parameters_reach_meshgen_as_render_set_in_order() {
    let (_repo, app) = repository();
    let values = [
        "istio.mtls=false",
        "routing.retries.attempts=5",
        "routing.retries.attempts=2",
        r#"image.registry="registry.example/team""#,
        r#"ingress.hosts=["a.example", "b.example"]"#,
        "namespace=argo-demo",
    ];
    let r = run_plugin(&app, &[set(&values)]);
    assert_same_render(&r, &render_stdout(&app, "meshgen.toml", &values));
    assert!(r.stdout.contains("namespace: argo-demo"));
    assert!(r.stdout.contains("registry.example/team/chain-http:"));
    assert!(r.stdout.contains("attempts: 2") && !r.stdout.contains("attempts: 5"));
    // Not the plain render: the overrides did arrive.
    assert_ne!(r.stdout, render_stdout(&app, "meshgen.toml", &[]).stdout);

    // Other parameters (the UI may send any) change nothing.
    let extra = [
        Param::Map(
            "notes",
            BTreeMap::from([("a.b".to_owned(), "$(touch pwned)".to_owned())]),
        ),
        set(&values[..1]),
    ];
    let r = run_plugin(&app, &extra);
    assert_same_render(&r, &render_stdout(&app, "meshgen.toml", &values[..1]));
}

#[test]
fn hostile_values_are_one_argument_each_and_meshgen_refuses_them() {
    // Each must reach meshgen as one `--set` value, shown in its error as is.
    let hostile: &[&str] = &[
        r#"x"; touch pwned; ""#,
        "namespace=$(touch pwned)",
        "name=`touch pwned`",
        "namespace=a; touch pwned",
        "namespace=a && touch pwned || touch pwned",
        "namespace=a | touch pwned",
        "namespace=a' ; touch pwned ; '",
        "namespace=${IFS}$(touch${IFS}pwned)",
        "namespace=a\ntouch pwned",
        "namespace=a\n\n",
        // Not expanded as a glob (the app's directory has files to match).
        "namespace=*",
        // Not options: each is the value of its --set.
        "--help",
        "-o/tmp/meshgen-argocd-plugin-escape",
        "",
    ];
    for value in hostile {
        let (_repo, app) = repository();
        // After a valid one, in the middle of the list.
        let params = [set(&[
            "istio.mtls=false",
            value,
            "routing.retries.attempts=4",
        ])];
        let r = refused(&app, &params);
        assert_eq!(r.code, 2, "{value:?}: {}", r.stderr);
        let shown = value.replace('\n', "\\n");
        assert!(
            r.stderr.starts_with(&format!("error: --set {shown}")),
            "{value:?} did not reach meshgen whole: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("meshgen plugin:"),
            "meshgen refuses it, not the script: {}",
            r.stderr
        );
    }
    assert!(!Path::new("/tmp/meshgen-argocd-plugin-escape").exists());
}

#[test]
fn a_string_set_parameter_is_refused_not_ignored() {
    let (_repo, app) = repository();
    let r = refused(&app, &[Param::String("set", "istio.mtls=false".to_owned())]);
    assert!(
        r.stderr.contains("meshgen plugin: parameter set is a list"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_profile_parameter_picks_a_toml_file_in_the_app_directory() {
    let (_repo, app) = repository();
    for (profile, sets) in [
        ("grpc.toml", &[][..]),
        ("variants/canary.toml", &["routing.retries.attempts=1"][..]),
    ] {
        let r = run_plugin(&app, &[profile_param(profile), set(sets)]);
        assert_same_render(&r, &render_stdout(&app, profile, sets));
    }

    // Out of the app's directory, even to files that exist.
    let absolute = app.join("meshgen.toml").display().to_string();
    for profile in [
        "../../outside.toml",
        "variants/../../../outside.toml",
        absolute.as_str(),
        "/etc/passwd.toml",
        "..",
        "variants/..",
        "meshgen.yaml",
        "variants",
    ] {
        let r = refused(&app, &[profile_param(profile)]);
        assert_eq!(r.code, 2, "{profile}");
        assert!(
            r.stderr.starts_with("meshgen plugin: parameter profile: "),
            "{profile}: {}",
            r.stderr
        );
    }

    // Shaped like an option: still a file name (here, one that does not exist).
    let r = refused(&app, &[profile_param("--templates=x.toml")]);
    assert!(
        r.stderr.contains("cannot read ./--templates=x.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn without_printenv_the_plugin_fails_instead_of_dropping_the_overrides() {
    let (_repo, app) = repository();
    let bin = tempfile::tempdir().unwrap();
    let sh = std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join("sh"))
        .find(|p| p.is_file())
        .expect("sh on PATH");
    std::os::unix::fs::symlink(&sh, bin.path().join("sh")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_meshgen"), bin.path().join("meshgen")).unwrap();
    let argv = generate_argv();
    assert_eq!(argv[0], "sh", "the generate command is sh, found on PATH");
    let path = bin.path().display().to_string();
    let r = run_plugin_with_path(&app, &[set(&["istio.mtls=false"])], &path);
    assert_ne!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("printenv is missing"), "{}", r.stderr);
}

/// Go's `filepath.Match` for one path element, for the patterns a plugin's
/// `discover.fileName` may hold here (`*`, `?`, literals).
fn go_match(pattern: &str, name: &str) -> bool {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' | '\\' => panic!("discover.fileName {pattern:?}: extend go_match for classes"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).unwrap().is_match(name)
}

/// The CMP server's `filepath.Glob(filepath.Join(appPath, discover.fileName))`:
/// does the app's directory match?
fn discovered(app: &Path, file_name: &str) -> bool {
    let mut dirs = vec![app.to_path_buf()];
    let elements: Vec<&str> = file_name
        .split('/')
        .filter(|e| !e.is_empty() && *e != ".")
        .collect();
    for (i, element) in elements.iter().enumerate() {
        let last = i + 1 == elements.len();
        let mut next = Vec::new();
        for dir in &dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                if go_match(element, &name) && (last || e.path().is_dir()) {
                    next.push(e.path());
                }
            }
        }
        dirs = next;
    }
    !dirs.is_empty()
}

#[test]
fn discovery_claims_exactly_the_directories_generate_renders() {
    let p = plugin();
    let discover = &p["spec"]["discover"];
    let file_name = discover["fileName"]
        .as_str()
        .expect("discover.fileName: a glob on the app's own directory");
    // The CMP server evaluates fileName first and ignores find.* then.
    assert!(discover["find"].is_null(), "one discovery rule");
    // The default announced for `profile` is what generate renders, and what
    // discovery looks for.
    let announced = p["spec"]["parameters"]["static"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str() == Some("profile"))
        .expect("a `profile` parameter");
    assert_eq!(announced["string"].as_str(), Some(file_name));

    let (repo, app) = repository();
    assert!(discovered(&app, file_name));
    assert_eq!(run_plugin(&app, &[]).code, 0);

    // Other TOML, Helm's and Kustomize's files: not meshgen's.
    let other = repo.path().join("other");
    std::fs::create_dir(&other).unwrap();
    for name in [
        "demo.toml",
        "Cargo.toml",
        "Chart.yaml",
        "kustomization.yaml",
    ] {
        std::fs::write(other.join(name), "").unwrap();
    }
    assert!(!discovered(&other, file_name));

    // Only in a subdirectory: not this app (generate renders ./meshgen.toml).
    let nested = repo.path().join("nested");
    std::fs::create_dir_all(nested.join("sub")).unwrap();
    std::fs::copy(app.join("meshgen.toml"), nested.join("sub/meshgen.toml")).unwrap();
    assert!(!discovered(&nested, file_name));
    let r = run_plugin(&nested, &[]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("cannot read ./meshgen.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_plugin_definition_and_its_image_agree() {
    let p = plugin();
    assert_eq!(p["apiVersion"].as_str(), Some("argoproj.io/v1alpha1"));
    assert_eq!(p["kind"].as_str(), Some("ConfigManagementPlugin"));
    // No spec.version: Applications name the plugin `meshgen` (docs/gitops.md).
    assert_eq!(p["metadata"]["name"].as_str(), Some("meshgen"));
    assert!(p["spec"]["version"].is_null());
    let gitops = std::fs::read_to_string(repo().join("docs/gitops.md")).unwrap();
    assert!(
        gitops.lines().any(|l| l.trim() == "name: meshgen"),
        "docs/gitops.md: an Application with `plugin: {{name: meshgen}}`"
    );

    let announced: BTreeMap<&str, &Value> = p["spec"]["parameters"]["static"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a))
        .collect();
    assert_eq!(
        announced.keys().copied().collect::<Vec<_>>(),
        ["profile", "set"]
    );
    assert_eq!(announced["set"]["collectionType"].as_str(), Some("array"));
    assert_eq!(
        announced["profile"]["collectionType"].as_str(),
        Some("string")
    );
    // Neither executable repository files nor the repository's credentials.
    for key in ["preserveFileMode", "provideGitCreds"] {
        assert_ne!(p["spec"][key].as_bool(), Some(true), "{key}");
    }

    let containerfile = std::fs::read_to_string(repo().join("argocd/Containerfile")).unwrap();
    for line in [
        "COPY argocd/plugin.yaml /home/argocd/cmp-server/config/plugin.yaml",
        "COPY --from=build /meshgen /usr/local/bin/meshgen",
        "USER 999:999",
        r#"ENTRYPOINT ["/var/run/argocd/argocd-cmp-server"]"#,
    ] {
        assert!(
            containerfile.lines().any(|l| l == line),
            "argocd/Containerfile: no `{line}`"
        );
    }
}
