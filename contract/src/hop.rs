//! The configuration of one hop and its environment: written by meshgen
//! ([`HopConfig::to_env`]), read by the hop ([`HopConfig::from_env`]). The
//! environment is the only input: a request can never choose where a hop calls.

use std::fmt;
use std::net::IpAddr;

use http::HeaderName;

use crate::{Duration, Limits, METRICS_PORT, Probability, Protocol, Target, headers};

/// The variables of a hop, each named once. `OTEL_*` are OpenTelemetry's
/// standard ones: the hop's SDK reads them too.
pub mod env {
    pub const PORT: &str = "PORT";
    pub const METRICS_PORT: &str = "METRICS_PORT";
    /// The address both ports listen on: every address of the pod
    /// (`0.0.0.0`, the default), or `127.0.0.1` on one machine.
    pub const LISTEN_ADDRESS: &str = "LISTEN_ADDRESS";
    pub const SERVICE_NAME: &str = "SERVICE_NAME";
    pub const SERVICE_VERSION: &str = "SERVICE_VERSION";
    /// The pod's name (Kubernetes' downward API, `metadata.name`): named in
    /// every answer so that a client can count where its requests went.
    pub const POD_NAME: &str = "POD_NAME";
    /// A [`crate::Duration`]: this pod waits so long before every answer.
    pub const DELAY: &str = "DELAY";
    /// A [`crate::Probability`]: this pod fails so many of its requests,
    /// whatever they ask (one replica misbehaving).
    pub const FAIL: &str = "FAIL";
    /// Comma-separated [`crate::Target`]s, called in order.
    pub const UPSTREAM: &str = "UPSTREAM";
    /// A [`crate::Duration`]: how long one upstream call may take, retries included.
    pub const UPSTREAM_TIMEOUT: &str = "UPSTREAM_TIMEOUT";
    /// `true` / `false`: in-app work spans.
    pub const WORK: &str = "WORK";
    /// `true`: the hop stands in for an external API (answers the time and
    /// ignores `fail`, as a real API would).
    pub const EXTERNAL_STUB: &str = "EXTERNAL_STUB";
    /// Comma-separated header names forwarded besides the fixed ones.
    pub const FORWARD_HEADERS: &str = "FORWARD_HEADERS";
    /// Comma-separated entries of `UPSTREAM` that are APIs outside the mesh:
    /// calls to them carry none of `FORWARD_HEADERS`.
    pub const EXTERNAL_UPSTREAMS: &str = "EXTERNAL_UPSTREAMS";
    /// The hop's [`crate::Limits`], one variable each (durations in the
    /// [`crate::Duration`] grammar).
    pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
    pub const MAX_CONCURRENT_STREAMS: &str = "MAX_CONCURRENT_STREAMS";
    pub const MAX_IN_FLIGHT: &str = "MAX_IN_FLIGHT";
    pub const MAX_MESSAGE_BYTES: &str = "MAX_MESSAGE_BYTES";
    pub const IDLE_TIMEOUT: &str = "IDLE_TIMEOUT";
    pub const HEADER_TIMEOUT: &str = "HEADER_TIMEOUT";
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
}

/// The sampler a hop uses when it exports: follow the decision of the proxy in
/// front, carried in the request.
const SAMPLER: &str = "parentbased_always_on";

/// The resource attribute that carries [`HopConfig::namespace`].
const NAMESPACE_ATTRIBUTE: &str = "service.namespace";

