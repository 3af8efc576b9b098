//! A bounded load through the ingress, with the `fail` header; each request
//! succeeds only when every hop of the chain answered.
//!
//! Two modes ([`LoadMode`]):
//!
//! - closed loop (`rate: None`): `concurrency` workers, each sending its next
//!   request when the previous one answered; latency is measured from the send.
//! - open loop (`rate: Some(r)`), as wrk2 and fortio do it: request `i` is due
//!   at `start + i / r` ([`due_offset`]) and is sent at its due time whatever
//!   the earlier requests are doing; its latency is measured from its *due*
//!   time. A slow answer therefore cannot hold back the requests behind it
//!   (the closed loop's "coordinated omission", which hides stalls: a worker
//!   stuck for 300 ms sends nothing meanwhile, so the stall shows up as one slow
//!   sample instead of the 300 ms worth of requests that a steady stream of
//!   users would have sent into it).
//!
//! Latencies go into an HDR histogram (microseconds, 3 significant digits);
//! every percentile comes from it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use hop::upstream::{GrpcClient, HttpClient};
use hop::{Answer, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use meshgen::model::{Code, Protocol};

/// In open loop, at most this many requests (or `concurrency`, if larger) are
/// in flight at once; see [`Spec::rate`].
pub const OPEN_LOOP_IN_FLIGHT: usize = 1024;

/// The histogram's range, in microseconds: 1 µs to 1 h (longer is clamped).
const HIGHEST_US: u64 = 3_600_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

#[derive(Clone, Debug)]
pub struct Spec {
    pub requests: usize,
    /// Closed loop: the number of workers. Open loop: only a floor for the
    /// in-flight cap (see `rate`).
    pub concurrency: usize,
    /// Sent with every request (e.g. `fail: 0.3`, `x-dev-user: ...`).
    pub headers: Vec<(String, String)>,
    /// Per request, covering every retry.
    pub timeout: Duration,
    /// Requests per second for an open-loop run; `None` runs the closed loop.
    ///
    /// With a rate, request `i` is due at `i / rate` seconds after the start
    /// and sent then, whatever the earlier requests are doing. At most
    /// `max(concurrency, OPEN_LOOP_IN_FLIGHT)` are in flight; a request that
    /// has to wait for one of those slots still counts its latency from its
    /// due time, so the cap can delay requests but never hide the delay.
    pub rate: Option<f64>,
    /// Closed loop only: stop sending once this long has passed since the
    /// start (what is in flight still answers), even before `requests`.
    pub duration: Option<Duration>,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            requests: 100,
            concurrency: 1,
            headers: Vec::new(),
            timeout: Duration::from_secs(60),
            rate: None,
            duration: None,
        }
    }
}

impl Spec {
    /// The mode this spec runs in.
    pub fn mode(&self) -> LoadMode {
        match self.rate {
            Some(rate) => LoadMode::Open { rate },
            None => LoadMode::Closed {
                concurrency: self.concurrency.max(1),
            },
        }
    }
}

/// Which load ran, for the report.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadMode {
    /// `concurrency` workers, each waiting for its answer before the next send.
    Closed { concurrency: usize },
    /// Fixed arrival rate (requests per second), latency from the due time.
    Open { rate: f64 },
}

