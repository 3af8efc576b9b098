//! `meshgen compare --report FILE.html`: the comparison as one self-contained
//! page. Plots are plotters' SVG, inline; no script, style sheet, font or
//! image is fetched, so the page opens offline. Every measured point is
//! drawn as a circle and nothing else is (the browser test counts them).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::compare::{DEPLOYED, Percentiles, Row, expected_success, protocol_name};
use super::table::{cells, head};
use super::verdict::{sentence, wilson};

/// How the run was made, printed under the plots.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub meshgen: String,
    pub envoy: String,
    pub machine: String,
    /// "closed loop, 8 requests in flight" or "open loop, 500 requests/s".
    pub load: String,
    /// "300 requests per point" or "30 s per point".
    pub per_point: String,
    pub seconds: f64,
    /// The command line, as typed.
    pub command: String,
    /// When the comparison started (UTC).
    pub date: String,
    /// How meshgen was built (`release`, `debug`).
    pub meshgen_build: String,
    /// Where the hops are, and whether they are debug builds (`None`: unknown).
    pub hops: String,
    pub hops_debug: Option<bool>,
    /// The 1-minute load average before and after the comparison.
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    /// Latency runs per point of the latency plot.
    pub latency_runs: usize,
}

/// A latency of a run.
type Latency = fn(&Percentiles) -> f64;

/// Percentiles of the latency plot, with their labels.
const PERCENTILES: [(&str, Latency); 4] = [
    ("p50", |r| r.p50_ms),
    ("p90", |r| r.p90_ms),
    ("p99", |r| r.p99_ms),
    ("p99.9", |r| r.p999_ms),
];

pub(crate) const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// A series' name: the protocol when it tells the profiles apart, else the
/// profile's name.
fn who(rows: &[Row], r: &Row) -> String {
    let mut seen = BTreeMap::new();
    for x in rows {
        seen.entry(x.protocol)
            .or_insert_with(Vec::new)
            .push(&x.profile);
    }
    let unique = seen.values().all(|p| p.iter().all(|n| *n == p[0]));
    if unique {
        protocol_name(r.protocol).to_owned()
    } else {
        r.profile.clone()
    }
}

/// The series' owners in the order of the rows, each once.
fn owners(rows: &[Row]) -> Vec<String> {
    let mut o: Vec<String> = Vec::new();
    for r in rows {
        let w = who(rows, r);
        if !o.contains(&w) {
            o.push(w);
        }
    }
    o
}

/// The color of an owner's series, the same in every plot.
fn hue(owners: &[String], owner: &str) -> RGBColor {
    let i = owners.iter().position(|o| o == owner).unwrap_or(0);
    COLORS[i % COLORS.len()]
}

