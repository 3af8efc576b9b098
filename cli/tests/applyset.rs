//! The chain as an ApplySet (KEP-3659): the parent rendered in
//! out/applyset/parent.yaml, its id as the KEP defines it (recomputed here
//! with Python's hashlib, not meshgen's code), and every member labelled
//! with it, for every shipped profile. The shared addons are never members.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::*;

/// The KEP's id, computed by Python: `applyset-` + unpadded base64url of
/// sha256(`name.namespace.kind.group`) + `-v1`.
fn kep_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let program = "import base64, hashlib, sys\n\
        d = hashlib.sha256('.'.join(sys.argv[1:]).encode()).digest()\n\
        print('applyset-' + base64.urlsafe_b64encode(d).decode().rstrip('=') + '-v1')";
    let out = Command::new("python3")
        .args(["-c", program, name, namespace, kind, group])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_formula_matches_kubectls_own_test() {
    // kubectl pkg/cmd/apply/apply_test.go: Secret my-set in namespace test.
    assert_eq!(
        kep_id("my-set", "test", "Secret", ""),
        "applyset-0eFHV8ySqp7XoShsGvyWFQD3s96yqwHmzc4e0HR1dsY-v1"
    );
}

#[test]
fn every_profile_is_one_applyset_of_its_own_objects() {
    for p in shipped_profiles() {
        let dir = render(&[&p.display().to_string()]);
        let docs = documents(&dir.path().join("out"));
        let name = p.display();
        let parent = find(&docs, "ConfigMap", "meshgen-applyset");
        let ns = parent["metadata"]["namespace"].as_str().unwrap();
        let id = kep_id("meshgen-applyset", ns, "ConfigMap", "");
        let labels = &parent["metadata"]["labels"];
        assert_eq!(labels["applyset.kubernetes.io/id"], id.as_str(), "{name}");
        let notes = &parent["metadata"]["annotations"];
        let tooling = notes["applyset.kubernetes.io/tooling"].as_str().unwrap();
        assert!(tooling.starts_with("kubectl/v"), "{name}: {tooling}");
        assert_eq!(notes["applyset.kubernetes.io/additional-namespaces"], "");

        let mut kinds = BTreeSet::new();
        for (file, d) in docs.iter().filter(|(f, _)| !f.starts_with("applyset/")) {
            let part_of = d["metadata"]["labels"]["applyset.kubernetes.io/part-of"].as_str();
            let member = !file.contains('/');
            if !member {
                // The addons serve every profile of a cluster; the
                // IstioOperator is istioctl's.
                assert_eq!(part_of, None, "{name} {file}: {d:?}");
                continue;
            }
            assert_eq!(
                part_of,
                Some(id.as_str()),
                "{name} {file}: {:?}",
                d["metadata"]
            );
            let ns_of = d["metadata"]["namespace"].as_str();
            assert!(ns_of.is_none() || ns_of == Some(ns), "{name} {file}");
            let kind = d["kind"].as_str().unwrap();
            kinds.insert(match d["apiVersion"].as_str().unwrap().rsplit_once('/') {
                Some((group, _)) => format!("{kind}.{group}"),
                None => kind.to_owned(),
            });
        }
        let claimed: BTreeSet<String> = notes["applyset.kubernetes.io/contains-group-kinds"]
            .as_str()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        assert_eq!(claimed, kinds, "{name}");
    }
}

/// The labels Istio puts on the Deployment, Service and ServiceAccount it
/// deploys for a Gateway API Gateway (ingress or waypoint): the Gateway's
/// `spec.infrastructure.labels` when set, else every label of the Gateway as
/// applied (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go,
/// `extractInfrastructureLabels`, minus the `gateway.networking.k8s.io/`
/// prefix). kubectl adds the ApplySet `part-of` label to the Gateway on
/// apply whatever the file says, so it counts here too.
fn labels_istio_copies(gateway: &serde_norway::Value) -> Vec<String> {
    let key = |k: &serde_norway::Value| k.as_str().unwrap_or_default().to_owned();
    let mut labels: Vec<String> = match gateway["spec"]["infrastructure"]["labels"].as_mapping() {
        Some(labels) => labels.keys().map(key).collect(),
        None => {
            let mut labels: Vec<String> = gateway["metadata"]["labels"]
                .as_mapping()
                .map(|m| m.keys().map(key).collect())
                .unwrap_or_default();
            labels.push("applyset.kubernetes.io/part-of".to_owned());
            labels
        }
    };
    labels.retain(|k| !k.starts_with("gateway.networking.k8s.io/"));
    labels
}

/// `kubectl apply --prune --applyset` deletes the objects that carry the
/// set's `part-of` label and are not in the output: the proxies Istio deploys
/// for the ingress Gateway and the waypoint must not carry it, or the
/// README's upgrade step deletes them.
#[test]
fn a_prune_leaves_the_proxies_istio_deploys_for_the_gateways() {
    let mut gateways = 0;
    for p in shipped_profiles() {
        let dir = render(&[&p.display().to_string()]);
        let docs = documents(&dir.path().join("out"));
        for (file, d) in &docs {
            let gateway_api = d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("gateway.networking.k8s.io/"));
            if !(gateway_api && d["kind"] == "Gateway") {
                continue;
            }
            gateways += 1;
            let copied = labels_istio_copies(d);
            assert!(
                !copied
                    .iter()
                    .any(|k| k.starts_with("applyset.kubernetes.io/")),
                "{} {file}: Istio would copy {copied:?} onto the proxy it deploys",
                p.display()
            );
            // Still the chain's, for `kubectl get -l` and `kubectl delete -l`.
            assert!(copied.contains(&"app.kubernetes.io/part-of".to_owned()));
        }
    }
    // The Gateway API and ambient profiles: two ingress gateways, two
    // ingress gateways and two waypoints.
    assert!(
        gateways >= 6,
        "only {gateways} Gateway API Gateways rendered"
    );
}
