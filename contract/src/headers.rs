//! The request headers a hop forwards to its upstreams, for both protocols
//! (gRPC metadata uses the same lowercase names), and what a header a route
//! matches on may look like.
//!
//! A canary route matches a header at every hop it is in front of, so a hop
//! forwards the fixed [`APP`] headers plus every header the profile's routes
//! match on ([`crate::HopConfig::forward_headers`]).

use http::{HeaderMap, HeaderName};

/// Forwarded verbatim, always: the request id, the original demo's canary
/// header, the dice and the delay (so every hop of the chain rolls and waits
/// them).
pub const APP: [&str; 5] = ["x-request-id", "x-dev-user", "fail", "fail-status", "delay"];

/// Trace context the hop's propagators understand (W3C trace context and
/// baggage, B3 single and multi). With tracing on they are rewritten from the
/// hop's own client span, so the trace links through this hop; with tracing
/// off they are forwarded verbatim, like the original "only Istio" build.
pub const TRACE: [&str; 9] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
];

/// Trace context of other systems Envoy may use: always forwarded verbatim.
pub const FOREIGN_TRACE: [&str; 3] = [
    "x-ot-span-context",
    "x-cloud-trace-context",
    "grpc-trace-bin",
];

/// Credentials: a header a route matched on is forwarded by every hop to
/// every upstream, the external API included, so a credential there would
/// hand the caller's identity to everyone behind. Refused as route headers
/// and never forwarded, whatever `FORWARD_HEADERS` says ([`forwarded`]).
pub const CREDENTIALS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "www-authenticate",
    "proxy-authenticate",
];

/// Words of a name (between `-` and `_`, which many servers read alike)
/// that mark a credential by convention: `x-api-key`, `x_api_key`, `x-pass`,
/// `x-otp`, `x-client-cert`... A canary header is a routing flag, never a
/// secret: a name that looks like one is refused rather than guessed at.
const CREDENTIAL_WORDS: [&str; 37] = [
    "key",
    "keys",
    "keyid",
    "pass",
    "pwd",
    "pin",
    "otp",
    "totp",
    "hotp",
    "mfa",
    "2fa",
    "sid",
    "sig",
    "sign",
    "hmac",
    "bearer",
    "dpop",
    "saml",
    "jwt",
    "cert",
    "principal",
    "signature",
    "session",
    "sess",
    "cookie",
    "cred",
    "creds",
    "credential",
    "credentials",
    "tok",
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "privatekey",
    "accesskey",
];

/// Parts of a name that mark a credential wherever they stand, in either
/// spelling (`x-authtoken`, `phpsessid`, `clientcertificate`, `x-api-keys`,
/// `x-passcode`, `x-csrf-token`, `x-otpcode`). A name that only looks like
/// one (`x-bypass`) is refused too: a canary header can take another name.
const CREDENTIAL_PARTS: [&str; 17] = [
    "auth",
    "token",
    "secret",
    "pass",
    "session",
    "sessid",
    "cookie",
    "credential",
    "jwt",
    "apikey",
    "api-key",
    "api_key",
    "cert",
    "csrf",
    "xsrf",
    "otp",
    "hmac",
];

/// Whether a header carries credentials ([`CREDENTIALS`], or a name with one
/// of the conventional credential words or parts).
pub fn is_credential(name: &str) -> bool {
    // No allocation: `forwarded` asks for every route header of every request.
    CREDENTIALS.contains(&name)
        || name
            .split(['-', '_'])
            .any(|word| CREDENTIAL_WORDS.contains(&word))
        || CREDENTIAL_PARTS.iter().any(|p| name.contains(p))
}

/// Headers each hop or proxy sets itself on the way, so a route never sees
/// the client's value: connection-level ones, the body's description, what
/// the HTTP hop sends on every call (`accept`, `user-agent`), what Envoy
/// sets (`x-request-id` at the edge, `x-forwarded-*`, `forwarded`, `via`).
const HOP_OWNED: [&str; 19] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "accept",
    "user-agent",
    "x-request-id",
    "forwarded",
    "via",
    "http2-settings",
    // The client's address, as proxies and CDNs set it.
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "cf-connecting-ip",
];

