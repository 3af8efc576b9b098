//! One hop, protocol-free: roll the dice, do the work, call the upstreams,
//! build the reply. The binaries translate requests in and outcomes out.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::HeaderMap;
use opentelemetry::Context;

use crate::HopConfig;
use crate::fail_status::FailStatus;
use crate::headers;
use crate::metrics::Metrics;
use crate::reply::{self, Reply};
use crate::telemetry::Telemetry;
use crate::upstream::Upstreams;
use crate::{deadline, dice, work};
use contract::{Misbehaviour, Probability};

/// What the hop decided.
#[derive(Debug)]
pub enum Outcome {
    /// The dice said fail: answer this error, call no upstream.
    Fail(FailStatus),
    Reply(Reply),
}

/// Everything a hop needs, built once at start and shared by all requests.
pub struct Hop {
    pub config: HopConfig,
    pub telemetry: Telemetry,
    pub metrics: Arc<Metrics>,
    upstreams: Upstreams,
}

impl Hop {
    /// Builds the upstream clients and telemetry; must run inside the Tokio runtime.
    pub fn new(config: HopConfig) -> Result<Hop, String> {
        let telemetry = Telemetry::init(&config)?;
        let metrics = Arc::new(Metrics::new(&config.service));
        let upstreams = Upstreams::new(&config)?;
        Ok(Hop {
            config,
            telemetry,
            metrics,
            upstreams,
        })
    }

    /// Handles one request given its headers (HTTP headers or gRPC metadata)
    /// and the context holding the server span.
    pub async fn handle(&self, headers: &HeaderMap, cx: &Context) -> Outcome {
        let start = Instant::now();
        let asked = contract::headers::delay_of(headers, &self.config.service);
        let wait = wait(asked, self.config.misbehaviour.delay);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // A stand-in for an external API ignores the chain's dice, as the
        // real API would; the pod's own misbehaviour is asked by meshgen.
        let asked = match self.config.external_stub {
            true => Probability::NEVER,
            false => Probability::clamped(headers::text(headers, "fail")),
        };
        if dice::roll(self.config.misbehaviour.fail) || dice::roll(asked) {
            return Outcome::Fail(FailStatus::parse(headers::text(headers, "fail-status")));
        }
        let work = match self.config.work {
            true => Some(work::run(&self.telemetry, &self.metrics, cx).await),
            false => None,
        };
        let deadline = deadline::of(headers, start);
        let upstreams = self
            .upstreams
            .call_all(headers, deadline, cx, &self.telemetry, &self.metrics)
            .await;
        // A terminal hop answers the time itself, so a chain works offline.
        let body = self
            .upstreams
            .is_empty()
            .then(|| reply::time_json(SystemTime::now()));
        Outcome::Reply(Reply {
            service: self.config.service.clone(),
            version: self.config.version.clone(),
            pod: self.config.pod.clone(),
            seconds: start.elapsed().as_secs_f64(),
            upstreams,
            num: work.map(|w| w.num),
            is_odd: work.map(|w| w.is_odd),
            body,
        })
    }
}

/// The request's delay and the pod's together, within the one bound.
fn wait(asked: contract::Duration, pod: contract::Duration) -> std::time::Duration {
    let nanos = asked.as_nanos().saturating_add(pod.as_nanos());
    std::time::Duration::from_nanos(nanos.min(Misbehaviour::MAX_DELAY.as_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::Duration;

    #[test]
    fn the_request_s_and_the_pod_s_delays_stay_within_one_bound() {
        let s = |n| Duration::from_secs(n);
        assert_eq!(wait(s(1), s(2)), std::time::Duration::from_secs(3));
        assert_eq!(wait(s(40), s(40)), Misbehaviour::MAX_DELAY.into());
        let huge = Duration::from_nanos(u64::MAX);
        assert_eq!(wait(huge, huge), Misbehaviour::MAX_DELAY.into());
    }
}