/// The whole page.
pub fn html(rows: &[Row], info: &RunInfo) -> Result<String, String> {
    let success = success_plot(rows)?;
    let latency = latency_plot(rows)?;
    let cost = cost_plot(rows)?;
    let proxies = proxies_plot(rows)?;
    let mut page = String::new();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>meshgen compare</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}\n\
         figure {{ margin: 2rem 0; }} figcaption {{ font-size: 0.9rem; color: #555; }}\n\
         table {{ border-collapse: collapse; font-size: 0.85rem; }}\n\
         td, th {{ border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }}\n\
         td:first-child, th:first-child, td:last-child {{ text-align: left; }}\n\
         td:last-child {{ font-size: 0.75rem; }}\n\
         </style>\n</head>\n<body>\n<h1>How Istio treats HTTP and gRPC</h1>\n\
         <p>Each hop of the chain fails a request with the probability on the x axis \
         (the <code>fail</code> header); Envoy, configured as istiod would from the profile, \
         retries as the profile says (<em>on</em>), not at all (<em>off</em>), or with \
         Istio's default policy (<em>default</em>).</p>\n"
    );
    page.push_str("<section id=\"verdict\">\n<h2>What it says</h2>\n<ul>\n");
    for line in verdicts(rows) {
        let _ = writeln!(page, "<li>{}</li>", esc(&line));
    }
    page.push_str(
        "</ul>\n<p>Expected: every hop fails on its own with probability p, and each retry \
         of a failed call is a new try; a point is as expected when that lies within the 95 % \
         binomial band (Wilson) of its measured ratio. Istio's default policy (a route without \
         <code>retries</code>) retries neither HTTP 500 nor gRPC INTERNAL, which is what each \
         hop answers here.</p>\n</section>\n",
    );
    let _ = write!(
        page,
        "<figure id=\"success\">\n{success}\n<figcaption>Success ratio against the failure \
         probability of each hop, measured (points) and expected (dashed: \
         (1&minus;p)<sup>hops</sup> without retries, (1&minus;p<sup>n+1</sup>)<sup>hops</sup> \
         with n retries of every failure); the bars are each point's 95 % binomial \
         band (Wilson), n = the requests of the point ({}).</figcaption>\n</figure>\n",
        info.per_point
    );
    let _ = write!(
        page,
        "<figure id=\"latency\">\n{latency}\n<figcaption>Latency percentiles at the lowest \
         fail of the sweep ({calm}), the chain alone (<em>bare</em>: hops calling each other) \
         and through the local mesh with the profile's retries (<em>mesh, retries on</em>: \
         the ingress gateway and a sidecar per pod, or ztunnel and the waypoint); the gap is what the \
         proxies add along the chain. {spread}{tail}</figcaption>\n</figure>\n",
        calm = rows.iter().map(|r| r.fail).fold(f64::INFINITY, f64::min),
        spread = if info.latency_runs > 1 {
            format!(
                "Each point is the median of n = {} runs ({}); its bar spans the lowest to \
                 the highest run. ",
                info.latency_runs, info.per_point
            )
        } else {
            format!("One run per point ({}). ", info.per_point)
        },
        tail = if rows.iter().any(|r| r.requests < 1000) {
            "With fewer than 1,000 requests a run's p99.9 is its slowest request."
        } else {
            ""
        },
    );
    let _ = write!(
        page,
        "<figure id=\"cost\">\n{cost}\n<figcaption>What retries cost: the p99 latency of each \
         protocol and mode against the failure probability of each hop (one run per point). \
         A retried call waits for every try it makes, so the tail grows with fail where the \
         retries work (<em>on</em>) and not where nothing is retried.</figcaption>\n</figure>\n"
    );
    if let Some(svg) = proxies {
        let _ = write!(
            page,
            "<figure id=\"proxies\">\n{svg}\n<figcaption>What each proxy costs \
             (<code>compare --cost</code>): CPU seconds per 1,000 requests (the same number as \
             vCPU per 1,000 requests per second) of the gateway, of every sidecar together \
             and per sidecar pass, of ztunnel and of the waypoint, with mutual TLS between the proxies \
             and without; dashed: {}'s published figure per sidecar. The latency the mesh adds \
             is in the table below (mesh minus bare).</figcaption>\n</figure>\n<pre>{}</pre>\n",
            esc(super::cost::ISTIO_SOURCE),
            esc(&super::table::cost_tables(rows))
        );
    }
    page.push_str("<h2>Every run</h2>\n<table>\n<tr>");
    for h in head() {
        let _ = write!(page, "<th>{h}</th>");
    }
    page.push_str("</tr>\n");
    for r in rows {
        page.push_str("<tr>");
        for c in cells(r) {
            let _ = write!(page, "<td>{}</td>", esc(&c));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n<h2>How this was measured</h2>\n<ul>\n");
    let hops = match info.hops_debug {
        Some(true) => format!(
            "{}: <strong>debug builds</strong>, whose latencies are several times a release \
             build's (cargo build --release --bins)",
            esc(&info.hops)
        ),
        Some(false) => format!("{}: release builds", esc(&info.hops)),
        None => format!("{} (build unknown)", esc(&info.hops)),
    };
    let load = |l: Option<f64>| l.map_or("unknown".to_owned(), |l| format!("{l:.2}"));
    for (k, v) in [
        ("command", format!("<code>{}</code>", esc(&info.command))),
        ("date", esc(&info.date)),
        (
            "meshgen",
            format!("{} ({} build)", esc(&info.meshgen), info.meshgen_build),
        ),
        ("hops", hops),
        ("Envoy", esc(&info.envoy)),
        ("machine", esc(&info.machine)),
        (
            "machine load",
            format!(
                "1-minute load average {} before, {} after",
                load(info.load_before),
                load(info.load_after)
            ),
        ),
        ("load", esc(&info.load)),
    ] {
        let _ = writeln!(page, "<li>{k}: {v}</li>");
    }
    let _ = writeln!(page, "<li>retry modes:<ul>");
    let mut seen = Vec::new();
    for r in rows {
        let key = (who(rows, r), r.retries.clone());
        if !seen.contains(&key) {
            let _ = writeln!(
                page,
                "<li>{} {}: {}</li>",
                esc(&key.0),
                esc(&key.1),
                esc(&r.policy)
            );
            seen.push(key);
        }
    }
    let _ = writeln!(page, "</ul></li>");
    let _ = writeln!(
        page,
        "<li>{}; the whole comparison took {:.0} s</li>\n\
         <li>latencies are recorded in HDR histograms (3 significant digits)</li>\n</ul>",
        esc(&info.per_point),
        info.seconds
    );
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

/// One sentence per series of the success plot, in the order of the rows.
fn verdicts(rows: &[Row]) -> Vec<String> {
    let mut series: Vec<(String, Vec<&Row>)> = Vec::new();
    for r in rows.iter().filter(|r| r.retries != "bare") {
        let name = format!("{} {}", who(rows, r), r.retries);
        match series.iter_mut().find(|(n, _)| *n == name) {
            Some((_, rs)) => rs.push(r),
            None => series.push((name, vec![r])),
        }
    }
    series.iter().map(|(name, rs)| sentence(name, rs)).collect()
}

/// Refuses a report path that could not be written, before anything runs
/// (a run takes minutes; its rows must not be lost to a typo at the end).
pub fn check_writable(path: &Path) -> Result<(), String> {
    let shown = path.display();
    if path.is_dir() {
        return Err(format!(
            "--report {shown}: a directory; give a file in it, e.g. --report {}",
            path.join("compare.html").display()
        ));
    }
    // Profiles and `--beside` rows are .toml and .json: a report by any
    // other name could overwrite one of the run's own inputs.
    let html = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    if !html {
        return Err(format!(
            "--report {shown}: not an .html file name (the report is one HTML page)"
        ));
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "--report {shown}: no directory {} (create it first: mkdir -p {})",
            parent.display(),
            parent.display()
        ));
    }
    // A device or a pipe would take the page only at the end, or never.
    if path.exists() && !path.is_file() {
        return Err(format!("--report {shown}: not a regular file"));
    }
    let writable = if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
    } else {
        tempfile::NamedTempFile::new_in(parent).map(drop)
    };
    writable.map_err(|e| format!("--report {shown}: cannot be written: {e}"))
}

