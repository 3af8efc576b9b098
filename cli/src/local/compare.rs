//! `meshgen compare`: per profile, the local mesh under a bounded load with the
//! `fail` header, with the profile's retries, without retries, and under Istio's
//! default retry policy; one table (or JSON rows).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::load::{self, Spec};
use super::{Mesh, Options, RetryMode, envoy_retries};
use meshgen::model::{DataPlane, Model, Protocol, RetryPolicy, RoutingApi};

#[derive(Clone, Debug)]
pub struct Settings {
    /// The `fail` probabilities to measure, each in every mode.
    pub fails: Vec<f64>,
    pub requests: usize,
    pub concurrency: usize,
    /// Open loop at this many requests per second (`None`: closed loop,
    /// `concurrency` requests in flight).
    pub rate: Option<f64>,
    /// Each point runs this long instead of `requests` requests (open loop:
    /// `rate` times this many).
    pub duration: Option<Duration>,
    pub modes: Vec<RetryMode>,
    /// Also run the chain without Envoy (a `retries: "bare"` row): the baseline.
    pub bare: bool,
    /// Instead of the retry modes: what the mesh costs, at `fail` 0 and an
    /// open-loop rate: the mesh with mutual TLS, without, and bare; each
    /// proxy's CPU and peak memory.
    pub cost: bool,
    /// Latency runs at the lowest `fail` of the bare chain and of the
    /// profile's own retries (the report's latency plot): their spread shows
    /// what one run cannot. 1: the row's own run only.
    pub latency_runs: usize,
}

impl Settings {
    /// Requests per point: `requests`, or with a duration as many as the
    /// open loop sends in it (the closed loop stops at the deadline).
    pub fn per_point(&self) -> usize {
        match (self.duration, self.rate) {
            (Some(d), Some(rate)) => (rate * d.as_secs_f64()).ceil().max(1.0) as usize,
            (Some(_), None) => usize::MAX,
            (None, _) => self.requests,
        }
    }

    /// How long or how many per point, for people.
    pub fn per_point_text(&self) -> String {
        match self.duration {
            Some(d) => format!("{} s per point", d.as_secs_f64()),
            None => format!("{} requests per point", self.requests),
        }
    }
}

/// The latency percentiles of one run, in milliseconds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

impl Percentiles {
    fn of(o: &load::Outcome) -> Percentiles {
        Percentiles {
            p50_ms: o.percentile_ms(50.0),
            p90_ms: o.percentile_ms(90.0),
            p99_ms: o.percentile_ms(99.0),
            p999_ms: o.percentile_ms(99.9),
        }
    }
}

/// One line of the table; `--json` writes them, `--beside` reads them back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub profile: String,
    pub protocol: Protocol,
    /// The API the profile's routes are written in (`istio`, `gateway-api`).
    pub routing_api: RoutingApi,
    /// Where the profile's proxies run (`sidecar`, `ambient`).
    pub data_plane: DataPlane,
    /// `on`, `off`, `default`, or `bare` (no Envoy at all).
    pub retries: String,
    pub fail: f64,
    pub requests: usize,
    pub success_ratio: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Services of the chain, each rolling `fail` (what the expected success
    /// ratio is computed over).
    pub hops: u32,
    /// Retries the profile's routes make (`None`: Istio's default policy or none).
    pub attempts: Option<u32>,
    /// Retries Envoy made (sum of `upstream_rq_retry` over the outbound
    /// clusters); `None` when a deployed mesh's gateway stats are not read.
    pub envoy_retries: Option<u64>,
    /// `service:version+version` for every service that answered.
    pub versions: String,
    /// Every latency run of this point, the row's own first, when it was
    /// repeated (see [`Settings::latency_runs`]).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub latency_runs: Vec<Percentiles>,
    /// How many answers of each HTTP status or gRPC code (a success whose
    /// chain lost a hop counted apart), and `no answer`.
    #[serde(default)]
    pub answers: BTreeMap<String, usize>,
    /// Whether the proxies called each other with mutual TLS (`None`: no
    /// mesh, or a deployed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<bool>,
    /// What each proxy cost during the run (`compare --cost`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxies: Vec<super::cost::ProxyCost>,
    /// Sidecar passes per request (`compare --cost` with sidecars): each
    /// service's inbound side, and its outbound side once per upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_passes: Option<u32>,
    /// What the mode stands for in the profile's terms: the rendered
    /// `retries` block, or the policy that applies without one.
    #[serde(skip)]
    pub policy: String,
}