/// Prefixes of names owned by a protocol, a proxy or a tracer.
const RESERVED_PREFIXES: [(&str, &str); 12] = [
    (
        "content-",
        "it describes the body, which each hop sends anew",
    ),
    (
        "grpc-",
        "gRPC owns `grpc-` metadata (status, timeout, encoding)",
    ),
    ("x-envoy-", "Envoy sets and strips `x-envoy-` headers"),
    ("x-istio-", "Istio's proxies set `x-istio-` headers"),
    (
        "x-forwarded-",
        "Envoy rewrites `x-forwarded-` headers at every proxy",
    ),
    ("x-b3-", "tracing rewrites the B3 headers at every hop"),
    (
        "x-ot-",
        "tracing rewrites the OpenTracing headers at every hop",
    ),
    (
        "uber-trace-",
        "tracing rewrites the Jaeger headers at every hop",
    ),
    (
        "uberctx-",
        "tracing rewrites the Jaeger baggage at every hop",
    ),
    (
        "ot-tracer-",
        "tracing rewrites the OpenTracing headers at every hop",
    ),
    (
        "ot-baggage-",
        "tracing rewrites the OpenTracing baggage at every hop",
    ),
    (
        "x-datadog-",
        "tracing rewrites the Datadog headers at every hop",
    ),
];

/// Why `name` cannot be a header a route matches on, if it cannot: the one
/// policy for route headers, read by validation and by the hop
/// (`FORWARD_HEADERS`).
fn refusal(name: &str) -> Option<String> {
    if name.starts_with(':') {
        return Some("pseudo-headers are the request line, not headers a client sets".into());
    }
    let token = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 64 || !name.chars().all(token) {
        return Some("a header name is 1 to 64 lowercase letters, digits, '-' or '_'".into());
    }
    // Many servers (nginx, CGI) read `_` as `-`: `x_forwarded_for` is
    // `x-forwarded-for` to them, so every rule below reads it so too.
    let folded = name.replace('_', "-");
    let name = folded.as_str();
    if is_credential(name) {
        return Some(format!(
            "`{name}` carries credentials, and every hop would forward the caller's to every \
             upstream, the external API included"
        ));
    }
    if HOP_OWNED.contains(&name) {
        return Some(format!(
            "`{name}` is set by each hop or proxy on the way, so a route never sees the \
             client's value"
        ));
    }
    if TRACE.contains(&name) || FOREIGN_TRACE.contains(&name) {
        return Some(format!(
            "`{name}` is trace context, rewritten by tracing at every hop"
        ));
    }
    if let Some((prefix, why)) = RESERVED_PREFIXES.iter().find(|(p, _)| name.starts_with(p)) {
        return Some(format!("`{prefix}` headers are reserved: {why}"));
    }
    if name.ends_with("-bin") {
        return Some(
            "gRPC sends `-bin` metadata base64-encoded, so its value never matches as written"
                .into(),
        );
    }
    None
}

/// The most headers routes may match on over a whole profile. Each is sent
/// by the client and forwarded by the hops in front of its route: with the
/// fixed [`APP`] and trace headers a request then stays within Envoy's
/// default of 100 headers (`max_headers_count`), and `FORWARD_HEADERS` (at
/// most 64 names of 64 bytes) far within Linux's 128 KiB for one environment
/// string.
pub const MAX_ROUTE_HEADERS: usize = 64;

/// Whether `name` may be a header a route matches on (and so one hops
/// forward): a lowercase token (`a-z`, `0-9`, `-`, `_`), at most 64
/// characters, neither a credential, nor a header a hop, proxy, protocol or
/// tracer sets, nor gRPC binary metadata (`-bin`).
pub fn check_match_name(name: &str) -> Result<(), String> {
    refusal(name).map_or(Ok(()), Err)
}

/// Whether `value` is a header value a client can send and a route can match
/// exactly: 1 to 256 visible ASCII characters, inner spaces allowed. Anything
/// else is rewritten or refused on the way (proxies trim surrounding spaces;
/// control and non-ASCII characters are refused or mangled by HTTP stacks).
pub fn check_match_value(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 256 {
        return Err("a header value is 1 to 256 characters".into());
    }
    if let Some(c) = value.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(format!(
            "{c:?} cannot travel in a header value (visible ASCII and inner spaces only)"
        ));
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err("surrounding spaces are trimmed by proxies".into());
    }
    Ok(())
}

