//! Names and URLs as Kubernetes and Istio accept them.

use contract::{Target, TargetScheme, external};

use crate::model::Upstream;

/// RFC 1123 label, as Kubernetes checks names of namespaces and label values.
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters");
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("only lowercase letters, digits and '-' are allowed");
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

/// RFC 1035 label, as Kubernetes checks Service names (must start with a letter).
pub fn dns1035_label(s: &str) -> Result<(), &'static str> {
    dns1123_label(s)?;
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter");
    }
    Ok(())
}

pub(super) fn dns_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() || host.len() > 253 {
        return Err("a host name is 1 to 253 characters");
    }
    for label in host.split('.') {
        dns1123_label(label).map_err(
            |_| "each dot-separated part must be a DNS label (lowercase letters, digits, '-')",
        )?;
    }
    Ok(())
}

/// `*`, a DNS name, or `*.` followed by a DNS name.
pub(super) fn gateway_host(host: &str) -> Result<(), &'static str> {
    if host == "*" {
        return Ok(());
    }
    // Digits-only labels are DNS labels, so an address would pass as a name.
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(
            "an IP address, not a host name (the Gateway API forbids addresses in \
                    hostnames, and a Host header is a name)",
        );
    }
    dns_name(host.strip_prefix("*.").unwrap_or(host))
}

const EXTERNAL_SCHEMES: &str =
    "external upstreams must be http:// or https:// (gRPC chains call outside over HTTP too)";

/// Why a URL cannot be an external upstream.
#[derive(Debug, PartialEq)]
pub(super) enum UrlError {
    /// The cluster or the pod answers `host`.
    InCluster { host: String, why: String },
    /// Not an `http(s)://` URL of a DNS name on a port outside the mesh's.
    Invalid(String),
}

/// `http(s)://host[:port][/path]` of a host outside the cluster
/// (`contract::external`: the one decision of what the cluster or the pod
/// answers, for a pod of `namespace`), on a port that is not the mesh's own;
/// the host must be a DNS name (the egress allow-list is by host). Parsed by
/// the hop's own parser, which reads the URL back from its UPSTREAM: whatever
/// meshgen accepts, every hop accepts.
pub(super) fn parse_url(url: &str, namespace: &str) -> Result<Upstream, UrlError> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("http" | "https")) {
        return Err(UrlError::Invalid(EXTERNAL_SCHEMES.into()));
    }
    let target = Target::parse(url).map_err(UrlError::Invalid)?;
    let tls = match target.scheme {
        TargetScheme::Http => false,
        TargetScheme::Https => true,
        TargetScheme::Grpc => return Err(UrlError::Invalid(EXTERNAL_SCHEMES.into())),
    };
    let host = target.host();
    if let Some(why) = external::in_cluster(host, namespace) {
        return Err(UrlError::InCluster {
            host: host.to_owned(),
            why,
        });
    }
    dns_name(host).map_err(|why| UrlError::Invalid(why.into()))?;
    let port = target.port();
    if let Some(what) = external::mesh_port(port) {
        return Err(UrlError::Invalid(format!(
            "port {port} is {what}, one of the mesh's own ports (\"Ports used by Istio\")"
        )));
    }
    Ok(Upstream::External {
        url: url.to_owned(),
        host: host.to_owned(),
        port,
        tls,
    })
}

/// `[host[:port]/]path`, as an image reference starts (the distribution
/// reference grammar): an optional registry host, then lowercase path
/// components separated by `/`; the image name and tag are appended to it.
pub(super) fn image_registry(text: &str) -> Result<(), &'static str> {
    if text.is_empty() || text.len() > 200 {
        return Err("1 to 200 characters");
    }
    let mut parts = text.split('/');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    let is_host = !rest.is_empty() && (first.contains(['.', ':']) || first == "localhost");
    if is_host {
        let (host, port) = match first.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (first, None),
        };
        let host_label = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(host_label) {
            return Err("the registry host is not a DNS name");
        }
        if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
            return Err("the registry port is not a port number");
        }
    }
    let path = if is_host {
        rest
    } else {
        text.split('/').collect()
    };
    let component = |c: &str| {
        // [a-z0-9]+ ((.|_|__|-+) [a-z0-9]+)*
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && !c.contains("..")
            && !c.contains("___")
            && !c.contains("._")
            && !c.contains("_.")
    };
    if path.is_empty() || !path.iter().all(|c| component(c)) {
        return Err(
            "path components are lowercase letters and digits, separated by '.', '_' or '-'",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(dns1123_label("istio101").is_ok());
        assert!(dns1123_label("1a").is_ok());
        assert!(dns1035_label("1a").is_err());
        for bad in ["", "A", "a_b", "-a", "a-", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registries() {
        for good in [
            "localhost/meshgen",
            "registry.example:5000/team/x",
            "docker.io/library",
            "meshgen",
            "ghcr.io/a-b/c_d",
        ] {
            assert_eq!(image_registry(good), Ok(()), "{good}");
        }
        for bad in [
            ":::",
            "",
            "a//b",
            "Upper/x",
            "host:0/x",
            "host:99999/x",
            "-a.example/x",
            "a/b/",
            "a/.b",
            "x y/z",
        ] {
            assert!(image_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls() {
        let parse_url = |url| parse_url(url, "istio101");
        assert_eq!(
            parse_url("http://time.jsontest.com/").unwrap(),
            Upstream::External {
                url: "http://time.jsontest.com/".into(),
                host: "time.jsontest.com".into(),
                port: 80,
                tls: false
            }
        );
        let Upstream::External { port, tls, .. } =
            parse_url("https://api.example.com:8443/x").unwrap()
        else {
            panic!()
        };
        assert_eq!((port, tls), (8443, true));
        for bad in [
            "grpc://x:1",
            "http://",
            "http://Bad_Host/",
            "http://h:0/",
            "http://u@h/",
            "http://h/a b",
            "ftp://h/",
            "http://a.example/,http://b.example/",
            "http://frontend.istio101.svc.cluster.local/",
            "http://frontend.istio101/",
            "https://kubernetes.default/",
            "http://localhost:15000/",
            "http://127.0.0.1:15020/",
            "http://api.example.com:65536/",
            "http://api.example.com:15000/",
            "http://api.example.com./",
            "http://[::1]/",
            "http://2130706433/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