/// The rows of an earlier `compare --json` (FILE), to draw beside a new run:
/// each profile renamed `PROFILE (FILE's stem)` so that its series stand apart.
pub fn rows_from(path: &std::path::Path) -> Result<Vec<Row>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--beside {}: {e}", path.display()))?;
    let mut rows: Vec<Row> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "--beside {}: not the rows of `meshgen compare --json` ({e})",
            path.display()
        )
    })?;
    let stem = path
        .file_stem()
        .map_or_else(|| "earlier".into(), |s| s.to_string_lossy().into_owned());
    for r in &mut rows {
        r.profile = format!("{} ({stem})", r.profile);
        r.policy = format!("from {}", path.display());
    }
    Ok(rows)
}

/// The modes the report's latency plot draws: the chain alone, and through
/// the mesh with the profile's own retries (or as deployed).
pub const LATENCY_MODES: [&str; 3] = ["bare", "on", DEPLOYED];

/// Warm-up requests after each Envoy start (not counted): connections, pools.
const WARMUP: usize = 20;

/// What every row of one profile shares.
struct Profile<'a> {
    label: &'a str,
    protocol: Protocol,
    routing_api: RoutingApi,
    data_plane: DataPlane,
    hops: u32,
    attempts: Option<u32>,
    /// The profile's own retry policy, as its routes render it.
    own_policy: String,
}

/// What Istio does without a `retries` block.
pub const ISTIO_DEFAULT_POLICY: &str = "no `retries` block: Istio's default policy, 2 retries on \
     connect-failure, refused-stream, unavailable, cancelled (never HTTP 500 nor gRPC INTERNAL)";

/// A route's retry policy as the rendered VirtualService says it.
fn rendered(policy: &RetryPolicy) -> String {
    match policy {
        RetryPolicy::Default => ISTIO_DEFAULT_POLICY.into(),
        RetryPolicy::Off => "retries: {attempts: 0}".into(),
        RetryPolicy::Retry(r) => format!(
            "retries: {{attempts: {}, perTryTimeout: {}, retryOn: {}}}",
            r.attempts, r.per_try_timeout, r.retry_on
        ),
    }
}

impl<'a> Profile<'a> {
    fn of(label: &'a str, model: &Model) -> Self {
        Profile {
            label,
            protocol: model.wire.protocol,
            routing_api: model.mesh.routing_api,
            data_plane: model.mesh.data_plane,
            hops: model.services.len() as u32,
            attempts: match &model.services[0].route.retries {
                RetryPolicy::Retry(r) => Some(r.attempts),
                RetryPolicy::Default | RetryPolicy::Off => None,
            },
            own_policy: rendered(&model.services[0].route.retries),
        }
    }

    /// What `mode` stands for with this profile.
    fn policy(&self, mode: &str) -> String {
        match mode {
            "on" => format!("the profile's: {}", self.own_policy),
            DEPLOYED => format!("as deployed; the profile renders {}", self.own_policy),
            "off" => "none: retries: {attempts: 0}".into(),
            "default" => ISTIO_DEFAULT_POLICY.into(),
            _ => "no Envoy: the hops call each other directly".into(),
        }
    }

