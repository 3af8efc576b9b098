//! Durations written like `2s`, `500ms`, `1.5s`, `1m` (UPSTREAM_TIMEOUT).

use std::time::Duration;

/// The longest duration a hop accepts (e.g. for `UPSTREAM_TIMEOUT`).
pub const MAX: Duration = Duration::from_secs(3600);

/// Parses a duration string; a bare number means seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 2s, 500ms or 1.5s"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" => value * 60.0,
        other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s or m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX.as_secs_f64() {
        return Err(format!("`{text}` must be more than 0 and at most 1h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse(" 3 "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "s", "abc", "2h", "0s", "-1s", "1.2.3s", "NaN", "99999s"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }
}
