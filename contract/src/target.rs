//! Upstream targets: what a hop calls, as written in its `UPSTREAM`.

use std::fmt;

use http::Uri;

/// One upstream of a hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The text it was parsed from: shown in replies, metrics and spans.
    pub raw: String,
    pub scheme: TargetScheme,
    /// What a client dials: the URL itself for HTTP(S); `http://host:port` for
    /// gRPC (h2c).
    pub uri: Uri,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetScheme {
    Http,
    Https,
    Grpc,
}

impl Target {
    /// Parses `http://host[:port][/path]`, `https://...` or `grpc://host:port`.
    ///
    /// Commas, spaces and control characters are refused: `UPSTREAM` is a
    /// comma-separated list, so a comma inside one URL would silently make two.
    pub fn parse(raw: &str) -> Result<Target, String> {
        if let Some(c) = raw
            .chars()
            .find(|c| *c == ',' || c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "`{}`: {c:?} is not allowed in a URL",
                raw.escape_debug()
            ));
        }
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
        if authority.host().is_empty() {
            return Err(format!("`{raw}` has no host"));
        }
        // `http::Uri` takes any digits after the colon and reads a port over
        // 65535 as none at all, so `:65536` would become the scheme's default.
        // Rust's integer parser also takes `+80` and `00080`, which other
        // readers of the URL (Envoy, the ServiceEntry) need not: digits only,
        // written as the number is.
        let port_text = authority.as_str()[authority.host().len()..].strip_prefix(':');
        if let Some(text) = port_text {
            let canonical = text.bytes().all(|b| b.is_ascii_digit()) && !text.starts_with('0');
            if !canonical || !matches!(text.parse::<u16>(), Ok(1..)) {
                return Err(format!(
                    "`{raw}`: the port must be a number from 1 to 65535, in digits without a \
                     leading zero or sign"
                ));
            }
        }
        let uri = match scheme {
            TargetScheme::Grpc => {
                if authority.port_u16().is_none() {
                    return Err(format!("`{raw}`: a grpc:// target needs a port"));
                }
                if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
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

    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    /// The port called: the URL's, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(match self.scheme {
            TargetScheme::Https => 443,
            TargetScheme::Http | TargetScheme::Grpc => 80,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let t = Target::parse("grpc://backend:50051").unwrap();
        assert_eq!(
            (t.scheme, t.uri.to_string()),
            (TargetScheme::Grpc, "http://backend:50051/".into())
        );
        let t = Target::parse("https://api.example.com/x").unwrap();
        assert_eq!(
            (t.scheme, t.host(), t.port()),
            (TargetScheme::Https, "api.example.com", 443)
        );
        assert_eq!(Target::parse("http://h:81/").unwrap().port(), 81);
        assert_eq!(Target::parse("http://h:65535/").unwrap().port(), 65535);
        let v6 = Target::parse("http://[::1]:8080/").unwrap();
        assert_eq!((v6.host(), v6.port()), ("[::1]", 8080));
    }

    #[test]
    fn refuses_what_would_be_misread() {
        for bad in [
            "http://a.example/,http://b.example/",
            "http://h/a b",
            "http://h/\u{7f}",
            "http://u@h/",
            "http://",
            "http://h:0/",
            "http://h:65536/",
            "http://h:99999999999/",
            "http://h:/",
            "http://[::1]:65536/",
            "http://h:+80/",
            "http://h:00080/",
            "http://h:0080/",
            "grpc://backend:070000",
            "grpc://backend:70000",
            "grpc://backend",
            "grpc://backend:1/path",
            "ftp://h/",
            "backend",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?}");
        }
    }
}
