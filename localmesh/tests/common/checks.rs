//! Checks of what the local mesh would run, shared by the localmesh tests
//! and the random-profile property of cli (which includes this file by
//! path): a plan uses each port once; a proxy's bootstrap has distinct
//! listener and cluster names, is written as the typed value serialized,
//! and is accepted by Envoy (`--mode validate`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use localmesh::envoy::types::Bootstrap;
use localmesh::envoy::write_bootstrap;
use localmesh::plan::Plan;

/// Every port of `plan` once: the gateway's, the waypoint's, and each pod's
/// hop, metrics, inbound and outbound ports.
pub fn ports_once(plan: &Plan) -> Result<(), String> {
    let mut ports: Vec<u16> = vec![plan.ingress];
    ports.extend(plan.waypoint);
    for pod in &plan.pods {
        ports.extend([pod.hop, pod.metrics, pod.inbound]);
        ports.extend(pod.outbound.values());
    }
    let distinct: BTreeSet<u16> = ports.iter().copied().collect();
    match distinct.len() == ports.len() {
        true => Ok(()),
        false => Err(format!("a port planned twice: {ports:?}")),
    }
}

/// No two listeners, nor two clusters, of one proxy share a name (Envoy
/// would refuse the bootstrap).
pub fn names_once(bootstrap: &Bootstrap) -> Result<(), String> {
    let json = serde_json::to_value(bootstrap).expect("bootstraps serialize");
    for kind in ["listeners", "clusters"] {
        let names: Vec<&str> = json["static_resources"][kind]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| x["name"].as_str().unwrap_or_default())
            .collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        if unique.len() != names.len() {
            return Err(format!("{kind} {names:?}"));
        }
    }
    Ok(())
}

/// `bootstrap` written into `dir` as `name` is the typed value serialized,
/// and Envoy accepts it.
pub fn accepted_by_envoy(dir: &Path, name: &str, bootstrap: &Bootstrap) -> Result<(), String> {
    names_once(bootstrap)?;
    let file =
        write_bootstrap(bootstrap, dir, &name.replace(' ', "-")).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    if text != serde_json::to_string_pretty(bootstrap).expect("bootstraps serialize") {
        return Err(format!(
            "{} is not the bootstrap serialized",
            file.display()
        ));
    }
    let out = Command::new(hop::testkit::tool("envoy"))
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "-l",
            "error",
            "-c",
        ])
        .arg(&file)
        .output()
        .map_err(|e| format!("envoy: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}
