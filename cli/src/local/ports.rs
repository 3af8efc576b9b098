//! Free 127.0.0.1 ports for a local mesh, and the [`Layout`] built from them.

use std::collections::BTreeMap;
use std::net::TcpListener;

use super::envoy::{Collector, ExternalPlan, ExternalUpstream, Layout, ServicePorts};
use meshgen::model::{Model, Upstream};

/// Hands out distinct free ports: every port is held open until [`Ports::release`],
/// so two ports of one mesh can never be the same (another program may still take
/// one between release and use; that shows as a clear bind error at start).
#[derive(Default)]
pub struct Ports {
    held: Vec<TcpListener>,
}

impl Ports {
    pub fn take(&mut self) -> Result<u16, String> {
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        self.held.push(l);
        Ok(port)
    }

    pub fn release(self) {}
}

/// A port asked for by name (`up --port`): free now on 127.0.0.1, or why not.
pub fn fixed(port: u16) -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", port))
        .map(|_| port)
        .map_err(|e| format!("--port {port}: cannot listen on 127.0.0.1:{port}: {e}"))
}

/// What the layout needs besides the Model.
pub struct LayoutInput<'a> {
    /// The stub's port when `--stub-external` is on.
    pub stub: Option<u16>,
    /// Hosts treated as having no ServiceEntry.
    pub without_service_entry: &'a [String],
    /// External host:ports answered at a given address.
    pub resolve: &'a [super::options::Resolve],
    /// OTLP collector host and port.
    pub collector: Option<(String, u16)>,
}

fn pinned(input: &LayoutInput, host: &str, port: u16) -> Option<std::net::IpAddr> {
    input
        .resolve
        .iter()
        .find(|r| r.host == host && r.port == port)
        .map(|r| r.addr)
}

/// Ports for everything: admin, ingress, one listener per service, one hop per
/// version, one listener per external host:port.
pub fn layout(model: &Model, input: &LayoutInput, ports: &mut Ports) -> Result<Layout, String> {
    let mut services = BTreeMap::new();
    for s in &model.services {
        let mut versions = BTreeMap::new();
        for w in &s.versions {
            versions.insert(w.version.clone(), ports.take()?);
        }
        services.insert(
            s.name.clone(),
            ServicePorts {
                listener: ports.take()?,
                versions,
            },
        );
    }
    let mut externals = Vec::new();
    for s in &model.services {
        for u in &s.upstreams {
            if let Upstream::External {
                host, port, tls, ..
            } = u
            {
                if externals
                    .iter()
                    .any(|e: &ExternalPlan| &e.host == host && e.port == *port)
                {
                    continue;
                }
                externals.push(ExternalPlan {
                    host: host.clone(),
                    port: *port,
                    tls: *tls,
                    listener: ports.take()?,
                    service_entry: !input.without_service_entry.iter().any(|h| h == host),
                    upstream: match (input.stub, pinned(input, host, *port)) {
                        (Some(p), _) => ExternalUpstream::Stub(p),
                        (None, Some(addr)) => ExternalUpstream::Address(addr),
                        (None, None) => ExternalUpstream::Dns,
                    },
                });
            }
        }
    }
    Ok(Layout {
        admin: ports.take()?,
        ingress: ports.take()?,
        services,
        externals,
        collector: input
            .collector
            .clone()
            .map(|(host, port)| Collector { host, port }),
    })
}

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

    #[test]
    fn ports_are_distinct() {
        let mut p = Ports::default();
        let a: Vec<u16> = (0..20).map(|_| p.take().unwrap()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
    }
}
