//! Retry policies as istiod writes them: `retry.DefaultPolicy`,
//! `retry.ConvertPolicy`, `parseRetryOn` (pilot/pkg/networking/core/route/retry).

use meshgen::model::{Retries, RetryPolicy as ModelPolicy};

use super::types::{Any, Empty, NamedConfig, RetryPolicy};

/// Which retry policy the routes carry: a parameter of the proxies
/// (`compare` runs all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    /// What the profile renders: its `retries` block, or, without one, Istio's
    /// default policy (the VirtualService then has no `retries`).
    On,
    /// `retries: {attempts: 0}`: no retry policy at all.
    Off,
    /// Istio's default policy on every route, whatever the profile says.
    Default,
}

impl RetryMode {
    pub const ALL: [RetryMode; 3] = [RetryMode::On, RetryMode::Off, RetryMode::Default];

    pub fn as_str(self) -> &'static str {
        match self {
            RetryMode::On => "on",
            RetryMode::Off => "off",
            RetryMode::Default => "default",
        }
    }
}

/// `retry.DefaultPolicy()` (Istio >= 1.24: no retriable status codes, 503 is not retried).
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
            .into(),
        num_retries: 2,
        retriable_status_codes: Vec::new(),
        per_try_timeout: None,
        retry_host_predicate: vec![NamedConfig {
            name: "envoy.retry_host_predicates.previous_hosts",
            typed_config: Any::PreviousHosts(Empty {}),
        }],
        host_selection_retry_max_attempts: 5,
    }
}

/// `retry.parseRetryOn`: parts that are known HTTP status codes become
/// `retriable_status_codes`; the rest stay in `retry_on`, and
/// `retriable-status-codes` is appended when codes were found.
pub fn parse_retry_on(text: &str) -> (String, Vec<u16>) {
    let mut conditions = Vec::new();
    let mut codes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let known = part.parse::<u16>().ok().filter(|c| is_known_status(*c));
        match known {
            Some(code) => codes.push(code),
            None => conditions.push(part.to_owned()),
        }
    }
    if !codes.is_empty() && !conditions.iter().any(|c| c == "retriable-status-codes") {
        conditions.push("retriable-status-codes".into());
    }
    (conditions.join(","), codes)
}

/// Go's `http.StatusText(code) != ""`: the codes net/http names.
fn is_known_status(code: u16) -> bool {
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429
        | 431 | 451 | 500..=508 | 510 | 511)
}

/// `retry.ConvertPolicy(in, false)` for a VirtualService `retries` block with
/// attempts (`attempts: 0` is [`ModelPolicy::Off`]: no policy at all).
pub fn convert(r: &Retries) -> RetryPolicy {
    let mut policy = default_policy();
    policy.num_retries = r.attempts;
    if !r.retry_on.is_empty() {
        let (retry_on, codes) = parse_retry_on(&r.retry_on);
        policy.retry_on = retry_on;
        policy.retriable_status_codes = codes;
    }
    policy.per_try_timeout = Some(r.per_try_timeout.to_string());
    policy
}

/// The retry policy of a route under `mode`.
pub fn policy(p: &ModelPolicy, mode: RetryMode) -> Option<RetryPolicy> {
    match (mode, p) {
        (RetryMode::Off, _) | (RetryMode::On, ModelPolicy::Off) => None,
        (RetryMode::Default, _) | (RetryMode::On, ModelPolicy::Default) => Some(default_policy()),
        (RetryMode::On, ModelPolicy::Retry(r)) => Some(convert(r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgen::model::Duration;

    fn retries(attempts: u32, retry_on: &str) -> Retries {
        Retries {
            attempts,
            per_try_timeout: Duration::from_secs(2),
            retry_on: retry_on.into(),
            status_codes: Vec::new(),
        }
    }

    #[test]
    fn parse_retry_on_like_istio_retry_test() {
        // retry_test.go: "some,fake,5xx,404,conditions,503"
        assert_eq!(
            parse_retry_on("some,fake,5xx,404,conditions,503"),
            (
                "some,fake,5xx,conditions,retriable-status-codes".into(),
                vec![404, 503]
            )
        );
        // Not an HTTP status: kept verbatim.
        assert_eq!(parse_retry_on("5xx,1000").0, "5xx,1000");
        assert_eq!(parse_retry_on("5xx,299").0, "5xx,299");
        assert_eq!(
            parse_retry_on(" 5xx , ,gateway-error").0,
            "5xx,gateway-error"
        );
        assert_eq!(
            parse_retry_on("retriable-status-codes,503"),
            ("retriable-status-codes".into(), vec![503])
        );
    }

    #[test]
    fn default_policy_is_istio_1_24() {
        let p = serde_json::to_value(default_policy()).unwrap();
        assert_eq!(
            p["retry_on"],
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        );
        assert_eq!(p["num_retries"], 2);
        assert_eq!(p["host_selection_retry_max_attempts"], 5);
        assert!(p.get("retriable_status_codes").is_none());
        assert!(p.get("per_try_timeout").is_none());
        assert_eq!(
            p["retry_host_predicate"][0]["name"],
            "envoy.retry_host_predicates.previous_hosts"
        );
    }

    #[test]
    fn profile_retries_override_the_default() {
        let p = convert(&retries(3, "5xx,connect-failure,refused-stream"));
        assert_eq!(p.num_retries, 3);
        assert_eq!(p.retry_on, "5xx,connect-failure,refused-stream");
        assert_eq!(p.per_try_timeout.as_deref(), Some("2s"));
        assert_eq!(p.host_selection_retry_max_attempts, 5);
        assert_eq!(p.retry_host_predicate.len(), 1);
    }

    #[test]
    fn httproute_retries_become_what_istio_converts_them_to() {
        use meshgen::model::{Protocol, RoutingApi, Wire};
        let wire = Wire::for_protocol(Protocol::Http);
        let (retry_on, status_codes) = wire.retry_conditions(RoutingApi::GatewayApi).unwrap();
        let p = convert(&Retries {
            status_codes,
            ..retries(3, &retry_on)
        });
        // conversion.go: the four connection conditions, then each code;
        // parseRetryOn moves the codes out.
        assert_eq!(
            p.retry_on,
            "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
        );
        assert_eq!(p.retriable_status_codes, [500, 502, 503, 504]);
        assert!(
            Wire::for_protocol(Protocol::Grpc)
                .retry_conditions(RoutingApi::GatewayApi)
                .is_none()
        );
    }

    #[test]
    fn retry_modes() {
        let r = ModelPolicy::Retry(retries(3, "5xx"));
        assert_eq!(policy(&r, RetryMode::On).unwrap().num_retries, 3);
        assert!(policy(&r, RetryMode::Off).is_none());
        assert_eq!(policy(&r, RetryMode::Default).unwrap().num_retries, 2);
        // No retries block in the VirtualService: Istio applies its default.
        assert_eq!(
            policy(&ModelPolicy::Default, RetryMode::On)
                .unwrap()
                .retry_on,
            default_policy().retry_on
        );
        // attempts: 0 turns every retry off.
        assert!(policy(&ModelPolicy::Off, RetryMode::On).is_none());
    }
}