/// How a hop is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopConfig {
    pub port: u16,
    pub metrics_port: u16,
    /// Where both ports listen (see [`env::LISTEN_ADDRESS`]).
    pub address: IpAddr,
    pub service: String,
    pub version: String,
    /// The pod's name, in answers and spans (`k8s.pod.name`).
    pub pod: Option<String>,
    /// How this pod misbehaves, on top of what each request asks.
    pub misbehaviour: Misbehaviour,
    /// Shown in spans (`service.namespace`).
    pub namespace: Option<String>,
    /// Called in order; empty means a terminal hop that answers the time itself.
    pub upstreams: Vec<Target>,
    /// How long one upstream call may take, every retry of the mesh included.
    pub upstream_timeout: Duration,
    /// In-app work spans ("Fibonacci Odd Or Even").
    pub work: bool,
    /// Stands in for an external API: answers the time, never rolls `fail`
    /// (the in-cluster twin of `meshgen up --stub-external`'s stub).
    pub external_stub: bool,
    /// Forwarded besides [`headers::APP`]: the headers routes match on.
    pub forward_headers: Vec<HeaderName>,
    /// The upstreams outside the mesh (some of [`HopConfig::upstreams`]).
    /// No route of the mesh matches what reaches them, so none of
    /// `forward_headers` is sent there: whatever a route header is named, it
    /// never leaves the cluster.
    pub external_upstreams: Vec<Target>,
    /// What bounds the memory clients can make the hop hold.
    pub limits: Limits,
    /// OTLP/gRPC endpoint; `None`: spans are not exported.
    pub otlp_endpoint: Option<String>,
}

