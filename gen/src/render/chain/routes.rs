//! The routes to a service, shared by its mesh route and, for the entry
//! service, the ingress route: header matches first, then the weighted split,
//! each carrying the service's retries, timeout and mirror (and, with the
//! classic API, fault).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{AbortStatus, Duration, Fault, Mirror, RetryPolicy, Route};
use crate::render::kube::{KService, gateway_api_duration};

/// A VirtualService: the mesh route of a service (`gateway` None) or the
/// ingress gateway's route to the entry service.
#[derive(Serialize)]
pub struct VirtualService<'a> {
    pub hosts: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateways: Option<[&'a str; 1]>,
    pub http: Vec<HttpRoute<'a>>,
}

/// A VirtualService's `http` routes.
pub fn http_routes<'a>(s: &'a KService, route: &'a Route, port: u16) -> Vec<HttpRoute<'a>> {
    let destination = |subset| Destination {
        host: &s.host,
        port: PortNumber { number: port },
        subset,
    };
    let retries = match &route.retries {
        RetryPolicy::Default => None,
        RetryPolicy::Off => Some(Retries {
            attempts: 0,
            per_try_timeout: None,
            retry_on: None,
        }),
        RetryPolicy::Retry(r) => Some(Retries {
            attempts: r.attempts,
            per_try_timeout: Some(r.per_try_timeout),
            retry_on: Some(&r.retry_on),
        }),
    };
    let fault = route.fault.as_ref().map(fault);
    let extra = |mirror: Option<&'a Mirror>| Extra {
        retries: retries.clone(),
        fault: fault.clone(),
        timeout: route.timeout,
        mirror: mirror.map(|m| destination(&m.subset)),
        mirror_percentage: mirror.map(|m| Percentage { value: m.percent }),
    };
    let matches = route.header_matches.iter().map(|m| HttpRoute {
        name: format!("match-{}", m.header),
        r#match: Some([HeaderMatch {
            headers: [(m.header.as_str(), Exact { exact: &m.value })].into(),
        }]),
        route: vec![WeightedDestination {
            destination: destination(&m.subset),
            weight: None,
        }],
        extra: extra(route.mirror_of([m.subset.as_str()].into_iter())),
    });
    let split = HttpRoute {
        name: "default".to_owned(),
        r#match: None,
        route: route
            .split
            .iter()
            .map(|w| WeightedDestination {
                destination: destination(&w.subset),
                weight: Some(w.weight),
            })
            .collect(),
        extra: extra(route.mirror_of(route.split.iter().map(|w| w.subset.as_str()))),
    };
    matches.chain([split]).collect()
}

#[derive(Serialize)]
pub struct HttpRoute<'a> {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    r#match: Option<[HeaderMatch<'a>; 1]>,
    route: Vec<WeightedDestination<'a>>,
    #[serde(flatten)]
    extra: Extra<'a>,
}

/// What every route of a service carries beside its destination.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extra<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<Retries<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<IstioFault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<Destination<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror_percentage: Option<Percentage>,
}

#[derive(Serialize)]
struct HeaderMatch<'a> {
    headers: BTreeMap<&'a str, Exact<'a>>,
}

#[derive(Serialize)]
struct Exact<'a> {
    exact: &'a str,
}

#[derive(Serialize)]
struct WeightedDestination<'a> {
    destination: Destination<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
}

#[derive(Serialize, Clone)]
struct Destination<'a> {
    host: &'a str,
    port: PortNumber,
    subset: &'a str,
}

#[derive(Serialize, Clone)]
struct PortNumber {
    number: u16,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Retries<'a> {
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_try_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_on: Option<&'a str>,
}

