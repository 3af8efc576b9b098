//! Rendering both protocols, layering, the stdout stream and byte stability.

mod common;

use common::*;
use serde_norway::Value;

fn env_of<'a>(deploy: &'a Value, name: &str) -> &'a str {
    deploy["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn http_demo_renders_the_original_demo_for_todays_istio() {
    let dir = render(&[&profile("demo.toml")]);
    let out = dir.path().join("out");
    let docs = documents(&out);
    for (file, d) in &docs {
        let labels = &d["metadata"]["labels"];
        assert_eq!(
            labels["app.kubernetes.io/managed-by"].as_str(),
            Some("meshgen"),
            "{file}: {d:?}"
        );
        assert!(
            labels["app.kubernetes.io/part-of"].as_str().is_some(),
            "{file}"
        );
        let api = d["apiVersion"].as_str().unwrap();
        assert!(
            !api.contains("v1alpha3") && !api.contains("v1beta1"),
            "{file}: old API {api}"
        );
    }
    let op = find(&docs, "IstioOperator", "meshgen");
    assert_eq!(
        op["spec"]["meshConfig"]["outboundTrafficPolicy"]["mode"].as_str(),
        Some("REGISTRY_ONLY")
    );
    assert_eq!(
        op["spec"]["meshConfig"]["accessLogFile"].as_str(),
        Some("/dev/stdout")
    );
    assert_eq!(
        op["spec"]["meshConfig"]["extensionProviders"][0]["opentelemetry"]["port"].as_u64(),
        Some(4317)
    );

    let ns = find(&docs, "Namespace", "istio101");
    assert_eq!(
        ns["metadata"]["labels"]["istio-injection"].as_str(),
        Some("enabled")
    );

    // Four Deployments, as in the original.
    let deployments: Vec<&str> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["namespace"] == "istio101")
        .map(|(_, d)| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        deployments,
        [
            "frontend-prod",
            "middleware-prod",
            "middleware-canary",
            "backend-prod"
        ]
    );

    let svc = find(&docs, "Service", "middleware");
    assert_eq!(svc["spec"]["ports"][0]["name"].as_str(), Some("http"));
    assert_eq!(
        svc["spec"]["ports"][0]["appProtocol"].as_str(),
        Some("http")
    );
    assert_eq!(svc["spec"]["ports"][1]["port"].as_u64(), Some(9464));

    let canary = find(&docs, "Deployment", "middleware-canary");
    let pod = &canary["spec"]["template"];
    assert_eq!(
        pod["metadata"]["labels"]["version"].as_str(),
        Some("canary")
    );
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/scrape"].as_str(),
        Some("true")
    );
    let c = &pod["spec"]["containers"][0];
    assert_eq!(
        c["image"].as_str(),
        Some("localhost/meshgen/chain-http:0.1.0")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(env_of(canary, "SERVICE_NAME"), "middleware");
    assert_eq!(env_of(canary, "SERVICE_VERSION"), "canary");
    assert_eq!(
        env_of(canary, "UPSTREAM"),
        "http://backend.istio101.svc.cluster.local:80"
    );
    assert_eq!(
        env_of(canary, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        "http://jaeger-collector.istio-system.svc.cluster.local:4317"
    );
    // Long enough for 1 + 3 tries of 2s.
    assert_eq!(env_of(canary, "UPSTREAM_TIMEOUT"), "8s");
    assert_eq!(
        env_of(find(&docs, "Deployment", "backend-prod"), "UPSTREAM"),
        "http://time.jsontest.com/"
    );

    // Canary by header, then prod; retries on the app's 500.
    let vs = find(&docs, "VirtualService", "middleware");
    let http = vs["spec"]["http"].as_sequence().unwrap();
    assert_eq!(
        http[0]["match"][0]["headers"]["x-dev-user"]["exact"].as_str(),
        Some("super-secret")
    );
    assert_eq!(
        http[0]["route"][0]["destination"]["subset"].as_str(),
        Some("canary")
    );
    assert_eq!(
        http[1]["route"][0]["destination"]["subset"].as_str(),
        Some("prod")
    );
    for route in http {
        assert_eq!(
            route["retries"]["retryOn"].as_str(),
            Some("5xx,connect-failure,refused-stream")
        );
        assert_eq!(route["retries"]["attempts"].as_u64(), Some(3));
        assert_eq!(route["retries"]["perTryTimeout"].as_str(), Some("2s"));
    }
    let dr = find(&docs, "DestinationRule", "middleware");
    assert_eq!(
        dr["spec"]["trafficPolicy"]["tls"]["mode"].as_str(),
        Some("ISTIO_MUTUAL")
    );
    assert_eq!(dr["spec"]["subsets"].as_sequence().unwrap().len(), 2);

    let gw = find(&docs, "Gateway", "frontend-gateway");
    assert_eq!(
        gw["spec"]["servers"][0]["port"]["protocol"].as_str(),
        Some("HTTP")
    );
    let ivs = find(&docs, "VirtualService", "frontend-ingress");
    assert_eq!(
        ivs["spec"]["gateways"][0].as_str(),
        Some("frontend-gateway")
    );

    let se = find(&docs, "ServiceEntry", "time-jsontest-com");
    assert_eq!(se["spec"]["hosts"][0].as_str(), Some("time.jsontest.com"));

    assert_eq!(
        find(&docs, "PeerAuthentication", "default")["spec"]["mtls"]["mode"].as_str(),
        Some("STRICT")
    );
    let ap = find(&docs, "AuthorizationPolicy", "backend");
    assert_eq!(
        ap["spec"]["rules"][0]["from"][0]["source"]["principals"][0].as_str(),
        Some("cluster.local/ns/istio101/sa/middleware")
    );
    let ap = find(&docs, "AuthorizationPolicy", "frontend");
    assert_eq!(
        ap["spec"]["rules"][0]["from"][0]["source"]["principals"][0].as_str(),
        Some("cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account")
    );
    let tel = find(&docs, "Telemetry", "mesh-default");
    assert_eq!(
        tel["spec"]["tracing"][0]["randomSamplingPercentage"].as_f64(),
        Some(100.0)
    );

    // Addons, named like Istio's samples.
    for (kind, name) in [
        ("Service", "tracing"),
        ("Service", "zipkin"),
        ("Service", "jaeger-collector"),
        ("Deployment", "prometheus"),
        ("Deployment", "grafana"),
        ("ConfigMap", "grafana-dashboards-meshgen"),
        ("Deployment", "kiali"),
    ] {
        assert_eq!(
            find(&docs, kind, name)["metadata"]["namespace"].as_str(),
            Some("istio-system")
        );
    }
    let dash = find(&docs, "ConfigMap", "grafana-dashboards-meshgen")["data"]["chain.json"]
        .as_str()
        .unwrap();
    let dash: serde_json::Value = serde_json::from_str(dash).expect("dashboard is JSON");
    assert_eq!(dash["panels"].as_array().unwrap().len(), 6);
    // No DestinationRule forces mTLS outside the chain (addons have no sidecar).
    for (_, d) in &docs {
        if d["kind"] == "DestinationRule" {
            assert!(
                d["spec"]["host"]
                    .as_str()
                    .unwrap()
                    .ends_with(".istio101.svc.cluster.local")
            );
        }
    }
}

#[test]
fn grpc_demo_decides_every_protocol_detail_once() {
    let dir = render(&[&profile("demo-grpc.toml")]);
    let docs = documents(&dir.path().join("out"));
    let ns = "istio101-grpc";
    assert_eq!(
        find(&docs, "Namespace", ns)["metadata"]["labels"]["app.kubernetes.io/part-of"].as_str(),
        Some(ns)
    );
    let svc = find(&docs, "Service", "backend");
    assert_eq!(svc["spec"]["ports"][0]["name"].as_str(), Some("grpc"));
    assert_eq!(
        svc["spec"]["ports"][0]["appProtocol"].as_str(),
        Some("grpc")
    );
    let d = find(&docs, "Deployment", "middleware-prod");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"].as_str(),
        Some("localhost/meshgen/chain-grpc:0.1.0")
    );
    assert_eq!(c["readinessProbe"]["grpc"]["port"].as_u64(), Some(50051));
    assert!(c["readinessProbe"]["httpGet"].is_null());
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(50051));
    assert_eq!(env_of(d, "PORT"), "50051");
    assert_eq!(
        env_of(d, "UPSTREAM"),
        "grpc://backend.istio101-grpc.svc.cluster.local:50051"
    );
    // The external hop stays HTTP in a gRPC chain.
    assert_eq!(
        env_of(find(&docs, "Deployment", "backend-prod"), "UPSTREAM"),
        "http://time.jsontest.com/"
    );
    let gw = find(&docs, "Gateway", "frontend-gateway");
    assert_eq!(
        gw["spec"]["servers"][0]["port"]["protocol"].as_str(),
        Some("GRPC")
    );
    assert_eq!(
        gw["spec"]["servers"][0]["hosts"][0].as_str(),
        Some("grpc.istio101.local")
    );
    let vs = find(&docs, "VirtualService", "middleware");
    for route in vs["spec"]["http"].as_sequence().unwrap() {
        let on = route["retries"]["retryOn"].as_str().unwrap();
        assert!(on.split(',').any(|c| c == "internal"), "{on}");
        assert!(!on.contains("5xx"), "{on}");
        assert_eq!(
            route["route"][0]["destination"]["port"]["number"].as_u64(),
            Some(50051)
        );
    }
}