impl fmt::Display for LoadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadMode::Closed { concurrency } => {
                write!(f, "closed loop, {concurrency} at a time")
            }
            LoadMode::Open { rate } => write!(f, "open loop, {rate} req/s"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Sample {
    pub ok: bool,
    /// From the request's due time (open loop) or its send (closed loop) to
    /// its answer.
    pub latency: Duration,
    /// When the request was due, from the start of the run (closed loop: when
    /// it was sent).
    pub due: Duration,
    /// When the request was actually sent, from the start of the run; later
    /// than `due` when the generator fell behind or waited for an in-flight slot.
    pub sent: Duration,
    /// (service, version) of every hop that answered, outermost first.
    pub versions: Vec<(String, String)>,
    /// `(service, pod)` for every hop that named its pod.
    pub pods: Vec<(String, String)>,
    /// What went wrong, for failed requests.
    pub error: Option<String>,
    /// The answer's HTTP status or gRPC code (`None`: no answer).
    pub code: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub mode: LoadMode,
    /// Per request, in the order they were due (closed loop: per worker).
    pub samples: Vec<Sample>,
    /// From the first due time (the start) to the last answer.
    pub elapsed: Duration,
    /// Every sample's latency in microseconds, built from `samples` by
    /// [`Outcome::new`].
    histogram: Histogram<u64>,
}

/// An empty histogram for latencies in microseconds, 1 µs to 1 h, 3 digits.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, SIGNIFICANT_DIGITS)
        .expect("1 µs to 1 h at 3 significant digits is a valid histogram")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Outcome {
    /// The outcome of `samples`; the latency histogram is built from them.
    pub fn new(mode: LoadMode, samples: Vec<Sample>, elapsed: Duration) -> Outcome {
        let mut histogram = new_latency_histogram();
        for s in &samples {
            // Clamped to 1 µs..1 h, which no request timeout exceeds.
            histogram.saturating_record(micros(s.latency));
        }
        Outcome {
            mode,
            samples,
            elapsed,
            histogram,
        }
    }

    pub fn successes(&self) -> usize {
        self.samples.iter().filter(|s| s.ok).count()
    }

    pub fn success_ratio(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.successes() as f64 / self.samples.len() as f64
    }

    /// Answered requests per second: all of them over `elapsed`.
    pub fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The achieved send rate, requests per second: the intervals between
    /// the first and the last actual send (n - 1 of them for n requests) over
    /// the time they took. For an open-loop run this is the rate the
    /// generator held, which `per_second` blurs with the last answer's latency.
    pub fn send_rate(&self) -> f64 {
        let first = self.samples.iter().map(|s| s.sent).min();
        let last = self.samples.iter().map(|s| s.sent).max();
        match (first, last) {
            (Some(first), Some(last)) if self.samples.len() > 1 && last > first => {
                (self.samples.len() - 1) as f64 / (last - first).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// The longest a request waited between its due time and its send.
    pub fn max_send_lag(&self) -> Duration {
        self.samples
            .iter()
            .map(|s| s.sent.saturating_sub(s.due))
            .max()
            .unwrap_or_default()
    }

    /// Every latency, in microseconds (1 µs to 1 h, 3 significant digits).
    pub fn latency_histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// Latency percentile (0-100) over every request, in milliseconds: the
    /// histogram's value at that quantile (exact to 3 significant digits,
    /// rounded up to the top of its bucket). 0 without requests.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.histogram.is_empty() {
            return 0.0;
        }
        self.histogram.value_at_quantile(p / 100.0) as f64 / 1000.0
    }

    /// The highest latency, in milliseconds (to 3 significant digits).
    pub fn max_ms(&self) -> f64 {
        if self.histogram.is_empty() {
            return 0.0;
        }
        self.histogram.max() as f64 / 1000.0
    }

    /// The mean latency, in milliseconds (to 3 significant digits).
    pub fn mean_ms(&self) -> f64 {
        self.histogram.mean() / 1000.0
    }

    /// Versions that answered, per service.
    pub fn versions(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &self.samples {
            for (svc, v) in &s.versions {
                out.entry(svc.clone()).or_default().insert(v.clone());
            }
        }
        out
    }

    /// The answers by HTTP status or gRPC code name, a success status whose
    /// chain lost a hop apart (`200, a hop failed`), and `no answer`.
    pub fn answers(&self, protocol: Protocol) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.samples {
            let mut key = match (s.code, protocol) {
                (None, _) => "no answer".to_owned(),
                (Some(c), Protocol::Http) => c.to_string(),
                (Some(c), Protocol::Grpc) => i32::try_from(c)
                    .map_or_else(|_| c.to_string(), |c| Code::from_i32(c).name().to_owned()),
            };
            if !s.ok && matches!(key.as_str(), "200" | "OK") {
                key.push_str(", a hop failed");
            }
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }

    /// How many requests reached `service` at `version`.
    pub fn count(&self, service: &str, version: &str) -> usize {
        self.samples
            .iter()
            .filter(|s| s.versions.iter().any(|(a, b)| a == service && b == version))
            .count()
    }
}

/// When request `i` of an open-loop run at `rate` requests per second is due,
/// from the start: `i / rate`, computed from `i` (never by adding intervals, so
/// rounding does not drift over a long run).
pub fn due_offset(i: usize, rate: f64) -> Duration {
    Duration::from_secs_f64(i as f64 / rate)
}

enum Client {
    Http(HttpClient, Target),
    Grpc(GrpcClient),
}

impl Client {
    /// A client of the ingress at `url` (`http://host:port/...` for HTTP,
    /// `http://host:port` or `grpc://host:port` for gRPC).
    fn new(protocol: Protocol, url: &str, timeout: Duration) -> Result<Client, String> {
        let target = Target::parse(url)?;
        Ok(match protocol {
            Protocol::Http => Client::Http(HttpClient::new(timeout)?, target),
            Protocol::Grpc => {
                let authority = target.uri.authority().ok_or("no host:port")?.as_str();
                let grpc = Target::parse(&format!("grpc://{authority}"))?;
                Client::Grpc(GrpcClient::new(&grpc, timeout)?)
            }
        })
    }

    async fn once(
        &self,
        headers: HeaderMap,
        timeout: Duration,
        start: Instant,
        due: Instant,
    ) -> Sample {
        let sent = Instant::now();
        let call = async {
            match self {
                Client::Http(c, t) => c.get(t, headers).await,
                Client::Grpc(c) => c.call(headers, timeout).await,
            }
        };
        let result = tokio::time::timeout(timeout, call).await;
        let latency = due.elapsed();
        let code = result.as_ref().ok().and_then(|r| r.code);
        let (ok, (vs, pods), error) = match result {
            Err(_) => (
                false,
                Default::default(),
                Some(format!("no answer within {timeout:?}")),
            ),
            Ok(r) => match r.answer {
                Answer::Reply(reply) => {
                    let error = reply.first_error();
                    (error.is_none(), (reply.hops(), reply.pods()), error)
                }
                Answer::Body(b) => (
                    false,
                    Default::default(),
                    Some(format!("not a chain reply: {b:.80}")),
                ),
                Answer::Error(e) => (false, Default::default(), Some(e)),
            },
        };
        Sample {
            ok,
            latency,
            due: due.saturating_duration_since(start),
            sent: sent.saturating_duration_since(start),
            versions: vs,
            pods,
            error,
            code,
        }
    }
}

pub fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("header {k}: {e}"))?;
        let value = HeaderValue::from_str(v).map_err(|e| format!("header {k}: {e}"))?;
        map.insert(name, value);
    }
    Ok(map)
}

