//! `circuit-breaking`: Istio's circuit-breaking task on the target service
//! (1 connection, 1 pending request, 1 request per connection), then the
//! same without the per-connection limit; the share of requests the caller's
//! proxy refuses, against the client's concurrency.

use std::collections::BTreeMap;

use contract::{Duration, Misbehaviour};
use meshgen::model::{ConnectionPool, Model};

use super::{Experiment, Finding, Run, closed, subset_stat, target};
use crate::local::{Options, RetryMode};

const CONCURRENCY: [usize; 4] = [1, 2, 4, 8];
const REQUESTS: usize = 100;
/// How long the target holds each request: long enough for the next ones
/// to find its connection busy.
const HOLD: Duration = Duration::from_millis(50);

pub(super) async fn run(run: &Run<'_>, out: &mut Vec<Finding>) -> Result<(), String> {
    let name = target(run.model)?.0.name.clone();
    let h2 = run.model.wire.protocol == meshgen::model::Protocol::Grpc;
    let variants = [
        (
            "Istio's task: 1 connection, 1 pending, 1 request per connection",
            Some(1),
        ),
        ("1 connection, 1 pending", None),
    ];
    for (variant, per_connection) in variants {
        let mut model = run.model.clone();
        let mut hold = BTreeMap::new();
        for s in model.services.iter_mut().filter(|s| s.name == name) {
            // One pod, as in Istio's task: Envoy opens at least one
            // connection per pod and worker, whatever the limit.
            for w in &mut s.versions {
                w.replicas = 1;
            }
            s.traffic.connection_pool = Some(ConnectionPool {
                max_connections: Some(1),
                http1_max_pending_requests: Some(1),
                http2_max_requests: None,
                max_requests_per_connection: per_connection,
            });
            for w in &s.versions {
                for r in 0..w.replicas {
                    let delay = Misbehaviour {
                        delay: HOLD,
                        ..Misbehaviour::NONE
                    };
                    hold.insert(localmesh::plan::pod_name(w, r), delay);
                }
            }
        }
        let opts = Options {
            misbehaviour: hold,
            ..run.opts.clone()
        };
        // Retries off: an overflow retried would hide it.
        let mesh = run.mesh(model.clone(), Some(RetryMode::Off), opts).await?;
        for c in CONCURRENCY {
            let overflow = overflows(&mesh, &model, &name).await?;
            let outcome = run.load(&mesh.url(), &closed(REQUESTS, c, vec![])).await?;
            let refused = overflows(&mesh, &model, &name).await? - overflow;
            out.push(Finding {
                measure: format!("share of requests refused on the way to {name}"),
                plotted: true,
                series: variant.to_owned(),
                // One request at a time always finds the connection free;
                // and without a per-connection limit HTTP/2 multiplexes
                // every request on its one connection: nothing waits.
                expected: (c == 1 || (per_connection.is_none() && h2)).then_some(0.0),
                tolerance: 0.02,
                measured: 1.0 - outcome.success_ratio(),
                requests: outcome.samples.len(),
                note: format!(
                    "{variant}; the caller's proxy counted {refused} overflows; answers: {:?}",
                    outcome.answers(run.model.wire.protocol)
                ),
                ..run.finding(
                    Experiment::CircuitBreaking,
                    format!("{variant}: concurrency {c}"),
                    c as f64,
                )
            });
        }
    }
    Ok(())
}

/// Requests the proxies refused towards `service` so far: no connection
/// and no pending slot left, or no request slot.
async fn overflows(mesh: &crate::local::Mesh, m: &Model, service: &str) -> Result<u64, String> {
    let mut n = 0;
    for s in &m.services {
        if s.name != service {
            continue;
        }
        for w in &s.versions {
            let cluster = subset_stat(m, service, &w.version);
            n += mesh
                .cluster_stat(&cluster, ".upstream_rq_pending_overflow")
                .await?;
        }
    }
    Ok(n)
}

/// On a deployed mesh, the profile's own connection pool on the target;
/// the target holds each request by the `delay` header.
pub(super) async fn deployed(
    run: &Run<'_>,
    url: &str,
    out: &mut Vec<Finding>,
) -> Result<(), String> {
    let t = target(run.model)?.0;
    let Some(pool) = &t.traffic.connection_pool else {
        eprintln!(
            "note: circuit-breaking: {}: the profile sets no routing.connection_pool.{}; skipped",
            run.label, t.name
        );
        return Ok(());
    };
    let hold = vec![("delay".to_owned(), format!("{}={HOLD}", t.name))];
    for c in CONCURRENCY {
        let outcome = run.load(url, &closed(REQUESTS, c, hold.clone())).await?;
        out.push(Finding {
            measure: format!("share of requests refused on the way to {}", t.name),
            plotted: true,
            series: "deployed".into(),
            expected: (c == 1).then_some(0.0),
            tolerance: 0.02,
            measured: 1.0 - outcome.success_ratio(),
            requests: outcome.samples.len(),
            note: format!(
                "the profile's pool {pool:?}; answers: {:?}",
                outcome.answers(run.model.wire.protocol)
            ),
            ..run.finding(
                Experiment::CircuitBreaking,
                format!("deployed mesh, the profile's pool: concurrency {c}"),
                c as f64,
            )
        });
    }
    Ok(())
}
