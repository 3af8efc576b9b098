//! Shared by the localmesh tests: profiles, the real programs (Envoy from
//! .tools/bin or PATH, the chain binaries built in the workspace), and
//! sidecars started for a model.
#![allow(dead_code)]

pub mod checks;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hop::testkit::{HopProcess, Protocol};
use localmesh::ca::Credentials;
use localmesh::envoy::{Outbound, ProxyOptions, Sidecar};
use localmesh::process::Envoy;
use meshgen::model::Model;
use meshgen::profile::{Layers, load};

/// How long an Envoy may take to be ready on a busy machine.
pub const READY_LIMIT: Duration = Duration::from_secs(30);

/// `profiles/<name>` with `--set`s, validated and resolved as `render` does.
pub fn model(name: &str, sets: &[&str]) -> Model {
    let profile = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../profiles")
        .join(name);
    let loaded = load(&Layers {
        profile,
        files: Vec::new(),
        sets: sets.iter().map(|s| s.to_string()).collect(),
    })
    .unwrap_or_else(|e| panic!("profile {name}: {e:?}"));
    meshgen::validate::resolve(&loaded).unwrap_or_else(|e| panic!("profile {name}: {e:?}"))
}

pub fn demo(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "demo.toml",
        Protocol::Grpc => "demo-grpc.toml",
    }
}

pub fn envoy() -> PathBuf {
    hop::testkit::tool("envoy")
}

pub fn hop_binary(protocol: Protocol) -> PathBuf {
    hop::testkit::workspace_binary(match protocol {
        Protocol::Http => "chain-http",
        Protocol::Grpc => "chain-grpc",
    })
}

/// A hop of `service` whose own upstream is `upstream`.
pub async fn hop(protocol: Protocol, service: &str, upstream: &str) -> HopProcess {
    HopProcess::hop(
        &hop_binary(protocol),
        protocol,
        (service, "prod"),
        upstream,
        &[],
    )
    .await
}

/// The sidecar of `service`'s first pod, before it is started.
pub fn sidecar<'a>(
    m: &'a Model,
    service: &str,
    credentials: &'a Credentials,
    inbound_port: u16,
    app_port: u16,
    outbound: Vec<Outbound>,
) -> Sidecar<'a> {
    Sidecar {
        model: m,
        service: m.service(service).expect("a service of the model"),
        pod: format!("{service}-prod-0"),
        credentials,
        inbound_port,
        app_port,
        outbound,
        egress: Vec::new(),
        options: Box::leak(Box::new(ProxyOptions::default())),
    }
}

/// Writes the sidecar's bootstrap into `dir` and starts Envoy for it.
pub fn start(sidecar: &Sidecar, dir: &Path) -> Result<Envoy, localmesh::Error> {
    let bootstrap = sidecar.write_bootstrap(dir)?;
    Envoy::start(
        &envoy(),
        &sidecar.proxy_name(),
        &bootstrap,
        dir,
        READY_LIMIT,
    )
}

/// A counter of Envoy's admin `/stats` whose name ends with `suffix` and
/// contains `part` (0 when absent).
pub fn stat(envoy: &Envoy, part: &str, suffix: &str) -> u64 {
    let (_, body) = envoy.admin_get("/stats").expect("admin /stats answers");
    body.lines()
        .filter_map(|line| line.split_once(": "))
        .filter(|(name, _)| name.contains(part) && name.ends_with(suffix))
        .filter_map(|(_, value)| value.trim().parse::<u64>().ok())
        .sum()
}

/// The same sidecar under another pod name (two proxies of one service).
pub fn sidecar_pod<'a>(sidecar: Sidecar<'a>, pod: &str) -> Sidecar<'a> {
    Sidecar {
        pod: pod.to_owned(),
        ..sidecar
    }
}
