//! `load-balancing`: the target service with three pods, requests per pod
//! without a mesh (kube-proxy: one pod per connection) and with one (per
//! request, in the caller's proxy).

use std::collections::BTreeMap;

use super::{Experiment, Finding, Run, closed, target};
use crate::local::RetryMode;

const PODS: u32 = 3;
const REQUESTS: usize = 300;
/// Requests in flight: more than the pods, so that an HTTP/1.1 hop opens a
/// connection (and reaches a pod) for each.
const CONCURRENCY: usize = 6;

pub(super) async fn run(run: &Run<'_>, out: &mut Vec<Finding>) -> Result<(), String> {
    let name = target(run.model)?.0.name.clone();
    let mut model = run.model.clone();
    for s in model.services.iter_mut().filter(|s| s.name == name) {
        for w in &mut s.versions {
            w.replicas = PODS;
        }
    }
    let grpc = run.model.wire.protocol == meshgen::model::Protocol::Grpc;
    for (setting, mode) in [
        ("bare: kube-proxy, per connection", None),
        ("mesh: the caller's proxy, per request", Some(RetryMode::On)),
    ] {
        let mesh = run.mesh(model.clone(), mode, run.opts.clone()).await?;
        let outcome = run
            .load(&mesh, &closed(REQUESTS, CONCURRENCY, vec![]))
            .await?;
        drop(mesh);
        let mut per_pod: BTreeMap<&str, usize> = BTreeMap::new();
        for s in &outcome.samples {
            for (service, pod) in &s.pods {
                if *service == name {
                    *per_pod.entry(pod).or_default() += 1;
                }
            }
        }
        let total: usize = per_pod.values().sum();
        let busiest = per_pod.values().copied().max().unwrap_or(0);
        let note = per_pod
            .iter()
            .map(|(pod, n)| format!("{pod}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let x = if mode.is_some() { 1.0 } else { 0.0 };
        let bare = mode.is_none();
        // One HTTP/2 connection reaches one pod; HTTP/1.1 connections and
        // the mesh's per-request balancing reach them all.
        let reached = if bare && grpc { 1.0 } else { f64::from(PODS) };
        out.push(Finding {
            measure: format!("pods of {name} reached"),
            expected: Some(reached),
            tolerance: 0.0,
            measured: per_pod.len() as f64,
            requests: outcome.samples.len(),
            note: note.clone(),
            ..run.finding(Experiment::LoadBalancing, setting, x)
        });
        out.push(Finding {
            measure: format!("busiest pod's share of {name}'s requests"),
            plotted: true,
            // Without a mesh over HTTP/1.1 the share follows which pooled
            // connections the hop reuses: not predicted.
            expected: match (bare, grpc) {
                (true, true) => Some(1.0),
                (true, false) => None,
                (false, _) => Some(1.0 / f64::from(PODS)),
            },
            tolerance: if bare { 0.0 } else { 0.1 },
            measured: if total == 0 {
                0.0
            } else {
                busiest as f64 / total as f64
            },
            requests: outcome.samples.len(),
            note,
            ..run.finding(Experiment::LoadBalancing, setting, x)
        });
    }
    Ok(())
}
