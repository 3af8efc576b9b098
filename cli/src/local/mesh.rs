//! A running local mesh: a hop per pod, the proxies Istio would run (the
//! ingress gateway, a sidecar per pod or the ambient waypoint), the CA that
//! gives them their identities, and the external stub; started and stopped
//! together. What each proxy is configured with is `localmesh`'s business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::balancer::Balancer;
use hop::Target;
use hop::probe::{grpc_serving, http_get_within};
use localmesh::ca::{Authority, Credentials};
use localmesh::envoy::{ProxyOptions, types::Bootstrap};
use localmesh::identity;
use localmesh::plan::{Destination, ExternalUpstream, Input, Plan, Ports, Topology};
use localmesh::process::{Envoy, Group, SpawnError};

use super::stub::ExternalStub;
use super::{
    Options, PROBE, RetryMode, check, envoy_retries, find_binary, find_envoy, ports,
    stubs_externals,
};
use meshgen::model::{Health, Model, Placement, Protocol, Upstream};

const READY_LIMIT: Duration = Duration::from_secs(30);

/// A running local mesh. Dropping it stops the proxies, then every hop.
pub struct Mesh {
    pub model: Model,
    pub plan: Plan,
    pub mode: RetryMode,
    /// Without Envoy (see [`Options::bare`]).
    pub bare: bool,
    /// Sidecars talk plain text to each other (see [`Options::plaintext_peers`]).
    pub plaintext_peers: bool,
    /// How long the start took, hops and proxies ready.
    pub started_in: Duration,
    dir: Logs,
    envoy_bin: PathBuf,
    collector: Option<localmesh::plan::Collector>,
    /// The identities' credentials, by identity name.
    credentials: BTreeMap<String, Credentials>,
    /// Holds the private directory of the keys; removed with the mesh.
    _ca: Option<Authority>,
    /// When the credentials were issued (wall clock: they expire by it).
    issued_at: Option<std::time::SystemTime>,
    proxies: Vec<Envoy>,
    hops: Vec<Group>,
    _stub: Option<ExternalStub>,
    /// Without a mesh, kube-proxy's balancing for each service with more
    /// than one pod.
    balancers: BTreeMap<String, Balancer>,
    /// What some pods do wrong, by pod name.
    misbehaviour: BTreeMap<String, contract::Misbehaviour>,
}

