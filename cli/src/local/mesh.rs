//! A running local mesh: hops, the external stub and Envoy, started and stopped
//! together.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hop::Target;
use hop::probe::{grpc_serving, http_get_within};

use super::procs::Proc;
use super::stub::ExternalStub;
use super::{
    Layout, Options, PROBE, RetryMode, check, envoy, envoy_retries, find_binary, find_envoy, ports,
    stubs_externals,
};
use meshgen::model::{Health, Model, Placement, Protocol, Upstream};

const READY_LIMIT: Duration = Duration::from_secs(30);

/// A running local mesh. Dropping it stops Envoy, then every hop.
pub struct Mesh {
    pub model: Model,
    pub layout: Layout,
    pub mode: RetryMode,
    /// Without Envoy (see [`Options::bare`]).
    pub bare: bool,
    dir: Logs,
    envoy_bin: PathBuf,
    envoy: Option<Proc>,
    hops: Vec<Proc>,
    _stub: Option<ExternalStub>,
}

/// The folder of a mesh's logs and Envoy's bootstrap: temporary and removed
/// with the mesh, or kept (`--keep-logs`, `--log-dir`).
enum Logs {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl Logs {
    fn new(opts: &Options) -> Result<Logs, String> {
        if let Some(dir) = &opts.log_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("--log-dir {}: {e}", dir.display()))?;
            return Ok(Logs::Kept(dir.clone()));
        }
        let temp = tempfile::Builder::new()
            .prefix("meshgen-local-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        Ok(if opts.keep_logs {
            Logs::Kept(temp.keep())
        } else {
            Logs::Temporary(temp)
        })
    }

    fn path(&self) -> &Path {
        match self {
            Logs::Temporary(t) => t.path(),
            Logs::Kept(p) => p,
        }
    }
}

impl Mesh {
    /// Starts everything and waits until it is ready. Await it directly from the
    /// main future (not from a spawned task): see [`Proc::spawn`].
    pub async fn start(model: Model, opts: &Options) -> Result<Mesh, String> {
        check(&model, opts)?;
        let envoy_bin = find_envoy(opts.envoy.as_deref())?;
        let hop_bin = find_binary(model.wire.protocol.binary(), opts.bin_dir.as_deref())?;
        let collector = match (&model.mesh.tracing, &opts.otlp_endpoint) {
            (Some(_), Some(e)) => Some(ports::parse_endpoint(e)?),
            _ => None,
        };
        let stub = if stubs_externals(&model, opts) && !model.externals.is_empty() {
            Some(ExternalStub::start().await?)
        } else {
            None
        };
        let mut held = ports::Ports::default();
        let mut layout = ports::layout(
            &model,
            &ports::LayoutInput {
                stub: stub.as_ref().map(|s| s.port),
                without_service_entry: &opts.without_service_entry,
                resolve: &opts.resolve,
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
        if let Some(p) = opts.ingress_port {
            layout.ingress = ports::fixed(p)?;
        }
        let dir = Logs::new(opts)?;
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
        // The hops' OTLP exporter wants http://HOST:PORT, whatever form
        // --otlp-endpoint took (grpc://, no scheme, localhost, a trailing /).
        let otlp = mesh.layout.collector.as_ref().map(|c| {
            if c.host.contains(':') {
                format!("http://[{}]:{}", c.host, c.port)
            } else {
                format!("http://{}:{}", c.host, c.port)
            }
        });
        for s in &model.services {
            let upstreams = mesh.upstream_targets(s);
            let sp = &mesh.layout.services[&s.name];
            for w in &s.versions {
                let port = sp.versions[&w.version];
                let config = model.hop_config(
                    s,
                    w,
                    Placement {
                        port,
                        metrics_port: metrics_ports.next().unwrap_or(0),
                        upstreams: upstreams.clone(),
                        otlp_endpoint: otlp.clone(),
                    },
                );
                let mut cmd = Command::new(&hop_bin);
                cmd.env_clear().envs(config.to_env());
                let name = w.name.clone();
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

    /// The hop's upstreams, every target rewritten to its local listener.
    fn upstream_targets(&self, s: &meshgen::model::Service) -> Vec<Target> {
        s.upstreams
            .iter()
            .map(|u| match u {
                Upstream::Service { name } => {
                    let port = if self.bare {
                        self.direct_port(name)
                    } else {
                        self.layout.services[name].listener
                    };
                    format!("{}://127.0.0.1:{port}", self.model.wire.protocol.scheme())
                }
                Upstream::External {
                    url, host, port, ..
                } => {
                    let plan = self
                        .layout
                        .externals
                        .iter()
                        .find(|e| &e.host == host && e.port == *port);
                    let path = url
                        .parse::<http::Uri>()
                        .ok()
                        .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                        .unwrap_or_else(|| "/".into());
                    let listener = match plan {
                        Some(e) if self.bare => match e.upstream {
                            envoy::ExternalUpstream::Stub(p) => p,
                            envoy::ExternalUpstream::Dns => return url.clone(),
                            // The bare baseline calls the address directly.
                            envoy::ExternalUpstream::Address(addr) => {
                                let at = std::net::SocketAddr::new(addr, e.port);
                                return format!("http://{at}{path}");
                            }
                        },
                        Some(e) => e.listener,
                        None => 0,
                    };
                    format!("http://127.0.0.1:{listener}{path}")
                }
            })
            .map(|url| Target::parse(&url).expect("local listener URLs parse"))
            .collect()
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

    /// The folder of the logs (`envoy.log`, `<workload>.log`) and `envoy.json`.
    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the logs outlive the mesh.
    pub fn keeps_logs(&self) -> bool {
        matches!(self.dir, Logs::Kept(_))
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
