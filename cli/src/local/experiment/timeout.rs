//! `timeouts`: a route timeout on the target against the target's delay;
//! over gRPC also a client deadline below the route's timeout.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use contract::{Duration, Misbehaviour};
use meshgen::model::{Protocol, RoutingApi};

use super::{Experiment, Finding, Run, closed, target};
use crate::local::load::{Outcome, Spec};
use crate::local::{Options, RetryMode};

const TIMEOUT: Duration = Duration::from_millis(400);
const DELAYS_MS: [u64; 4] = [100, 250, 650, 900];
const REQUESTS: usize = 20;
/// The gRPC client's deadline, below the route's timeout.
const DEADLINE_MS: u64 = 200;

pub(super) async fn run(run: &Run<'_>, out: &mut Vec<Finding>) -> Result<(), String> {
    let name = target(run.model)?.0.name.clone();
    let m = run.model;
    if m.mesh.routing_api == RoutingApi::GatewayApi && m.wire.protocol == Protocol::Grpc {
        eprintln!(
            "note: timeouts: {}: a GRPCRoute has no `timeouts`, so no route timeout is played \
             (the gRPC caller's deadline is the only one; docs/profile.md)",
            run.label
        );
        return Ok(());
    }
    let mut model = run.model.clone();
    let mut pods = Vec::new();
    for s in model.services.iter_mut().filter(|s| s.name == name) {
        s.route.timeout = Some(TIMEOUT);
        for w in &s.versions {
            pods.extend((0..w.replicas).map(|r| localmesh::plan::pod_name(w, r)));
        }
    }
    let slow = |ms: u64| -> Options {
        let delay = Misbehaviour {
            delay: Duration::from_millis(ms),
            ..Misbehaviour::NONE
        };
        Options {
            misbehaviour: pods
                .iter()
                .map(|p| (p.clone(), delay))
                .collect::<BTreeMap<_, _>>(),
            ..run.opts.clone()
        }
    };
    for ms in DELAYS_MS {
        // Retries off: each try would wait the timeout again.
        let mesh = run
            .cold_mesh(model.clone(), Some(RetryMode::Off), slow(ms))
            .await?;
        let outcome = run.load(&mesh.url(), &closed(REQUESTS, 4, vec![])).await?;
        drop(mesh);
        let late = StdDuration::from_millis(ms) > StdDuration::from(TIMEOUT);
        out.push(Finding {
            measure: "share of requests timed out".into(),
            plotted: true,
            expected: Some(if late { 1.0 } else { 0.0 }),
            tolerance: 0.0,
            measured: 1.0 - outcome.success_ratio(),
            requests: outcome.samples.len(),
            note: received(&outcome),
            ..run.finding(
                Experiment::Timeouts,
                format!("route timeout {TIMEOUT}, {name} answers in {ms}ms"),
                ms as f64,
            )
        });
    }
    if run.model.wire.protocol == Protocol::Grpc {
        // The backend answers within the route's timeout but after the
        // client's deadline: the deadline travels down the chain
        // (grpc-timeout) and ends the call.
        let ms = 300;
        let mesh = run
            .cold_mesh(model.clone(), Some(RetryMode::Off), slow(ms))
            .await?;
        let spec = Spec {
            timeout: StdDuration::from_millis(DEADLINE_MS),
            ..closed(REQUESTS, 4, vec![])
        };
        let outcome = run.load(&mesh.url(), &spec).await?;
        drop(mesh);
        let setting = format!(
            "client deadline {DEADLINE_MS}ms, route timeout {TIMEOUT}, {name} answers in {ms}ms"
        );
        out.push(Finding {
            measure: "p50 latency with the deadline (ms)".into(),
            // The deadline ends the call, not the route's longer timeout.
            expected: Some(DEADLINE_MS as f64),
            tolerance: 75.0,
            measured: outcome.percentile_ms(50.0),
            requests: outcome.samples.len(),
            note: received(&outcome),
            ..run.finding(Experiment::Timeouts, setting.clone(), ms as f64)
        });
        out.push(Finding {
            measure: "share of requests past the client's deadline".into(),
            expected: Some(1.0),
            tolerance: 0.0,
            measured: 1.0 - outcome.success_ratio(),
            requests: outcome.samples.len(),
            note: format!(
                "p50 {:.0} ms for a {DEADLINE_MS} ms deadline; {}",
                outcome.percentile_ms(50.0),
                received(&outcome)
            ),
            ..run.finding(Experiment::Timeouts, setting.clone(), ms as f64)
        });
    }
    Ok(())
}

/// What the caller received when it failed: the first error, as its hop
/// reported it.
fn received(o: &Outcome) -> String {
    o.samples.iter().find_map(|s| s.error.clone()).map_or_else(
        || "every request answered".into(),
        |e| format!("received: {e}"),
    )
}

/// On a deployed mesh, the profile's own route timeout on the target: the
/// target asked (by the `delay` header) for half the limit, then twice it.
/// The limit is the timeout, or a try's timeout when retries cut sooner.
pub(super) async fn deployed(
    run: &Run<'_>,
    url: &str,
    out: &mut Vec<Finding>,
) -> Result<(), String> {
    let t = target(run.model)?.0;
    let Some(timeout) = t.route.timeout else {
        eprintln!(
            "note: timeouts: {}: the profile sets no routing.timeout.{}; skipped",
            run.label, t.name
        );
        return Ok(());
    };
    let limit = match &t.route.retries.or_mesh(&run.model.mesh.default_retries) {
        meshgen::model::RetryPolicy::Retry(r) => timeout.min(r.per_try_timeout),
        _ => timeout,
    };
    let limit_ms = limit.as_nanos() / 1_000_000;
    // The late request asks twice the limit, and a hop waits at most
    // `Misbehaviour::MAX_DELAY`.
    if limit_ms * 2 > Misbehaviour::MAX_DELAY.as_nanos() / 1_000_000 {
        eprintln!(
            "note: timeouts: {}: the limit ({limit}) is more than half the longest delay a hop \
             waits ({}); skipped",
            run.label,
            Misbehaviour::MAX_DELAY
        );
        return Ok(());
    }
    for (ms, late) in [(limit_ms / 2, false), (limit_ms * 2, true)] {
        let header = vec![("delay".to_owned(), format!("{}={ms}ms", t.name))];
        // A late request takes every try's timeout: a few of them say it.
        let outcome = run.load(url, &closed(8, 4, header)).await?;
        out.push(Finding {
            measure: "share of requests timed out".into(),
            plotted: true,
            series: "deployed".into(),
            expected: Some(if late { 1.0 } else { 0.0 }),
            tolerance: 0.0,
            measured: 1.0 - outcome.success_ratio(),
            requests: outcome.samples.len(),
            note: received(&outcome),
            ..run.finding(
                Experiment::Timeouts,
                format!(
                    "deployed mesh, limit {limit}, {} asked to wait {ms}ms",
                    t.name
                ),
                ms as f64,
            )
        });
    }
    Ok(())
}
