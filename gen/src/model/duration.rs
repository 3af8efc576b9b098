//! Durations as profiles write them (`2s`, `500ms`, `1.5s`, `1m`) and as Istio and
//! Envoy read them (protobuf JSON: seconds with an `s` suffix, e.g. `0.5s`).

use std::fmt;

use serde::{Serialize, Serializer};

/// A positive duration with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    millis: u64,
}

impl Duration {
    pub fn from_millis(millis: u64) -> Self {
        Duration { millis }
    }

    pub fn as_millis(self) -> u64 {
        self.millis
    }

    /// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`; the number may have a
    /// fraction. Must be at least 1ms (Istio rejects shorter timeouts).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "\"{text}\" is not a duration (expected e.g. \"2s\", \"500ms\", \"1.5s\", \"1m\")"
            )
        };
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let scale = match unit {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return Err(bad()),
        };
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        let millis = value * scale;
        if millis.fract() != 0.0 {
            return Err(format!("\"{text}\" is finer than a millisecond"));
        }
        if millis < 1.0 {
            return Err(format!("\"{text}\" must be at least 1ms"));
        }
        if millis > 86_400_000.0 {
            return Err(format!("\"{text}\" is longer than a day"));
        }
        Ok(Duration {
            millis: millis as u64,
        })
    }

    pub fn saturating_mul(self, n: u64) -> Self {
        Duration {
            millis: self.millis.saturating_mul(n),
        }
    }
}

impl fmt::Display for Duration {
    /// Protobuf JSON form: `2s`, `0.5s`, `1.25s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, ms) = (self.millis / 1000, self.millis % 1000);
        if ms == 0 {
            write!(f, "{secs}s")
        } else {
            let frac = format!("{ms:03}");
            write!(f, "{secs}.{}s", frac.trim_end_matches('0'))
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for (input, out) in [
            ("2s", "2s"),
            ("500ms", "0.5s"),
            ("1.5s", "1.5s"),
            ("1m", "60s"),
            ("1ms", "0.001s"),
            ("1.25s", "1.25s"),
        ] {
            assert_eq!(Duration::parse(input).unwrap().to_string(), out, "{input}");
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [
            "", "2", "s", "2 s", "-1s", "0s", "0.5ms", "2d", ".5s", "1.s", "2ss",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