/// Runs the load against the ingress on 127.0.0.1:`port`; `progress`
/// advances per answer.
pub async fn run(
    protocol: Protocol,
    port: u16,
    spec: &Spec,
    progress: Option<&ProgressBar>,
) -> Result<Outcome, String> {
    let url = match protocol {
        Protocol::Http => format!("http://127.0.0.1:{port}/"),
        Protocol::Grpc => format!("grpc://127.0.0.1:{port}"),
    };
    run_at(protocol, &url, spec, progress).await
}

/// Runs the load against the ingress at `url` (a deployed mesh's gateway).
pub async fn run_at(
    protocol: Protocol,
    url: &str,
    spec: &Spec,
    progress: Option<&ProgressBar>,
) -> Result<Outcome, String> {
    let client = Arc::new(Client::new(protocol, url, spec.timeout)?);
    let headers = header_map(&spec.headers)?;
    let mode = spec.mode();
    let (samples, start) = match mode {
        LoadMode::Closed { concurrency } => {
            closed(client, headers, spec, concurrency, progress).await?
        }
        LoadMode::Open { rate } => {
            let last = spec.requests.saturating_sub(1) as f64 / rate;
            if !(rate.is_finite() && rate > 0.0) || Duration::try_from_secs_f64(last).is_err() {
                return Err(format!(
                    "rate {rate}: not a positive number of requests per second that \
                     sends {} requests in a finite time",
                    spec.requests
                ));
            }
            open(client, headers, spec, rate, progress).await?
        }
    };
    Ok(Outcome::new(mode, samples, start.elapsed()))
}

