//! `compare`'s rows for people: the terminal table (what every row shares
//! said once), the report's full table, and CSV.

use super::compare::{Row, data_plane_name, expected, protocol_name, routing_api_name};
use super::cost::{ISTIO, ISTIO_ADDED_LATENCY, ISTIO_SOURCE, ProxyCost};

fn is_bare(r: &Row) -> bool {
    r.retries == "bare"
}

type Cell = fn(&Row) -> String;

/// Every column for people to read: its heading and its cell.
const COLUMNS: [(&str, Cell); 16] = [
    ("profile", |r| r.profile.clone()),
    ("protocol", |r| protocol_name(r.protocol).into()),
    // A bare row has no mesh: neither routes nor proxies.
    ("routes", |r| match is_bare(r) {
        true => "-".into(),
        false => routing_api_name(r.routing_api).into(),
    }),
    ("data plane", |r| match is_bare(r) {
        true => "-".into(),
        false => data_plane_name(r.data_plane).into(),
    }),
    ("mtls", |r| mtls_text(r.mtls).into()),
    ("retries", |r| r.retries.clone()),
    ("fail", |r| format!("{:.2}", r.fail)),
    ("success", |r| format!("{:.3}", r.success_ratio)),
    ("expected", |r| format!("{:.3}", expected(r))),
    ("req/s", |r| format!("{:.0}", r.requests_per_second)),
    ("p50 ms", |r| format!("{:.2}", r.p50_ms)),
    ("p90 ms", |r| format!("{:.2}", r.p90_ms)),
    ("p99 ms", |r| format!("{:.2}", r.p99_ms)),
    ("envoy retries", |r| match (is_bare(r), r.envoy_retries) {
        (false, Some(n)) => n.to_string(),
        _ => "-".into(),
    }),
    ("answers", answers_text),
    ("versions", |r| r.versions.clone()),
];

fn mtls_text(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "on",
        Some(false) => "off",
        None => "-",
    }
}

/// The answers by code, most first: `200: 976, 500: 24`.
fn answers_text(r: &Row) -> String {
    let mut counts: Vec<(&String, &usize)> = r.answers.iter().collect();
    counts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    counts
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The report's headings (every column).
pub fn head() -> Vec<&'static str> {
    COLUMNS.iter().map(|(h, _)| *h).collect()
}

/// A row's cells under [`head`].
pub fn cells(r: &Row) -> Vec<String> {
    COLUMNS.iter().map(|(_, cell)| cell(r)).collect()
}

/// Columns the terminal table says once, above it, when every row (bare rows
/// aside, which have no mesh) holds the same value.
const SAID_ONCE: [&str; 5] = ["protocol", "routes", "data plane", "mtls", "fail"];
/// Columns the terminal table leaves to --json, --csv and the report.
const LEFT_OUT: [&str; 3] = ["p90 ms", "answers", "versions"];

/// The table for a terminal: what every row shares said once above it, the
/// versions that answered once below it, aligned columns between.
pub fn table(rows: &[Row]) -> String {
    let meshed: Vec<&Row> = rows.iter().filter(|r| !is_bare(r)).collect();
    let mut shared = Vec::new();
    let mut shown = Vec::new();
    for (heading, cell) in COLUMNS {
        if LEFT_OUT.contains(&heading) {
            continue;
        }
        let values: Vec<String> = meshed.iter().map(|r| cell(r)).collect();
        if SAID_ONCE.contains(&heading)
            && !values.is_empty()
            && values.iter().all(|v| *v == values[0])
        {
            shared.push(format!("{heading} {}", values[0]));
            continue;
        }
        shown.push((heading, cell));
    }
    let mut lines: Vec<Vec<String>> = vec![shown.iter().map(|(h, _)| h.to_string()).collect()];
    lines.extend(
        rows.iter()
            .map(|r| shown.iter().map(|(_, cell)| cell(r)).collect()),
    );
    let mut out = String::new();
    if !shared.is_empty() {
        out.push_str(&format!("{}\n", shared.join(", ")));
    }
    out.push_str(&aligned(&lines));
    out.push_str(&versions_once(rows));
    out
}