#[test]
fn both_demos_share_identical_cluster_wide_objects() {
    let http = render(&[&profile("demo.toml")]);
    let grpc = render(&[&profile("demo-grpc.toml")]);
    let a = snapshot(&http.path().join("out"));
    let b = snapshot(&grpc.path().join("out"));
    for f in [
        "istio/install.yaml",
        "addons/01-jaeger.yaml",
        "addons/02-prometheus.yaml",
        "addons/03-grafana.yaml",
        "addons/04-kiali.yaml",
        "addons/05-telemetry.yaml",
    ] {
        assert_eq!(a[f], b[f], "{f} differs between demo and demo-grpc");
    }
    // Chain objects never land in istio-system; shared ones always do.
    for (file, d) in documents(&grpc.path().join("out")) {
        let shared = d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "meshgen-addons";
        let ns = d["metadata"]["namespace"].as_str();
        let cluster_scoped_addon = ns.is_none() && d["kind"] != "Namespace";
        assert_eq!(
            shared,
            ns == Some("istio-system") || cluster_scoped_addon,
            "{file}: {d:?}"
        );
    }
}

#[test]
fn weights_and_faults_example() {
    let dir = render(&[&profile("canary-weights.toml")]);
    let docs = documents(&dir.path().join("out"));
    let vs = find(&docs, "VirtualService", "middleware");
    let default = &vs["spec"]["http"][1];
    assert_eq!(default["route"][0]["weight"].as_u64(), Some(80));
    assert_eq!(default["route"][1]["weight"].as_u64(), Some(20));
    assert_eq!(
        default["route"][1]["destination"]["subset"].as_str(),
        Some("canary")
    );
    let fault = &find(&docs, "VirtualService", "backend")["spec"]["http"][0]["fault"];
    assert_eq!(fault["abort"]["httpStatus"].as_u64(), Some(503));
    assert_eq!(fault["abort"]["percentage"]["value"].as_f64(), Some(10.0));
    assert_eq!(fault["delay"]["fixedDelay"].as_str(), Some("0.5s"));

    // Over gRPC the same profile aborts with a gRPC code.
    let dir = render(&[
        &profile("canary-weights.toml"),
        "--set",
        "protocol=\"grpc\"",
    ]);
    let docs = documents(&dir.path().join("out"));
    let fault = &find(&docs, "VirtualService", "backend")["spec"]["http"][0]["fault"];
    assert_eq!(fault["abort"]["grpcStatus"].as_str(), Some("UNAVAILABLE"));
    assert!(fault["abort"]["httpStatus"].is_null());
}