/// `concurrency` workers taking the next request number until all are taken.
async fn closed(
    client: Arc<Client>,
    headers: HeaderMap,
    spec: &Spec,
    concurrency: usize,
    progress: Option<&ProgressBar>,
) -> Result<(Vec<Sample>, Instant), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = spec.duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, headers) = (client.clone(), next.clone(), headers.clone());
        let (total, timeout) = (spec.requests, spec.timeout);
        let progress = progress.cloned();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while deadline.is_none_or(|d| Instant::now() < d)
                && next.fetch_add(1, Ordering::Relaxed) < total
            {
                // Closed loop: due when the worker is free, i.e. now.
                let now = Instant::now();
                samples.push(client.once(headers.clone(), timeout, start, now).await);
                if let Some(p) = &progress {
                    p.inc(1);
                }
            }
            samples
        }));
    }
    let mut samples = Vec::with_capacity(spec.requests.min(1 << 16));
    for t in tasks {
        samples.extend(t.await.map_err(|e| format!("load task: {e}"))?);
    }
    Ok((samples, start))
}

/// The open loop: [`dispatch`] spawns each request at its due time; the
/// samples come back in due order.
async fn open(
    client: Arc<Client>,
    headers: HeaderMap,
    spec: &Spec,
    rate: f64,
    progress: Option<&ProgressBar>,
) -> Result<(Vec<Sample>, Instant), String> {
    let slots = Arc::new(Semaphore::new(spec.concurrency.max(OPEN_LOOP_IN_FLIGHT)));
    // Dropping the run (an interrupted compare) aborts what is in flight.
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    dispatch(start, spec.requests, rate, |_, due| {
        let (client, headers, slots) = (client.clone(), headers.clone(), slots.clone());
        let timeout = spec.timeout;
        let progress = progress.cloned();
        tasks.spawn(async move {
            // The wait for a slot is part of the latency: `once` counts from `due`.
            let _slot = slots
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let sample = client.once(headers, timeout, start, due).await;
            if let Some(p) = &progress {
                p.inc(1);
            }
            sample
        });
    })
    .await?;
    let mut samples = Vec::with_capacity(spec.requests.min(1 << 16));
    while let Some(sample) = tasks.join_next().await {
        samples.push(sample.map_err(|e| format!("load task: {e}"))?);
    }
    samples.sort_by_key(|s| s.due);
    Ok((samples, start))
}

