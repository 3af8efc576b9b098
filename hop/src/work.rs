//! The original's in-app work (WORK=true): spans inside the request, so a
//! trace shows application time next to the mesh's.

use std::time::Duration;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, KeyValue};
use rand::Rng as _;

use crate::metrics::Metrics;
use crate::telemetry::Telemetry;

/// What the work produced: a Fibonacci number and its parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Work {
    pub num: u64,
    pub is_odd: bool,
}

/// "Fibonacci Odd Or Even", with children "Fibonacci Calculation" (fib of a
/// random n < 30) and "Sleep" (a random sleep of at most 20 ms).
pub async fn run(telemetry: &Telemetry, metrics: &Metrics, cx: &Context) -> Work {
    let (n, sleep_ms) = {
        let mut rng = rand::rng();
        (rng.random_range(0..30u32), rng.random_range(0..=20u64))
    };
    let parent = telemetry.child(cx, "Fibonacci Odd Or Even");

    let calc = telemetry.child(&parent, "Fibonacci Calculation");
    // Deliberately the naive recursion: the point is visible CPU time (up to a
    // few ms for n = 29).
    let num = fib(n);
    metrics.fib_count();
    calc.span()
        .set_attribute(KeyValue::new("fib.n", i64::from(n)));
    calc.span()
        .set_attribute(KeyValue::new("fib.num", num as i64));
    calc.span().end();

    let sleep = telemetry.child(&parent, "Sleep");
    tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    sleep
        .span()
        .set_attribute(KeyValue::new("sleep.ms", sleep_ms as i64));
    sleep.span().end();

    let is_odd = num % 2 == 1;
    parent
        .span()
        .set_attribute(KeyValue::new("fib.is_odd", is_odd));
    parent.span().end();
    Work { num, is_odd }
}

fn fib(n: u32) -> u64 {
    if n < 2 {
        u64::from(n)
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fibonacci() {
        assert_eq!(
            (0..10).map(fib).collect::<Vec<_>>(),
            [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
        );
        assert_eq!(fib(29), 514_229);
    }
}