    /// Loads the ingress at `url` with `fail` and makes its row; `retries`
    /// reads Envoy's retry count, when it can be read.
    #[allow(clippy::too_many_arguments)]
    async fn point<F: Future<Output = Result<Option<u64>, String>>>(
        &self,
        url: &str,
        mode: &str,
        fail: f64,
        settings: &Settings,
        bars: &MultiProgress,
        retries: impl Fn() -> F,
        proxies: &[(String, u32)],
    ) -> Result<Row, String> {
        let before = retries().await?;
        let cpu_before = super::cost::cpu_now(proxies);
        let spec = Spec {
            requests: settings.per_point(),
            concurrency: settings.concurrency,
            headers: vec![("fail".into(), fail.to_string())],
            timeout: Duration::from_secs(60),
            rate: settings.rate,
            duration: settings.duration.filter(|_| settings.rate.is_none()),
        };
        let what = format!(
            "{} ({}), retries {mode}, fail {fail}",
            self.label,
            protocol_name(self.protocol),
        );
        // One bar at a time, gone when its point is measured.
        let bar = match spec.duration {
            Some(d) => {
                let bar = bars.add(ProgressBar::new(d.as_secs().max(1)));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:<40} {spinner} {elapsed}/{len}s")
                        .expect("template"),
                );
                bar
            }
            None => {
                let bar = bars.add(ProgressBar::new(spec.requests as u64));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:<40} {bar:30} {pos}/{len} {per_sec}")
                        .expect("template"),
                );
                bar
            }
        };
        bar.set_prefix(what.clone());
        let outcome = load::run_at(self.protocol, url, &spec, Some(&bar)).await?;
        bar.finish_and_clear();
        bars.remove(&bar);
        let after = retries().await?;
        let costs = match settings.cost {
            true => super::cost::over_run(proxies, &cpu_before, outcome.samples.len()),
            false => Vec::new(),
        };
        let lowest = settings.fails.iter().copied().fold(f64::INFINITY, f64::min);
        let mut latency_runs = Vec::new();
        if settings.latency_runs > 1 && fail == lowest && LATENCY_MODES.contains(&mode) {
            latency_runs.push(Percentiles::of(&outcome));
            for _ in 1..settings.latency_runs {
                let again = load::run_at(self.protocol, url, &spec, None).await?;
                latency_runs.push(Percentiles::of(&again));
            }
        }
        let versions = outcome
            .versions()
            .iter()
            .map(|(s, v)| format!("{s}:{}", v.iter().cloned().collect::<Vec<_>>().join("+")))
            .collect::<Vec<_>>()
            .join(" ");
        if bars.is_hidden() {
            // No terminal (a log, a pipe): one line per point instead of the
            // bar; last, with no await after it, so that the row is kept
            // (pushed by the caller in the same poll) once it is said.
            eprintln!(
                "measured {what}: success {:.3} of {}",
                outcome.success_ratio(),
                outcome.samples.len()
            );
        }
        Ok(Row {
            profile: self.label.to_owned(),
            protocol: self.protocol,
            routing_api: self.routing_api,
            data_plane: self.data_plane,
            retries: mode.to_owned(),
            fail,
            requests: outcome.samples.len(),
            success_ratio: outcome.success_ratio(),
            requests_per_second: outcome.per_second(),
            p50_ms: outcome.percentile_ms(50.0),
            p90_ms: outcome.percentile_ms(90.0),
            p99_ms: outcome.percentile_ms(99.0),
            p999_ms: outcome.percentile_ms(99.9),
            hops: self.hops,
            attempts: self.attempts,
            // A bare run has no proxy to read.
            envoy_retries: after
                .zip(before)
                .map(|(a, b)| a.saturating_sub(b))
                .filter(|_| mode != "bare"),
            versions,
            latency_runs,
            answers: outcome.answers(self.protocol),
            mtls: None,
            proxies: costs,
            sidecar_passes: None,
            policy: self.policy(mode),
        })
    }
}