impl HopConfig {
    /// Upstream calls wait this long unless `UPSTREAM_TIMEOUT` says otherwise.
    pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
    /// The longest `UPSTREAM_TIMEOUT` a hop accepts.
    pub const MAX_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3600);
    /// A pod's hop listens on every address of the pod.
    pub const EVERY_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

    /// A terminal hop with every default, for `protocol`.
    pub fn new(protocol: Protocol, service: &str, version: &str) -> HopConfig {
        HopConfig {
            port: protocol.default_port(),
            metrics_port: METRICS_PORT,
            address: HopConfig::EVERY_ADDRESS,
            service: service.to_owned(),
            version: version.to_owned(),
            pod: None,
            misbehaviour: Misbehaviour::NONE,
            namespace: None,
            upstreams: Vec::new(),
            upstream_timeout: Self::DEFAULT_UPSTREAM_TIMEOUT,
            work: false,
            external_stub: false,
            forward_headers: Vec::new(),
            external_upstreams: Vec::new(),
            limits: Limits::DEFAULT,
            otlp_endpoint: None,
        }
    }

    /// Whether calls to `target` may carry [`HopConfig::forward_headers`].
    pub fn forwards_route_headers_to(&self, target: &Target) -> bool {
        !self.external_upstreams.contains(target)
    }

    /// Every variable of this configuration, in a stable order. Optional parts
    /// (upstreams and their timeout, extra headers, export) are left out when
    /// unused, so a manifest lists only what a hop does.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (env::PORT, self.port.to_string()),
            (env::SERVICE_NAME, self.service.clone()),
            (env::SERVICE_VERSION, self.version.clone()),
        ];
        if let Some(pod) = &self.pod {
            out.push((env::POD_NAME, pod.clone()));
        }
        let m = &self.misbehaviour;
        if m.delay > Duration::ZERO {
            out.push((env::DELAY, m.delay.to_string()));
        }
        if m.fail > Probability::NEVER {
            out.push((env::FAIL, m.fail.to_string()));
        }
        if !self.upstreams.is_empty() {
            let list: Vec<&str> = self.upstreams.iter().map(|t| t.raw.as_str()).collect();
            out.push((env::UPSTREAM, list.join(",")));
            out.push((env::UPSTREAM_TIMEOUT, self.upstream_timeout.to_string()));
        }
        out.push((env::METRICS_PORT, self.metrics_port.to_string()));
        if self.address != HopConfig::EVERY_ADDRESS {
            out.push((env::LISTEN_ADDRESS, self.address.to_string()));
        }
        out.push((env::WORK, self.work.to_string()));
        if self.external_stub {
            out.push((env::EXTERNAL_STUB, true.to_string()));
        }
        if !self.forward_headers.is_empty() {
            let list: Vec<&str> = self
                .forward_headers
                .iter()
                .map(HeaderName::as_str)
                .collect();
            out.push((env::FORWARD_HEADERS, list.join(",")));
        }
        if !self.external_upstreams.is_empty() {
            let list: Vec<&str> = self
                .external_upstreams
                .iter()
                .map(|t| t.raw.as_str())
                .collect();
            out.push((env::EXTERNAL_UPSTREAMS, list.join(",")));
        }
        let l = &self.limits;
        out.extend([
            (env::MAX_CONNECTIONS, l.max_connections.to_string()),
            (env::MAX_CONCURRENT_STREAMS, l.max_streams.to_string()),
            (env::MAX_IN_FLIGHT, l.max_in_flight.to_string()),
            (env::MAX_MESSAGE_BYTES, l.max_message_bytes.to_string()),
            (env::IDLE_TIMEOUT, l.idle_timeout.to_string()),
            (env::HEADER_TIMEOUT, l.header_timeout.to_string()),
            (env::REQUEST_TIMEOUT, l.request_timeout.to_string()),
        ]);
        out.push((env::OTEL_SERVICE_NAME, self.service.clone()));
        let mut attributes = format!("service.version={}", self.version);
        if let Some(ns) = &self.namespace {
            attributes.push_str(&format!(",{NAMESPACE_ATTRIBUTE}={ns}"));
        }
        out.push((env::OTEL_RESOURCE_ATTRIBUTES, attributes));
        if let Some(endpoint) = &self.otlp_endpoint {
            out.push((env::OTEL_EXPORTER_OTLP_ENDPOINT, endpoint.clone()));
            out.push((env::OTEL_TRACES_SAMPLER, SAMPLER.to_owned()));
        }
        out
    }

    /// Reads the process environment. A variable that is not UTF-8 is
    /// refused by name, never read as unset.
    pub fn from_process_env(protocol: Protocol) -> Result<HopConfig, ConfigError> {
        let not_utf8 = std::cell::Cell::new(None);
        let config = HopConfig::from_env(protocol, |key| match std::env::var(key) {
            Ok(v) => Some(v),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => {
                not_utf8.set(not_utf8.get().or(Some(key)));
                None
            }
        });
        match not_utf8.into_inner() {
            Some(key) => Err(ConfigError::new(key, "(bytes)", "is not UTF-8")),
            None => config,
        }
    }

    /// Reads a configuration through `lookup` (the environment, or a map in
    /// tests). An empty variable counts as unset: manifests often render `""`.
    pub fn from_env(
        protocol: Protocol,
        lookup: impl Fn(&'static str) -> Option<String>,
    ) -> Result<HopConfig, ConfigError> {
        let get = |key: &'static str| lookup(key).filter(|v| !v.trim().is_empty());
        let port = |var: &'static str, default: u16| match get(var) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(ConfigError::new(var, &v, "is not a port number (1-65535)")),
            },
        };
        let list = |var: &'static str| -> Vec<String> {
            get(var)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let upstreams: Vec<Target> = list(env::UPSTREAM)
            .iter()
            .map(|t| Target::parse(t))
            .collect::<Result<_, _>>()
            .map_err(|e| {
                ConfigError::new(env::UPSTREAM, &get(env::UPSTREAM).unwrap_or_default(), &e)
            })?;
        let duration = |var: &'static str, default: Duration, max: Duration| match get(var) {
            None => Ok(default),
            Some(v) => match Duration::parse(v.trim()) {
                Ok(d) if d > Duration::ZERO && d <= max => Ok(d),
                Ok(_) => Err(ConfigError::new(
                    var,
                    &v,
                    &format!("must be more than 0 and at most {max}"),
                )),
                Err(e) => Err(ConfigError::new(var, &v, &e.to_string())),
            },
        };
        let misbehaviour = Misbehaviour {
            delay: match get(env::DELAY) {
                None => Duration::ZERO,
                Some(v) => match Duration::parse(v.trim()) {
                    Ok(d) if d <= Misbehaviour::MAX_DELAY => d,
                    Ok(_) => {
                        let why = format!("must be at most {}", Misbehaviour::MAX_DELAY);
                        return Err(ConfigError::new(env::DELAY, &v, &why));
                    }
                    Err(e) => return Err(ConfigError::new(env::DELAY, &v, &e.to_string())),
                },
            },
            fail: match get(env::FAIL) {
                None => Probability::NEVER,
                Some(v) => {
                    Probability::parse(&v).map_err(|e| ConfigError::new(env::FAIL, &v, &e))?
                }
            },
        };
        let hour = Self::MAX_UPSTREAM_TIMEOUT;
        let upstream_timeout =
            duration(env::UPSTREAM_TIMEOUT, Self::DEFAULT_UPSTREAM_TIMEOUT, hour)?;
        let count = |var: &'static str, default: u32, max: u32| match get(var) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::new(
                    var,
                    &v,
                    &format!("is not a number from 1 to {max}"),
                )),
            },
        };
        let d = Limits::DEFAULT;
        let limits = Limits {
            max_connections: count(env::MAX_CONNECTIONS, d.max_connections, 100_000)?,
            max_streams: count(env::MAX_CONCURRENT_STREAMS, d.max_streams, 10_000)?,
            max_in_flight: count(env::MAX_IN_FLIGHT, d.max_in_flight, 100_000)?,
            max_message_bytes: count(env::MAX_MESSAGE_BYTES, d.max_message_bytes, 4 << 20)?,
            idle_timeout: duration(env::IDLE_TIMEOUT, d.idle_timeout, hour)?,
            header_timeout: duration(env::HEADER_TIMEOUT, d.header_timeout, hour)?,
            request_timeout: duration(
                env::REQUEST_TIMEOUT,
                d.request_timeout,
                Limits::MAX_REQUEST_TIMEOUT,
            )?,
        };
        let flag = |var: &'static str| match get(var).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(var, &v, "is not true/false (or 1/0)")),
        };
        let work = flag(env::WORK)?;
        let external_stub = flag(env::EXTERNAL_STUB)?;
        let forward_list = list(env::FORWARD_HEADERS);
        if forward_list.len() > headers::MAX_ROUTE_HEADERS {
            return Err(ConfigError::new(
                env::FORWARD_HEADERS,
                &format!("{} names", forward_list.len()),
                &format!("is more than {}", headers::MAX_ROUTE_HEADERS),
            ));
        }
        let forward_headers = forward_list
            .iter()
            .map(|h| {
                headers::check_match_name(h)
                    .and_then(|()| HeaderName::try_from(h.as_str()).map_err(|e| e.to_string()))
                    .map_err(|e| {
                        let why = format!("cannot be forwarded as a route header: {e}");
                        ConfigError::new(env::FORWARD_HEADERS, h, &why)
                    })
            })
            .collect::<Result<_, _>>()?;
        let external_upstreams = list(env::EXTERNAL_UPSTREAMS)
            .into_iter()
            .map(|raw| match upstreams.iter().find(|t| t.raw == raw) {
                Some(t) => Ok(t.clone()),
                None => Err(ConfigError::new(
                    env::EXTERNAL_UPSTREAMS,
                    &raw,
                    "is not one of UPSTREAM's entries",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let namespace = get(env::OTEL_RESOURCE_ATTRIBUTES).and_then(|attrs| {
            attrs.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == NAMESPACE_ATTRIBUTE).then(|| v.trim().to_owned())
            })
        });
        Ok(HopConfig {
            port: port(env::PORT, protocol.default_port())?,
            metrics_port: port(env::METRICS_PORT, METRICS_PORT)?,
            address: match get(env::LISTEN_ADDRESS) {
                None => HopConfig::EVERY_ADDRESS,
                Some(raw) => raw.parse().map_err(|_| {
                    ConfigError::new(env::LISTEN_ADDRESS, &raw, "is not an IP address")
                })?,
            },
            service: get(env::SERVICE_NAME).unwrap_or_else(|| "hop".into()),
            version: get(env::SERVICE_VERSION).unwrap_or_else(|| "v1".into()),
            pod: match get(env::POD_NAME) {
                None => None,
                Some(p) => Some(
                    pod_name(p.trim()).map_err(|why| ConfigError::new(env::POD_NAME, &p, why))?,
                ),
            },
            misbehaviour,
            namespace,
            upstreams,
            upstream_timeout,
            work,
            external_stub,
            forward_headers,
            external_upstreams,
            limits,
            otlp_endpoint: get(env::OTEL_EXPORTER_OTLP_ENDPOINT),
        })
    }
}

