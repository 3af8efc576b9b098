//! The ONE list of request headers a hop forwards to its upstreams, decided
//! here for both protocols (gRPC metadata uses the same lowercase names).

use http::HeaderMap;

/// Forwarded verbatim, always: the request id, the demo's canary header and
/// the dice (so every hop of the chain rolls them).
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

/// The headers to send upstream, taken from the incoming request.
///
/// `tracing` says whether the propagators will write the [`TRACE`] headers
/// themselves (then copying them too would send stale parent ids).
pub fn forwarded(incoming: &HeaderMap, tracing: bool) -> HeaderMap {
    // One pass over the request's few headers, rather than a hash lookup for
    // each of the 16 names (a measurable share of a hop's CPU per request).
    let mut out = HeaderMap::with_capacity(APP.len() + TRACE.len() + FOREIGN_TRACE.len());
    for (name, value) in incoming {
        let name_str = name.as_str();
        let forward = APP.contains(&name_str)
            || FOREIGN_TRACE.contains(&name_str)
            || (!tracing && TRACE.contains(&name_str));
        if forward {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// A header as text, if present and printable.
pub fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming() -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-request-id", "r1"),
            ("x-dev-user", "super-secret"),
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
        let out = forwarded(&incoming(), false);
        assert_eq!(out.len(), 7);
        assert_eq!(text(&out, "x-dev-user"), Some("super-secret"));
        assert!(out.contains_key("traceparent") && out.contains_key("x-b3-traceid"));
        assert!(!out.contains_key("authorization") && !out.contains_key("host"));
    }

    #[test]
    fn tracing_on_leaves_trace_headers_to_the_propagators() {
        let out = forwarded(&incoming(), true);
        assert_eq!(out.len(), 5);
        assert!(!out.contains_key("traceparent") && !out.contains_key("x-b3-traceid"));
        assert_eq!(text(&out, "x-ot-span-context"), Some("abc"));
    }
}
