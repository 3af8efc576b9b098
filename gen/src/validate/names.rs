//! Names and URLs as Kubernetes and Istio accept them.

use contract::{Target, TargetScheme};

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

/// A string that `kubectl` reads back as the string it is. kubectl parses
/// YAML 1.1, where a plain `no`, `On` or `1_000` is a boolean or a number; the
/// output is written as YAML 1.2, which leaves those unquoted. Profile
/// strings that would be printed bare are refused rather than misread.
pub fn yaml11_string(s: &str) -> Result<(), &'static str> {
    if yaml11_implicit(s) {
        return Err("kubectl reads it as a boolean or a number (YAML 1.1); choose another");
    }
    Ok(())
}

/// Whether YAML 1.1's implicit types (bool, null, int, float) claim `s`.
fn yaml11_implicit(s: &str) -> bool {
    const WORDS: &str = "y Y yes Yes YES n N no No NO true True TRUE false False FALSE \
                         on On ON off Off OFF null Null NULL ~ .inf .Inf .INF .nan .NaN .NAN";
    if s.is_empty() || WORDS.split_whitespace().any(|w| w == s) {
        return true;
    }
    let n = s.strip_prefix(['-', '+']).unwrap_or(s);
    let all = |t: &str, ok: fn(char) -> bool| !t.is_empty() && t.chars().all(ok);
    let digits = |c: char| c.is_ascii_digit() || c == '_';
    if let Some(b) = n.strip_prefix("0b") {
        return all(b, |c| c == '0' || c == '1' || c == '_');
    }
    if let Some(x) = n.strip_prefix("0x") {
        return all(x, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if matches!(n, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    // Integers (decimal, octal) and sexagesimal `1:30`.
    if n.starts_with(|c: char| c.is_ascii_digit()) && n.split(':').all(|part| all(part, digits)) {
        return true;
    }
    // Floats: digits, a dot, digits (and dots), an optional signed exponent.
    let (mantissa, exponent) = match n.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (n, None),
    };
    mantissa.contains('.')
        && mantissa.chars().any(|c| c.is_ascii_digit())
        && mantissa.split_once('.').is_some_and(|(i, f)| {
            i.chars().all(digits) && f.chars().all(|c| digits(c) || c == '.')
        })
        // YAML 1.1's exponent has a sign: `1.0e+3`, not `1.0e3`.
        && exponent.is_none_or(|e| {
            e.strip_prefix(['-', '+'])
                .is_some_and(|d| all(d, |c| c.is_ascii_digit()))
        })
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
    dns_name(host.strip_prefix("*.").unwrap_or(host))
}

const EXTERNAL_SCHEMES: &str =
    "external upstreams must be http:// or https:// (gRPC chains call outside over HTTP too)";

/// `http(s)://host[:port][/path]`; the host must be a DNS name (the egress
/// allow-list is by host). Parsed by the hop's own parser, which reads the
/// URL back from its UPSTREAM: whatever meshgen accepts, every hop accepts.
pub(super) fn parse_url(url: &str) -> Result<Upstream, String> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("http" | "https")) {
        return Err(EXTERNAL_SCHEMES.into());
    }
    let target = Target::parse(url)?;
    let tls = match target.scheme {
        TargetScheme::Http => false,
        TargetScheme::Https => true,
        TargetScheme::Grpc => return Err(EXTERNAL_SCHEMES.into()),
    };
    let host = target.host();
    dns_name(host)?;
    if host.ends_with(".local") || host.ends_with(".svc") || host.ends_with(".cluster") {
        return Err(format!(
            "\"{host}\" is a name inside the cluster; call a service of the chain by its name"
        ));
    }
    Ok(Upstream::External {
        url: url.to_owned(),
        host: host.to_owned(),
        port: target.port(),
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
    fn yaml11_words() {
        for bad in [
            "y", "n", "yes", "Yes", "no", "on", "ON", "off", "0b101", "1_000", "0_7", "017",
            "0x1f", "1:30", "1.5", ".5", "1.0e+3", "-2", "+3.", "~", "Null", ".nan",
        ] {
            assert!(yaml11_string(bad).is_err(), "{bad}");
        }
        for good in [
            "nope",
            "yes1",
            "0b2",
            "prod",
            "x-canary",
            "super-secret",
            "1e3",
            "1.0e3",
            "v1.2.x",
            "a:1",
        ] {
            assert!(yaml11_string(good).is_ok(), "{good}");
        }
    }

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
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
