//! A bounded load through the ingress: N requests, C at a time, with the `fail`
//! header; each request succeeds only when every hop of the chain answered.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hop::upstream::{GrpcClient, HttpClient};
use hop::{Answer, Target};
use http::{HeaderMap, HeaderName, HeaderValue};
use indicatif::ProgressBar;

use meshgen::model::Protocol;

#[derive(Clone, Debug)]
pub struct Spec {
    pub requests: usize,
    pub concurrency: usize,
    /// Sent with every request (e.g. `fail: 0.3`, `x-dev-user: ...`).
    pub headers: Vec<(String, String)>,
    /// Per request, covering every retry.
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Sample {
    pub ok: bool,
    pub latency: Duration,
    /// (service, version) of every hop that answered, outermost first.
    pub versions: Vec<(String, String)>,
    /// What went wrong, for failed requests.
    pub error: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn successes(&self) -> usize {
        self.samples.iter().filter(|s| s.ok).count()
    }

    pub fn success_ratio(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        self.successes() as f64 / self.samples.len() as f64
    }

    pub fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency percentile (0-100) over every request, in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let mut l: Vec<Duration> = self.samples.iter().map(|s| s.latency).collect();
        if l.is_empty() {
            return 0.0;
        }
        l.sort_unstable();
        let rank = ((p / 100.0) * l.len() as f64).ceil() as usize;
        l[rank.clamp(1, l.len()) - 1].as_secs_f64() * 1000.0
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

    /// How many requests reached `service` at `version`.
    pub fn count(&self, service: &str, version: &str) -> usize {
        self.samples
            .iter()
            .filter(|s| s.versions.iter().any(|(a, b)| a == service && b == version))
            .count()
    }
}

enum Client {
    Http(HttpClient, Target),
    Grpc(GrpcClient),
}

impl Client {
    fn new(protocol: Protocol, port: u16, timeout: Duration) -> Result<Client, String> {
        Ok(match protocol {
            Protocol::Http => Client::Http(
                HttpClient::new(timeout)?,
                Target::parse(&format!("http://127.0.0.1:{port}/"))?,
            ),
            Protocol::Grpc => Client::Grpc(GrpcClient::new(
                &Target::parse(&format!("grpc://127.0.0.1:{port}"))?,
                timeout,
            )?),
        })
    }

    async fn once(&self, headers: HeaderMap, timeout: Duration) -> Sample {
        let start = Instant::now();
        let call = async {
            match self {
                Client::Http(c, t) => c.get(t, headers).await,
                Client::Grpc(c) => c.call(headers, timeout).await,
            }
        };
        let result = tokio::time::timeout(timeout, call).await;
        let latency = start.elapsed();
        let (ok, vs, error) = match result {
            Err(_) => (
                false,
                Vec::new(),
                Some(format!("no answer within {timeout:?}")),
            ),
            Ok(r) => match r.answer {
                Answer::Reply(reply) => {
                    let error = reply.first_error();
                    (error.is_none(), reply.hops(), error)
                }
                Answer::Body(b) => (
                    false,
                    Vec::new(),
                    Some(format!("not a chain reply: {b:.80}")),
                ),
                Answer::Error(e) => (false, Vec::new(), Some(e)),
            },
        };
        Sample {
            ok,
            latency,
            versions: vs,
            error,
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

/// Runs the load against the ingress on `port`; `progress` advances per request.
pub async fn run(
    protocol: Protocol,
    port: u16,
    spec: &Spec,
    progress: Option<&ProgressBar>,
) -> Result<Outcome, String> {
    let client = Arc::new(Client::new(protocol, port, spec.timeout)?);
    let headers = header_map(&spec.headers)?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..spec.concurrency.max(1) {
        let (client, next, headers) = (client.clone(), next.clone(), headers.clone());
        let (total, timeout) = (spec.requests, spec.timeout);
        let progress = progress.cloned();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                samples.push(client.once(headers.clone(), timeout).await);
                if let Some(p) = &progress {
                    p.inc(1);
                }
            }
            samples
        }));
    }
    let mut samples = Vec::with_capacity(spec.requests);
    for t in tasks {
        samples.extend(t.await.map_err(|e| format!("load task: {e}"))?);
    }
    Ok(Outcome {
        samples,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let o = Outcome {
            samples: (1..=100)
                .map(|ms| Sample {
                    ok: true,
                    latency: Duration::from_millis(ms),
                    versions: vec![],
                    error: None,
                })
                .collect(),
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(o.percentile_ms(50.0), 50.0);
        assert_eq!(o.percentile_ms(99.0), 99.0);
        assert_eq!(o.per_second(), 100.0);
    }
}
