//! The `fail` dice: a request (header `fail`) and a pod (`FAIL`) each say how
//! likely this hop is to fail.

use contract::Probability;

/// Rolls the dice: true means this hop fails.
pub fn roll(probability: Probability) -> bool {
    // random() is in [0, 1): probability 1 always fails, 0 never does.
    let p = probability.value();
    p > 0.0 && rand::random::<f64>() < p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_certain() {
        for _ in 0..1000 {
            assert!(roll(Probability::ALWAYS));
            assert!(!roll(Probability::NEVER));
        }
    }
}
