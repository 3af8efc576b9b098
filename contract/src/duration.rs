//! Durations: one grammar for profiles, hop environments and command lines.
//!
//! Text is read as Go's `time.ParseDuration` reads it (what Istio's own tools
//! take): one or more `<number><unit>` groups, `2s`, `500ms`, `1.005s`, `1m30s`,
//! units `h`, `m`, `s`, `ms`, `us` (or `µs`) and `ns`. Arithmetic is on integer
//! nanoseconds, so `1.005s` is exactly 1,005 ms. Text is written in protobuf's
//! JSON form (`1.005s`), which Istio and Envoy read and this grammar reads back.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative duration in whole nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    nanos: u64,
}

/// Why a text is not a [`Duration`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseDurationError {
    /// Nothing, or only spaces.
    Empty,
    /// A number without a unit (`2`): seconds or milliseconds would be a guess.
    NoUnit,
    /// A unit this grammar does not know (`2d`, `2 s`).
    UnknownUnit(String),
    /// Not a number where one was expected (`s`, `.5s`).
    NotANumber,
    /// A minus sign (`-1s`).
    Negative,
    /// More digits than a nanosecond holds (`1.0000000001s`).
    TooPrecise,
    /// Longer than about 584 years.
    Overflow,
}

impl fmt::Display for ParseDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty duration"),
            Self::NoUnit => f.write_str("a duration needs a unit (e.g. 2s, 500ms)"),
            Self::UnknownUnit(u) if u.starts_with(char::is_whitespace) => {
                f.write_str("no space between the number and its unit (2s, not 2 s)")
            }
            Self::UnknownUnit(u) => write!(f, "unknown unit `{u}` (use h, m, s, ms, us or ns)"),
            Self::Negative => f.write_str("a duration cannot be negative"),
            Self::NotANumber => f.write_str("expected a number like 2, 1.5 before the unit"),
            Self::TooPrecise => f.write_str("finer than a nanosecond"),
            Self::Overflow => f.write_str("too long"),
        }
    }
}

impl std::error::Error for ParseDurationError {}

const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl Duration {
    pub const ZERO: Duration = Duration { nanos: 0 };

    pub const fn from_nanos(nanos: u64) -> Self {
        Duration { nanos }
    }

    pub const fn from_millis(millis: u64) -> Self {
        Duration {
            nanos: millis * 1_000_000,
        }
    }

    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            nanos: secs * 1_000_000_000,
        }
    }

    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Whether it is a whole number of milliseconds (Istio's precision).
    pub const fn is_whole_millis(self) -> bool {
        self.nanos.is_multiple_of(1_000_000)
    }

    pub fn checked_mul(self, n: u64) -> Option<Self> {
        self.nanos.checked_mul(n).map(Duration::from_nanos)
    }

    /// Parses the grammar above; see [`ParseDurationError`] for what it refuses.
    pub fn parse(text: &str) -> Result<Self, ParseDurationError> {
        if text.trim().is_empty() {
            return Err(ParseDurationError::Empty);
        }
        let mut rest = text;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (int, after) = rest.split_at(digits_end);
            let (frac, after) = match after.strip_prefix('.') {
                Some(f) => {
                    let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                    // `1.s` has a dot and no digits after it.
                    if end == 0 {
                        return Err(ParseDurationError::NotANumber);
                    }
                    f.split_at(end)
                }
                None => ("", after),
            };
            if int.is_empty() {
                return Err(if rest.starts_with('-') {
                    ParseDurationError::Negative
                } else {
                    ParseDurationError::NotANumber
                });
            }
            let unit_end = after
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after.len());
            let (unit, next) = after.split_at(unit_end);
            if unit.is_empty() {
                return Err(ParseDurationError::NoUnit);
            }
            let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
                return Err(ParseDurationError::UnknownUnit(unit.to_owned()));
            };
            total = total
                .checked_add(group(int, frac, scale)?)
                .ok_or(ParseDurationError::Overflow)?;
            rest = next;
        }
        Ok(Duration { nanos: total })
    }
}

/// `int.frac` times `scale` nanoseconds, exactly.
fn group(int: &str, frac: &str, scale: u64) -> Result<u64, ParseDurationError> {
    let overflow = ParseDurationError::Overflow;
    let whole = int
        .parse::<u64>()
        .map_err(|_| overflow.clone())?
        .checked_mul(scale)
        .ok_or(overflow.clone())?;
    // Trailing zeros add no precision (`1.500s`).
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        return Ok(whole);
    }
    let denominator = 10u64
        .checked_pow(u32::try_from(frac.len()).map_err(|_| ParseDurationError::TooPrecise)?)
        .ok_or(ParseDurationError::TooPrecise)?;
    let numerator = frac
        .parse::<u64>()
        .map_err(|_| ParseDurationError::TooPrecise)?;
    let scaled = u128::from(numerator) * u128::from(scale);
    if scaled % u128::from(denominator) != 0 {
        return Err(ParseDurationError::TooPrecise);
    }
    let part = u64::try_from(scaled / u128::from(denominator)).map_err(|_| overflow.clone())?;
    whole.checked_add(part).ok_or(overflow)
}

impl FromStr for Duration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Duration::parse(s)
    }
}

impl fmt::Display for Duration {
    /// Protobuf JSON: seconds with up to nine decimals, trailing zeros trimmed
    /// (`2s`, `0.5s`, `1.005s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = (self.nanos / 1_000_000_000, self.nanos % 1_000_000_000);
        if nanos == 0 {
            write!(f, "{secs}s")
        } else {
            let frac = format!("{nanos:09}");
            write!(f, "{secs}.{}s", frac.trim_end_matches('0'))
        }
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        std::time::Duration::from_nanos(d.nanos)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        for (input, out) in [
            ("2s", "2s"),
            ("500ms", "0.5s"),
            ("1.5s", "1.5s"),
            ("1.005s", "1.005s"),
            ("1.500s", "1.5s"),
            ("1m", "60s"),
            ("1m30s", "90s"),
            ("1h", "3600s"),
            ("1ms", "0.001s"),
            ("250us", "0.00025s"),
            ("3µs", "0.000003s"),
            ("7ns", "0.000000007s"),
            ("0s", "0s"),
        ] {
            assert_eq!(Duration::parse(input).unwrap().to_string(), out, "{input}");
        }
    }

    #[test]
    fn every_millisecond_value_below_ten_seconds_is_exact() {
        // The float-based parser this replaces refused 175 of these.
        for ms in 0..10_000u64 {
            let text = format!("{}.{:03}s", ms / 1000, ms % 1000);
            assert_eq!(
                Duration::parse(&text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn refusals_say_why() {
        use ParseDurationError::*;
        for (bad, why) in [
            ("", Empty),
            (" ", Empty),
            ("2", NoUnit),
            ("s", NotANumber),
            (".5s", NotANumber),
            ("1.s", NotANumber),
            ("-1s", Negative),
            ("2 s", UnknownUnit(" s".into())),
            ("2d", UnknownUnit("d".into())),
            ("2ss", UnknownUnit("ss".into())),
            ("1.0000000001s", TooPrecise),
            ("99999999999999999999s", Overflow),
            ("6000000h", Overflow),
        ] {
            assert_eq!(Duration::parse(bad), Err(why), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(nanos in any::<u64>()) {
            let d = Duration::from_nanos(nanos);
            prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }

        #[test]
        fn never_panics(text in "\\PC{0,24}") {
            let _ = Duration::parse(&text);
        }
    }
}
