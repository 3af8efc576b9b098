//! The CA and the identities: every certificate carries exactly its SPIFFE
//! URI SAN, in the shape istiod issues, chains to the root, and sits in a
//! private directory; the RBAC principals are those meshgen renders.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use localmesh::ca::Authority;
use localmesh::envoy::rbac::{self, Principal};
use localmesh::identity;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::*;

fn parse(pem_file: &Path) -> Vec<u8> {
    let text = std::fs::read(pem_file).expect("read PEM");
    let (_, pem) = parse_x509_pem(&text).expect("one PEM block");
    pem.contents
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn every_certificate_carries_exactly_its_spiffe_uri() {
    for profile in ["demo.toml", "demo-grpc.toml", "demo-gateway-api.toml"] {
        let m = common::model(profile, &[]);
        let ca = Authority::new().expect("a CA");
        let root_der = parse(ca.root_cert());
        let (_, root) = parse_x509_certificate(&root_der).expect("root parses");
        assert!(root.is_ca());
        let org: Vec<_> = root.subject().iter_organization().collect();
        assert_eq!(org.len(), 1);
        assert_eq!(org[0].as_str().unwrap(), "cluster.local");

        let ids = identity::mesh(&m);
        let ns = &m.namespace;
        let ingress = match profile {
            "demo-gateway-api.toml" => format!("{ns}/sa/{}-istio", m.ingress.gateway),
            _ => "istio-system/sa/istio-ingressgateway-service-account".to_owned(),
        };
        let uris: Vec<String> = ids.iter().map(|id| id.spiffe_uri()).collect();
        assert_eq!(
            uris,
            [
                format!("spiffe://cluster.local/ns/{ingress}"),
                format!("spiffe://cluster.local/ns/{ns}/sa/frontend"),
                format!("spiffe://cluster.local/ns/{ns}/sa/middleware"),
                format!("spiffe://cluster.local/ns/{ns}/sa/backend"),
            ],
            "{profile}"
        );
        for id in &ids {
            let c = ca.issue(id).expect("issued");
            let der = parse(&c.cert_chain);
            let (_, cert) = parse_x509_certificate(&der).expect("leaf parses");
            let uri = id.spiffe_uri();
            assert_eq!(uri, format!("spiffe://{}", id.principal));
            // Exactly one SAN, the URI, critical since the subject is empty.
            let san = cert
                .extensions()
                .iter()
                .find(|e| {
                    matches!(
                        e.parsed_extension(),
                        ParsedExtension::SubjectAlternativeName(_)
                    )
                })
                .expect("a SAN extension");
            assert!(san.critical, "{uri}: SAN critical");
            let ParsedExtension::SubjectAlternativeName(names) = san.parsed_extension() else {
                unreachable!()
            };
            assert_eq!(names.general_names, vec![GeneralName::URI(&uri)], "{uri}");
            assert_eq!(cert.subject().iter().count(), 0, "{uri}: empty subject");
            assert!(!cert.is_ca());
            let eku = cert.extended_key_usage().unwrap().unwrap().value;
            assert!(
                eku.server_auth && eku.client_auth,
                "{uri}: both ends of mTLS"
            );
            let ku = cert.key_usage().unwrap().unwrap().value;
            assert!(ku.digital_signature() && ku.key_encipherment() && !ku.key_cert_sign());
            // Short-lived: istiod's 24 h, plus its 2 min of clock skew grace.
            let life =
                cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
            assert_eq!(life, 24 * 3600 + 120, "{uri}: lifetime");
            // EC P-256, signed by the root.
            assert_eq!(
                cert.public_key()
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok()),
                Some(x509_parser::oid_registry::OID_EC_P256)
            );
            cert.verify_signature(Some(root.public_key()))
                .unwrap_or_else(|e| panic!("{uri}: not signed by the root: {e}"));
            // Private, and inside the CA's directory.
            for file in [&c.cert_chain, &c.key] {
                assert!(file.starts_with(ca.dir()), "{}", file.display());
                assert_eq!(mode(file), 0o600, "{}", file.display());
            }
            assert_eq!(mode(c.key.parent().unwrap()), 0o700);
        }
        assert_eq!(mode(ca.dir()), 0o700);
        assert_eq!(mode(ca.root_cert()), 0o600);
        let dir = ca.dir().to_owned();
        drop(ca);
        assert!(!dir.exists(), "the CA's directory goes with it");
    }
}

