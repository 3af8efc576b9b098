//! The findings for people (a table per experiment) and for programs (CSV;
//! JSON is their serde form).

use std::fmt::Write as _;

use super::{Experiment, Finding};
use crate::local::compare::{data_plane_name, protocol_name};

/// One block per experiment: a line per finding, the verdict last.
pub fn table(findings: &[Finding]) -> String {
    let mut out = String::new();
    for e in Experiment::ALL {
        // The outlier experiment's success per window is for the plot.
        let window = |f: &Finding| f.experiment == Experiment::OutlierDetection && f.plotted;
        let mine: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.experiment == e && !window(f))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", e.name());
        for f in mine {
            let expected = f.expected.map_or("not predicted".to_owned(), |x| {
                format!("expected {x:.3} ± {:.3}", f.tolerance)
            });
            let verdict = match f.agrees() {
                Some(true) => "ok",
                Some(false) => "DIFFERS",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {} ({}) | {} | {}: {:.3} ({expected}) {verdict}",
                f.profile,
                protocol_name(f.protocol),
                f.setting,
                f.measure,
                f.measured,
            );
            if !f.note.is_empty() {
                let _ = writeln!(out, "      {}", f.note);
            }
        }
    }
    out
}

/// RFC 4180: a header line, then a line per finding.
pub fn csv(findings: &[Finding]) -> String {
    let field = crate::local::table::csv_field;
    let mut out = String::from(
        "experiment,profile,protocol,data_plane,setting,x,measure,expected,tolerance,measured,\
         agrees,requests,note\n",
    );
    for f in findings {
        let cells = [
            f.experiment.name().to_owned(),
            field(&f.profile),
            protocol_name(f.protocol).to_owned(),
            data_plane_name(f.data_plane).to_owned(),
            field(&f.setting),
            f.x.to_string(),
            field(&f.measure),
            f.expected.map_or(String::new(), |x| x.to_string()),
            f.tolerance.to_string(),
            format!("{:.4}", f.measured),
            f.agrees().map_or(String::new(), |a| a.to_string()),
            f.requests.to_string(),
            field(&f.note),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
