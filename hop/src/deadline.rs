//! gRPC deadlines: the caller's remaining time travels in `grpc-timeout`, and
//! a hop gives its upstream calls no more than what is left of it (gRPC's
//! deadline propagation), nor more than its own `UPSTREAM_TIMEOUT`.

use std::time::{Duration, Instant};

use http::HeaderMap;

/// The `grpc-timeout` header (gRPC over HTTP/2: at most 8 digits and a unit),
/// as tonic's server reads it; anything unparsable means no deadline.
pub fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.as_bytes();
    let (&unit, digits) = value.split_last()?;
    if digits.len() > 8 {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 60 * 60),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// When a request must be answered, if its caller said (`grpc-timeout`).
pub fn of(headers: &HeaderMap, received: Instant) -> Option<Instant> {
    grpc_timeout(headers).and_then(|t| received.checked_add(t))
}

/// How long an upstream call may take: `own`, or less when the caller's
/// deadline comes sooner.
pub fn budget(own: Duration, deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(d) => own.min(d.saturating_duration_since(Instant::now())),
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn budget_is_the_smaller() {
        let own = Duration::from_secs(2);
        assert_eq!(budget(own, None), own);
        let soon = Instant::now() + Duration::from_millis(50);
        assert!(budget(own, Some(soon)) <= Duration::from_millis(50));
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(budget(own, Some(past)), Duration::ZERO);
    }

    #[test]
    fn grpc_timeout_like_tonic() {
        assert_eq!(timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("1999m"), Some(Duration::from_millis(1999)));
        assert_eq!(timeout("3H"), Some(Duration::from_secs(3 * 3600)));
        assert_eq!(timeout("5M"), Some(Duration::from_secs(300)));
        assert_eq!(
            timeout("12345678u"),
            Some(Duration::from_micros(12_345_678))
        );
        assert_eq!(timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "S", "123456789m", "10x", "1.5S", "-1S"] {
            assert_eq!(timeout(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