/// Warms the ingress at `url` up (connections, pools; not counted), and
/// checks that the chain answers at all without `fail`: when none of the
/// warm-up requests succeeds, every measurement would read 0 for a reason
/// that is not retries, so it is an error that names the first failure.
pub(super) async fn warm_up(protocol: Protocol, url: &str) -> Result<(), String> {
    let warm = Spec {
        requests: WARMUP,
        concurrency: 1,
        headers: vec![],
        timeout: Duration::from_secs(30),
        rate: None,
        duration: None,
    };
    let outcome = load::run_at(protocol, url, &warm, None).await?;
    if outcome.successes() > 0 {
        return Ok(());
    }
    let first = outcome
        .samples
        .iter()
        .find_map(|s| s.error.clone())
        .unwrap_or_else(|| "no answer".into());
    Err(format!(
        "none of {WARMUP} warm-up requests through {url} succeeded, without any `fail`: {first}"
    ))
}

/// Runs one profile in every mode on the local mesh. Await from the main
/// future (spawns processes).
/// Each row is pushed to `rows` as soon as it is measured, so an interrupted
/// or failed run keeps what it measured.
pub async fn profile(
    label: &str,
    model: Model,
    opts: &Options,
    settings: &Settings,
    bars: &MultiProgress,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let p = Profile::of(label, &model);
    let hint = super::external_hint(&model, opts);
    if settings.cost {
        return cost(&p, model, opts, settings, bars, rows, hint).await;
    }
    let modes = settings.modes.clone();
    let mut mesh = Mesh::start(
        model,
        &Options {
            retry_mode: modes.first().copied(),
            ..opts.clone()
        },
    )
    .await?;
    let mut runs: Vec<Option<RetryMode>> = modes.iter().copied().map(Some).collect();
    if settings.bare {
        runs.push(None);
    }
    for (i, mode) in runs.into_iter().enumerate() {
        match mode {
            Some(m) if i > 0 => mesh.set_retry_mode(m).await?,
            Some(_) => {}
            None => {
                mesh.stop();
                mesh = Mesh::start(
                    mesh.model.clone(),
                    &Options {
                        bare: true,
                        ..opts.clone()
                    },
                )
                .await?;
            }
        }
        let url = format!("{}/", mesh.ingress_url());
        warm_up(p.protocol, &url).await.map_err(|e| match &hint {
            Some(h) => format!("{label}: {e}\n  hint: {h}"),
            None => format!("{label}: {e}"),
        })?;
        let mode = mode.map_or("bare", RetryMode::as_str);
        for &fail in &settings.fails {
            let retries = || async { mesh.retries().await.map(Some) };
            let mut row = p
                .point(&url, mode, fail, settings, bars, retries, &[])
                .await?;
            row.mtls = (!mesh.bare).then(|| mesh.peer_mtls());
            rows.push(row);
        }
    }
    mesh.stop();
    Ok(())
}

/// `compare --cost`: the profile's mesh with mutual TLS between the
/// proxies, then without (ambient: once, the waypoint talks plain text),
/// then bare, each at `fail` 0 at the same rate, each proxy's CPU and peak
/// memory read over the run.
async fn cost(
    p: &Profile<'_>,
    model: Model,
    opts: &Options,
    settings: &Settings,
    bars: &MultiProgress,
    rows: &mut Vec<Row>,
    hint: Option<String>,
) -> Result<(), String> {
    let sidecars = localmesh::plan::Topology::of(&model) == localmesh::plan::Topology::Sidecars;
    let mut runs = vec![(false, false)];
    if sidecars {
        runs.push((false, true));
    }
    runs.push((true, false));
    for (bare, plaintext_peers) in runs {
        let mesh = Mesh::start(
            model.clone(),
            &Options {
                retry_mode: Some(RetryMode::On),
                bare,
                plaintext_peers,
                ..opts.clone()
            },
        )
        .await?;
        let url = format!("{}/", mesh.ingress_url());
        warm_up(p.protocol, &url).await.map_err(|e| match &hint {
            Some(h) => format!("{}: {e}\n  hint: {h}", p.label),
            None => format!("{}: {e}", p.label),
        })?;
        let proxies: Vec<(String, u32)> = mesh
            .proxies()
            .map(|(name, _, pid)| (name.to_owned(), pid))
            .collect();
        let mode = if bare { "bare" } else { "on" };
        let retries = || async { mesh.retries().await.map(Some) };
        let mut row = p
            .point(&url, mode, 0.0, settings, bars, retries, &proxies)
            .await?;
        row.mtls = (!bare).then(|| mesh.peer_mtls());
        row.sidecar_passes = mesh.plan.sidecar_passes(&mesh.model).filter(|_| !bare);
        if let Some(why) = overloaded(&row, settings.rate) {
            eprintln!("warning: {} {mode}: {why}", p.label);
        }
        rows.push(row);
    }
    Ok(())
}