#[test]
fn layers_apply_in_order_and_later_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = write_profile(
        tmp.path(),
        "extra.toml",
        "namespace = \"from-file\"\n[routing.retries]\nattempts = 2\n",
    );
    let dir = render(&[
        &profile("demo.toml"),
        "-f",
        &extra,
        "--set",
        "istio.mtls=false",
        "--set",
        "routing.retries.attempts=5",
        "--set",
        "routing.retries.attempts=4",
        "--set",
        "routing.retries.per_try_timeout=500ms",
    ]);
    let out = dir.path().join("out");
    let docs = documents(&out);
    let vs = find(&docs, "VirtualService", "backend");
    assert_eq!(vs["metadata"]["namespace"].as_str(), Some("from-file"));
    assert_eq!(
        vs["spec"]["http"][0]["retries"]["attempts"].as_u64(),
        Some(4)
    );
    assert_eq!(
        vs["spec"]["http"][0]["retries"]["perTryTimeout"].as_str(),
        Some("0.5s")
    );
    // mtls off: no security objects, no ISTIO_MUTUAL.
    assert!(!out.join("10-security.yaml").exists());
    assert!(find(&docs, "DestinationRule", "backend")["spec"]["trafficPolicy"].is_null());
    // Everything else still comes from demo.toml.
    assert_eq!(
        find(&docs, "Deployment", "middleware-canary")["kind"].as_str(),
        Some("Deployment")
    );
}