/// A pod's name as Kubernetes gives it (a DNS-1123 subdomain, at most 253
/// characters): nothing else reaches the answers and spans it is shown in.
fn pod_name(p: &str) -> Result<String, &'static str> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if p.len() <= 253 && p.split('.').all(label_ok) {
        Ok(p.to_owned())
    } else {
        Err("is not a Kubernetes pod name (lowercase letters, digits, '-' and '.', at most 253)")
    }
}

/// What one pod does wrong whatever its requests ask: the knob that makes
/// one replica of three slow or failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Misbehaviour {
    /// Waited before every answer (after a request's own `delay`).
    pub delay: Duration,
    /// The share of requests failed, rolled before a request's own `fail`.
    pub fail: Probability,
}

impl Misbehaviour {
    pub const NONE: Misbehaviour = Misbehaviour {
        delay: Duration::ZERO,
        fail: Probability::NEVER,
    };
    /// The longest `DELAY` (and request `delay`) a hop waits: more than any
    /// timeout worth measuring, less than anything that looks like a hang.
    pub const MAX_DELAY: Duration = Duration::from_secs(60);
}

/// A variable a hop cannot use: which one, its value, and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    var: &'static str,
    value: String,
    reason: String,
}

impl ConfigError {
    fn new(var: &'static str, value: &str, reason: &str) -> ConfigError {
        ConfigError {
            var,
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// The variable's name.
    pub fn var(&self) -> &'static str {
        self.var
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: `{}` {}",
            self.var,
            self.value.escape_debug(),
            self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<HopConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HopConfig::from_env(Protocol::Http, |k| map.get(k).cloned())
    }

    fn round_trip(c: &HopConfig, protocol: Protocol) -> HopConfig {
        let map: HashMap<&str, String> = c.to_env().into_iter().collect();
        HopConfig::from_env(protocol, |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn defaults() {
        assert_eq!(
            config(&[]).unwrap(),
            HopConfig::new(Protocol::Http, "hop", "v1")
        );
        let grpc = HopConfig::from_env(Protocol::Grpc, |_| None).unwrap();
        assert_eq!((grpc.port, grpc.metrics_port), (50051, 9464));
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
            ("UPSTREAM_TIMEOUT", "1.005s"),
            ("WORK", "1"),
            ("FORWARD_HEADERS", "x-canary, x-beta"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.version=canary,service.namespace=demo",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(
            (c.service.as_str(), c.version.as_str()),
            ("middleware", "canary")
        );
        assert_eq!(c.upstreams.len(), 3);
        assert_eq!(c.upstream_timeout, Duration::from_millis(1005));
        assert!(c.work);
        assert_eq!(c.forward_headers, ["x-canary", "x-beta"]);
        assert_eq!(c.namespace.as_deref(), Some("demo"));
        assert_eq!(round_trip(&c, Protocol::Http), c);
    }

    #[test]
    fn errors_name_the_variable() {
        for (vars, var) in [
            (&[("PORT", "abc")][..], "PORT"),
            (&[("LISTEN_ADDRESS", "localhost")][..], "LISTEN_ADDRESS"),
            (&[("LISTEN_ADDRESS", "127.0.0.1:80")][..], "LISTEN_ADDRESS"),
            (&[("PORT", "0")][..], "PORT"),
            (&[("METRICS_PORT", "70000")][..], "METRICS_PORT"),
            (&[("UPSTREAM", "ftp://x/")][..], "UPSTREAM"),
            (&[("UPSTREAM", "grpc://backend")][..], "UPSTREAM"),
            (&[("UPSTREAM_TIMEOUT", "soon")][..], "UPSTREAM_TIMEOUT"),
            (&[("UPSTREAM_TIMEOUT", "2h")][..], "UPSTREAM_TIMEOUT"),
            (&[("UPSTREAM_TIMEOUT", "0s")][..], "UPSTREAM_TIMEOUT"),
            (&[("WORK", "maybe")][..], "WORK"),
            (&[("FORWARD_HEADERS", "host")][..], "FORWARD_HEADERS"),
            (&[("FORWARD_HEADERS", "X-Canary")][..], "FORWARD_HEADERS"),
            (
                &[("FORWARD_HEADERS", "x-canary,authorization")][..],
                "FORWARD_HEADERS",
            ),
            (&[("FORWARD_HEADERS", "cookie")][..], "FORWARD_HEADERS"),
            (&[("FORWARD_HEADERS", "x-api-key")][..], "FORWARD_HEADERS"),
            (
                &[("MAX_CONCURRENT_STREAMS", "0")][..],
                "MAX_CONCURRENT_STREAMS",
            ),
            (
                &[("MAX_CONCURRENT_STREAMS", "many")][..],
                "MAX_CONCURRENT_STREAMS",
            ),
            (&[("IDLE_TIMEOUT", "0s")][..], "IDLE_TIMEOUT"),
            (&[("MAX_IN_FLIGHT", "0")][..], "MAX_IN_FLIGHT"),
            (&[("IDLE_TIMEOUT", "5")][..], "IDLE_TIMEOUT"),
            (&[("MAX_CONNECTIONS", "0")][..], "MAX_CONNECTIONS"),
            (&[("MAX_CONNECTIONS", "100001")][..], "MAX_CONNECTIONS"),
            (&[("MAX_MESSAGE_BYTES", "5000000")][..], "MAX_MESSAGE_BYTES"),
            (&[("HEADER_TIMEOUT", "2h")][..], "HEADER_TIMEOUT"),
            (&[("REQUEST_TIMEOUT", "0s")][..], "REQUEST_TIMEOUT"),
            (&[("REQUEST_TIMEOUT", "25h")][..], "REQUEST_TIMEOUT"),
        ] {
            let err = config(vars).unwrap_err();
            assert_eq!(err.var(), var, "{err}");
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }

    /// At most `MAX_ROUTE_HEADERS` names: within one environment string's
    /// 128 KiB whatever they are.
    #[test]
    fn forward_headers_are_bounded() {
        let names = |n: usize| {
            (0..n)
                .map(|i| format!("x-h{i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let at_most = names(headers::MAX_ROUTE_HEADERS);
        assert!(config(&[("FORWARD_HEADERS", &at_most)]).is_ok());
        let over = names(headers::MAX_ROUTE_HEADERS + 1);
        let err = config(&[("FORWARD_HEADERS", &over)]).unwrap_err();
        assert_eq!(err.var(), "FORWARD_HEADERS", "{err}");
    }

    #[test]
    fn empty_values_are_unset() {
        let c = config(&[("UPSTREAM", ""), ("PORT", " ")]).unwrap();
        assert!(c.upstreams.is_empty());
        assert_eq!(c.port, 8080);
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9-]{0,20}[a-z0-9]"
    }

    prop_compose! {
        fn hop_config()(
            protocol in prop::sample::select(Protocol::ALL.to_vec()),
            port in 1u16..,
            metrics_port in 1u16..,
            service in label(),
            version in label(),
            namespace in prop::option::of(label()),
            upstreams in prop::collection::vec((label(), 1u16.., any::<bool>(), any::<bool>()), 0..4),
            timeout_ms in 1u64..3_600_000,
            work in any::<bool>(),
            headers in prop::collection::btree_set(
                "x-[a-z0-9]{1,10}".prop_filter("a route header", |h| crate::headers::check_match_name(h).is_ok()),
                0..3,
            ),
            otlp in prop::option::of(label()),
            max_connections in 1u32..=100_000,
            max_streams in 1u32..=10_000,
            idle_ms in 1u64..3_600_000,
            max_in_flight in 1u32..=100_000,
            max_message_bytes in 1u32..=4 << 20,
            header_ms in 1u64..3_600_000,
            request_ms in 1u64..86_400_000,
            external_stub in any::<bool>(),
            loopback in any::<bool>(),
            pod in prop::option::of(label()),
            delay_ms in 0u64..=60_000,
            fail_per_mille in 0u32..=1000,
        ) -> (Protocol, HopConfig) {
            let external_upstreams = upstreams
                .iter()
                .filter(|(.., outside)| *outside)
                .map(|(host, port, ..)| Target::parse(&format!("http://{host}:{port}")).unwrap())
                .collect::<Vec<_>>();
            let upstreams = upstreams
                .into_iter()
                .map(|(host, port, grpc, outside)| {
                    let scheme = if grpc && !outside { "grpc" } else { "http" };
                    Target::parse(&format!("{scheme}://{host}:{port}")).unwrap()
                })
                .collect::<Vec<_>>();
            let upstream_timeout = if upstreams.is_empty() {
                HopConfig::DEFAULT_UPSTREAM_TIMEOUT
            } else {
                Duration::from_millis(timeout_ms)
            };
            (protocol, HopConfig {
                port,
                metrics_port,
                address: if loopback { "127.0.0.1".parse().unwrap() } else { HopConfig::EVERY_ADDRESS },
                service,
                version,
                pod,
                misbehaviour: Misbehaviour {
                    delay: Duration::from_millis(delay_ms),
                    fail: Probability::new(f64::from(fail_per_mille) / 1000.0).unwrap(),
                },
                namespace,
                upstreams,
                upstream_timeout,
                work,
                external_stub,
                forward_headers: headers.iter().map(|h| HeaderName::try_from(h.as_str()).unwrap()).collect(),
                external_upstreams,
                limits: Limits {
                    max_connections,
                    max_streams,
                    max_in_flight,
                    max_message_bytes,
                    idle_timeout: Duration::from_millis(idle_ms),
                    header_timeout: Duration::from_millis(header_ms),
                    request_timeout: Duration::from_millis(request_ms),
                },
                otlp_endpoint: otlp.map(|h| format!("http://{h}:4317")),
            })
        }
    }

    /// Every variable a hop reads.
    const VARS: [&str; 20] = [
        env::PORT,
        env::POD_NAME,
        env::DELAY,
        env::FAIL,
        env::METRICS_PORT,
        env::LISTEN_ADDRESS,
        env::SERVICE_NAME,
        env::SERVICE_VERSION,
        env::UPSTREAM,
        env::UPSTREAM_TIMEOUT,
        env::WORK,
        env::EXTERNAL_STUB,
        env::FORWARD_HEADERS,
        env::MAX_CONNECTIONS,
        env::MAX_CONCURRENT_STREAMS,
        env::MAX_IN_FLIGHT,
        env::MAX_MESSAGE_BYTES,
        env::IDLE_TIMEOUT,
        env::HEADER_TIMEOUT,
        env::REQUEST_TIMEOUT,
    ];

    proptest! {
        #[test]
        fn from_env_reads_what_to_env_writes((protocol, c) in hop_config()) {
            prop_assert_eq!(round_trip(&c, protocol), c);
        }

        /// Whatever a variable holds (control characters, huge numbers,
        /// commas), a hop starts or names that variable in its refusal.
        #[test]
        fn any_value_is_read_or_refused_by_name(var in prop::sample::select(VARS.to_vec()), value in "\\PC{0,40}|[\\x00-\\x1f\\x7f ,=:]{0,8}|[0-9]{1,30}") {
            if let Err(e) = config(&[(var, &value)]) {
                prop_assert_eq!(e.var(), var);
            }
        }
    }
}