/// The headers a hop sends upstream, taken from the incoming request: [`APP`],
/// [`FOREIGN_TRACE`], `extra` (the route headers of the profile) and, when
/// the hop does not trace itself, [`TRACE`]. Never a credential, even one
/// `extra` names: [`HopConfig::from_env`](crate::HopConfig::from_env) refuses
/// such a `FORWARD_HEADERS`, and a configuration built in code gets here.
pub fn forwarded(incoming: &HeaderMap, tracing: bool, extra: &[HeaderName]) -> HeaderMap {
    select(incoming, APP.len() + extra.len(), |name, n| {
        APP.contains(&n) || trace_context(n, tracing) || (extra.contains(name) && !is_credential(n))
    })
}

/// The headers a hop sends to an API outside the mesh: the request id and the
/// trace context, nothing else. No route matches there, so neither the
/// route headers nor the app's own (`x-dev-user`, the demo's canary, and the
/// `fail` dice) leave the cluster, whatever they are named.
pub fn forwarded_outside(incoming: &HeaderMap, tracing: bool) -> HeaderMap {
    select(incoming, 1, |_, n| {
        n == REQUEST_ID || trace_context(n, tracing)
    })
}

/// What a request's `delay` headers ask the hop of `service` to wait. Every
/// `delay` line counts, joined with commas as HTTP reads repeated lines.
/// Each comma-separated entry is a duration (`250ms`: every hop) or
/// `service=duration` (that service only); the first entry naming `service`
/// decides, else the first bare duration, else nothing. Never an error, like
/// the `fail` dice: what does not parse is no delay, and no hop waits longer
/// than [`crate::Misbehaviour::MAX_DELAY`] (a duration too long to count is
/// that bound too).
pub fn delay_of(headers: &HeaderMap, service: &str) -> crate::Duration {
    let lines: Vec<&str> = headers
        .get_all("delay")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    delay(Some(&lines.join(",")), service)
}

/// [`delay_of`] for one header value.
pub fn delay(value: Option<&str>, service: &str) -> crate::Duration {
    let entries = value.unwrap_or_default().split(',');
    let named = entries.clone().find_map(|e| {
        let (name, d) = e.split_once('=')?;
        (name.trim() == service).then_some(d)
    });
    let bare = || {
        entries
            .clone()
            .find(|e| !e.contains('=') && !e.trim().is_empty())
    };
    let max = crate::Misbehaviour::MAX_DELAY;
    match named
        .or_else(bare)
        .map(|d| crate::Duration::parse(d.trim()))
    {
        Some(Ok(d)) => d.min(max),
        Some(Err(crate::ParseDurationError::Overflow)) => max,
        _ => crate::Duration::ZERO,
    }
}

/// The request id Envoy sets at the edge and every hop passes on.
const REQUEST_ID: &str = "x-request-id";

/// Trace context the hop passes on as it came: the formats it does not
/// speak, and its own when it does not trace.
fn trace_context(n: &str, tracing: bool) -> bool {
    FOREIGN_TRACE.contains(&n) || (!tracing && TRACE.contains(&n))
}

