//! Routes as istiod writes them from a VirtualService: `route.TranslateRoute`,
//! `route.TranslateFault`.

use serde_json::{Value, json};

use super::retry::{RetryMode, retry_policy};
use super::{cluster_name, service_host};
use meshgen::model::{AbortStatus, Fault, Model, Route};

fn percent(value: f64) -> Value {
    json!({"numerator": (value * 10_000.0).round() as u64, "denominator": "MILLION"})
}

/// `route.TranslateFault`: the per-route config of `envoy.filters.http.fault`.
pub fn fault(f: &Fault) -> Value {
    let mut out =
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"});
    if let Some(d) = &f.delay {
        out["delay"] =
            json!({"fixed_delay": d.fixed.to_string(), "percentage": percent(d.percent)});
    }
    if let Some(a) = &f.abort {
        let mut abort = json!({"percentage": percent(a.percent)});
        match a.status {
            AbortStatus::Http(s) => abort["http_status"] = json!(s),
            AbortStatus::Grpc(code) => abort["grpc_status"] = json!(code as u32),
        }
        out["abort"] = abort;
    }
    out
}

/// `route.TranslateRoute` for one service's routes (VirtualService `http[]`):
/// header matches first (one route each), then the default route with the split.
pub fn routes(model: &Model, service: &str, route: &Route, mode: RetryMode) -> Vec<Value> {
    let host = service_host(model, service);
    let port = model.wire.service_port;
    let action = |destinations: Vec<(&str, u32)>| {
        let mut action = json!({"timeout": "0s", "max_grpc_timeout": "0s"});
        // The model's split has no zero weights.
        let kept = destinations;
        if kept.len() == 1 {
            action["cluster"] = json!(cluster_name(port, kept[0].0, &host));
        } else {
            let clusters: Vec<Value> = kept
                .iter()
                .map(|(s, w)| json!({"name": cluster_name(port, s, &host), "weight": w}))
                .collect();
            action["weighted_clusters"] = json!({"clusters": clusters});
        }
        let retries = route.retries.or_mesh(&model.mesh.default_retries);
        if let Some(p) = retry_policy(retries, mode) {
            action["retry_policy"] = p;
        }
        action
    };
    let finish = |name: String, matcher: Value, action: Value| {
        let mut r = json!({
            "name": name,
            "match": matcher,
            "route": action,
            "decorator": {"operation": format!("{host}:{port}/*")}
        });
        if let Some(f) = &route.fault {
            r["typed_per_filter_config"] = json!({"envoy.filters.http.fault": fault(f)});
        }
        r
    };
    let mut out = Vec::new();
    for m in &route.header_matches {
        let matcher = json!({
            "prefix": "/",
            "case_sensitive": true,
            "headers": [{"name": m.header, "string_match": {"exact": m.value}}]
        });
        out.push(finish(
            format!("match-{}", m.header),
            matcher,
            action(vec![(m.subset.as_str(), 100)]),
        ));
    }
    let split = route
        .split
        .iter()
        .map(|w| (w.subset.as_str(), w.weight))
        .collect();
    out.push(finish(
        "default".into(),
        json!({"prefix": "/", "case_sensitive": true}),
        action(split),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgen::model::Duration;

    #[test]
    fn faults_and_codes() {
        let f = fault(&Fault {
            abort: Some(meshgen::model::Abort {
                percent: 10.0,
                status: meshgen::model::AbortStatus::Grpc(meshgen::model::Code::Unavailable),
            }),
            delay: Some(meshgen::model::Delay {
                fixed: Duration::from_millis(500),
                percent: 5.0,
            }),
        });
        assert_eq!(f["abort"]["grpc_status"], 14);
        assert_eq!(f["abort"]["percentage"]["numerator"], 100_000);
        assert_eq!(f["delay"]["fixed_delay"], "0.5s");
        assert_eq!(f["delay"]["percentage"]["numerator"], 50_000);
    }
}
