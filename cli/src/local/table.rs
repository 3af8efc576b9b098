//! `compare`'s rows for people: the terminal table (what every row shares
//! said once), the report's full table, and CSV.

use super::compare::{Row, data_plane_name, expected, protocol_name, routing_api_name};

fn is_bare(r: &Row) -> bool {
    r.retries == "bare"
}

type Cell = fn(&Row) -> String;

/// Every column for people to read: its heading and its cell.
const COLUMNS: [(&str, Cell); 15] = [
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
const SAID_ONCE: [&str; 4] = ["protocol", "routes", "data plane", "fail"];
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
    let widths: Vec<usize> = (0..shown.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    if !shared.is_empty() {
        out.push_str(&format!("{}\n", shared.join(", ")));
    }
    for l in lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
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

/// The rows as CSV (RFC 4180), one header line then one line per row.
pub fn csv(rows: &[Row]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from(
        "profile,protocol,routing_api,data_plane,retries,fail,requests,success_ratio,\
         requests_per_second,p50_ms,p90_ms,p99_ms,p999_ms,envoy_retries,versions,answers\n",
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
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
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
            "protocol grpc, routes gateway-api, data plane ambient, fail 0.30"
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
}