/// The headers of `incoming` that `keep` takes, in one pass over the
/// request's few headers rather than a hash lookup for each name (a
/// measurable share of a hop's CPU per request).
fn select(
    incoming: &HeaderMap,
    extra: usize,
    keep: impl Fn(&HeaderName, &str) -> bool,
) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(FOREIGN_TRACE.len() + extra);
    for (name, value) in incoming {
        if keep(name, name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-request-id", "r1"),
            ("x-dev-user", "super-secret"),
            ("x-canary", "yes"),
            ("fail", "0.3"),
            ("fail-status", "503"),
            ("delay", "10ms"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
            ("x-ot-span-context", "abc"),
            ("authorization", "secret"),
            ("host", "frontend"),
        ] {
            h.append(k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn tracing_off_forwards_trace_headers_verbatim() {
        let out = forwarded(&incoming(), false, &[]);
        assert_eq!(out.len(), 8);
        assert_eq!(out["delay"], "10ms");
        assert_eq!(out["x-dev-user"], "super-secret");
        assert!(out.contains_key("traceparent") && out.contains_key("x-b3-traceid"));
        assert!(!out.contains_key("authorization") && !out.contains_key("host"));
        assert!(!out.contains_key("x-canary"));
    }

    #[test]
    fn tracing_on_leaves_trace_headers_to_the_propagators() {
        let out = forwarded(&incoming(), true, &[]);
        assert_eq!(out.len(), 6);
        assert!(!out.contains_key("traceparent") && !out.contains_key("x-b3-traceid"));
        assert_eq!(out["x-ot-span-context"], "abc");
    }

    #[test]
    fn route_headers_are_forwarded() {
        let out = forwarded(&incoming(), true, &[HeaderName::from_static("x-canary")]);
        assert_eq!(out["x-canary"], "yes");
    }

    #[test]
    fn credentials_are_never_forwarded() {
        let extra: Vec<HeaderName> = ["authorization", "cookie", "x-api-key", "x-canary"]
            .map(HeaderName::from_static)
            .to_vec();
        let mut h = incoming();
        h.append("cookie", "id=1".parse().unwrap());
        h.append("x-api-key", "k".parse().unwrap());
        h.append("x-canary", "yes".parse().unwrap());
        for tracing in [false, true] {
            let out = forwarded(&h, tracing, &extra);
            assert_eq!(out["x-canary"], "yes");
            for name in out.keys() {
                assert!(!is_credential(name.as_str()), "{name} forwarded");
            }
        }
    }

    #[test]
    fn a_delay_is_read_leniently_bounded_and_maybe_for_one_service() {
        let ms = |v: &str, service: &str| delay(Some(v), service).as_nanos() / 1_000_000;
        assert_eq!(delay(None, "a"), crate::Duration::ZERO);
        assert_eq!(ms(" 250ms ", "a"), 250);
        for nothing in ["abc", "-1s", "5", "", "=", "a=", "=1s", ",,"] {
            assert_eq!(ms(nothing, "a"), 0, "{nothing}");
        }
        assert_eq!(ms("1000h", "a"), 60_000);
        assert_eq!(
            ms("99999999999999h", "a"),
            60_000,
            "too long to count is the bound"
        );
        assert_eq!(ms("b=1s, a = 300ms", "a"), 300);
        assert_eq!(ms("b=1s,a=300ms", "b"), 1000);
        assert_eq!(ms("b=1s,a=300ms", "c"), 0);
        assert_eq!(
            ms("a=oops,a=2s", "a"),
            0,
            "the first entry for a service decides"
        );
        assert_eq!(ms("a=1000h", "a"), 60_000);
        // A bare entry asks every hop no entry names.
        assert_eq!(ms("1s,b=2s", "a"), 1000);
        assert_eq!(ms("1s,b=2s", "b"), 2000);
        // Repeated lines count as one list.
        let mut h = HeaderMap::new();
        h.append("delay", "a=0s".parse().unwrap());
        h.append("delay", "b=1s".parse().unwrap());
        assert_eq!(delay_of(&h, "b").as_nanos(), 1_000_000_000);
        assert_eq!(delay_of(&h, "a"), crate::Duration::ZERO);
    }

    proptest::proptest! {
        /// Whatever a client sends in `delay` (control characters, commas,
        /// `=` anywhere, huge numbers), a hop waits at most the bound, and
        /// an entry naming another service asks this one nothing.
        #[test]
        fn any_delay_is_bounded_and_scoped(
            value in "\\PC{0,60}|[0-9a-z=, .\\x00-\\x1f]{0,40}",
            service in "[a-z][a-z0-9-]{0,8}",
        ) {
            let d = delay(Some(&value), &service);
            proptest::prop_assert!(d <= crate::Misbehaviour::MAX_DELAY);
            // One entry, for a service of another name.
            let other = format!("{service}x={}", value.replace(',', ""));
            proptest::prop_assert_eq!(delay(Some(&other), &service), crate::Duration::ZERO);
        }
    }

    /// Each class of refused names, with the reason it is refused for.
    #[test]
    fn match_names_and_values() {
        for good in [
            "x-canary",
            "x-dev-user",
            "fail",
            "x-user_group",
            "x-binary",
            "bin",
        ] {
            assert_eq!(check_match_name(good), Ok(()), "{good}");
        }
        for (bad, says) in [
            ("", "1 to 64"),
            ("X-Canary", "lowercase"),
            ("a b", "lowercase"),
            (":path", "pseudo-headers"),
            (":authority", "pseudo-headers"),
            ("authorization", "credentials"),
            ("proxy-authorization", "credentials"),
            ("cookie", "credentials"),
            ("set-cookie", "credentials"),
            ("x-api-key", "credentials"),
            ("x-auth-token", "credentials"),
            ("x-session-id", "credentials"),
            ("x-client-secret", "credentials"),
            // The second review: `_` for `-`, and the other credential words.
            ("x-api_key", "credentials"),
            ("api_key", "credentials"),
            ("x-pass", "credentials"),
            ("pwd", "credentials"),
            ("x-private-key", "credentials"),
            ("privatekey", "credentials"),
            ("x-access-key", "credentials"),
            ("x-signature", "credentials"),
            ("x-hub-signature-256", "credentials"),
            ("x-bearer", "credentials"),
            ("x-saml", "credentials"),
            ("phpsessid", "credentials"),
            ("x-sid", "credentials"),
            ("ssl-client-cert", "credentials"),
            ("x-arr-clientcert", "credentials"),
            ("x-client-certificate", "credentials"),
            ("x-ms-client-principal", "credentials"),
            ("x-otp", "credentials"),
            ("x-pin", "credentials"),
            // The third review.
            ("x-passcode", "credentials"),
            ("x-passphrase", "credentials"),
            ("x-creds", "credentials"),
            ("x-tok", "credentials"),
            ("x-sess", "credentials"),
            ("x-csrf", "credentials"),
            ("xsrf", "credentials"),
            ("x-totp", "credentials"),
            ("x-otpcode", "credentials"),
            ("x-mfa", "credentials"),
            ("x-2fa", "credentials"),
            ("x-keys", "credentials"),
            ("x-keyid", "credentials"),
            ("x-hmac", "credentials"),
            ("dpop", "credentials"),
            // `_` read as `-`, for every rule (the fourth review).
            ("x_forwarded_for", "x-forwarded-"),
            ("x_envoy_retry_on", "x-envoy-"),
            ("grpc_timeout", "grpc-"),
            ("content_type", "content-"),
            ("x_b3_traceid", "trace context"),
            ("x-request_id", "each hop or proxy"),
            ("x-foo_bin", "-bin"),
            ("x-real-ip", "each hop or proxy"),
            ("cf-connecting-ip", "each hop or proxy"),
            ("x-istio-attributes", "Istio"),
            ("x-sign", "credentials"),
            ("host", "each hop or proxy"),
            ("accept", "each hop or proxy"),
            ("user-agent", "each hop or proxy"),
            ("te", "each hop or proxy"),
            ("x-request-id", "each hop or proxy"),
            ("content-type", "body"),
            ("content-length", "body"),
            ("traceparent", "trace context"),
            ("tracestate", "trace context"),
            ("b3", "trace context"),
            ("x-b3-traceid", "trace context"),
            ("x-b3-anything", "B3"),
            ("grpc-trace-bin", "trace context"),
            ("grpc-timeout", "gRPC owns"),
            ("x-envoy-foo", "Envoy"),
            ("x-forwarded-for", "Envoy"),
            ("uber-trace-id", "Jaeger"),
            ("x-canary-bin", "base64"),
        ] {
            let why = check_match_name(bad).expect_err(bad);
            assert!(why.contains(says), "{bad:?}: {why}");
        }
        assert!(check_match_value("super secret").is_ok());
        for bad in [
            "",
            " a",
            "a ",
            "a\u{0}",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            "é",
            "a\u{202e}",
        ] {
            assert!(check_match_value(bad).is_err(), "{bad:?}");
        }
    }
}
