//! The typed values serialize to the shapes istiod writes (its goldens in
//! pilot/pkg/security/authz/builder/testdata and the config of a sidecar as
//! `istioctl proxy-config` shows it), read from the demo's Model.

mod common;

use localmesh::ca::Authority;
use localmesh::envoy::types::Address;
use localmesh::envoy::{Outbound, rbac};
use localmesh::identity;
use serde_json::{Value, json};

fn demo() -> meshgen::model::Model {
    common::model("demo.toml", &[])
}

#[test]
fn rbac_is_istiods_allow_policy() {
    let m = demo();
    let backend = m.service("backend").unwrap();
    let policy =
        serde_json::to_value(rbac::policy(&m, backend, rbac::Peer::Connection).unwrap()).unwrap();
    assert_eq!(
        policy,
        json!({
            "rules": {"policies": {"ns[istio101]-policy[backend]-rule[0]": {
                "permissions": [{"and_rules": {"rules": [{"any": true}]}}],
                "principals": [{"and_ids": {"ids": [{"or_ids": {"ids": [
                    {"authenticated": {"principal_name": {
                        "exact": "spiffe://cluster.local/ns/istio101/sa/middleware"}}}
                ]}}]}}]
            }}},
            "shadow_rules_stat_prefix": "istio_dry_run_allow_"
        })
    );
    // The entry service is called by the ingress gateway.
    let frontend = serde_json::to_string(&rbac::policy(
        &m,
        m.service("frontend").unwrap(),
        rbac::Peer::Connection,
    ))
    .unwrap();
    assert!(
        frontend.contains(
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
        ),
        "{frontend}"
    );
    // Nobody calls it: allow-nil-rule-out.yaml, a policy matching nothing.
    let mut lonely = backend.clone();
    lonely.callers.clear();
    let policy =
        serde_json::to_value(rbac::policy(&m, &lonely, rbac::Peer::Connection).unwrap()).unwrap();
    assert_eq!(
        policy["rules"]["policies"]["ns[istio101]-policy[backend]-rule[0]"],
        json!({"permissions": [{"not_rule": {"any": true}}],
               "principals": [{"not_id": {"any": true}}]})
    );
}

#[test]
fn the_inbound_side_is_strict_or_permissive() {
    let ca = Authority::new().unwrap();
    for (mtls, chains) in [("true", 1), ("false", 2)] {
        let m = common::model("demo.toml", &[&format!("istio.mtls={mtls}")]);
        let c = ca
            .issue(&identity::service(&m, &format!("backend-{mtls}")))
            .unwrap();
        let sidecar = common::sidecar(&m, "backend", &c, 15006, 8080, vec![]);
        let listener = serde_json::to_value(sidecar.inbound_listener()).unwrap();
        assert_eq!(
            listener["listener_filters"][0]["typed_config"]["@type"],
            "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
        );
        let found = listener["filter_chains"].as_array().unwrap();
        assert_eq!(found.len(), chains, "mtls={mtls}");
        let tls = &found[0];
        assert_eq!(tls["filter_chain_match"]["transport_protocol"], "tls");
        let context = &tls["transport_socket"]["typed_config"];
        assert_eq!(
            context["@type"],
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
        );
        assert_eq!(context["require_client_certificate"], true);
        let common = &context["common_tls_context"];
        assert_eq!(common["alpn_protocols"], json!(["h2", "http/1.1"]));
        assert_eq!(
            common["tls_certificate_sds_secret_configs"],
            json!([{"name": "default"}])
        );
        assert_eq!(
            common["combined_validation_context"]["validation_context_sds_secret_config"],
            json!({"name": "ROOTCA"})
        );
        let filters = &tls["filters"][0]["typed_config"]["http_filters"];
        let names: Vec<&str> = filters
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        match mtls {
            "true" => {
                assert_eq!(
                    names,
                    ["envoy.filters.http.rbac", "envoy.filters.http.router"]
                );
            }
            _ => {
                assert_eq!(names, ["envoy.filters.http.router"]);
                assert_eq!(
                    tls["filter_chain_match"]["application_protocols"],
                    json!([
                        "istio",
                        "istio-peer-exchange",
                        "istio-http/1.0",
                        "istio-http/1.1",
                        "istio-h2"
                    ])
                );
                let plain = &found[1];
                assert_eq!(
                    plain["filter_chain_match"]["transport_protocol"],
                    "raw_buffer"
                );
                assert_eq!(plain["transport_socket"], Value::Null);
            }
        }
    }
}