#[test]
fn extends_inherits_and_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(profile("demo.toml"), tmp.path().join("demo.toml")).unwrap();
    let child = write_profile(
        tmp.path(),
        "child.toml",
        "extends = \"demo.toml\"\nnamespace = \"child\"\n[istio]\ntracing = false\n",
    );
    let dir = render(&[&child]);
    let out = dir.path().join("out");
    assert!(!out.join("addons/01-jaeger.yaml").exists());
    let docs = documents(&out);
    assert_eq!(
        find(&docs, "Namespace", "child")["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "istio101"
    );
}

#[test]
fn set_takes_non_toml_values_as_strings() {
    let r = meshgen(&[
        "render",
        &profile("demo.toml"),
        "--set",
        "namespace=plain",
        "-o",
        "-",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("namespace: plain"));
}

#[test]
fn stdout_stream_is_everything_kubectl_applies() {
    let r = meshgen(&["render", &profile("demo.toml"), "-o", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stream: Vec<Value> = serde_norway::Deserializer::from_str(&r.stdout)
        .map(|de| <Value as serde::Deserialize>::deserialize(de).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    let dir = render(&[&profile("demo.toml")]);
    let files: Vec<Value> = documents(&dir.path().join("out"))
        .into_iter()
        .filter(|(f, _)| !f.starts_with("istio/") && !f.starts_with("applyset/"))
        .map(|(_, d)| d)
        .collect();
    assert_eq!(stream.len(), files.len());
    assert!(stream.iter().all(|d| d["kind"] != "IstioOperator"));
    assert_eq!(
        stream[0]["kind"].as_str(),
        Some("Namespace"),
        "namespace first"
    );
}

#[test]
fn output_is_byte_stable() {
    let a = render(&[&profile("demo.toml")]);
    let b = render(&[&profile("demo.toml")]);
    assert_eq!(
        snapshot(&a.path().join("out")),
        snapshot(&b.path().join("out"))
    );
    // The same profile named by another path renders the same bytes.
    let r = meshgen_in(
        &repo().join("profiles"),
        &["render", "./demo.toml", "-o", "-"],
    );
    let s = meshgen(&["render", "profiles/demo.toml", "-o", "-"]);
    assert_eq!(r.stdout, s.stdout);
}

#[test]
fn templates_can_be_overridden() {
    let tmp = tempfile::tempdir().unwrap();
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(
        tpl.join("05-telemetry.yaml.j2"),
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: mesh-default\n  namespace: {{ istio_namespace | tojson }}\n  labels: {{ shared_labels | tojson }}\n  annotations: {\"team\": \"mine\"}\nspec: {}\n",
    )
    .unwrap();
    let tpl_s = tpl.display().to_string();
    let dir = render(&[&profile("demo.toml"), "--templates", &tpl_s]);
    let docs = documents(&dir.path().join("out"));
    assert_eq!(
        find(&docs, "Telemetry", "mesh-default")["metadata"]["annotations"]["team"].as_str(),
        Some("mine")
    );
}

#[test]
fn schema_describes_the_profile() {
    let r = meshgen(&["schema"]);
    assert_eq!(r.code, 0);
    let s: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for key in [
        "name",
        "namespace",
        "protocol",
        "istio",
        "image",
        "ingress",
        "routing",
        "service",
        "extends",
    ] {
        assert!(s["properties"][key].is_object(), "schema lacks {key}");
    }
    assert_eq!(s["additionalProperties"], serde_json::Value::Bool(false));
}

#[test]
fn validate_says_one_line_on_success() {
    for p in ["demo.toml", "demo-grpc.toml", "canary-weights.toml"] {
        let r = meshgen(&["validate", &profile(p)]);
        assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{p}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{p}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("{}: valid: ", profile(p))),
            "{p}: {}",
            r.stderr
        );
    }
    let r = meshgen(&["validate", &profile("demo-grpc.toml")]);
    assert!(
        r.stderr.contains(
            "in namespace istio101-grpc, grpc, 3 services (4 workloads), istio routes, sidecar, 3 retries"
        ),
        "{}",
        r.stderr
    );
    // --print: the resolved model, every default filled in.
    let r = meshgen(&[
        "validate",
        &profile("demo.toml"),
        "--print",
        "--set",
        "routing.retries.attempts=5",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let model: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(model["namespace"], "istio101");
    assert_eq!(
        model["services"][0]["route"]["retries"]["attempts"], 5,
        "{model}"
    );
}

#[test]
fn help_teaches_with_examples() {
    let r = meshgen(&["render", "--help"]);
    assert_eq!(r.code, 0);
    for needle in ["-o -", "--set", "--check", "--templates", "kubectl apply"] {
        assert!(
            r.stdout.contains(needle),
            "help lacks {needle}:\n{}",
            r.stdout
        );
    }
}

#[test]
fn zero_attempts_turn_retries_off_and_no_attempts_keep_istios_default() {
    // `attempts = 0` must reach Istio as `retries: {attempts: 0}`: a route without a
    // `retries` block gets Istio's default policy, which is not "no retries".
    let dir = render(&[&profile("demo.toml"), "--set", "routing.retries.attempts=0"]);
    let docs = documents(&dir.path().join("out"));
    let retries = &find(&docs, "VirtualService", "middleware")["spec"]["http"][1]["retries"];
    assert_eq!(retries["attempts"].as_u64(), Some(0));
    assert!(retries["retryOn"].is_null() && retries["perTryTimeout"].is_null());

    let tmp = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string(profile("demo.toml")).unwrap();
    let start = demo.find("[routing.retries]").unwrap();
    let end = start + demo[start..].find("\n\n").unwrap();
    let without = format!("{}{}", &demo[..start], &demo[end..]);
    let p = write_profile(tmp.path(), "no-retries.toml", &without);
    let dir = render(&[&p]);
    let docs = documents(&dir.path().join("out"));
    for (_, d) in docs.iter().filter(|(_, d)| d["kind"] == "VirtualService") {
        for route in d["spec"]["http"].as_sequence().unwrap() {
            assert!(route["retries"].is_null(), "{route:?}");
        }
    }
}

/// In apply order (file names), every subset a route names is defined by a
/// DestinationRule in an earlier file: a route to a subset that does not exist
/// yet answers 503, so the tutorial's step-by-step applies must never see one.
#[test]
fn destination_rules_come_before_every_route_that_names_their_subsets() {
    for name in [
        "demo.toml",
        "demo-grpc.toml",
        "demo-full.toml",
        "canary-weights.toml",
    ] {
        let dir = render(&[&profile(name)]);
        let docs = documents(&dir.path().join("out"));
        let mut defined: Vec<(&str, &str, &str)> = Vec::new(); // (file, host, subset)
        for (file, d) in docs.iter().filter(|(_, d)| d["kind"] == "DestinationRule") {
            for s in d["spec"]["subsets"].as_sequence().unwrap() {
                let host = d["spec"]["host"].as_str().unwrap();
                defined.push((file, host, s["name"].as_str().unwrap()));
            }
        }
        let mut checked = 0;
        for (file, d) in docs.iter().filter(|(_, d)| d["kind"] == "VirtualService") {
            for route in d["spec"]["http"].as_sequence().unwrap() {
                for dest in route["route"].as_sequence().unwrap() {
                    let (host, subset) =
                        (&dest["destination"]["host"], &dest["destination"]["subset"]);
                    let Some(subset) = subset.as_str() else {
                        continue;
                    };
                    let host = host.as_str().unwrap();
                    assert!(
                        defined
                            .iter()
                            .any(|(f, h, s)| *f < file.as_str() && *h == host && *s == subset),
                        "{name}: {file} routes to {host} subset {subset}, defined in no earlier file"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 3, "{name}: {checked} subset routes");
    }
}

/// With tracing, a hop's span exports skip its sidecar (else each export is
/// traced as a call of its own); without tracing there is nothing to skip.
#[test]
fn hop_span_exports_bypass_the_sidecar_only_with_tracing() {
    let annotation = "traffic.sidecar.istio.io/excludeOutboundPorts";
    for (sets, want) in [
        (&[][..], Some("4317")),
        (&["--set", "istio.tracing=false"][..], None),
    ] {
        let mut args = vec![profile("demo.toml")];
        args.extend(sets.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let dir = render(&args);
        let docs = documents(&dir.path().join("out"));
        let deployments: Vec<_> = docs
            .iter()
            .filter(|(f, d)| f == "20-workloads.yaml" && d["kind"] == "Deployment")
            .collect();
        assert_eq!(deployments.len(), 4);
        for (_, d) in deployments {
            let got = d["spec"]["template"]["metadata"]["annotations"][annotation].as_str();
            assert_eq!(got, want, "{sets:?}");
        }
    }
}

/// demo-full.toml: the original "OpenCensus full" build, work spans in every hop.
#[test]
fn demo_full_turns_the_work_on_in_every_hop() {
    let dir = render(&[&profile("demo-full.toml")]);
    let docs = documents(&dir.path().join("out"));
    let hops: Vec<_> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["namespace"] == "istio101")
        .collect();
    assert_eq!(hops.len(), 4);
    for (_, d) in hops {
        assert_eq!(env_of(d, "WORK"), "true");
    }
}

/// `--set service.NAME.KEY=VALUE` changes one service of the merged list.
#[test]
fn set_reaches_one_service_by_name() {
    let dir = render(&[
        &profile("demo.toml"),
        "--set",
        "service.backend.work=true",
        "--set",
        "service.middleware.replicas=2",
    ]);
    let docs = documents(&dir.path().join("out"));
    for (name, work, replicas) in [
        ("frontend-prod", "false", 1),
        ("middleware-prod", "false", 2),
        ("middleware-canary", "false", 2),
        ("backend-prod", "true", 1),
    ] {
        let d = find(&docs, "Deployment", name);
        assert_eq!(env_of(d, "WORK"), work, "{name}");
        assert_eq!(d["spec"]["replicas"].as_u64(), Some(replicas), "{name}");
    }
}

/// Words YAML 1.1 (kubectl's reader) takes for booleans or numbers are names
/// and canary values like any other: written quoted, read back as strings.
#[test]
fn yaml_1_1_words_are_written_quoted() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write_profile(
        tmp.path(),
        "p.toml",
        "name = \"y\"\nnamespace = \"0b101\"\nistio.revision = \"123\"\n\
         [routing.canary.no]\nsubset = \"yes\"\nheader = \"on\"\nvalue = \"Yes\"\n\
         [[service]]\nname = \"no\"\nversions = [\"prod\", \"yes\"]\n",
    );
    let out = tmp.path().join("out");
    let r = meshgen(&["render", &p, "-o", &out.display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let namespace = text("00-namespace.yaml");
    for line in [
        "name: '0b101'",
        "app.kubernetes.io/part-of: 'y'",
        "istio.io/rev: '123'",
    ] {
        assert!(namespace.contains(line), "{line}:\n{namespace}");
    }
    let routing = text("50-routing.yaml");
    for line in ["name: 'no'", "'on':", "exact: 'Yes'", "subset: 'yes'"] {
        assert!(routing.contains(line), "{line}:\n{routing}");
    }
    let docs = documents(&out);
    let vs = find(&docs, "VirtualService", "no");
    let route = &vs["spec"]["http"][0];
    assert_eq!(route["match"][0]["headers"]["on"]["exact"], "Yes");
    assert_eq!(route["route"][0]["destination"]["subset"], "yes");
    let deploy = find(&docs, "Deployment", "no-yes");
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["labels"]["version"],
        "yes"
    );
}

/// Canary values are any visible ASCII: those that are YAML syntax (a comment,
/// a mapping value, quotes, an anchor, a tag, a block indicator...) are read
/// back by a YAML parser exactly as the profile wrote them.
#[test]
fn canary_values_that_are_yaml_syntax_read_back_as_written() {
    const VALUES: [&str; 14] = [
        "a: b #c", "'q'", "\"dq\"", "- x", "{x: 1}", "[x]", "*ref", "&anchor", "!tag", "%x", "@x",
        "`x`", "|", "? x",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("name = \"demo\"\nnamespace = \"demo\"\n");
    for (i, v) in VALUES.iter().enumerate() {
        let value = format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        text.push_str(&format!(
            "[routing.canary.s{i}]\nsubset = \"canary\"\nheader = \"x-canary\"\nvalue = {value}\n"
        ));
    }
    for i in 0..VALUES.len() {
        let upstream = match i + 1 < VALUES.len() {
            true => format!("upstream = \"s{}\"\n", i + 1),
            false => String::new(),
        };
        text.push_str(&format!(
            "[[service]]\nname = \"s{i}\"\nversions = [\"prod\", \"canary\"]\n{upstream}"
        ));
    }
    let p = write_profile(tmp.path(), "p.toml", &text);
    let out = tmp.path().join("out");
    let r = meshgen(&["render", &p, "-o", &out.display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs = documents(&out);
    for (i, v) in VALUES.iter().enumerate() {
        let vs = find(&docs, "VirtualService", &format!("s{i}"));
        assert_eq!(
            vs["spec"]["http"][0]["match"][0]["headers"]["x-canary"]["exact"].as_str(),
            Some(*v)
        );
    }
}

/// A mirror rides every rule but one that already sends everything to the
/// mirrored version (the demo's header canary to it), in both routing APIs;
/// `percent = 0` in a later layer is Istio's "no mirror" and turns it off.
#[test]
fn a_mirror_never_copies_requests_to_where_they_already_go() {
    for (name, kind) in [
        ("resilience.toml", "VirtualService"),
        ("resilience-gateway-api.toml", "HTTPRoute"),
    ] {
        let dir = render(&[&profile(name)]);
        let docs = documents(&dir.path().join("out"));
        let route = find(&docs, kind, "middleware");
        let (rules, key) = match kind {
            "VirtualService" => (&route["spec"]["http"], "mirror"),
            _ => (&route["spec"]["rules"], "filters"),
        };
        let mirrored = |r: &Value| r.get(key).is_some();
        let rules = rules.as_sequence().unwrap();
        let with: Vec<bool> = rules.iter().map(mirrored).collect();
        // The canary rule first (to canary: no mirror), the default rule last.
        assert_eq!(with, [false, true], "{name}: {rules:#?}");

        let off = render(&[
            &profile(name),
            "--set",
            "routing.mirror.middleware.percent=0",
        ]);
        let docs = documents(&off.path().join("out"));
        let text = serde_json::to_string(find(&docs, kind, "middleware")).unwrap();
        assert!(!text.contains("irror"), "{name}: still mirrored: {text}");
    }
}

/// Only the gateway kind of outlier detection asked for: the 5xx kind is
/// written off, not left to Envoy's default of 5 consecutive 5xx.
#[test]
fn outlier_detection_writes_off_what_it_does_not_ask_for() {
    let dir = render(&[
        &profile("demo.toml"),
        "--set",
        "routing.outlier_detection.backend={consecutive_gateway_errors=2}",
    ]);
    let docs = documents(&dir.path().join("out"));
    let o = &find(&docs, "DestinationRule", "backend")["spec"]["trafficPolicy"]["outlierDetection"];
    assert_eq!(o["consecutiveGatewayErrors"].as_u64(), Some(2), "{o:?}");
    assert_eq!(o["consecutive5xxErrors"].as_u64(), Some(0), "{o:?}");
}