/// The open loop's clock: calls `send(i, due)` for request `i` in `0..n` at
/// its due time `start + due_offset(i, rate)`, never before, and waits for
/// nothing but the clock (`send` must not block: it spawns).
///
/// The schedule is kept by a thread of its own with `std::thread::sleep`
/// (to within ~0.1 ms on Linux), not by Tokio's timer, whose 1 ms ticks wake
/// 1-2 ms late: at 500 requests/s that lag alone would be most of every
/// latency counted from the due time. The thread hands each due request to
/// this future over a channel. When it wakes late (a busy machine), every
/// request already due goes at once and the schedule resumes, the catch-up
/// of `MissedTickBehavior::Burst`: due times come from the schedule, never
/// from the previous send. Dropping this future stops the thread at its next
/// due time.
pub async fn dispatch(
    start: Instant,
    n: usize,
    rate: f64,
    mut send: impl FnMut(usize, Instant),
) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let start_std = start.into_std();
    std::thread::Builder::new()
        .name("load-clock".into())
        .spawn(move || {
            for i in 0..n {
                let due = start_std + due_offset(i, rate);
                loop {
                    let now = std::time::Instant::now();
                    if now >= due {
                        break;
                    }
                    std::thread::sleep(due - now);
                }
                if tx.send((i, Instant::from_std(due))).is_err() {
                    return; // the run was dropped
                }
            }
        })
        .map_err(|e| format!("load clock thread: {e}"))?;
    while let Some((i, due)) = rx.recv().await {
        send(i, due);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(latency: Duration) -> Sample {
        Sample {
            ok: true,
            latency,
            due: Duration::ZERO,
            sent: Duration::ZERO,
            versions: vec![],
            pods: vec![],
            error: None,
            code: Some(200),
        }
    }

    fn closed(n: usize) -> LoadMode {
        LoadMode::Closed { concurrency: n }
    }

    /// `expected` within the histogram's 3 significant digits (0.1%), rounded up.
    fn assert_about(actual: f64, expected: f64) {
        assert!(
            actual >= expected && actual <= expected * 1.001,
            "{actual} is not {expected} to 3 significant digits"
        );
    }

    #[test]
    fn percentiles() {
        let o = Outcome::new(
            closed(1),
            (1..=100)
                .map(|ms| sample(Duration::from_millis(ms)))
                .collect(),
            Duration::from_secs(1),
        );
        assert_about(o.percentile_ms(50.0), 50.0);
        assert_about(o.percentile_ms(90.0), 90.0);
        assert_about(o.percentile_ms(99.0), 99.0);
        assert_about(o.percentile_ms(100.0), 100.0);
        assert_about(o.max_ms(), 100.0);
        assert!((o.mean_ms() - 50.5).abs() < 0.1, "{}", o.mean_ms());
        assert_eq!(o.latency_histogram().len(), 100);
        assert_eq!(o.per_second(), 100.0);
    }

    #[test]
    fn percentiles_from_the_histogram_keep_microseconds_and_the_tail() {
        // 990 fast answers (250 µs) and 10 stalled ones (1.5 s): p99 is still
        // fast, p99.9 and the max see the stall; sub-millisecond values survive.
        let mut samples: Vec<Sample> = (0..990)
            .map(|_| sample(Duration::from_micros(250)))
            .collect();
        samples.extend((0..10).map(|_| sample(Duration::from_millis(1500))));
        let o = Outcome::new(closed(1), samples, Duration::from_secs(2));
        assert_eq!(o.percentile_ms(50.0), 0.25);
        assert_eq!(o.percentile_ms(99.0), 0.25);
        assert_about(o.percentile_ms(99.9), 1500.0);
        assert_about(o.max_ms(), 1500.0);
        assert!((o.mean_ms() - 15.2475).abs() < 0.05, "{}", o.mean_ms());
    }

    #[test]
    fn answers_by_code_keep_a_lost_hop_apart() {
        let with = |ok, code| Sample {
            ok,
            code,
            ..sample(Duration::from_millis(1))
        };
        let o = Outcome::new(
            closed(1),
            vec![
                with(true, Some(200)),
                with(false, Some(200)),
                with(false, Some(500)),
                with(false, None),
            ],
            Duration::from_secs(1),
        );
        let http = o.answers(Protocol::Http);
        assert_eq!(http["200"], 1);
        assert_eq!(http["200, a hop failed"], 1);
        assert_eq!(http["500"], 1);
        assert_eq!(http["no answer"], 1);
        let o = Outcome::new(
            closed(1),
            vec![
                with(true, Some(0)),
                with(false, Some(0)),
                with(false, Some(13)),
            ],
            Duration::from_secs(1),
        );
        let grpc = o.answers(Protocol::Grpc);
        assert_eq!(grpc["OK"], 1);
        assert_eq!(grpc["OK, a hop failed"], 1);
        assert_eq!(grpc["INTERNAL"], 1);
    }

    #[test]
    fn an_empty_outcome_is_all_zeros() {
        let o = Outcome::new(closed(1), vec![], Duration::ZERO);
        assert_eq!(o.percentile_ms(99.0), 0.0);
        assert_eq!(o.max_ms(), 0.0);
        assert_eq!(o.mean_ms(), 0.0);
        assert_eq!(o.success_ratio(), 0.0);
        assert_eq!(o.send_rate(), 0.0);
    }

    #[test]
    fn latencies_beyond_an_hour_are_clamped_not_lost() {
        let o = Outcome::new(
            closed(1),
            vec![sample(Duration::from_secs(7200)), sample(Duration::ZERO)],
            Duration::from_secs(7200),
        );
        assert_eq!(o.latency_histogram().len(), 2);
        assert_about(o.max_ms(), 3_600_000.0);
    }

    #[test]
    fn the_schedule_is_i_over_rate_without_drift() {
        assert_eq!(due_offset(0, 500.0), Duration::ZERO);
        assert_eq!(due_offset(1, 500.0), Duration::from_millis(2));
        assert_eq!(due_offset(999, 500.0), Duration::from_millis(1998));
        // 3 per second: 1/3 s is not exact in binary, but request 3 000 000
        // is due at exactly 1 000 000 s, not at the sum of 3 000 000 rounded
        // intervals.
        assert_eq!(due_offset(3_000_000, 3.0), Duration::from_secs(1_000_000));
        let third = due_offset(1, 3.0).as_secs_f64();
        assert!((third - 1.0 / 3.0).abs() < 1e-9, "{third}");
        // Fractional rates: one request every 4 s.
        assert_eq!(due_offset(2, 0.25), Duration::from_secs(8));
        // Strictly increasing at a high rate.
        let dues: Vec<Duration> = (0..10_000).map(|i| due_offset(i, 100_000.0)).collect();
        assert!(dues.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(dues[9_999], Duration::from_micros(99_990));
    }

    #[test]
    fn the_send_rate_counts_intervals_between_actual_sends() {
        // 5 requests sent 2 ms apart: 4 intervals in 8 ms = 500/s, whatever
        // they were due at (the first ones were late here).
        let samples = (0..5u64)
            .map(|i| Sample {
                due: Duration::from_millis(i),
                sent: Duration::from_millis(2 * i + 3),
                ..sample(Duration::from_millis(1))
            })
            .collect();
        let o = Outcome::new(
            LoadMode::Open { rate: 1000.0 },
            samples,
            Duration::from_millis(12),
        );
        assert!((o.send_rate() - 500.0).abs() < 1e-6, "{}", o.send_rate());
        assert_eq!(o.max_send_lag(), Duration::from_millis(7));
    }

    #[test]
    fn the_mode_follows_the_rate() {
        let spec = Spec {
            concurrency: 0,
            ..Spec::default()
        };
        assert_eq!(spec.mode(), LoadMode::Closed { concurrency: 1 });
        let spec = Spec {
            rate: Some(500.0),
            ..Spec::default()
        };
        assert_eq!(spec.mode(), LoadMode::Open { rate: 500.0 });
        assert_eq!(spec.mode().to_string(), "open loop, 500 req/s");
        assert_eq!(closed(8).to_string(), "closed loop, 8 at a time");
    }

    #[tokio::test]
    async fn a_rate_must_send_everything_in_a_finite_time() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300] {
            let spec = Spec {
                requests: 10,
                rate: Some(rate),
                ..Spec::default()
            };
            // Port 1: refused before any request is due.
            let err = run(Protocol::Http, 1, &spec, None).await.unwrap_err();
            assert!(err.starts_with(&format!("rate {rate}:")), "{err}");
        }
    }

    /// On the real clock: nothing leaves before its due time, in order, and
    /// the dispatcher never waits for answers (here they never come).
    #[tokio::test]
    async fn the_dispatcher_sends_at_the_due_times_without_waiting_for_answers() {
        let start = Instant::now();
        let mut sent = Vec::new();
        let mut hanging = JoinSet::new();
        dispatch(start, 20, 2000.0, |i, due| {
            sent.push((i, due, Instant::now()));
            hanging.spawn(std::future::pending::<()>());
        })
        .await
        .expect("dispatch");
        assert_eq!(sent.len(), 20);
        assert_eq!(hanging.len(), 20);
        for (k, (i, due, at)) in sent.iter().enumerate() {
            assert_eq!(*i, k);
            assert_eq!(*due, start + due_offset(k, 2000.0));
            assert!(at >= due, "request {k} left {:?} early", *due - *at);
        }
    }
}
