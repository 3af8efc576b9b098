//! Prometheus metrics (OpenMetrics text) on their own port, as the original's
//! port 9464 scraped through pod annotations.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// HTTP code (`200`, `500`) or gRPC code name (`OK`, `INTERNAL`).
    status: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    target: Arc<String>,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: Arc<String>,
}

/// How an upstream call ended, as a metric label and span attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered with success.
    Ok,
    /// Answered with an error status (HTTP non-2xx, gRPC non-OK).
    Status,
    /// No answer within UPSTREAM_TIMEOUT.
    Timeout,
    /// Could not connect, or the connection broke.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Status => "status",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }
}

fn latency_histogram() -> Histogram {
    // 0.1 ms .. ~3.3 s: a local hop answers in well under a millisecond, a
    // timed-out upstream takes UPSTREAM_TIMEOUT (2 s by default).
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The hop's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    upstream_calls: Family<UpstreamLabels, Counter>,
    upstream_duration: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    fib: Counter,
}

impl Metrics {
    pub fn new(service: &str) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "chain_requests",
            "Requests served, by status",
            requests.clone(),
        );
        let request_duration = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "chain_request_duration",
            "Time to answer a request, upstream calls included, by status",
            Unit::Seconds,
            request_duration.clone(),
        );
        let upstream_calls = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "chain_upstream_calls",
            "Calls to upstreams, by target and outcome (ok, status, timeout, error)",
            upstream_calls.clone(),
        );
        let upstream_duration =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "chain_upstream_call_duration",
            "Duration of upstream calls, by target and outcome",
            Unit::Seconds,
            upstream_duration.clone(),
        );
        // The original's custom metric, tagged by service like it was.
        let fib_family = Family::<ServiceLabels, Counter>::default();
        registry.register(
            "fib_count",
            "Fibonacci calculations done by the in-app work",
            fib_family.clone(),
        );
        let fib = fib_family
            .get_or_create(&ServiceLabels {
                service: Arc::new(service.to_string()),
            })
            .clone();
        Metrics {
            registry,
            requests,
            request_duration,
            upstream_calls,
            upstream_duration,
            fib,
        }
    }

    /// One answered request.
    pub fn request(&self, status: Cow<'static, str>, elapsed: Duration) {
        let labels = RequestLabels { status };
        self.requests.get_or_create(&labels).inc();
        self.request_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// One upstream call.
    pub fn upstream(&self, target: &Arc<String>, outcome: Outcome, elapsed: Duration) {
        let labels = UpstreamLabels {
            target: target.clone(),
            outcome: outcome.as_str(),
        };
        self.upstream_calls.get_or_create(&labels).inc();
        self.upstream_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// One Fibonacci calculation.
    pub fn fib_count(&self) {
        self.fib.inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Serves `/metrics` on `addr` until the process ends.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let listener = crate::serve::listen(addr)?;
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let metrics = self.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, Infallible>(metrics.answer(&req)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(())
    }

    fn answer<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        // Prometheus asks for OpenMetrics; anything else (curl, promtool, older
        // scrapers) gets the classic text format.
        let openmetrics = req
            .headers()
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/openmetrics-text"));
        let (status, body, content_type) = match req.uri().path() {
            "/metrics" if openmetrics => (
                StatusCode::OK,
                self.encode(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            "/metrics" => (
                StatusCode::OK,
                classic_text(&self.encode()),
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            _ => (
                StatusCode::NOT_FOUND,
                "see /metrics\n".into(),
                "text/plain; charset=utf-8",
            ),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        );
        response
    }
}

/// OpenMetrics text to the classic Prometheus text format (0.0.4): a counter
/// family is named with its `_total` suffix there, and `# UNIT` / `# EOF` do
/// not exist. Everything else is the same syntax.
fn classic_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_metric() {
        let m = Metrics::new("backend");
        m.request("200".into(), Duration::from_millis(1));
        m.upstream(
            &Arc::new("http://b/".into()),
            Outcome::Timeout,
            Duration::from_secs(2),
        );
        m.fib_count();
        let text = m.encode();
        for needle in [
            "chain_requests_total{status=\"200\"} 1",
            "chain_request_duration_seconds_count{status=\"200\"} 1",
            "chain_upstream_calls_total{target=\"http://b/\",outcome=\"timeout\"} 1",
            "chain_upstream_call_duration_seconds_bucket{",
            "fib_count_total{service=\"backend\"} 1",
            "# EOF",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        let classic = classic_text(&text);
        assert!(classic.contains("# TYPE chain_requests_total counter\n"));
        assert!(classic.contains("# HELP fib_count_total "));
        assert!(classic.contains("# TYPE chain_request_duration_seconds histogram\n"));
        assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"));
    }
}
