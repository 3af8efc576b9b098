//! What a comparison says, in words: each series' measured success against
//! its expectation, judged with a binomial confidence interval (Wilson's,
//! which stays inside 0..1 and holds up at ratios near 0 and 1, where the
//! retries put them).

use super::compare::{DEPLOYED, Row, expected};

/// The normal quantile of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson's 95 % interval of a success ratio `ratio` over `n` requests.
pub fn wilson(ratio: f64, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let z2 = Z95 * Z95;
    let centre = (ratio + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (ratio * (1.0 - ratio) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Whether a row's expectation lies within its measured 95 % interval.
pub fn as_expected(r: &Row) -> bool {
    let (lo, hi) = wilson(r.success_ratio, r.requests);
    (lo..=hi).contains(&expected(r))
}

/// One sentence per series (`name` as the plot's legend says it, its rows):
/// the measurement at its highest `fail` against the expectation, how many
/// points hold their expectation within their band, and what the mode means.
pub fn sentence(name: &str, rows: &[&Row]) -> String {
    let Some(last) = rows.iter().max_by(|a, b| a.fail.total_cmp(&b.fail)) else {
        return String::new();
    };
    let within = rows.iter().filter(|r| as_expected(r)).count();
    let (lo, hi) = wilson(last.success_ratio, last.requests);
    let judged = if within == rows.len() {
        "as expected".to_owned()
    } else {
        format!(
            "{} of {} points off their expectation, outside their 95 % band (by chance \
             alone, 1 point in 20 is)",
            rows.len() - within,
            rows.len()
        )
    };
    let meaning = match last.retries.as_str() {
        "on" if last.attempts.is_some() => "the profile's retries hide the hops' failures",
        "on" => "the profile sets no retries of its own, so Istio's default policy applies",
        "off" => "no retries: every failure of a hop fails the request",
        "default" => {
            "Istio's default policy does not retry HTTP 500 nor gRPC INTERNAL, so it fares \
             like no retries at all"
        }
        DEPLOYED => "the routes retry as deployed",
        _ => "the chain without Envoy",
    };
    format!(
        "{name}: {:.3} succeeded at fail {:.2} (95 % band {lo:.3} to {hi:.3}, n = {}), {:.3} \
         expected; {judged}: {meaning}.",
        last.success_ratio,
        last.fail,
        last.requests,
        expected(last),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals() {
        // 976 of 1000: about 0.9649 to 0.9837.
        let (lo, hi) = wilson(0.976, 1000);
        assert!(
            (lo - 0.9649).abs() < 5e-4 && (hi - 0.9837).abs() < 5e-4,
            "{lo} {hi}"
        );
        // All successes: the upper end is 1, the lower end below it.
        let (lo, hi) = wilson(1.0, 40);
        assert!((hi - 1.0).abs() < 1e-9, "{hi}");
        assert!((lo - 0.9124).abs() < 5e-4, "{lo}");
        // None: 0 to a little above.
        let (lo, hi) = wilson(0.0, 40);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.08 && hi < 0.09, "{hi}");
        assert_eq!(wilson(0.5, 0), (0.0, 1.0));
    }
}
