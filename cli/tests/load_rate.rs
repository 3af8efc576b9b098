//! The load generator against a bare hop (chain-http / chain-grpc with no
//! upstream) on 127.0.0.1: the open loop holds its rate, and it counts a stall
//! the way users would see it, where the closed loop hides it.
//!
//! The hop binaries are built next to this test (`cargo test --workspace`, or
//! `cargo build -p chain-http -p chain-grpc` first). The tests take turns: on a
//! 2-core machine, two loads side by side would measure each other.
//!
//! Nothing here bounds a latency or a rate from below: a busy 2-core
//! machine (CI shares one) can be slow at any moment. The tests assert what
//! the generator does whatever the load: the schedule, that no request goes
//! out ahead of it, that a latency counts from the due time, and that a stall
//! shows in the open loop's tail and not in the closed loop's.
#![cfg(unix)]

use std::time::Duration;

use hop::testkit::{HopProcess, Protocol as HopProtocol, workspace_binary};
use indicatif::ProgressBar;
use meshgen::model::Protocol;
use meshgen_cli::local::load::{self, LoadMode, Outcome, Spec};

/// One load at a time in this binary.
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// A hop with no upstream: it answers with its own reply only.
async fn bare(protocol: Protocol) -> HopProcess {
    let (binary, p) = match protocol {
        Protocol::Http => ("chain-http", HopProtocol::Http),
        Protocol::Grpc => ("chain-grpc", HopProtocol::Grpc),
    };
    let hop = HopProcess::hop(&workspace_binary(binary), p, ("frontend", "prod"), "", &[]).await;
    // Connections up, code paged in: a few closed-loop requests first.
    let warm = Spec {
        requests: 50,
        concurrency: 2,
        ..Spec::default()
    };
    let outcome = run(protocol, hop.port, &warm, None).await;
    assert_eq!(
        outcome.successes(),
        50,
        "warm-up: {}",
        first_error(&outcome)
    );
    hop
}

async fn run(protocol: Protocol, port: u16, spec: &Spec, bar: Option<&ProgressBar>) -> Outcome {
    load::run(protocol, port, spec, bar).await.expect("load")
}

fn first_error(o: &Outcome) -> String {
    o.samples
        .iter()
        .find_map(|s| s.error.clone())
        .unwrap_or_default()
}

fn report(what: &str, o: &Outcome) {
    eprintln!(
        "{what} ({}): {} ok of {}, sent {:.1}/s, answered {:.1}/s over {:?}, \
         send lag max {:?}, latency p50 {:.3} ms p99 {:.3} ms max {:.3} ms mean {:.3} ms",
        o.mode,
        o.successes(),
        o.samples.len(),
        o.send_rate(),
        o.per_second(),
        o.elapsed,
        o.max_send_lag(),
        o.percentile_ms(50.0),
        o.percentile_ms(99.0),
        o.max_ms(),
        o.mean_ms(),
    );
}