/// Why a `--cost` row measured an overloaded machine rather than the mesh:
/// at `fail` 0 every request should succeed, at the rate asked.
fn overloaded(r: &Row, rate: Option<f64>) -> Option<String> {
    let rate = rate?;
    let short = r.requests >= 20 && r.requests_per_second < 0.9 * rate;
    (short || r.success_ratio < 1.0).then(|| {
        format!(
            "{:.0} requests/s of the {rate} asked, success {:.3}: this machine did not hold the \
             rate, so the costs and latencies are those of an overloaded mesh (a lower --rate)",
            r.requests_per_second, r.success_ratio
        )
    })
}

/// The row label of a deployed mesh's runs: its routes retry as deployed.
pub const DEPLOYED: &str = "deployed";

/// Runs one profile against an already deployed mesh, through its ingress at
/// `url` (e.g. Istio's ingress gateway); Envoy's retries are read from the
/// admin port `admin` on 127.0.0.1 (a `kubectl port-forward` of the
/// gateway's 15000) when given. The routes retry as deployed: no mode to switch.
pub async fn deployed(
    label: &str,
    model: &Model,
    url: &str,
    admin: Option<u16>,
    settings: &Settings,
    bars: &MultiProgress,
    rows: &mut Vec<Row>,
) -> Result<(), String> {
    let p = Profile::of(label, model);
    warm_up(p.protocol, url)
        .await
        .map_err(|e| format!("{label}: {e}"))?;
    for &fail in &settings.fails {
        let retries = || async {
            match admin {
                Some(port) => envoy_retries(port).await.map(Some),
                None => Ok(None),
            }
        };
        rows.push(
            p.point(url, DEPLOYED, fail, settings, bars, retries, &[])
                .await?,
        );
    }
    Ok(())
}

pub fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http",
        Protocol::Grpc => "grpc",
    }
}

pub fn routing_api_name(api: RoutingApi) -> &'static str {
    match api {
        RoutingApi::Istio => "istio",
        RoutingApi::GatewayApi => "gateway-api",
    }
}

pub fn data_plane_name(d: DataPlane) -> &'static str {
    match d {
        DataPlane::Sidecar => "sidecar",
        DataPlane::Ambient => "ambient",
    }
}

/// A progress display on stderr when it is a terminal, hidden otherwise.
pub fn progress() -> MultiProgress {
    if std::io::stderr().is_terminal() {
        MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    }
}

impl Row {
    /// The latency percentiles of the row's own run.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            p50_ms: self.p50_ms,
            p90_ms: self.p90_ms,
            p99_ms: self.p99_ms,
            p999_ms: self.p999_ms,
        }
    }
}

/// Expected success of a chain of `hops` hops that each fail with `p`, with
/// `retries` retries of each failed call.
pub fn expected_success(p: f64, hops: u32, retries: u32) -> f64 {
    (1.0 - p.powi(retries as i32 + 1)).powi(hops as i32)
}

/// What a row's success ratio should be: the profile's retries retry the
/// hop's failures only in the modes that carry them (`on`, `deployed`);
/// `off`, `bare` and Istio's default policy (which retries neither HTTP 500
/// nor gRPC INTERNAL) leave every failure standing.
pub fn expected(r: &Row) -> f64 {
    let retries = match r.retries.as_str() {
        "on" | DEPLOYED => r.attempts.unwrap_or(0),
        _ => 0,
    };
    expected_success(r.fail, r.hops, retries)
}
