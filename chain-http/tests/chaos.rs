//! The attacks of scripts/chaos on chain-http with its defaults, each beside a
//! good client: peak memory stays below the pod's limit and no good call is
//! lost. Heavy (10,000 connections, 15 s of slowloris): ignored by
//! `cargo test`, run by scripts/chaos (`--ignored`), which prints the figures.

use hop::testkit::Protocol;
use hop::testkit::attack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: run by scripts/chaos"]
async fn every_attack_stays_within_the_pod_limit_and_good_calls_are_answered() {
    attack::every_attack("chain-http", Protocol::Http).await;
}
