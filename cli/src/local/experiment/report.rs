//! The experiments' page: per experiment a plot of its plotted figure (one
//! line per profile and variant, the expected figures as hollow squares),
//! what it shows and why the protocols differ, and every finding.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::prelude::*;

use super::{Experiment, Finding};
use crate::local::compare::protocol_name;
use crate::local::report::{COLORS, RunInfo, legend, measured};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The whole page.
pub fn html(findings: &[Finding], info: &RunInfo) -> Result<String, String> {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>meshgen compare --experiment</title>\n<style>\n\
         body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }\n\
         figure { margin: 2rem 0; } figcaption { font-size: 0.9rem; color: #555; }\n\
         table { border-collapse: collapse; font-size: 0.8rem; }\n\
         td, th { border: 1px solid #ccc; padding: 0.2rem 0.4rem; text-align: left; }\n\
         </style>\n</head>\n<body>\n<h1>What people bring gRPC into a mesh for</h1>\n\
         <p>Each experiment runs the local mesh (Envoys configured as istiod would) per \
         profile, changes only what it is about, and measures what the client received and \
         what the proxies counted, beside the figure the settings predict.</p>\n",
    );
    for e in Experiment::ALL {
        let mine: Vec<&Finding> = findings.iter().filter(|f| f.experiment == e).collect();
        if mine.is_empty() {
            continue;
        }
        let svg = plot(e, &mine)?;
        let _ = write!(
            page,
            "<section>\n<h2>{name}</h2>\n<figure id=\"{name}\">\n{svg}\n<figcaption>{why}\
             </figcaption>\n</figure>\n<table>\n<tr><th>profile</th><th>setting</th>\
             <th>measure</th><th>expected</th><th>measured</th><th>agrees</th><th>note</th></tr>\n",
            name = e.name(),
            why = esc(e.explanation()),
        );
        for f in mine {
            let _ = writeln!(
                page,
                "<tr><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td>\
                 <td>{}</td></tr>",
                esc(&f.profile),
                protocol_name(f.protocol),
                esc(&f.setting),
                esc(&f.measure),
                f.expected
                    .map_or("-".into(), |x| format!("{x:.3} ± {:.3}", f.tolerance)),
                f.measured,
                match f.agrees() {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                },
                esc(&f.note),
            );
        }
        page.push_str("</table>\n</section>\n");
    }
    page.push_str("<h2>How this was measured</h2>\n<ul>\n");
    for (k, v) in [
        ("command", format!("<code>{}</code>", esc(&info.command))),
        ("date", esc(&info.date)),
        (
            "meshgen",
            format!("{} ({} build)", esc(&info.meshgen), info.meshgen_build),
        ),
        ("hops", esc(&info.hops)),
        ("Envoy", esc(&info.envoy)),
        ("machine", esc(&info.machine)),
    ] {
        let _ = writeln!(page, "<li>{k}: {v}</li>");
    }
    let _ = writeln!(
        page,
        "<li>the experiments took {:.0} s</li>\n</ul>\n</body>\n</html>",
        info.seconds
    );
    Ok(page)
}

/// What the plot of `e` draws against.
fn x_desc(e: Experiment) -> &'static str {
    match e {
        Experiment::LoadBalancing => "0: bare (kube-proxy), 1: mesh",
        Experiment::CircuitBreaking => "requests in flight at the client",
        Experiment::OutlierDetection => "seconds since the load began",
        Experiment::Timeouts => "the target's delay (ms)",
        Experiment::Mirroring => "percent mirrored",
    }
}

fn plot(e: Experiment, findings: &[&Finding]) -> Result<String, String> {
    let plotted: Vec<&&Finding> = findings.iter().filter(|f| f.plotted).collect();
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut expected = Vec::new();
    for f in &plotted {
        let mut name = format!("{} ({})", f.profile, protocol_name(f.protocol));
        if !f.series.is_empty() {
            let _ = write!(name, ", {}", f.series);
        }
        series.entry(name).or_default().push((f.x, f.measured));
        if let Some(x) = f.expected {
            expected.push((f.x, x));
        }
    }
    let xs = plotted.iter().map(|f| f.x);
    let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (x_min, x_max) = if x_min.is_finite() {
        (x_min, x_max)
    } else {
        (0.0, 1.0)
    };
    let pad = ((x_max - x_min) * 0.05).max(0.1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        let err = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                plotted.first().map_or(e.name(), |f| f.measure.as_str()),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x_min - pad..x_max + pad, -0.02..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc(e))
            .y_desc("measured")
            .draw()
            .map_err(err)?;
        let hollow = BLACK.mix(0.6).stroke_width(1);
        chart
            .draw_series(expected.iter().map(|&p| {
                EmptyElement::at(p) + plotters::element::Rectangle::new([(-5, -5), (5, 5)], hollow)
            }))
            .map_err(err)?
            .label("expected")
            .legend(move |(x, y)| Rectangle::new([(x + 4, y - 4), (x + 12, y + 4)], hollow));
        for (i, (name, mut points)) in series.into_iter().enumerate() {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let dash = (i % 2 == 1).then_some((6, 4));
            measured(&mut chart, name, &points, COLORS[i % COLORS.len()], dash)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}