fn success_plot(rows: &[Row]) -> Result<String, String> {
    let mut series: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut bands = Vec::new();
    for r in rows.iter().filter(|r| r.retries != "bare") {
        series
            .entry((who(rows, r), r.retries.clone()))
            .or_default()
            .push((r.fail, r.success_ratio));
        bands.push((who(rows, r), r.fail, wilson(r.success_ratio, r.requests)));
    }
    let x_max = rows.iter().map(|r| r.fail).fold(0.0, f64::max).max(0.05);
    let hops = rows.iter().map(|r| r.hops).max().unwrap_or(1);
    let attempts = rows.iter().filter_map(|r| r.attempts).max();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 460)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Success ratio vs failure probability per hop",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..x_max * 1.02, 0.0..1.02)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("fail probability of each hop")
            .y_desc("success ratio")
            .draw()
            .map_err(e)?;
        let grid: Vec<f64> = (0..=50).map(|i| x_max * f64::from(i) / 50.0).collect();
        let mut expected = vec![(format!("expected, no retries ({hops} hops)"), 0)];
        if let Some(n) = attempts {
            expected.push((format!("expected, {n} retries"), n));
        }
        for (i, (label, n)) in expected.into_iter().enumerate() {
            let line: Vec<(f64, f64)> = grid
                .iter()
                .map(|&p| (p, expected_success(p, hops, n)))
                .collect();
            let style = ShapeStyle::from(&BLACK.mix(0.35 + 0.3 * i as f64)).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(line, 6, 4, style))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        // One hue per profile or protocol; the retry mode is the line's dash.
        let owners = owners(rows);
        for (owner, x, (lo, hi)) in bands {
            let style = hue(&owners, &owner).mix(0.5).stroke_width(1);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    style,
                )))
                .map_err(e)?;
        }
        for ((owner, mode), mut points) in series {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let color = hue(&owners, &owner);
            let dash = mode_dash(&mode);
            measured(&mut chart, format!("{owner} {mode}"), &points, color, dash)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// The p99 latency of every series against `fail`.
fn cost_plot(rows: &[Row]) -> Result<String, String> {
    let mut series: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows {
        series
            .entry((who(rows, r), r.retries.clone()))
            .or_default()
            .push((r.fail, r.p99_ms));
    }
    let x_max = rows.iter().map(|r| r.fail).fold(0.0, f64::max).max(0.05);
    let y_max = rows.iter().map(|r| r.p99_ms).fold(0.1, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "p99 latency vs failure probability per hop",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.01..x_max * 1.02, 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("fail probability of each hop")
            .y_desc("p99 milliseconds")
            .draw()
            .map_err(e)?;
        let owners = owners(rows);
        for ((owner, mode), mut points) in series {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            measured(
                &mut chart,
                format!("{owner} {mode}"),
                &points,
                hue(&owners, &owner),
                mode_dash(&mode),
            )?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// `compare --cost`'s bars: per measured row (profile, mTLS on or off), the
/// CPU per 1,000 requests of the gateway, all sidecars, a sidecar pass,
/// ztunnel and the waypoint; Istio's published sidecar figure as a dashed line. `None`
/// without cost rows.
fn proxies_plot(rows: &[Row]) -> Result<Option<String>, String> {
    let measured: Vec<&Row> = rows.iter().filter(|r| !r.proxies.is_empty()).collect();
    if measured.is_empty() {
        return Ok(None);
    }
    type Bar = (&'static str, fn(&Row) -> Option<f64>);
    let bars: [Bar; 5] = [
        ("gateway", |r| role_cpu(r, "gateway")),
        ("sidecars, all", |r| role_cpu(r, "sidecar")),
        ("sidecar, per pass", super::table::per_pass),
        ("ztunnel", |r| role_cpu(r, "ztunnel")),
        ("waypoint", |r| role_cpu(r, "waypoint")),
    ];
    let istio_sidecar = super::cost::ISTIO[0].cpu_s_per_1000;
    let y_max = measured
        .iter()
        .flat_map(|r| bars.iter().filter_map(|(_, f)| f(r)))
        .fold(istio_sidecar, f64::max)
        * 1.2;
    let n = measured.len() as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("proxy CPU per 1,000 requests", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..y_max)
            .map_err(e)?;
        let labels: Vec<String> = measured
            .iter()
            .map(|r| {
                let mtls = match r.mtls {
                    Some(true) => "mTLS",
                    _ => "plain",
                };
                format!("{} {}", r.profile, mtls)
            })
            .collect();
        chart
            .configure_mesh()
            .x_labels(measured.len())
            .x_label_formatter(&|x| {
                let i = x.round();
                match (i - x).abs() < 0.01 && i >= 0.0 {
                    true => labels.get(i as usize).cloned().unwrap_or_default(),
                    false => String::new(),
                }
            })
            .y_desc("CPU seconds per 1,000 requests")
            .draw()
            .map_err(e)?;
        let width = 0.8 / bars.len() as f64;
        for (k, (name, value)) in bars.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let rects: Vec<Rectangle<(f64, f64)>> = measured
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let v = value(r)?;
                    let x0 = i as f64 - 0.4 + k as f64 * width;
                    Some(Rectangle::new(
                        [(x0, 0.0), (x0 + width * 0.9, v)],
                        color.filled(),
                    ))
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(e)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        let istio = vec![(-0.5, istio_sidecar), (n - 0.5, istio_sidecar)];
        chart
            .draw_series(DashedLineSeries::new(istio, 6, 4, BLACK.stroke_width(1)))
            .map_err(e)?
            .label("Istio 1.24, per sidecar")
            .legend(|(x, y)| DashedPathElement::new(vec![(x, y), (x + 18, y)], 6, 4, BLACK));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(e)?;
    }
    Ok(Some(svg))
}

/// The CPU per 1,000 requests of a row's proxies of `role`, together;
/// `None` when it has none.
fn role_cpu(r: &Row, role: &str) -> Option<f64> {
    let mut of_role = r.proxies.iter().filter(|p| p.role == role).peekable();
    of_role.peek()?;
    Some(of_role.map(|p| p.cpu_s_per_1000).sum())
}

/// A retry mode's line: solid for the profile's retries, dashed otherwise.
fn mode_dash(mode: &str) -> Option<(u32, u32)> {
    match mode {
        "on" | DEPLOYED => None,
        "off" => Some((8, 4)),
        "bare" => Some((12, 3)),
        _ => Some((2, 3)),
    }
}

fn latency_plot(rows: &[Row]) -> Result<String, String> {
    // The lowest failure probability measured; the profile's own retries.
    let calm = rows.iter().map(|r| r.fail).fold(f64::INFINITY, f64::min);
    // Per series and percentile: (median, lowest, highest) over the runs.
    let mut series: BTreeMap<(String, &str), Vec<Spread>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.fail == calm) {
        let kind = match r.retries.as_str() {
            "bare" => "bare",
            "on" => "mesh, retries on",
            DEPLOYED => "mesh, as deployed",
            _ => continue,
        };
        let values = PERCENTILES.iter().map(|(_, f)| spread(r, *f)).collect();
        series.insert((who(rows, r), kind), values);
    }
    let y_max = series
        .values()
        .flatten()
        .fold(0.0f64, |a, &(_, _, hi)| a.max(hi))
        .max(0.1)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 420)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Latency percentiles, without failures", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.3f64..3.3, 0.0..y_max)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|x| {
                let i = x.round();
                match PERCENTILES.get(i as usize) {
                    Some((name, _)) if (x - i).abs() < 1e-9 => (*name).to_owned(),
                    _ => String::new(),
                }
            })
            .y_desc("milliseconds")
            .draw()
            .map_err(e)?;
        let owners = owners(rows);
        for ((owner, kind), values) in series {
            let color = hue(&owners, &owner);
            let dash = (kind == "bare").then_some((8, 4));
            let offset = if kind == "bare" { -0.04 } else { 0.04 };
            for (j, &(_, lo, hi)) in values.iter().enumerate() {
                let x = j as f64 + offset;
                let style = color.mix(0.5).stroke_width(1);
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, lo), (x, hi)],
                        style,
                    )))
                    .map_err(e)?;
            }
            let points: Vec<(f64, f64)> = values
                .into_iter()
                .enumerate()
                .map(|(j, (median, _, _))| (j as f64 + offset, median))
                .collect();
            measured(&mut chart, format!("{owner} {kind}"), &points, color, dash)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// Median, lowest and highest of a latency over runs.
