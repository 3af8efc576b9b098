//! What the local proxies were given, in Istio's terms, as `istioctl
//! proxy-config routes` shows a proxy's: one line per route of each
//! listener of each proxy (the gateway, each sidecar's outbound listeners
//! and inbound side, the waypoint's and ztunnel's tunnels), with its match,
//! where it sends, its retries and its faults. Read back from the serialized bootstraps
//! themselves, so it shows what Envoy runs, not what was meant.

use serde_json::Value;

/// The routes of every listener of every `(proxy, bootstrap)`, as an aligned table.
pub fn routes(proxies: &[(String, Value)]) -> String {
    let mut lines = vec![vec![
        "PROXY".to_owned(),
        "LISTENER".to_owned(),
        "PORT".into(),
        "MATCH".into(),
        "DESTINATION".into(),
        "RETRIES".into(),
        "FAULT".into(),
    ]];
    let listeners = proxies.iter().flat_map(|(proxy, bootstrap)| {
        bootstrap["static_resources"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .map(move |l| (proxy, l))
    });
    for (proxy, l) in listeners {
        let name = l["name"].as_str().unwrap_or("?").to_owned();
        let port = match &l["address"]["socket_address"]["port_value"] {
            Value::Null => "internal".to_owned(),
            p => p.to_string(),
        };
        // The first filter chain's routes (an inbound side has one per mode,
        // with the same routes); its connection manager is its last filter.
        let hcm = &l["filter_chains"][0]["filters"]
            .as_array()
            .and_then(|f| f.last())
            .map_or(Value::Null, |f| f["typed_config"].clone());
        let vhosts = hcm["route_config"]["virtual_hosts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for vh in &vhosts {
            for r in vh["routes"].as_array().into_iter().flatten() {
                lines.push(vec![
                    proxy.clone(),
                    name.clone(),
                    port.clone(),
                    matcher(&r["match"], &vh["domains"]),
                    destination(r),
                    retries(&r["route"]["retry_policy"]),
                    fault(&r["typed_per_filter_config"]["envoy.filters.http.fault"]),
                ]);
            }
        }
    }
    super::table::aligned(&lines)
}

/// `x-dev-user=super-secret`, `/*` for a prefix match on everything, or
/// `CONNECT authority` for a tunnel's end.
fn matcher(m: &Value, domains: &Value) -> String {
    if m.get("connect_matcher").is_some() {
        return format!("CONNECT {}", domains[0].as_str().unwrap_or("*"));
    }
    let headers: Vec<String> = m["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            format!(
                "{}={}",
                h["name"].as_str().unwrap_or("?"),
                h["string_match"]["exact"].as_str().unwrap_or("?")
            )
        })
        .collect();
    match headers.is_empty() {
        true => format!("{}*", m["prefix"].as_str().unwrap_or("/")),
        false => headers.join(", "),
    }
}

/// The cluster, the weighted clusters (`a 80%, b 20%`), or a direct answer.
fn destination(r: &Value) -> String {
    if let Some(status) = r["direct_response"]["status"].as_u64() {
        return format!("{status} (no ServiceEntry under REGISTRY_ONLY)");
    }
    let route = &r["route"];
    if let Some(c) = route["cluster"].as_str() {
        return c.to_owned();
    }
    route["weighted_clusters"]["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {}%",
                c["name"].as_str().unwrap_or("?"),
                c["weight"].as_u64().unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `3 x 5xx,connect-failure, 2s per try`, or `none`.
fn retries(p: &Value) -> String {
    if p.is_null() {
        return "none".into();
    }
    let mut out = format!(
        "{} x {}",
        p["num_retries"].as_u64().unwrap_or(0),
        p["retry_on"].as_str().unwrap_or("")
    );
    if let Some(codes) = p["retriable_status_codes"].as_array() {
        let codes: Vec<String> = codes.iter().map(Value::to_string).collect();
        out.push_str(&format!(" [{}]", codes.join(",")));
    }
    if let Some(t) = p["per_try_timeout"].as_str() {
        out.push_str(&format!(", {t} per try"));
    }
    out
}

/// `abort 10% 503`, `delay 5% 2s`, or `-`.
fn fault(f: &Value) -> String {
    let percent = |p: &Value| p["numerator"].as_f64().unwrap_or(0.0) / 10_000.0;
    let mut parts = Vec::new();
    if !f["abort"].is_null() {
        let a = &f["abort"];
        let status = match (a["http_status"].as_u64(), a["grpc_status"].as_u64()) {
            (Some(s), _) => s.to_string(),
            (_, Some(c)) => format!("grpc {c}"),
            _ => "?".into(),
        };
        parts.push(format!("abort {}% {status}", percent(&a["percentage"])));
    }
    if !f["delay"].is_null() {
        let d = &f["delay"];
        parts.push(format!(
            "delay {}% {}",
            percent(&d["percentage"]),
            d["fixed_delay"].as_str().unwrap_or("?")
        ));
    }
    match parts.is_empty() {
        true => "-".into(),
        false => parts.join(", "),
    }
}