#[test]
fn a_second_authority_is_another_root() {
    let m = common::model("demo.toml", &[]);
    let (a, b) = (Authority::new().unwrap(), Authority::new().unwrap());
    let id = identity::service(&m, "middleware");
    let from_b = b.issue(&id).unwrap();
    let root_a_der = parse(a.root_cert());
    let (_, root_a) = parse_x509_certificate(&root_a_der).unwrap();
    let der = parse(&from_b.cert_chain);
    let (_, cert) = parse_x509_certificate(&der).unwrap();
    assert!(cert.verify_signature(Some(root_a.public_key())).is_err());
}

/// The principals of an RBAC filter's one ALLOW policy, as SPIFFE IDs.
fn principals(rules: &rbac::Rules) -> Vec<String> {
    let mut ours: Vec<String> = rules
        .policies
        .values()
        .flat_map(|p| p.principals.iter())
        .flat_map(|p| match p {
            Principal::AndIds { ids } => ids.clone(),
            _ => Vec::new(),
        })
        .flat_map(|p| match p {
            Principal::OrIds { ids } => ids,
            _ => Vec::new(),
        })
        .map(|p| match p {
            Principal::Authenticated { principal_name } => principal_name.exact,
            Principal::FilterState { string_match, .. } => string_match.exact,
            other => panic!("{other:?}"),
        })
        .collect();
    ours.sort();
    ours
}

/// The RBAC filters name exactly the principals of the AuthorizationPolicies
/// `meshgen render` writes: with sidecars, each service's own (its inbound
/// side, by the connection's certificate); in ambient mode, each Service's
/// L7 policy (the waypoint, by the principal recorded from the tunnel) and
/// ztunnel's L4 policy (the waypoint only). Without mTLS, none exists.
#[test]
fn rbac_principals_are_the_rendered_policies() {
    let profiles = [
        "demo.toml",
        "demo-grpc.toml",
        "demo-gateway-api.toml",
        "demo-ambient.toml",
        "demo-grpc-ambient.toml",
    ];
    for profile in profiles {
        let m = common::model(profile, &[]);
        let ambient = m.mesh.data_plane == meshgen::model::DataPlane::Ambient;
        let files = meshgen::render::render(&m, None).expect("renders");
        let security = files
            .iter()
            .find(|f| f.path == "10-security.yaml")
            .expect("10-security.yaml");
        let rendered = |name: &str| {
            let mut r: Vec<String> = rendered_principals(&security.content, name)
                .iter()
                .map(|p| format!("spiffe://{p}"))
                .collect();
            r.sort();
            r
        };
        for s in &m.services {
            // Ambient: one L7 policy per Service that selects the pods.
            let attached: Vec<(rbac::Peer, String)> = match ambient {
                true => meshgen::model::identity::services_selecting(&m, s)
                    .into_iter()
                    .map(|target| {
                        let name = meshgen::model::identity::waypoint_policy(target);
                        (rbac::Peer::Tunnel { target }, name)
                    })
                    .collect(),
                false => vec![(rbac::Peer::Connection, s.name.clone())],
            };
            assert!(attached.len() > usize::from(ambient));
            for (peer, name) in attached {
                let policy = rbac::policy(&m, s, peer).expect("mtls: a policy");
                let ours = principals(&policy.rules);
                assert_eq!(ours, rendered(&name), "{profile}: {name}");
                assert!(!ours.is_empty());
            }
            let l4 = rbac::l4_policy(&m, s);
            match ambient {
                true => assert_eq!(principals(&l4.unwrap()), rendered(&s.name)),
                false => assert!(l4.is_none(), "{profile}: an L4 policy with sidecars"),
            }
        }
        let open = common::model(profile, &["istio.mtls=false"]);
        for peer in [rbac::Peer::Connection, rbac::Peer::Tunnel { target: "x" }] {
            assert!(
                open.services
                    .iter()
                    .all(|s| rbac::policy(&open, s, peer).is_none()
                        && rbac::l4_policy(&open, s).is_none())
            );
        }
    }
}

/// The principals of the AuthorizationPolicy `name` in the rendered YAML.
fn rendered_principals(yaml: &str, name: &str) -> Vec<String> {
    let doc = yaml
        .split("\n---\n")
        .find(|d| {
            d.contains("kind: AuthorizationPolicy") && d.contains(&format!("\n  name: {name}\n"))
        })
        .unwrap_or_else(|| panic!("no AuthorizationPolicy {name}"));
    // The items of each `principals:` list: lines deeper than it.
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut list: Option<usize> = None;
    let mut out = Vec::new();
    for line in doc.lines() {
        let trimmed = line.trim();
        match list {
            Some(at) if indent(line) >= at && trimmed.starts_with("- ") => {
                out.push(trimmed[2..].to_owned());
                continue;
            }
            _ => list = None,
        }
        if trimmed == "principals:" {
            list = Some(indent(line));
        }
    }
    out
}
