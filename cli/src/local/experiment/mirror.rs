//! `mirroring`: a share of a service's traffic copied to its other version,
//! which fails every copy; the share the mirror received, and the callers'
//! success.

use std::collections::BTreeMap;

use contract::{Misbehaviour, Probability};
use meshgen::model::Mirror;

use super::{Experiment, Finding, Run, closed, subset_stat};
use crate::local::{Options, RetryMode};

const PERCENTS: [f64; 2] = [20.0, 50.0];
const REQUESTS: usize = 300;

pub(super) async fn run(run: &Run<'_>, out: &mut Vec<Finding>) -> Result<(), String> {
    let s = run
        .model
        .services
        .iter()
        .find(|s| s.versions.len() > 1)
        .ok_or("mirroring needs a service with two versions (the demo's middleware has prod and canary)")?;
    let (name, live) = (s.name.clone(), s.route.split[0].subset.clone());
    let shadow = s
        .versions
        .iter()
        .map(|w| w.version.clone())
        .find(|v| *v != live)
        .expect("two versions");
    let mut failing = BTreeMap::new();
    for w in s.versions.iter().filter(|w| w.version == shadow) {
        for r in 0..w.replicas {
            let fail = Misbehaviour {
                fail: Probability::ALWAYS,
                ..Misbehaviour::NONE
            };
            failing.insert(localmesh::plan::pod_name(w, r), fail);
        }
    }
    for percent in PERCENTS {
        let mut model = run.model.clone();
        for s in &mut model.services {
            s.route.mirror = (s.name == name).then(|| Mirror {
                subset: shadow.clone(),
                percent,
            });
        }
        let opts = Options {
            misbehaviour: failing.clone(),
            ..run.opts.clone()
        };
        let mesh = run.mesh(model.clone(), Some(RetryMode::Off), opts).await?;
        let cluster = subset_stat(&model, &name, &shadow);
        let before = mesh.cluster_stat(&cluster, ".upstream_rq_total").await?;
        let outcome = run.load(&mesh.url(), &closed(REQUESTS, 4, vec![])).await?;
        let copies = mesh.cluster_stat(&cluster, ".upstream_rq_total").await? - before;
        drop(mesh);
        let sent = outcome.samples.len();
        let setting = format!("{percent}% of {name} mirrored to {shadow}, which fails every copy");
        out.push(Finding {
            measure: format!("share of {name}'s requests copied to {shadow}"),
            plotted: true,
            expected: Some(percent / 100.0),
            tolerance: 0.1,
            measured: copies as f64 / sent.max(1) as f64,
            requests: sent,
            note: format!("{copies} copies counted by the proxies"),
            ..run.finding(Experiment::Mirroring, setting.clone(), percent)
        });
        out.push(Finding {
            measure: "callers' success".into(),
            expected: Some(1.0),
            tolerance: 0.0,
            measured: outcome.success_ratio(),
            requests: sent,
            note: format!("answers: {:?}", outcome.answers(run.model.wire.protocol)),
            ..run.finding(Experiment::Mirroring, setting, percent)
        });
    }
    Ok(())
}
