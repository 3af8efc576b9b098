//! The OTLP collector `--otlp-endpoint` names.

/// Parses an OTLP/gRPC endpoint (`http://host:4317`, `host:4317`) into host and port.
pub fn parse_endpoint(endpoint: &str) -> Result<(String, u16), String> {
    let trimmed = endpoint.trim();
    let rest = match trimmed.split_once("://") {
        None => trimmed,
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" | "grpc" => rest,
            "https" => {
                return Err(format!(
                    "OTLP endpoint {endpoint}: https is not supported locally; use http://HOST:PORT"
                ));
            }
            _ => {
                return Err(format!(
                    "OTLP endpoint {endpoint}: scheme `{scheme}`; use http://HOST:PORT"
                ));
            }
        },
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("OTLP endpoint {endpoint}: expected http://HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("OTLP endpoint {endpoint}: `{port}` is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("OTLP endpoint {endpoint}: no host"));
    }
    let host = if host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        host
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("http://localhost:4317").unwrap(),
            ("127.0.0.1".into(), 4317)
        );
        assert_eq!(
            parse_endpoint("collector:4317/").unwrap(),
            ("collector".into(), 4317)
        );
        assert!(parse_endpoint("https://x:1").is_err());
        assert!(parse_endpoint("Https://x:1").is_err());
        assert!(parse_endpoint("ftp://x:1").is_err());
        assert!(parse_endpoint("http://:4317").is_err());
        assert_eq!(
            parse_endpoint("GRPC://LocalHost:4317").unwrap(),
            ("127.0.0.1".into(), 4317)
        );
        assert!(parse_endpoint("http://x").is_err());
    }
}