/// 1000 requests at 500/s: all answered, none sent ahead of its due time, each
/// latency counted from its due time. Nothing here depends on how fast a
/// loaded machine answers: `scripts/bench-*` print figures, tests assert
/// behaviour.
async fn holds_its_rate(protocol: Protocol) {
    let _turn = one_at_a_time().await;
    let hop = bare(protocol).await;
    let spec = Spec {
        requests: 1000,
        rate: Some(500.0),
        concurrency: 8,
        timeout: Duration::from_secs(10),
        ..Spec::default()
    };
    let o = run(protocol, hop.port, &spec, None).await;
    report(&format!("{protocol:?} at 500/s"), &o);
    assert_eq!(o.mode, LoadMode::Open { rate: 500.0 });
    assert_eq!(o.successes(), 1000, "{}", first_error(&o));

    // The schedule: request i due at i / 500 s, 999 intervals over 1.998 s.
    let first_due = o.samples.first().unwrap().due;
    let last_due = o.samples.last().unwrap().due;
    assert_eq!(first_due, Duration::ZERO);
    let scheduled = 999.0 / (last_due - first_due).as_secs_f64();
    assert!((scheduled - 500.0).abs() < 0.01, "schedule {scheduled}/s");
    // What was actually sent: never ahead of the schedule, and each latency
    // counts from the due time, so a request sent late carries its wait.
    for s in &o.samples {
        assert!(s.sent >= s.due, "sent at {:?}, due at {:?}", s.sent, s.due);
        assert!(
            s.latency >= s.sent - s.due,
            "latency {:?} leaves out the wait from due {:?} to send {:?}",
            s.latency,
            s.due,
            s.sent
        );
    }
    // Never faster than the schedule; a dispatcher that wakes late catches up
    // in a burst, so even a busy machine keeps to a fraction of it (a closed
    // loop of 8 would not: it waits for answers, not for due times).
    let sent = o.send_rate();
    assert!(
        sent <= 500.0 * 1.05,
        "sent {sent:.1}/s, faster than the 500/s scheduled"
    );
    assert!(
        o.elapsed >= Duration::from_millis(1998),
        "elapsed {:?}: the last request is due at 1.998 s",
        o.elapsed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_holds_its_rate_on_a_bare_http_hop() {
    holds_its_rate(Protocol::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_holds_its_rate_on_a_bare_grpc_hop() {
    holds_its_rate(Protocol::Grpc).await;
}

fn signal(hop: &HopProcess, sig: libc::c_int) {
    let pid = hop.pid() as libc::pid_t;
    // SAFETY: kill(2) on the pid of our own child, which has not been reaped
    // (HopProcess waits for it only when dropped).
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill -{sig} {pid}");
}

/// Once `answered` requests have answered, freezes the hop (SIGSTOP) for
/// `pause`, then lets it go on (SIGCONT). Its kernel keeps accepting and
/// buffering requests meanwhile; they are answered after the pause.
async fn stall_after(hop: &HopProcess, bar: &ProgressBar, answered: u64, pause: Duration) {
    let end = tokio::time::Instant::now() + Duration::from_secs(30);
    while bar.position() < answered {
        assert!(
            tokio::time::Instant::now() < end,
            "the load never got going"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    signal(hop, libc::SIGSTOP);
    tokio::time::sleep(pause).await;
    signal(hop, libc::SIGCONT);
}

/// Latencies of at least `ms` milliseconds.
fn at_least(o: &Outcome, ms: u64) -> usize {
    let limit = Duration::from_millis(ms);
    o.samples.iter().filter(|s| s.latency >= limit).count()
}

/// The same 300 ms freeze of the hop, under both loops. At 200/s for 2 s
/// (400 requests), 60 requests are due during the freeze and each counts its
/// wait from its due time: latencies spread from 300 ms down, so the slowest
/// 1% (4 requests) are all above 200 ms. One closed-loop worker sends nothing
/// while it waits: its one stalled request is 1 in 1000, so its p99 stays
/// below the open loop's, although the worker lived through the same freeze.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_loop_counts_a_stall_that_the_closed_loop_hides() {
    let _turn = one_at_a_time().await;
    let hop = bare(Protocol::Http).await;
    let pause = Duration::from_millis(300);

    let open = Spec {
        requests: 400,
        rate: Some(200.0),
        concurrency: 8,
        timeout: Duration::from_secs(10),
        ..Spec::default()
    };
    let bar = ProgressBar::hidden();
    let (o, ()) = tokio::join!(
        run(Protocol::Http, hop.port, &open, Some(&bar)),
        stall_after(&hop, &bar, 100, pause)
    );
    report("open loop through a 300 ms freeze", &o);
    assert_eq!(o.successes(), 400, "{}", first_error(&o));
    // The first request due in the freeze is due up to 5 ms (1 / rate) into it.
    assert!(o.max_ms() >= 250.0, "max {} ms", o.max_ms());
    assert!(
        o.percentile_ms(99.0) >= 200.0,
        "open-loop p99 {} ms: the requests due during the freeze did not count their wait",
        o.percentile_ms(99.0)
    );
    // About 20 are due in the first 100 ms of the freeze.
    assert!(
        at_least(&o, 200) >= 10,
        "{} at >= 200 ms",
        at_least(&o, 200)
    );

    let closed = Spec {
        requests: 1000,
        concurrency: 1,
        timeout: Duration::from_secs(10),
        ..Spec::default()
    };
    let bar = ProgressBar::hidden();
    let (c, ()) = tokio::join!(
        run(Protocol::Http, hop.port, &closed, Some(&bar)),
        stall_after(&hop, &bar, 100, pause)
    );
    report("closed loop, 1 worker, through a 300 ms freeze", &c);
    assert_eq!(c.successes(), 1000, "{}", first_error(&c));
    assert!(
        c.max_ms() >= 300.0,
        "max {} ms: the closed loop did not see the freeze",
        c.max_ms()
    );
    // What the closed loop hides: its one worker waited through the same
    // freeze, yet its slowest 1% stays below the open loop's, and far fewer of
    // its requests count the freeze (a busy machine slows both alike).
    assert!(
        c.percentile_ms(99.0) < o.percentile_ms(99.0),
        "closed-loop p99 {} ms is not below the open loop's {} ms",
        c.percentile_ms(99.0),
        o.percentile_ms(99.0)
    );
    assert!(
        at_least(&c, 200) * 5 <= at_least(&o, 200),
        "{} closed-loop requests at >= 200 ms against {} open-loop ones",
        at_least(&c, 200),
        at_least(&o, 200)
    );
}