type Spread = (f64, f64, f64);

/// A latency of a row over its runs (the row's own value three times when
/// it ran once).
fn spread(r: &Row, f: Latency) -> Spread {
    let mut v: Vec<f64> = match r.latency_runs.as_slice() {
        [] => vec![f(&r.percentiles())],
        runs => runs.iter().map(f).collect(),
    };
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = match n % 2 {
        1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    };
    (median, v[0], v[n - 1])
}

pub(crate) type Chart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A measured series: its line (solid, or dashed as `dash` = (dash, gap)),
/// its legend entry, and a circle on every point.
pub(crate) fn measured(
    chart: &mut Chart<'_, '_>,
    name: String,
    points: &[(f64, f64)],
    color: RGBColor,
    dash: Option<(u32, u32)>,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<_>| format!("plot: {e}");
    let style = color.stroke_width(2);
    let (size, gap) = dash.unwrap_or((1, 0));
    let legend = move |(x, y): (i32, i32)| {
        DashedPathElement::new(vec![(x, y), (x + 18, y)], size, gap, style)
    };
    let line = match dash {
        None => chart.draw_series(LineSeries::new(points.to_vec(), style)),
        Some((size, gap)) => {
            chart.draw_series(DashedLineSeries::new(points.to_vec(), size, gap, style))
        }
    };
    line.map_err(e)?.label(name).legend(legend);
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
        .map_err(e)?;
    Ok(())
}

/// The legend box of a chart.
pub(crate) fn legend<'b, 'a: 'b>(
    chart: &mut Chart<'b, 'a>,
    at: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| format!("plot: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        assert!((expected_success(0.3, 3, 0) - 0.343).abs() < 1e-9);
        assert!((expected_success(0.3, 3, 3) - (1.0 - 0.3f64.powi(4)).powi(3)).abs() < 1e-12);
        assert_eq!(expected_success(0.0, 3, 0), 1.0);
    }
}
