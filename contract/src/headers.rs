//! The request headers a hop forwards to its upstreams, for both protocols
//! (gRPC metadata uses the same lowercase names), and what a header a route
//! matches on may look like.
//!
//! A canary route matches a header at every hop it is in front of, so a hop
//! forwards the fixed [`APP`] headers plus every header the profile's routes
//! match on ([`crate::HopConfig::forward_headers`]).

use http::{HeaderMap, HeaderName};

/// Forwarded verbatim, always: the request id, the original demo's canary
/// header and the dice (so every hop of the chain rolls them).
pub const APP: [&str; 4] = ["x-request-id", "x-dev-user", "fail", "fail-status"];

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

/// Headers a route cannot match on usefully: connection-level headers a proxy
/// or client rewrites, and names reserved by gRPC, Envoy or tracing.
const RESERVED: [&str; 10] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "user-agent",
];

/// Whether `name` may be a header a route matches on (and so one every hop
/// forwards): a lowercase token (`a-z`, `0-9`, `-`, `_`), at most 64
/// characters, not a connection-level, trace, `grpc-` or `x-envoy-` header.
pub fn check_match_name(name: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 64 || !name.chars().all(token) {
        return Err("a header name is 1 to 64 lowercase letters, digits, '-' or '_'".into());
    }
    if RESERVED.contains(&name) || TRACE.contains(&name) || FOREIGN_TRACE.contains(&name) {
        return Err(format!(
            "`{name}` is set by clients, proxies or tracing, not by a user"
        ));
    }
    if name.starts_with("grpc-") || name.starts_with("x-envoy-") {
        return Err("`grpc-` and `x-envoy-` headers are reserved by gRPC and Envoy".into());
    }
    Ok(())
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
/// the hop does not trace itself, [`TRACE`].
pub fn forwarded(incoming: &HeaderMap, tracing: bool, extra: &[HeaderName]) -> HeaderMap {
    // One pass over the request's few headers, rather than a hash lookup for
    // each name (a measurable share of a hop's CPU per request).
    let mut out = HeaderMap::with_capacity(APP.len() + FOREIGN_TRACE.len() + extra.len());
    for (name, value) in incoming {
        let n = name.as_str();
        let forward = APP.contains(&n)
            || FOREIGN_TRACE.contains(&n)
            || (!tracing && TRACE.contains(&n))
            || extra.contains(name);
        if forward {
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
        assert_eq!(out.len(), 7);
        assert_eq!(out["x-dev-user"], "super-secret");
        assert!(out.contains_key("traceparent") && out.contains_key("x-b3-traceid"));
        assert!(!out.contains_key("authorization") && !out.contains_key("host"));
        assert!(!out.contains_key("x-canary"));
    }

    #[test]
    fn tracing_on_leaves_trace_headers_to_the_propagators() {
        let out = forwarded(&incoming(), true, &[]);
        assert_eq!(out.len(), 5);
        assert!(!out.contains_key("traceparent") && !out.contains_key("x-b3-traceid"));
        assert_eq!(out["x-ot-span-context"], "abc");
    }

    #[test]
    fn route_headers_are_forwarded() {
        let out = forwarded(&incoming(), true, &[HeaderName::from_static("x-canary")]);
        assert_eq!(out["x-canary"], "yes");
    }

    #[test]
    fn match_names_and_values() {
        assert!(check_match_name("x-canary").is_ok());
        for bad in [
            "",
            "X-Canary",
            "a b",
            "host",
            "traceparent",
            "grpc-timeout",
            "x-envoy-foo",
            ":path",
        ] {
            assert!(check_match_name(bad).is_err(), "{bad:?}");
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
