//! `outlier-detection`: the target with three pods, one failing every
//! request; success over time as the calling proxies eject it, and the
//! ejections Envoy counted.

use std::collections::BTreeMap;
use std::time::Duration;

use contract::{Misbehaviour, Probability};
use meshgen::model::{DataPlane, OutlierDetection};

use super::{Experiment, Finding, Run, subset_stat, target};
use crate::local::load::Spec;
use crate::local::{Options, RetryMode};

const PODS: u32 = 3;
const RATE: f64 = 50.0;
const REQUESTS: usize = 200;
/// Failures in a row before a pod is ejected.
const CONSECUTIVE: u32 = 3;
/// The success plotted per window of this many seconds.
const WINDOW: f64 = 0.5;

pub(super) async fn run(run: &Run<'_>, out: &mut Vec<Finding>) -> Result<(), String> {
    let (t, caller) = target(run.model)?;
    let (name, caller_name) = (t.name.clone(), caller.name.clone());
    let mut model = run.model.clone();
    let mut failing = BTreeMap::new();
    for s in &mut model.services {
        // Only the chain's own traffic: no copies reaching the target too.
        s.route.mirror = None;
        if s.name != name {
            continue;
        }
        s.traffic.outlier_detection = Some(OutlierDetection {
            consecutive_5xx_errors: Some(CONSECUTIVE),
            consecutive_gateway_errors: None,
            interval: Some(contract::Duration::from_secs(1)),
            base_ejection_time: Some(contract::Duration::from_secs(30)),
            max_ejection_percent: Some(34),
        });
        let default = &s.route.split[0].subset;
        for w in s.versions.iter_mut().filter(|w| w.version == *default) {
            w.replicas = PODS;
            let fail = Misbehaviour {
                fail: Probability::ALWAYS,
                ..Misbehaviour::NONE
            };
            failing.insert(localmesh::plan::pod_name(w, 0), fail);
        }
    }
    let bad = failing.keys().next().cloned().unwrap_or_default();
    let opts = Options {
        misbehaviour: failing,
        ..run.opts.clone()
    };
    // Retries off, so that every failure reaches the client.
    let mesh = run
        .cold_mesh(model.clone(), Some(RetryMode::Off), opts)
        .await?;
    let spec = Spec {
        requests: REQUESTS,
        concurrency: 16,
        headers: vec![],
        timeout: Duration::from_secs(30),
        rate: Some(RATE),
        duration: None,
    };
    let outcome = run.load(&mesh.url(), &spec).await?;
    let mut ejections = 0;
    let default = model
        .service(&name)
        .map(|s| s.route.split[0].subset.clone());
    if let Some(subset) = default {
        ejections = mesh
            .cluster_stat(
                &subset_stat(&model, &name, &subset),
                ".outlier_detection.ejections_enforced_total",
            )
            .await?;
    }
    drop(mesh);
    // The proxies that call the target, each ejecting on its own: the
    // caller's pods' sidecars, or the one waypoint.
    let callers = match model.mesh.data_plane {
        DataPlane::Ambient => 1,
        DataPlane::Sidecar => model
            .service(&caller_name)
            .and_then(|c| {
                c.versions
                    .iter()
                    .find(|w| Some(&w.version) == c.route.split.first().map(|s| &s.subset))
            })
            .map_or(1, |w| w.replicas),
    };
    let samples = &outcome.samples;
    let failed = samples.len() - outcome.successes();
    let half = &samples[samples.len() / 2..];
    let late = half.iter().filter(|s| s.ok).count() as f64 / half.len().max(1) as f64;
    let setting = format!("{bad} fails every request; {CONSECUTIVE} in a row eject it");
    let finding = |measure: &str, expected, tolerance, measured, note: String| Finding {
        measure: measure.to_owned(),
        expected,
        tolerance,
        measured,
        requests: samples.len(),
        note,
        ..run.finding(Experiment::OutlierDetection, setting.clone(), 0.0)
    };
    out.push(finding(
        "ejections",
        Some(f64::from(callers)),
        0.0,
        ejections as f64,
        "Envoy's outlier_detection.ejections_enforced_total over the calling proxies".into(),
    ));
    out.push(finding(
        "requests failed before the ejection",
        Some(f64::from(CONSECUTIVE * callers)),
        f64::from(callers),
        failed as f64,
        format!("answers: {:?}", outcome.answers(run.model.wire.protocol)),
    ));
    out.push(finding(
        "success over the second half",
        Some(1.0),
        0.0,
        late,
        String::new(),
    ));
    // Success per window over time, for the plot.
    let mut windows: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for s in samples {
        let w = (s.due.as_secs_f64() / WINDOW) as u64;
        let e = windows.entry(w).or_default();
        e.0 += usize::from(s.ok);
        e.1 += 1;
    }
    for (w, (ok, n)) in windows {
        out.push(Finding {
            x: w as f64 * WINDOW,
            plotted: true,
            ..finding(
                "success per half second",
                None,
                0.0,
                ok as f64 / n as f64,
                format!("{ok} of {n}"),
            )
        });
    }
    Ok(())
}
