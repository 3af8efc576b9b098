//! Hop configuration, from the environment only (the manifest generator's
//! contract): a request can never choose where a hop calls.

use std::fmt;
use std::time::Duration;

use http::Uri;

use crate::duration;

/// How a hop is configured.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub service: String,
    pub version: String,
    /// Called in order; empty means a terminal hop that answers the time itself.
    pub upstreams: Vec<Target>,
    pub metrics_port: u16,
    pub upstream_timeout: Duration,
    /// In-app work spans ("Fibonacci Odd Or Even").
    pub work: bool,
    /// OTLP/gRPC endpoint; None means spans are not exported.
    pub otlp_endpoint: Option<String>,
}

/// One upstream, as written in UPSTREAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The text from the configuration: shown in replies, metrics and spans.
    pub raw: String,
    pub scheme: TargetScheme,
    /// What the client dials: the URL itself for HTTP(S); `http://host:port`
    /// for gRPC (h2c).
    pub uri: Uri,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetScheme {
    Http,
    Https,
    Grpc,
}

/// A configuration error names the variable and says what is expected.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment; `default_port` differs per protocol
    /// (HTTP 8080, gRPC 50051).
    pub fn from_env(default_port: u16) -> Result<Config, ConfigError> {
        Config::from_lookup(default_port, |key| std::env::var(key).ok())
    }

    /// Same as [`Config::from_env`] with an injectable lookup, for tests.
    pub fn from_lookup(
        default_port: u16,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        // An empty variable counts as unset: manifests often render `value: ""`.
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let port = |key: &str, default: u16| match get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u16>()
                .map_err(|_| ConfigError(format!("{key}: `{v}` is not a port number (1-65535)"))),
        };
        let upstreams = match get("UPSTREAM") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Target::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| ConfigError(format!("UPSTREAM: {e}")))?,
        };
        let upstream_timeout = match get("UPSTREAM_TIMEOUT") {
            None => Duration::from_secs(2),
            Some(v) => {
                duration::parse(&v).map_err(|e| ConfigError(format!("UPSTREAM_TIMEOUT: {e}")))?
            }
        };
        let work = match get("WORK").map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(v) => {
                return Err(ConfigError(format!(
                    "WORK: `{v}` is not true/false (or 1/0)"
                )));
            }
        };
        Ok(Config {
            port: port("PORT", default_port)?,
            service: get("SERVICE_NAME").unwrap_or_else(|| "hop".into()),
            version: get("SERVICE_VERSION").unwrap_or_else(|| "v1".into()),
            upstreams,
            metrics_port: port("METRICS_PORT", 9464)?,
            upstream_timeout,
            work,
            otlp_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        })
    }
}

impl Target {
    /// Parses `http://host[:port][/path]`, `https://...` or `grpc://host:port`.
    pub fn parse(raw: &str) -> Result<Target, String> {
        let uri: Uri = raw
            .parse()
            .map_err(|e| format!("`{raw}` is not a URL ({e})"))?;
        let scheme = match uri.scheme_str() {
            Some("http") => TargetScheme::Http,
            Some("https") => TargetScheme::Https,
            Some("grpc") => TargetScheme::Grpc,
            _ => {
                return Err(format!(
                    "`{raw}`: the scheme must be http://, https:// or grpc://"
                ));
            }
        };
        let Some(authority) = uri.authority() else {
            return Err(format!("`{raw}` has no host"));
        };
        if authority.as_str().contains('@') {
            return Err(format!("`{raw}`: credentials in the URL are not supported"));
        }
        let uri = match scheme {
            TargetScheme::Grpc => {
                if authority.port_u16().is_none() {
                    return Err(format!("`{raw}`: a grpc:// target needs a port"));
                }
                if !matches!(uri.path(), "" | "/") {
                    return Err(format!("`{raw}`: a grpc:// target has no path"));
                }
                format!("http://{authority}")
                    .parse()
                    .map_err(|e| format!("`{raw}`: {e}"))?
            }
            _ => uri,
        };
        Ok(Target {
            raw: raw.to_string(),
            scheme,
            uri,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(8080, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert_eq!((c.port, c.metrics_port), (8080, 9464));
        assert!(c.upstreams.is_empty());
        assert_eq!(c.upstream_timeout, Duration::from_secs(2));
        assert!(!c.work);
        assert_eq!(c.otlp_endpoint, None);
    }

    #[test]
    fn reads_everything() {
        let c = config(&[
            ("PORT", "3000"),
            ("SERVICE_NAME", "middleware"),
            ("SERVICE_VERSION", "canary"),
            (
                "UPSTREAM",
                "http://backend/, grpc://backend:50051,https://time.example/api",
            ),
            ("UPSTREAM_TIMEOUT", "500ms"),
            ("WORK", "1"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(
            (c.service.as_str(), c.version.as_str()),
            ("middleware", "canary")
        );
        let schemes: Vec<_> = c.upstreams.iter().map(|t| t.scheme).collect();
        assert_eq!(
            schemes,
            [TargetScheme::Http, TargetScheme::Grpc, TargetScheme::Https]
        );
        assert_eq!(c.upstreams[1].uri.to_string(), "http://backend:50051/");
        assert_eq!(c.upstreams[1].raw, "grpc://backend:50051");
        assert_eq!(c.upstream_timeout, Duration::from_millis(500));
        assert!(c.work);
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, var) in [
            (&[("PORT", "abc")][..], "PORT"),
            (&[("METRICS_PORT", "70000")][..], "METRICS_PORT"),
            (&[("UPSTREAM", "ftp://x/")][..], "UPSTREAM"),
            (&[("UPSTREAM", "grpc://backend")][..], "UPSTREAM"),
            (&[("UPSTREAM", "not a url")][..], "UPSTREAM"),
            (&[("UPSTREAM_TIMEOUT", "soon")][..], "UPSTREAM_TIMEOUT"),
            (&[("WORK", "maybe")][..], "WORK"),
        ] {
            let err = config(vars).unwrap_err();
            assert!(err.0.starts_with(var), "{err}");
        }
    }

    #[test]
    fn empty_values_are_unset() {
        let c = config(&[("UPSTREAM", ""), ("PORT", " ")]).unwrap();
        assert!(c.upstreams.is_empty());
        assert_eq!(c.port, 8080);
    }
}
