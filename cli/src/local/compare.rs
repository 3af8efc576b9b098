//! `meshgen compare`: per profile, the local mesh under a bounded load with the
//! `fail` header, with the profile's retries, without retries, and under Istio's
//! default retry policy; one table (or JSON rows).

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

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
    pub modes: Vec<RetryMode>,
    /// Also run the chain without Envoy (a `retries: "bare"` row): the baseline.
    pub bare: bool,
}

/// One line of the table.
#[derive(Clone, Debug, Serialize)]
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
}

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
        }
    }

    /// Loads the ingress at `url` with `fail` and makes its row; `retries`
    /// reads Envoy's retry count, when it can be read.
    async fn point<F: Future<Output = Result<Option<u64>, String>>>(
        &self,
        url: &str,
        mode: &str,
        fail: f64,
        settings: &Settings,
        bars: &MultiProgress,
        retries: impl Fn() -> F,
    ) -> Result<Row, String> {
        let before = retries().await?;
        let spec = Spec {
            requests: settings.requests,
            concurrency: settings.concurrency,
            headers: vec![("fail".into(), fail.to_string())],
            timeout: Duration::from_secs(60),
            rate: settings.rate,
        };
        let what = format!(
            "{} ({}), retries {mode}, fail {fail}",
            self.label,
            protocol_name(self.protocol),
        );
        // One bar at a time, gone when its point is measured.
        let bar = bars.add(ProgressBar::new(settings.requests as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:<40} {bar:30} {pos}/{len} {per_sec}")
                .expect("template"),
        );
        bar.set_prefix(what.clone());
        let outcome = load::run_at(self.protocol, url, &spec, Some(&bar)).await?;
        bar.finish_and_clear();
        bars.remove(&bar);
        if bars.is_hidden() {
            // No terminal (a log, a pipe): one line per point instead of the bar.
            eprintln!(
                "measured {what}: success {:.3} of {}",
                outcome.success_ratio(),
                outcome.samples.len()
            );
        }
        let after = retries().await?;
        let versions = outcome
            .versions()
            .iter()
            .map(|(s, v)| format!("{s}:{}", v.iter().cloned().collect::<Vec<_>>().join("+")))
            .collect::<Vec<_>>()
            .join(" ");
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
            envoy_retries: after.zip(before).map(|(a, b)| a.saturating_sub(b)),
            versions,
        })
    }
}

/// Warms the ingress at `url` up (connections, pools; not counted), and
/// checks that the chain answers at all without `fail`: when none of the
/// warm-up requests succeeds, every measurement would read 0 for a reason
/// that is not retries, so it is an error that names the first failure.
async fn warm_up(protocol: Protocol, url: &str) -> Result<(), String> {
    let warm = Spec {
        requests: WARMUP,
        concurrency: 1,
        headers: vec![],
        timeout: Duration::from_secs(30),
        rate: None,
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
            rows.push(p.point(&url, mode, fail, settings, bars, retries).await?);
        }
    }
    mesh.stop();
    Ok(())
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
            p.point(url, DEPLOYED, fail, settings, bars, retries)
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

/// The rows as CSV (RFC 4180), one header line then one line per row.
pub fn csv(rows: &[Row]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(
        "profile,protocol,routing_api,data_plane,retries,fail,requests,success_ratio,\
         requests_per_second,p50_ms,p90_ms,p99_ms,p999_ms,envoy_retries,versions\n",
    );
    for r in rows {
        let cells = [
            field(&r.profile),
            protocol_name(r.protocol).to_owned(),
            routing_api_name(r.routing_api).to_owned(),
            data_plane_name(r.data_plane).to_owned(),
            field(&r.retries),
            r.fail.to_string(),
            r.requests.to_string(),
            format!("{:.4}", r.success_ratio),
            format!("{:.1}", r.requests_per_second),
            format!("{:.3}", r.p50_ms),
            format!("{:.3}", r.p90_ms),
            format!("{:.3}", r.p99_ms),
            format!("{:.3}", r.p999_ms),
            r.envoy_retries.map_or(String::new(), |n| n.to_string()),
            field(&r.versions),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// The columns of the table (and of the report's): a heading each.
pub const HEAD: [&str; 13] = [
    "profile",
    "protocol",
    "routes",
    "data plane",
    "retries",
    "fail",
    "success",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "envoy retries",
    "versions",
];

/// A row's cells under [`HEAD`], for people to read.
pub fn cells(r: &Row) -> Vec<String> {
    vec![
        r.profile.clone(),
        protocol_name(r.protocol).into(),
        routing_api_name(r.routing_api).into(),
        data_plane_name(r.data_plane).into(),
        r.retries.clone(),
        format!("{:.2}", r.fail),
        format!("{:.3}", r.success_ratio),
        format!("{:.0}", r.requests_per_second),
        format!("{:.2}", r.p50_ms),
        format!("{:.2}", r.p90_ms),
        format!("{:.2}", r.p99_ms),
        r.envoy_retries.map_or("-".to_owned(), |n| n.to_string()),
        r.versions.clone(),
    ]
}

/// The table, aligned, one row per line.
pub fn table(rows: &[Row]) -> String {
    let head = HEAD;
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    lines.extend(rows.iter().map(cells));
    let widths: Vec<usize> = (0..head.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_serialize_with_the_promised_keys() {
        let row = Row {
            profile: "demo".into(),
            protocol: Protocol::Grpc,
            routing_api: RoutingApi::GatewayApi,
            data_plane: DataPlane::Ambient,
            retries: "default".into(),
            fail: 0.3,
            requests: 10,
            success_ratio: 0.5,
            requests_per_second: 1.0,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
            p999_ms: 4.0,
            hops: 3,
            attempts: Some(3),
            envoy_retries: Some(4),
            versions: "a:prod".into(),
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["protocol"], "grpc");
        assert_eq!(v["retries"], "default");
        assert_eq!(v["routing_api"], "gateway-api");
        assert_eq!(v["data_plane"], "ambient");
        assert_eq!(v["success_ratio"], 0.5);
        let line = table(&[row]).lines().nth(1).unwrap().to_owned();
        assert!(line.contains("default"), "{line}");
        assert!(line.contains("gateway-api  ambient"), "{line}");
    }
}