/// The versions that answered, once: one line when every row saw the same,
/// else one per set with the rows that saw it.
fn versions_once(rows: &[Row]) -> String {
    let mut sets: Vec<(&str, Vec<String>)> = Vec::new();
    for r in rows {
        let who = format!("{} {} at fail {}", r.profile, r.retries, r.fail);
        match sets.iter_mut().find(|(v, _)| *v == r.versions) {
            Some((_, w)) => w.push(who),
            None => sets.push((&r.versions, vec![who])),
        }
    }
    match sets.as_slice() {
        [] => String::new(),
        [(v, _)] => format!("versions that answered: {v}\n"),
        _ => sets
            .iter()
            .map(|(v, who)| format!("versions {v}: {}\n", who.join(", ")))
            .collect(),
    }
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a
/// line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The rows as CSV (RFC 4180), one header line then one line per row.
pub fn csv(rows: &[Row]) -> String {
    let field = csv_field;
    let mut out = String::from(
        "profile,protocol,routing_api,data_plane,retries,fail,requests,success_ratio,\
         requests_per_second,p50_ms,p90_ms,p99_ms,p999_ms,envoy_retries,versions,answers,\
         mtls,proxies_cpu_s_per_1000,proxies_peak_rss_mib\n",
    );
    for r in rows {
        let cells = [
            field(&r.profile),
            protocol_name(r.protocol).to_owned(),
            routing_api_name(r.routing_api).to_owned(),
            data_plane_name(r.data_plane).to_owned(),
            field(&r.retries),
            r.fail.to_string(),
            r.requests.to_string(),
            format!("{:.4}", r.success_ratio),
            format!("{:.1}", r.requests_per_second),
            format!("{:.3}", r.p50_ms),
            format!("{:.3}", r.p90_ms),
            format!("{:.3}", r.p99_ms),
            format!("{:.3}", r.p999_ms),
            r.envoy_retries.map_or(String::new(), |n| n.to_string()),
            field(&r.versions),
            field(&answers_text(r)),
            r.mtls
                .map_or(String::new(), |m| mtls_text(Some(m)).to_owned()),
            sum_of(&r.proxies, |p| p.cpu_s_per_1000),
            sum_of(&r.proxies, |p| p.peak_rss_mib),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A sum over every proxy of a row, empty when none was measured.
fn sum_of(proxies: &[ProxyCost], f: fn(&ProxyCost) -> f64) -> String {
    match proxies.is_empty() {
        true => String::new(),
        false => format!("{:.3}", proxies.iter().map(f).sum::<f64>()),
    }
}

/// The sidecars' CPU seconds per 1,000 passes (what Istio's per-sidecar
/// figure counts: one request through one proxy).
pub fn per_pass(r: &Row) -> Option<f64> {
    let passes = r.sidecar_passes.filter(|p| *p > 0)?;
    let sidecars = r.proxies.iter().filter(|p| p.role == "sidecar");
    Some(sidecars.map(|p| p.cpu_s_per_1000).sum::<f64>() / f64::from(passes))
}

/// The same point without a mesh: the bare row of the profile.
fn bare_of<'a>(rows: &'a [Row], r: &Row) -> Option<&'a Row> {
    rows.iter()
        .find(|b| is_bare(b) && b.profile == r.profile && b.fail == r.fail)
}

/// `compare --cost`'s two tables: each proxy's CPU per 1,000 requests and
/// peak memory, Istio's published figures above; then the latency the mesh
/// adds over the bare chain. Empty when no row has proxy costs.
pub fn cost_tables(rows: &[Row]) -> String {
    let measured: Vec<&Row> = rows.iter().filter(|r| !r.proxies.is_empty()).collect();
    if measured.is_empty() {
        return String::new();
    }
    let istio: Vec<String> = ISTIO
        .iter()
        .map(|p| {
            format!(
                "{} {:.2} s, {:.0} MB",
                p.role, p.cpu_s_per_1000, p.memory_mb
            )
        })
        .collect();
    let mut proxies = vec![vec![
        "profile".to_owned(),
        "protocol".into(),
        "mtls".into(),
        "proxy".into(),
        "cpu s / 1000 req".into(),
        "peak MiB".into(),
    ]];
    for r in &measured {
        for p in &r.proxies {
            proxies.push(vec![
                r.profile.clone(),
                protocol_name(r.protocol).into(),
                mtls_text(r.mtls).into(),
                p.proxy.clone(),
                format!("{:.3}", p.cpu_s_per_1000),
                format!("{:.1}", p.peak_rss_mib),
            ]);
        }
    }
    let mut added = vec![vec![
        "profile".to_owned(),
        "protocol".into(),
        "data plane".into(),
        "mtls".into(),
        "req/s".into(),
        "+p50 ms".into(),
        "+p90 ms".into(),
        "+p99 ms".into(),
        "sidecar cpu s / 1000 passes".into(),
    ]];
    for r in &measured {
        let Some(b) = bare_of(rows, r) else { continue };
        added.push(vec![
            r.profile.clone(),
            protocol_name(r.protocol).into(),
            data_plane_name(r.data_plane).into(),
            mtls_text(r.mtls).into(),
            format!("{:.0}", r.requests_per_second),
            format!("{:.2}", r.p50_ms - b.p50_ms),
            format!("{:.2}", r.p90_ms - b.p90_ms),
            format!("{:.2}", r.p99_ms - b.p99_ms),
            per_pass(r).map_or("-".into(), |c| format!("{c:.3}")),
        ]);
    }
    format!(
        "\nwhat each proxy costs (CPU seconds per 1,000 requests = vCPU per 1,000 req/s)\n\
         {ISTIO_SOURCE}: {}\n{}\nlatency the mesh adds (mesh minus bare, same open-loop rate)\n\
         {ISTIO_ADDED_LATENCY}\n{}",
        istio.join("; "),
        aligned(&proxies),
        aligned(&added)
    )
}

/// Lines of cells as columns padded to their widest cell, two spaces apart.
pub fn aligned(lines: &[Vec<String>]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    lines
        .iter()
        .map(|l| {
            let cells: Vec<String> = l
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::compare::expected_success;
    use meshgen::model::{DataPlane, Protocol, RoutingApi};
    use std::collections::BTreeMap;

    #[test]
    fn rows_serialize_with_the_promised_keys() {
        let row = Row {
            profile: "demo".into(),
            protocol: Protocol::Grpc,
            routing_api: RoutingApi::GatewayApi,
            data_plane: DataPlane::Ambient,
            retries: "default".into(),
            fail: 0.3,
            requests: 10,
            success_ratio: 0.5,
            requests_per_second: 1.0,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms: 3.0,
            p999_ms: 4.0,
            hops: 3,
            attempts: Some(3),
            envoy_retries: Some(4),
            versions: "a:prod".into(),
            latency_runs: vec![],
            answers: BTreeMap::from([("200".into(), 5), ("500".into(), 5)]),
            mtls: Some(false),
            proxies: Vec::new(),
            sidecar_passes: None,
            policy: String::new(),
        };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["protocol"], "grpc");
        assert_eq!(v["retries"], "default");
        assert_eq!(v["routing_api"], "gateway-api");
        assert_eq!(v["data_plane"], "ambient");
        assert_eq!(v["success_ratio"], 0.5);
        let bare = Row {
            retries: "bare".into(),
            ..row.clone()
        };
        let text = table(&[row.clone(), bare]);
        let lines: Vec<&str> = text.lines().collect();
        // Said once: what every row with a mesh shares.
        assert_eq!(
            lines[0],
            "protocol grpc, routes gateway-api, data plane ambient, mtls off, fail 0.30"
        );
        assert!(
            lines[2].contains("default") && lines[2].contains("0.343"),
            "{text}"
        );
        assert!(
            !lines[3].contains("ambient"),
            "a bare row has no mesh: {text}"
        );
        assert_eq!(lines[4], "versions that answered: a:prod");
        assert_eq!(expected(&row), expected_success(0.3, 3, 0));
        let on = Row {
            retries: "on".into(),
            ..row
        };
        assert_eq!(expected(&on), expected_success(0.3, 3, 3));
    }

    #[test]
    fn cost_tables_subtract_the_bare_row() {
        let row = |retries: &str, p90: f64, proxies: Vec<ProxyCost>| Row {
            profile: "demo".into(),
            protocol: Protocol::Http,
            routing_api: RoutingApi::Istio,
            data_plane: DataPlane::Sidecar,
            retries: retries.into(),
            fail: 0.0,
            requests: 100,
            success_ratio: 1.0,
            requests_per_second: 100.0,
            p50_ms: p90 / 2.0,
            p90_ms: p90,
            p99_ms: p90 * 2.0,
            p999_ms: p90 * 3.0,
            hops: 3,
            attempts: None,
            envoy_retries: None,
            versions: String::new(),
            latency_runs: vec![],
            answers: BTreeMap::new(),
            mtls: (retries != "bare").then_some(true),
            proxies,
            sidecar_passes: Some(6),
            policy: String::new(),
        };
        let sidecar = ProxyCost {
            proxy: "sidecar backend-prod-0".into(),
            role: "sidecar".into(),
            cpu_s_per_1000: 0.25,
            peak_rss_mib: 40.0,
        };
        assert_eq!(cost_tables(&[row("on", 3.0, vec![])]), "");
        let text = cost_tables(&[row("on", 3.0, vec![sidecar]), row("bare", 1.0, vec![])]);
        assert!(text.contains("sidecar 0.20 s, 60 MB"), "{text}");
        assert!(text.contains("sidecar backend-prod-0  0.250"), "{text}");
        // +p50 1.00, +p90 2.00, +p99 4.00.
        assert!(text.contains("1.00     2.00     4.00"), "{text}");
        // One sidecar measured over six passes a request.
        assert!(text.contains("0.042"), "{text}");
        let csv = csv(&[row("on", 3.0, vec![]), row("bare", 1.0, vec![])]);
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .ends_with(",mtls,proxies_cpu_s_per_1000,proxies_peak_rss_mib")
        );
    }
}
