//! The Gateway API and ambient targets, and the options that came with them
//! (revision, stub_external): what each profile renders, document by document.

mod common;

use common::*;
use serde_norway::Value;

fn docs_of(args: &[&str]) -> Vec<(String, Value)> {
    let dir = render(args);
    documents(&dir.path().join("out"))
}

fn kinds(docs: &[(String, Value)], kind: &str) -> usize {
    docs.iter().filter(|(_, d)| d["kind"] == kind).count()
}

/// The value of the hop's environment variable `name` in Deployment `deployment`.
fn env<'d>(docs: &'d [(String, Value)], deployment: &str, name: &str) -> &'d str {
    find(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("{deployment} has no {name}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn gateway_api_routes_name_a_service_per_version() {
    let docs = docs_of(&[&profile("demo-gateway-api.toml")]);
    assert_eq!(kinds(&docs, "VirtualService"), 0);
    assert_eq!(kinds(&docs, "DestinationRule"), 0);
    // Three mesh routes and the ingress route.
    assert_eq!(kinds(&docs, "HTTPRoute"), 4);

    let gw = find(&docs, "Gateway", "frontend-gateway");
    assert_eq!(gw["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(gw["spec"]["gatewayClassName"], "istio");

    let mw = find(&docs, "HTTPRoute", "middleware");
    let parent = &mw["spec"]["parentRefs"][0];
    assert_eq!(parent["kind"], "Service");
    assert_eq!(parent["group"], "");
    assert_eq!(parent["name"], "middleware");
    let rules = &mw["spec"]["rules"];
    // Header match first, to the canary's own Service.
    assert_eq!(rules[0]["matches"][0]["headers"][0]["name"], "x-dev-user");
    assert_eq!(rules[0]["backendRefs"][0]["name"], "middleware-canary");
    assert_eq!(rules[1]["backendRefs"][0]["name"], "middleware-prod");
    for r in rules.as_sequence().unwrap() {
        assert_eq!(r["retry"]["attempts"].as_u64(), Some(3));
        let codes: Vec<u64> = r["retry"]["codes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert_eq!(codes, [500, 502, 503, 504]);
        assert_eq!(r["timeouts"]["backendRequest"], "2s");
    }
    let canary = find(&docs, "Service", "middleware-canary");
    assert_eq!(canary["spec"]["selector"]["app"], "middleware");
    assert_eq!(canary["spec"]["selector"]["version"], "canary");

    // The entry service is called by the proxy Istio deploys for the Gateway.
    let authz = find(&docs, "AuthorizationPolicy", "frontend");
    assert_eq!(
        strs(&authz["spec"]["rules"][0]["from"][0]["source"]["principals"]),
        ["cluster.local/ns/istio101-gw/sa/frontend-gateway-istio"]
    );
    // ... which takes traffic from anywhere on its listener.
    let np = find(&docs, "NetworkPolicy", "frontend-gateway");
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"]["gateway.networking.k8s.io/gateway-name"],
        "frontend-gateway"
    );

    // No retries: `retry: {attempts: 0}`, which Istio turns into no policy at all.
    let docs = docs_of(&[
        &profile("demo-gateway-api.toml"),
        "--set",
        "routing.retries.attempts=0",
    ]);
    let r = &find(&docs, "HTTPRoute", "backend")["spec"]["rules"][0];
    assert_eq!(r["retry"]["attempts"].as_u64(), Some(0));
    assert!(r.get("timeouts").is_none(), "{r:?}");
}

#[test]
fn a_grpc_chain_gets_grpcroutes_without_retries() {
    let docs = docs_of(&[&profile("demo-grpc-gateway-api.toml")]);
    assert_eq!(kinds(&docs, "HTTPRoute"), 0);
    assert_eq!(kinds(&docs, "GRPCRoute"), 4);
    for (_, d) in docs.iter().filter(|(_, d)| d["kind"] == "GRPCRoute") {
        for r in d["spec"]["rules"].as_sequence().unwrap() {
            assert!(r.get("retry").is_none() && r.get("timeouts").is_none());
            assert_eq!(r["backendRefs"][0]["port"].as_u64(), Some(50051));
        }
    }
    // The per-version Services keep the gRPC port name Istio detects h2c by.
    let prod = find(&docs, "Service", "frontend-prod");
    assert_eq!(prod["spec"]["ports"][0]["appProtocol"], "grpc");
}

#[test]
fn ambient_has_a_waypoint_and_policies_at_both_layers() {
    let docs = docs_of(&[&profile("demo-ambient.toml")]);
    let ns = find(&docs, "Namespace", "istio101-ambient");
    let labels = &ns["metadata"]["labels"];
    assert_eq!(labels["istio.io/dataplane-mode"], "ambient");
    assert_eq!(labels["istio.io/use-waypoint"], "waypoint");
    assert!(labels.get("istio-injection").is_none());

    let wp = find(&docs, "Gateway", "waypoint");
    assert_eq!(wp["spec"]["gatewayClassName"], "istio-waypoint");
    assert_eq!(wp["metadata"]["labels"]["istio.io/waypoint-for"], "service");
    let listener = &wp["spec"]["listeners"][0];
    assert_eq!(
        (
            listener["name"].as_str(),
            listener["port"].as_u64(),
            listener["protocol"].as_str()
        ),
        (Some("mesh"), Some(15008), Some("HBONE"))
    );

    // L7 at the waypoint: the callers' identities, attached to the Service.
    let l7 = find(&docs, "AuthorizationPolicy", "backend-waypoint");
    assert_eq!(l7["spec"]["targetRefs"][0]["kind"], "Service");
    assert_eq!(l7["spec"]["targetRefs"][0]["name"], "backend");
    assert!(l7["spec"].get("selector").is_none());
    assert_eq!(
        strs(&l7["spec"]["rules"][0]["from"][0]["source"]["principals"]),
        ["cluster.local/ns/istio101-ambient/sa/middleware"]
    );
    // The waypoint authorizes per Service: `backend-prod` selects the same
    // pods as `backend`, so it gets the same callers, or frontend could call
    // it directly and skip middleware.
    let direct = find(&docs, "AuthorizationPolicy", "backend-prod-waypoint");
    assert_eq!(direct["spec"]["targetRefs"][0]["name"], "backend-prod");
    assert_eq!(
        direct["spec"]["rules"], l7["spec"]["rules"],
        "backend-prod lets in other callers than backend"
    );
    // The ingress gateway crosses the waypoint too: every Service says so,
    // and the entry service's L7 policy is where the gateway is allowed.
    let chain = |d: &Value| d["metadata"]["namespace"] == "istio101-ambient";
    for (_, d) in docs
        .iter()
        .filter(|(_, d)| d["kind"] == "Service" && chain(d))
    {
        assert_eq!(
            d["metadata"]["labels"]["istio.io/ingress-use-waypoint"], "true",
            "{:?}",
            d["metadata"]["name"]
        );
    }
    let entry = find(&docs, "AuthorizationPolicy", "frontend-prod-waypoint");
    assert_eq!(
        strs(&entry["spec"]["rules"][0]["from"][0]["source"]["principals"]),
        ["cluster.local/ns/istio101-ambient/sa/frontend-gateway-istio"]
    );
    // L4 at ztunnel: the waypoint, whatever the service, and Prometheus on
    // the metrics port.
    let l4 = find(&docs, "AuthorizationPolicy", "frontend");
    assert_eq!(l4["spec"]["selector"]["matchLabels"]["app"], "frontend");
    assert_eq!(
        strs(&l4["spec"]["rules"][0]["from"][0]["source"]["principals"]),
        ["cluster.local/ns/istio101-ambient/sa/waypoint"]
    );
    assert_eq!(
        strs(&l4["spec"]["rules"][1]["to"][0]["operation"]["ports"]),
        ["9464"]
    );
    let pa = find(&docs, "PeerAuthentication", "hop-metrics");
    assert_eq!(pa["spec"]["portLevelMtls"]["9464"]["mode"], "PERMISSIVE");
    assert_eq!(
        find(&docs, "PeerAuthentication", "default")["spec"]["mtls"]["mode"],
        "STRICT"
    );

    // Kubelet probes come from 169.254.7.127 in ambient mode.
    let np = find(&docs, "NetworkPolicy", "chain-ingress");
    assert!(format!("{np:?}").contains("169.254.7.127/32"));
    // No sidecar to route the span exports around.
    let d = find(&docs, "Deployment", "frontend-prod");
    assert!(!format!("{d:?}").contains("excludeOutboundPorts"));

    let op = find(&docs, "IstioOperator", "meshgen");
    assert_eq!(op["spec"]["profile"], "ambient");
    assert!(op["spec"].get("components").is_none());
}

#[test]
fn profiles_of_one_data_plane_share_their_cluster_wide_objects() {
    let groups = [
        [
            "demo.toml",
            "demo-gateway-api.toml",
            "demo-grpc-gateway-api.toml",
        ],
        [
            "demo-ambient.toml",
            "demo-grpc-ambient.toml",
            "demo-ambient.toml",
        ],
    ];
    for group in groups {
        let outs: Vec<_> = group.iter().map(|p| render(&[&profile(p)])).collect();
        let snaps: Vec<_> = outs
            .iter()
            .map(|d| snapshot(&d.path().join("out")))
            .collect();
        for f in [
            "istio/install.yaml",
            "addons/01-jaeger.yaml",
            "addons/02-prometheus.yaml",
            "addons/05-telemetry.yaml",
        ] {
            for (i, s) in snaps.iter().enumerate().skip(1) {
                assert_eq!(
                    snaps[0][f], s[f],
                    "{f} differs between {} and {}",
                    group[0], group[i]
                );
            }
        }
    }
}

#[test]
fn a_revision_replaces_the_injection_label() {
    let docs = docs_of(&[
        &profile("demo-gateway-api.toml"),
        "--set",
        "istio.revision=\"1-28\"",
    ]);
    let ns = &find(&docs, "Namespace", "istio101-gw")["metadata"]["labels"];
    assert_eq!(ns["istio.io/rev"], "1-28");
    assert!(ns.get("istio-injection").is_none());
    let gw = find(&docs, "Gateway", "frontend-gateway");
    assert_eq!(gw["metadata"]["labels"]["istio.io/rev"], "1-28");
    assert_eq!(
        find(&docs, "IstioOperator", "meshgen")["spec"]["revision"],
        "1-28"
    );
}

#[test]
fn stub_external_deploys_the_stub_and_calls_it() {
    for p in ["demo-grpc.toml", "demo-ambient.toml"] {
        let docs = docs_of(&[&profile(p), "--set", "stub_external=true"]);
        assert_eq!(kinds(&docs, "ServiceEntry"), 0, "{p}");
        let stub = find(&docs, "Deployment", "time-jsontest-com");
        let hop = &stub["spec"]["template"]["spec"]["containers"][0];
        // The HTTP hop, whatever the chain's protocol.
        assert!(
            hop["image"].as_str().unwrap().contains("/chain-http:"),
            "{p}"
        );
        let env = format!("{:?}", hop["env"]);
        assert!(
            env.contains("EXTERNAL_STUB") && !env.contains("UPSTREAM"),
            "{p}: {env}"
        );
        let svc = find(&docs, "Service", "time-jsontest-com");
        assert_eq!(svc["spec"]["ports"][0]["port"].as_u64(), Some(80));
        let backend = find(&docs, "Deployment", "backend-prod");
        let env = format!(
            "{:?}",
            backend["spec"]["template"]["spec"]["containers"][0]["env"]
        );
        assert!(
            env.contains(".svc.cluster.local/") && !env.contains("time.jsontest.com"),
            "{p}: {env}"
        );
        // Only the backend may call it.
        let authz = find(&docs, "AuthorizationPolicy", "time-jsontest-com");
        let text = format!("{authz:?}");
        assert!(
            text.contains("sa/backend") || text.contains("sa/waypoint"),
            "{p}: {text}"
        );
    }
}

/// `[istio.mesh_retries]`: the mesh-wide policy istiod gives every route
/// without retries of its own (GRPCRoutes included), in the install options,
/// with the conditions of both protocols; the hops wait for all its tries.
#[test]
fn mesh_retries_are_the_install_options_default_policy() {
    let docs = docs_of(&[
        &profile("demo-grpc-gateway-api.toml"),
        "--set",
        "istio.mesh_retries.attempts=3",
        "--set",
        "istio.mesh_retries.per_try_timeout=\"1s\"",
    ]);
    let op = find(&docs, "IstioOperator", "meshgen");
    let policy = &op["spec"]["meshConfig"]["defaultHttpRetryPolicy"];
    assert_eq!(policy["attempts"], 3);
    assert_eq!(policy["perTryTimeout"], "1s");
    let on: Vec<&str> = policy["retryOn"].as_str().unwrap().split(',').collect();
    for condition in ["5xx", "internal", "unavailable", "connect-failure"] {
        assert!(on.contains(&condition), "{on:?}");
    }
    // The GRPCRoutes still carry no retry of their own.
    assert!(!format!("{docs:?}").contains("retry:"));
    // (3 + 1) tries of 1 s.
    assert_eq!(env(&docs, "frontend-prod", "UPSTREAM_TIMEOUT"), "4s");

    let json: Vec<common::schema::Doc> = docs
        .iter()
        .filter(|(_, d)| d["kind"] == "IstioOperator")
        .map(|(f, d)| (f.clone(), serde_json::to_value(d).unwrap()))
        .collect();
    common::schema::kubernetes_models(&json).unwrap_or_else(|e| panic!("{e}"));

    // Calls to an external API have no route of their own: the mesh-wide
    // policy is theirs even where the chain's routes retry (3 x 2 s here),
    // so the hop waits for the longer of the two, (4 + 1) x 2 s.
    let docs = docs_of(&[
        &profile("demo.toml"),
        "--set",
        "istio.mesh_retries.attempts=4",
    ]);
    assert_eq!(env(&docs, "backend-prod", "UPSTREAM_TIMEOUT"), "10s");

    // Without the key: Istio's built-in default, nothing in the mesh config.
    let docs = docs_of(&[&profile("demo-grpc-gateway-api.toml")]);
    let op = find(&docs, "IstioOperator", "meshgen");
    assert!(
        op["spec"]["meshConfig"]
            .get("defaultHttpRetryPolicy")
            .is_none()
    );
}