#[derive(Serialize, Clone)]
struct IstioFault {
    #[serde(skip_serializing_if = "Option::is_none")]
    abort: Option<Abort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay: Option<Delay>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Abort {
    #[serde(flatten)]
    status: Status,
    percentage: Percentage,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
enum Status {
    HttpStatus(u16),
    GrpcStatus(&'static str),
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Delay {
    fixed_delay: Duration,
    percentage: Percentage,
}

#[derive(Serialize, Clone)]
struct Percentage {
    value: f64,
}

fn fault(f: &Fault) -> IstioFault {
    IstioFault {
        abort: f.abort.as_ref().map(|a| Abort {
            status: match a.status {
                AbortStatus::Http(code) => Status::HttpStatus(code),
                AbortStatus::Grpc(code) => Status::GrpcStatus(code.name()),
            },
            percentage: Percentage { value: a.percent },
        }),
        delay: f.delay.as_ref().map(|d| Delay {
            fixed_delay: d.fixed,
            percentage: Percentage { value: d.percent },
        }),
    }
}

/// A Gateway API route's `rules`. Retries are HTTPRoute's (experimental
/// channel: the HTTPRoute CRDs of the experimental channel must be
/// installed); a GRPCRoute has none, and meshgen refuses a profile that asks
/// a GRPCRoute for them.
pub fn rules<'a>(s: &'a KService, route: &'a Route, port: u16) -> Vec<Rule<'a>> {
    // A GRPCRoute's retries are `Default`: the model refuses any other.
    let (retry, backend_request) = match &route.retries {
        RetryPolicy::Default => (None, None),
        RetryPolicy::Off => (
            Some(Retry {
                attempts: 0,
                codes: None,
            }),
            None,
        ),
        RetryPolicy::Retry(r) => (
            Some(Retry {
                attempts: r.attempts,
                codes: Some(&r.status_codes),
            }),
            Some(gateway_api_duration(r.per_try_timeout)),
        ),
    };
    // The model refuses a timeout on a GRPCRoute, which has no `timeouts`.
    let request = route.timeout.map(gateway_api_duration);
    let timeouts = (request.is_some() || backend_request.is_some()).then_some(Timeouts {
        request,
        backend_request,
    });
    let filters = |m: Option<&Mirror>| -> Vec<Filter> {
        m.into_iter().map(|m| mirror_filter(s, m, port)).collect()
    };
    let backend = |subset: &str, weight| BackendRef {
        name: s.backends[subset],
        port,
        weight,
    };
    let matches = route.header_matches.iter().map(|m| Rule {
        matches: Some([RuleMatch {
            headers: [HeaderRule {
                kind: "Exact",
                name: &m.header,
                value: &m.value,
            }],
        }]),
        backend_refs: vec![backend(&m.subset, None)],
        filters: filters(route.mirror_of([m.subset.as_str()].into_iter())),
        retry: retry.clone(),
        timeouts: timeouts.clone(),
    });
    let split = Rule {
        matches: None,
        backend_refs: route
            .split
            .iter()
            .map(|w| backend(&w.subset, Some(w.weight)))
            .collect(),
        filters: filters(route.mirror_of(route.split.iter().map(|w| w.subset.as_str()))),
        retry: retry.clone(),
        timeouts: timeouts.clone(),
    };
    matches.chain([split]).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<[RuleMatch<'a>; 1]>,
    backend_refs: Vec<BackendRef<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Filter<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<Retry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeouts: Option<Timeouts>,
}

#[derive(Serialize)]
struct RuleMatch<'a> {
    headers: [HeaderRule<'a>; 1],
}

#[derive(Serialize)]
struct HeaderRule<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize, Clone)]
struct BackendRef<'a> {
    name: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
}

#[derive(Serialize, Clone)]
struct Retry<'a> {
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    codes: Option<&'a [u16]>,
}

/// Spelled as the Gateway API wants durations.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Timeouts {
    /// The whole request, every try included.
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
    /// The per-try timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    backend_request: Option<String>,
}

/// A route filter; meshgen writes only `RequestMirror`.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Filter<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    request_mirror: RequestMirror<'a>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct RequestMirror<'a> {
    backend_ref: BackendRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fraction: Option<Fraction>,
}

#[derive(Serialize, Clone)]
struct Fraction {
    numerator: u32,
    denominator: u32,
}

/// `percent` when whole, else a fraction per million (Istio reads either
/// back as a percentage).
fn mirror_filter<'a>(s: &'a KService, m: &Mirror, port: u16) -> Filter<'a> {
    let whole = m.percent.fract() == 0.0;
    Filter {
        kind: "RequestMirror",
        request_mirror: RequestMirror {
            backend_ref: BackendRef {
                name: s.backends[m.subset.as_str()],
                port,
                weight: None,
            },
            percent: whole.then_some(m.percent as u32),
            fraction: (!whole).then(|| Fraction {
                numerator: m.per_million(),
                denominator: 1_000_000,
            }),
        },
    }
}
