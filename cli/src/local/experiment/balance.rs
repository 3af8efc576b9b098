//! `load-balancing`: the target service with three pods, requests per pod
//! without a mesh (kube-proxy: one pod per connection) and with one (per
//! request, in the caller's proxy); on a deployed mesh, its own pods.

use std::collections::BTreeMap;

use super::{Experiment, Finding, Run, closed, target};
use crate::local::RetryMode;
use crate::local::load::Outcome;
use meshgen::model::Protocol;

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
    let grpc = run.model.wire.protocol == Protocol::Grpc;
    for (setting, mode) in [
        ("bare: kube-proxy, per connection", None),
        ("mesh: the caller's proxy, per request", Some(RetryMode::On)),
    ] {
        let mesh = run.mesh(model.clone(), mode, run.opts.clone()).await?;
        let outcome = run
            .load(&mesh.url(), &closed(REQUESTS, CONCURRENCY, vec![]))
            .await?;
        drop(mesh);
        let bare = mode.is_none();
        // One HTTP/2 connection reaches one pod; HTTP/1.1 connections and
        // the mesh's per-request balancing reach them all. Without a mesh
        // over HTTP/1.1 the busiest share follows which pooled connections
        // the hop reuses: not predicted.
        let (reached, busiest) = match (bare, grpc) {
            (true, true) => (1, Some(1.0)),
            (true, false) => (PODS, None),
            (false, _) => (PODS, Some(1.0 / f64::from(PODS))),
        };
        let x = if bare { 0.0 } else { 1.0 };
        out.extend(spread(run, &name, &outcome, setting, x, reached, busiest));
    }
    Ok(())
}

/// On a deployed mesh: the requests per pod of the target's default
/// version, as many pods as the profile deploys, each its share.
pub(super) async fn deployed(
    run: &Run<'_>,
    url: &str,
    out: &mut Vec<Finding>,
) -> Result<(), String> {
    let t = target(run.model)?.0;
    let pods = t
        .versions
        .iter()
        .find(|w| Some(&w.version) == t.route.split.first().map(|s| &s.subset))
        .map_or(1, |w| w.replicas);
    let outcome = run
        .load(url, &closed(REQUESTS, CONCURRENCY, vec![]))
        .await?;
    let setting = "deployed mesh: the caller's proxy, per request";
    let even = 1.0 / f64::from(pods);
    out.extend(spread(
        run,
        &t.name,
        &outcome,
        setting,
        1.0,
        pods,
        Some(even),
    ));
    Ok(())
}

/// The findings of one run: the target's pods reached, and the busiest
/// one's share, each answer naming its pod.
fn spread(
    run: &Run<'_>,
    name: &str,
    outcome: &Outcome,
    setting: &str,
    x: f64,
    reached: u32,
    busiest: Option<f64>,
) -> [Finding; 2] {
    let mut per_pod: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &outcome.samples {
        for (service, pod) in &s.pods {
            if service == name {
                *per_pod.entry(pod).or_default() += 1;
            }
        }
    }
    let total: usize = per_pod.values().sum();
    let most = per_pod.values().copied().max().unwrap_or(0);
    let note = match per_pod.is_empty() {
        true => "no answer named a pod (POD_NAME unset?)".to_owned(),
        false => per_pod
            .iter()
            .map(|(pod, n)| format!("{pod}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let finding = |measure: String| Finding {
        measure,
        requests: outcome.samples.len(),
        note: note.clone(),
        ..run.finding(Experiment::LoadBalancing, setting, x)
    };
    [
        Finding {
            expected: Some(f64::from(reached)),
            measured: per_pod.len() as f64,
            ..finding(format!("pods of {name} reached"))
        },
        Finding {
            plotted: true,
            expected: busiest,
            tolerance: if busiest == Some(1.0) { 0.0 } else { 0.1 },
            measured: if total == 0 {
                0.0
            } else {
                most as f64 / total as f64
            },
            ..finding(format!("busiest pod's share of {name}'s requests"))
        },
    ]
}
