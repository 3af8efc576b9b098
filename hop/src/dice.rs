//! The `fail` dice: the request says how likely this hop is to fail.

/// Reads a `fail` value as a probability in [0, 1].
///
/// Never an error: a caller typing `fail: abc` gets a working hop, not a crash.
/// Missing, unparsable or NaN means 0; out-of-range values are clamped
/// (`-1` -> 0, `7` -> 1), so "fail: 2" still means "always fail".
pub fn probability(value: Option<&str>) -> f64 {
    match value.map(str::trim).and_then(|v| v.parse::<f64>().ok()) {
        Some(p) if p.is_nan() => 0.0,
        Some(p) => p.clamp(0.0, 1.0),
        None => 0.0,
    }
}

/// Rolls the dice: true means this hop fails.
pub fn roll(probability: f64) -> bool {
    // random() is in [0, 1): probability 1 always fails, 0 never does.
    probability > 0.0 && rand::random::<f64>() < probability
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_clamps() {
        assert_eq!(probability(None), 0.0);
        assert_eq!(probability(Some("abc")), 0.0);
        assert_eq!(probability(Some("NaN")), 0.0);
        assert_eq!(probability(Some("")), 0.0);
        assert_eq!(probability(Some("-1")), 0.0);
        assert_eq!(probability(Some("7")), 1.0);
        assert_eq!(probability(Some("inf")), 1.0);
        assert_eq!(probability(Some("-inf")), 0.0);
        assert_eq!(probability(Some(" 0.3 ")), 0.3);
        assert_eq!(probability(Some("1")), 1.0);
    }

    #[test]
    fn extremes_are_certain() {
        for _ in 0..1000 {
            assert!(roll(1.0));
            assert!(!roll(0.0));
        }
    }
}