/// The folder of a mesh's logs and the proxies' bootstraps: temporary and
/// removed with the mesh, or kept (`--keep-logs`, `--log-dir`).
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
    /// main future (not from a spawned task): see [`Group::spawn`].
    pub async fn start(mut model: Model, opts: &Options) -> Result<Mesh, String> {
        let begun = Instant::now();
        if opts.plaintext_peers {
            // No mutual TLS: nothing to authorize callers by either.
            model.mesh.mtls = false;
        }
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
        let resolve: Vec<_> = opts
            .resolve
            .iter()
            .map(|r| (r.host.clone(), r.port, r.addr))
            .collect();
        let mut held = Ports::default();
        let plan = Plan::new(
            &model,
            &Input {
                stub: stub.as_ref().map(|s| s.port),
                without_service_entry: &opts.without_service_entry,
                resolve: &resolve,
                collector,
                ingress: opts.ingress_port,
            },
            &mut held,
        )
        .map_err(|e| match opts.ingress_port {
            Some(p) if e.contains(&format!(":{p}:")) => format!("--port {p}: {e}"),
            _ => e,
        })?;
        let dir = Logs::new(opts)?;
        // Without a mesh (bare) nobody has an identity.
        let (ca, credentials) = if opts.bare {
            (None, BTreeMap::new())
        } else {
            let ca = Authority::new().map_err(|e| e.to_string())?;
            let mut credentials = BTreeMap::new();
            for id in identity::mesh(&model) {
                let c = ca.issue(&id).map_err(|e| e.to_string())?;
                credentials.insert(id.name.clone(), c);
            }
            (Some(ca), credentials)
        };
        let mut mesh = Mesh {
            mode: opts.retry_mode.unwrap_or(RetryMode::On),
            bare: opts.bare,
            plaintext_peers: opts.plaintext_peers,
            started_in: Duration::ZERO,
            dir,
            envoy_bin,
            collector: plan.collector.clone(),
            issued_at: ca.as_ref().map(|_| std::time::SystemTime::now()),
            credentials,
            _ca: ca,
            proxies: Vec::new(),
            hops: Vec::new(),
            _stub: stub,
            balancers: BTreeMap::new(),
            misbehaviour: opts.misbehaviour.clone(),
            plan,
            model,
        };
        let started = async {
            if mesh.bare {
                mesh.start_balancers().await?;
            }
            mesh.start_hops(&hop_bin)?;
            mesh.wait_hops().await?;
            if !mesh.bare {
                mesh.start_proxies().await?;
            }
            Ok::<(), String>(())
        };
        if let Err(e) = started.await {
            return Err(mesh.failed(e));
        }
        // Every process has bound its ports: they need holding no longer.
        drop(held);
        mesh.started_in = begun.elapsed();
        Ok(mesh)
    }

    /// kube-proxy's part without a mesh: a balancer in front of each
    /// service's pods of its default version, when there are several.
    async fn start_balancers(&mut self) -> Result<(), String> {
        for s in &self.model.services {
            let Some(default) = s.route.split.first() else {
                continue;
            };
            let pods: Vec<u16> = self
                .plan
                .pods_of(&s.name, Some(&default.subset))
                .map(|p| p.hop)
                .collect();
            if pods.len() > 1 {
                self.balancers.insert(
                    s.name.clone(),
                    Balancer::start(pods, super::balancer::MAX_CONNECTIONS).await?,
                );
            }
        }
        Ok(())
    }

    fn start_hops(&mut self, hop_bin: &Path) -> Result<(), String> {
        // The hops' OTLP exporter wants http://HOST:PORT, whatever form
        // --otlp-endpoint took (grpc://, no scheme, localhost, a trailing /).
        let otlp = self.collector.as_ref().map(|c| match c.host.contains(':') {
            true => format!("http://[{}]:{}", c.host, c.port),
            false => format!("http://{}:{}", c.host, c.port),
        });
        for pod in &self.plan.pods {
            let s = self.model.service(&pod.service).expect("pods of services");
            let w = s
                .versions
                .iter()
                .find(|w| w.version == pod.version)
                .expect("pods of workloads");
            let upstreams = s
                .upstreams
                .iter()
                .map(|u| self.upstream_target(u, pod.outbound.get(&Destination::of(u))))
                .collect();
            let mut config = self.model.hop_config(
                s,
                w,
                Placement {
                    // Nothing of a local mesh listens beyond this machine.
                    address: std::net::Ipv4Addr::LOCALHOST.into(),
                    port: pod.hop,
                    metrics_port: pod.metrics,
                    pod: Some(pod.name.clone()),
                    upstreams,
                    otlp_endpoint: otlp.clone(),
                },
            );
            if let Some(m) = self.misbehaviour.get(&pod.name) {
                config.misbehaviour = *m;
            }
            let mut cmd = Command::new(hop_bin);
            cmd.env_clear().envs(config.to_env());
            let log = self.dir.path().join(format!("{}.log", pod.name));
            let hop = Group::spawn(&pod.name, cmd, &log).map_err(|e| match e {
                SpawnError::Log(e) => format!("{}: {e}", log.display()),
                SpawnError::Program(e) => {
                    format!("cannot start hop {} ({}): {e}", pod.name, hop_bin.display())
                }
            })?;
            self.hops.push(hop);
        }
        Ok(())
    }

    /// Every hop healthy.
    async fn wait_hops(&mut self) -> Result<(), String> {
        let end = Instant::now() + READY_LIMIT;
        let ports: Vec<u16> = self.plan.pods.iter().map(|p| p.hop).collect();
        for (i, port) in ports.into_iter().enumerate() {
            loop {
                let ok = match &self.model.wire.health {
                    Health::Http { path } => matches!(
                        http_get_within(port, path, &[], PROBE).await,
                        Ok((200, _, _))
                    ),
                    Health::Grpc => grpc_serving(port, "").await,
                };
                if ok {
                    break;
                }
                let hop = &mut self.hops[i];
                if let Some(status) = hop.exited() {
                    return Err(format!(
                        "hop {} exited at start ({status}):\n{}",
                        hop.name(),
                        hop.log_tail()
                    ));
                }
                if Instant::now() > end {
                    return Err(format!(
                        "hop {} not healthy within {} s",
                        hop.name(),
                        READY_LIMIT.as_secs()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// Where a pod's hop calls `u`: through `listener` (its sidecar's, or the
    /// waypoint's), or without a mesh directly.
    fn upstream_target(&self, u: &Upstream, listener: Option<&u16>) -> Target {
        let listener = listener.copied().unwrap_or(0);
        let url = match u {
            Upstream::Service { name } => {
                let port = match self.bare {
                    true => self.direct_port(name),
                    false => listener,
                };
                format!("{}://127.0.0.1:{port}", self.model.wire.protocol.scheme())
            }
            Upstream::External {
                url, host, port, ..
            } => {
                let path = url
                    .parse::<http::Uri>()
                    .ok()
                    .and_then(|u| u.path_and_query().map(|p| p.to_string()))
                    .unwrap_or_else(|| "/".into());
                match (
                    self.bare,
                    self.plan.external(host, *port).map(|e| &e.upstream),
                ) {
                    (true, Some(ExternalUpstream::Stub(p))) => {
                        format!("http://127.0.0.1:{p}{path}")
                    }
                    (true, Some(ExternalUpstream::Dns) | None) => url.clone(),
                    (true, Some(ExternalUpstream::Address(addr))) => {
                        format!("http://{}{path}", std::net::SocketAddr::new(*addr, *port))
                    }
                    (false, _) => format!("http://127.0.0.1:{listener}{path}"),
                }
            }
        };
        Target::parse(&url).expect("local listener URLs parse")
    }

    fn proxy_options(&self) -> ProxyOptions {
        ProxyOptions {
            retry_mode: self.mode,
            collector: self.collector.clone(),
            peer_mtls: !self.plaintext_peers,
        }
    }

    /// Every proxy's name and bootstrap for the current retry mode: the
    /// gateway first, then a sidecar per pod, or ztunnel and the waypoint.
    pub fn bootstraps(&self) -> Vec<(String, Bootstrap)> {
        let options = self.proxy_options();
        localmesh::envoy::bootstraps(&self.model, &self.plan, &self.credentials, &options)
    }

    /// Writes every bootstrap into the logs' folder and starts the proxies,
    /// all at once, then waits for each to be ready without blocking the
    /// runtime: a signal meanwhile drops this future, and with it every
    /// Envoy started.
    async fn start_proxies(&mut self) -> Result<(), String> {
        let mut starting = Vec::new();
        for (name, bootstrap) in self.bootstraps() {
            let file_name = name.replace(' ', "-");
            let path = localmesh::envoy::write_bootstrap(&bootstrap, self.dir.path(), &file_name)
                .map_err(|e| e.to_string())?;
            starting.push(
                Envoy::spawn(&self.envoy_bin, &name, &path, self.dir.path())
                    .map_err(|e| e.to_string())?,
            );
        }
        let end = Instant::now() + READY_LIMIT;
        let mut ready = vec![false; starting.len()];
        while ready.contains(&false) {
            for (s, done) in starting.iter_mut().zip(&mut ready) {
                if !*done {
                    *done = s.ready().map_err(|e| e.to_string())?;
                }
            }
            if let Some(late) = starting.iter().zip(&ready).find(|(_, done)| !**done) {
                if Instant::now() >= end {
                    return Err(late.0.not_ready(READY_LIMIT).to_string());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.proxies = starting.into_iter().map(|s| s.envoy()).collect();
        Ok(())
    }

    /// `e`, with the logs kept for the reader: a start that failed is what
    /// they are for.
    fn failed(&mut self, e: String) -> String {
        self.dir = match std::mem::replace(&mut self.dir, Logs::Kept(PathBuf::new())) {
            Logs::Temporary(temp) => Logs::Kept(temp.keep()),
            kept => kept,
        };
        format!("{e}\nlogs kept in {}", self.dir.path().display())
    }

    /// Replaces the proxies with ones of another retry mode (the hops keep
    /// running): the new ones start beside the old, which stop once the new
    /// are ready. Envoy binds its listeners with SO_REUSEPORT, so each port
    /// stays bound throughout: between a stop and a start another program's
    /// connection could take one as its local port, and the start would fail.
    pub async fn set_retry_mode(&mut self, mode: RetryMode) -> Result<(), String> {
        let old = std::mem::take(&mut self.proxies);
        self.mode = mode;
        let started = self.start_proxies().await;
        stop_all(old);
        started
    }

    pub fn ingress_port(&self) -> u16 {
        match self.bare {
            true => self.direct_port(&self.model.ingress.service),
            false => self.plan.ingress,
        }
    }

    /// The hop a client without a mesh reaches for `service`.
    fn direct_port(&self, service: &str) -> u16 {
        if let Some(b) = self.balancers.get(service) {
            return b.port;
        }
        self.plan
            .direct_pod(&self.model, service)
            .map_or(0, |p| p.hop)
    }

    pub fn ingress_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ingress_port())
    }

    /// The running proxies: name, admin port, pid.
    pub fn proxies(&self) -> impl Iterator<Item = (&str, u16, u32)> {
        self.proxies
            .iter()
            .map(|p| (p.proxy(), p.admin_port(), p.pid()))
    }

    /// The credentials of an identity (by [`identity::Identity::name`]:
    /// a service, the ingress proxy, the waypoint), unless bare.
    pub fn credentials(&self, name: &str) -> Option<&Credentials> {
        self.credentials.get(name)
    }

    /// Whether the proxies call each other with mutual TLS: always in
    /// ambient mode (HBONE), with sidecars unless told otherwise.
    pub fn peer_mtls(&self) -> bool {
        !self.bare && (!self.plaintext_peers || self.plan.topology == Topology::Ambient)
    }

    /// The folder of the logs (`<pod>.log`, each proxy's log and bootstrap).
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

    /// Retries the proxies made so far (since their last start).
    pub async fn retries(&self) -> Result<u64, String> {
        let mut sum = 0;
        for p in &self.proxies {
            sum += envoy_retries(p.admin_port()).await?;
        }
        Ok(sum)
    }

    /// Sum of one cluster statistic over every proxy (see
    /// [`super::admin::cluster_stat`]).
    pub async fn cluster_stat(&self, cluster: &str, suffix: &str) -> Result<u64, String> {
        let mut sum = 0;
        for p in &self.proxies {
            sum += super::admin::cluster_stat(p.admin_port(), cluster, suffix).await?;
        }
        Ok(sum)
    }

    /// Process ids of everything started (the proxies first).
    pub fn pids(&self) -> Vec<u32> {
        self.proxies
            .iter()
            .map(Envoy::pid)
            .chain(self.hops.iter().map(Group::pid))
            .collect()
    }

    /// A process that exited while the mesh runs, with its log tail; or
    /// certificates about to expire.
    pub fn died(&mut self) -> Option<String> {
        if let Some(why) = self.issued_at.and_then(certificates_expire) {
            return Some(why);
        }
        for p in &mut self.proxies {
            if let Err(e) = p.check() {
                return Some(e.to_string());
            }
        }
        for p in &mut self.hops {
            if let Some(status) = p.exited() {
                return Some(format!(
                    "hop {} exited ({status}):\n{}",
                    p.name(),
                    p.log_tail()
                ));
            }
        }
        None
    }

    /// Stops everything (also done on drop): the proxies first, so no new
    /// request reaches a hop, then every hop at once.
    pub fn stop(&mut self) {
        const GRACE: Duration = Duration::from_secs(5);
        stop_all(std::mem::take(&mut self.proxies));
        for h in &mut self.hops {
            h.terminate();
        }
        for mut h in self.hops.drain(..) {
            h.stop(GRACE);
        }
    }
}

/// Why a mesh whose certificates were issued at `issued` cannot go on:
/// istio-agent renews them at half their life; here they are not renewed,
/// so within a minute of their end the mesh stops with this reason
/// instead of failing every handshake.
fn certificates_expire(issued: std::time::SystemTime) -> Option<String> {
    let ttl = Duration::try_from(localmesh::ca::WORKLOAD_CERT_TTL).ok()?;
    let age = issued.elapsed().unwrap_or_default();
    (age + Duration::from_secs(60) >= ttl).then(|| {
        format!(
            "the workload certificates expire {} h after the start and are not renewed \
             locally: start the mesh again",
            ttl.as_secs() / 3600
        )
    })
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops `proxies`: all are told at once, then each is waited for.
fn stop_all(mut proxies: Vec<Envoy>) {
    for p in &mut proxies {
        p.terminate();
    }
    for mut p in proxies {
        p.stop(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_mesh_stops_before_its_certificates_expire() {
        let now = SystemTime::now();
        assert!(super::certificates_expire(now).is_none());
        let almost = now - Duration::from_secs(24 * 3600 - 30);
        assert!(super::certificates_expire(almost).unwrap().contains("24 h"));
    }
}
