//! The attacks of scripts/chaos on chain-http with its defaults, each beside a
//! good client: peak memory stays below the pod's limit and no good call is
//! lost. Heavy (10,000 connections, 15 s of slowloris): ignored by
//! `cargo test`, run by scripts/chaos (`--ignored`), which prints the figures.

use hop::testkit::attack::{self, Attack};
use hop::testkit::hold::POD_LIMIT;
use hop::testkit::{Protocol, workspace_binary};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run by scripts/chaos"]
async fn every_attack_stays_within_the_pod_limit_and_good_calls_are_answered() {
    let binary = workspace_binary("chain-http");
    let mut outcomes = Vec::new();
    for attack in Attack::ALL {
        let outcome = attack::run(&binary, Protocol::Http, attack).await;
        eprintln!("chain-http: {outcome}");
        outcomes.push(outcome);
    }
    for outcome in &outcomes {
        assert!(outcome.peak < POD_LIMIT, "{outcome}");
        assert!(
            outcome.good.lost.is_empty(),
            "{outcome}: {:?}",
            outcome.good.lost
        );
        // Answered, or told "overloaded" while the attack holds MAX_IN_FLIGHT.
        assert!(
            outcome.good.answered + outcome.good.overloaded > 0,
            "{outcome}"
        );
    }
}
