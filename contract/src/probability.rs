//! A probability, as a hop's `FAIL` and a request's `fail` give one.

use std::fmt;

/// A number in [0, 1]: how likely something is to happen.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Probability(f64);

// Never NaN (both constructors refuse or clamp it), so equality is total.
impl Eq for Probability {}

impl Probability {
    pub const NEVER: Probability = Probability(0.0);
    pub const ALWAYS: Probability = Probability(1.0);

    /// `value` if it is a number from 0 to 1.
    pub fn new(value: f64) -> Option<Probability> {
        (0.0..=1.0).contains(&value).then_some(Probability(value))
    }

    /// Strict: what configuration says (`FAIL=0.3`).
    pub fn parse(text: &str) -> Result<Probability, String> {
        text.trim()
            .parse::<f64>()
            .ok()
            .and_then(Probability::new)
            .ok_or_else(|| "is not a probability from 0 to 1".to_owned())
    }

    /// Lenient: what a request says (`fail: 2`). Never an error, so a
    /// caller's typo gives a working hop: missing, unparsable or NaN is 0,
    /// out-of-range values are clamped (`-1` is 0, `7` and `inf` are 1).
    pub fn clamped(text: Option<&str>) -> Probability {
        match text.map(str::trim).and_then(|v| v.parse::<f64>().ok()) {
            Some(p) if p.is_nan() => Probability::NEVER,
            Some(p) => Probability(p.clamp(0.0, 1.0)),
            None => Probability::NEVER,
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_refuses_what_lenient_clamps() {
        for bad in ["abc", "NaN", "", "-1", "1.5", "inf"] {
            assert!(Probability::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Probability::parse(" 0.3 ").unwrap().value(), 0.3);
        assert_eq!(Probability::clamped(None), Probability::NEVER);
        assert_eq!(Probability::clamped(Some("abc")), Probability::NEVER);
        assert_eq!(Probability::clamped(Some("NaN")), Probability::NEVER);
        assert_eq!(Probability::clamped(Some("-1")), Probability::NEVER);
        assert_eq!(Probability::clamped(Some("-inf")), Probability::NEVER);
        assert_eq!(Probability::clamped(Some("7")), Probability::ALWAYS);
        assert_eq!(Probability::clamped(Some("inf")), Probability::ALWAYS);
        assert_eq!(Probability::clamped(Some(" 0.3 ")).value(), 0.3);
    }

    #[test]
    fn display_reads_back() {
        for p in [0.0, 0.25, 1.0, 1e-9] {
            let p = Probability::new(p).unwrap();
            assert_eq!(Probability::parse(&p.to_string()).unwrap(), p);
        }
    }
}
