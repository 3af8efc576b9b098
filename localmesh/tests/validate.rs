//! Every shipped profile, with mTLS on and off: each service's sidecar
//! bootstrap (inbound side, and an outbound listener per service it calls)
//! is accepted by Envoy (`--mode validate`), and is the typed value
//! serialized, nothing else.

mod common;

use std::process::Command;

use hop::testkit::free_port;
use localmesh::ca::Authority;
use localmesh::envoy::Outbound;
use localmesh::identity;
use meshgen::model::Upstream;

#[test]
fn every_profile_s_sidecars_validate() {
    let profiles = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"));
    let mut checked = 0;
    for profile in profiles {
        for mtls in ["true", "false"] {
            let m = common::model(&profile, &[&format!("istio.mtls={mtls}")]);
            let ca = Authority::new().unwrap();
            for s in &m.services {
                let c = ca.issue(&identity::service(&m, &s.name)).unwrap();
                let outbound = s
                    .upstreams
                    .iter()
                    .filter_map(|u| match u {
                        Upstream::Service { name } => Some(Outbound {
                            listener_port: free_port(),
                            service: name.clone(),
                            endpoints: vec![free_port(), free_port()],
                        }),
                        Upstream::External { .. } => None,
                    })
                    .collect();
                let sidecar = common::sidecar(&m, &s.name, &c, free_port(), free_port(), outbound);
                let bootstrap = sidecar.write_bootstrap(ca.dir()).unwrap();
                let text = std::fs::read_to_string(&bootstrap).unwrap();
                assert_eq!(
                    text,
                    serde_json::to_string_pretty(&sidecar.bootstrap()).unwrap()
                );
                let out = Command::new(common::envoy())
                    .arg("--mode")
                    .arg("validate")
                    .arg("-c")
                    .arg(&bootstrap)
                    .output()
                    .expect("envoy runs");
                assert!(
                    out.status.success(),
                    "{profile} (mtls={mtls}) {}: {}{}",
                    s.name,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 8 * 2 * 3, "{checked} sidecars checked");
}