#[test]
fn the_outbound_cluster_is_istio_mutual() {
    for (profile, h2) in [("demo.toml", false), ("demo-grpc.toml", true)] {
        let m = common::model(profile, &[]);
        let ca = Authority::new().unwrap();
        let c = ca.issue(&identity::service(&m, "middleware")).unwrap();
        let o = Outbound {
            listener_port: Some(15001),
            service: "backend".into(),
            subsets: [(
                "prod".to_owned(),
                vec![Address::local(15006), Address::local(15007)],
            )]
            .into(),
            mutual_tls: true,
            authorization: None,
        };
        let sidecar = common::sidecar(&m, "middleware", &c, 15006, 8080, vec![o]);
        let bootstrap = serde_json::to_value(sidecar.bootstrap()).unwrap();
        let (port, ns) = (m.wire.service_port, &m.namespace);
        let host = format!("backend.{ns}.svc.cluster.local");
        let name = format!("outbound|{port}|prod|{host}");
        let cluster = bootstrap["static_resources"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {bootstrap}"));
        assert_eq!(
            cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let context = &cluster["transport_socket"]["typed_config"];
        assert_eq!(
            context["@type"],
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
        );
        // BuildDNSSrvSubsetKey: the subset's SNI.
        assert_eq!(context["sni"], format!("outbound_.{port}_.prod_.{host}"));
        let common = &context["common_tls_context"];
        let alpn = match h2 {
            true => json!(["istio-peer-exchange", "istio", "h2"]),
            false => json!(["istio-peer-exchange", "istio"]),
        };
        assert_eq!(common["alpn_protocols"], alpn);
        assert_eq!(
            common["combined_validation_context"]["default_validation_context"],
            json!({"match_typed_subject_alt_names": [{"san_type": "URI", "matcher": {
                "exact": format!("spiffe://cluster.local/ns/{ns}/sa/backend")}}]})
        );
        assert_eq!(
            cluster["typed_extension_protocol_options"].is_object(),
            h2,
            "{profile}: HTTP/2 upstream for gRPC only"
        );
    }
}

/// The demo with weights: a caller's outbound listener carries the
/// destination's VirtualService, canary header match first, then the
/// weighted split, with the profile's retries, and every cluster has
/// istiod's raised circuit breakers.
#[test]
fn routes_follow_the_virtual_service() {
    use localmesh::envoy::{ProxyOptions, Sidecar};
    use localmesh::plan::{Input, Plan, Ports};
    let m = common::model(
        "demo.toml",
        &["routing.weights.middleware={ prod = 80, canary = 20 }"],
    );
    let plan = Plan::new(&m, &Input::default(), &mut Ports::default()).unwrap();
    let ca = Authority::new().unwrap();
    let c = ca.issue(&identity::service(&m, "frontend")).unwrap();
    let pod = plan.pods_of("frontend", None).next().unwrap();
    let options = ProxyOptions::default();
    let b = serde_json::to_value(Sidecar::of(&m, &plan, pod, &c, &options).bootstrap()).unwrap();
    let listeners = b["static_resources"]["listeners"].as_array().unwrap();
    let mw = listeners
        .iter()
        .find(|x| x["name"] == "outbound_middleware")
        .expect("middleware listener");
    let routes = &mw["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["virtual_hosts"]
        [0]["routes"];
    let canary = "outbound|80|canary|middleware.istio101.svc.cluster.local";
    assert_eq!(routes[0]["match"]["headers"][0]["name"], "x-dev-user");
    assert_eq!(routes[0]["route"]["cluster"], canary);
    let w = &routes[1]["route"]["weighted_clusters"]["clusters"];
    assert_eq!(w[0]["weight"], 80);
    assert_eq!(w[1]["name"], canary);
    let retry = &routes[1]["route"]["retry_policy"];
    let meshgen::model::RetryPolicy::Retry(r) = &m.services[1].route.retries else {
        panic!("the profile sets attempts")
    };
    assert_eq!(retry["retry_on"], r.retry_on);
    assert_eq!(retry["num_retries"], 3);
    assert_eq!(retry["host_selection_retry_max_attempts"], 5);
    assert_eq!(routes[1]["route"]["timeout"], "0s");
    // Both subsets' pods: one each.
    let clusters = b["static_resources"]["clusters"].as_array().unwrap();
    assert!(clusters.iter().any(|c| c["name"] == canary));
    for c in clusters {
        assert_eq!(
            c["circuit_breakers"]["thresholds"][0]["max_retries"], 4_294_967_295u64,
            "{}",
            c["name"]
        );
    }
}

/// Every shipped profile, each service with three replicas: no two things
/// of a plan listen on one port, no two pods share a name (their logs and
/// bootstraps are named after them), and within each proxy no two
/// listeners or clusters share a name (Envoy would refuse the bootstrap).
#[test]
fn plans_are_free_of_collisions() {
    use localmesh::envoy::ProxyOptions;
    use localmesh::plan::{Input, Plan, Ports};
    use std::collections::BTreeSet;
    let profiles = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"));
    for profile in profiles {
        let plain = common::model(&profile, &[]);
        let sets: Vec<String> = plain
            .services
            .iter()
            .map(|s| format!("service.{}.replicas=3", s.name))
            .collect();
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let m = common::model(&profile, &sets);
        let plan = Plan::new(
            &m,
            &Input {
                stub: Some(1),
                ..Input::default()
            },
            &mut Ports::default(),
        )
        .unwrap();
        if let Err(e) = common::checks::ports_once(&plan) {
            panic!("{profile}: {e}");
        }
        let names: BTreeSet<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names.len(),
            plan.pods.len(),
            "{profile}: two pods, one name"
        );
        assert_eq!(
            plan.pods.len(),
            3 * m.services.iter().map(|s| s.versions.len()).sum::<usize>()
        );

        let ca = Authority::new().unwrap();
        let credentials = identity::mesh(&m)
            .iter()
            .map(|id| (id.name.clone(), ca.issue(id).unwrap()))
            .collect();
        let options = ProxyOptions::default();
        let bootstraps = localmesh::envoy::bootstraps(&m, &plan, &credentials, &options);
        for (name, b) in bootstraps {
            if let Err(e) = common::checks::names_once(&b) {
                panic!("{profile} {name}: {e}");
            }
        }
    }
}
