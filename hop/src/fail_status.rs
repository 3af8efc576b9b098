//! `fail-status`: which error a failing hop answers with.
//!
//! The header is forwarded along the chain, and a chain can mix protocols, so
//! one value must make sense to both: an HTTP code (`503`) or a gRPC code name
//! (`UNAVAILABLE`), each mapped to the other protocol with gRPC's own table
//! (grpc/doc/http-grpc-status-mapping.md and its reverse).

use tonic::Code;

/// The status a failing hop answers with, on both protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailStatus {
    pub http: u16,
    pub grpc: Code,
}

impl Default for FailStatus {
    /// HTTP 500 and its gRPC counterpart INTERNAL: what Istio routes retry on
    /// with `retryOn: 5xx` and `retryOn: internal`.
    fn default() -> Self {
        FailStatus {
            http: 500,
            grpc: Code::Internal,
        }
    }
}

/// The gRPC code of an upper-case name (`UNAVAILABLE`), as Istio's
/// `fault.abort.grpcStatus` and Envoy name them.
pub fn grpc_code_by_name(name: &str) -> Option<Code> {
    contract::Code::from_name(name).map(|c| Code::from_i32(c as i32))
}

/// The canonical upper-case name of a gRPC code (`UNAVAILABLE`), for metrics and spans.
pub fn grpc_code_name(code: Code) -> &'static str {
    contract::Code::from_i32(code as i32).name()
}

impl FailStatus {
    /// Reads a `fail-status` value; anything unusable (missing, `200`, `OK`,
    /// `teapot`) gives the default rather than an error: a failing hop must fail.
    pub fn parse(value: Option<&str>) -> FailStatus {
        let Some(value) = value.map(str::trim) else {
            return FailStatus::default();
        };
        if let Ok(http) = value.parse::<u16>() {
            if (400..=599).contains(&http) {
                return FailStatus {
                    http,
                    grpc: grpc_from_http(http),
                };
            }
            return FailStatus::default();
        }
        let name = value.to_ascii_uppercase().replace(['-', ' '], "_");
        grpc_code_by_name(&name)
            .filter(|c| *c != Code::Ok)
            .map(|grpc| FailStatus {
                http: http_from_grpc(grpc),
                grpc,
            })
            .unwrap_or_default()
    }
}

fn grpc_from_http(http: u16) -> Code {
    match http {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        500 => Code::Internal,
        _ => Code::Unknown,
    }
}

fn http_from_grpc(code: Code) -> u16 {
    match code {
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_codes_map_to_grpc() {
        assert_eq!(
            FailStatus::parse(Some("503")),
            FailStatus {
                http: 503,
                grpc: Code::Unavailable
            }
        );
        assert_eq!(FailStatus::parse(Some("500")), FailStatus::default());
        assert_eq!(FailStatus::parse(Some("418")).grpc, Code::Unknown);
    }

    #[test]
    fn grpc_names_map_to_http() {
        assert_eq!(
            FailStatus::parse(Some("UNAVAILABLE")),
            FailStatus {
                http: 503,
                grpc: Code::Unavailable
            }
        );
        assert_eq!(FailStatus::parse(Some("deadline-exceeded")).http, 504);
        assert_eq!(FailStatus::parse(Some("internal")), FailStatus::default());
    }

    #[test]
    fn nonsense_gives_the_default() {
        for bad in [
            None,
            Some(""),
            Some("200"),
            Some("OK"),
            Some("teapot"),
            Some("99999"),
            Some("-5"),
        ] {
            assert_eq!(FailStatus::parse(bad), FailStatus::default(), "{bad:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in 0..17 {
            let code = Code::from_i32(n);
            assert_eq!(grpc_code_by_name(grpc_code_name(code)), Some(code));
        }
    }
}
