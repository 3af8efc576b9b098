//! chain-grpc: one hop of the chain over gRPC (`chain.v1.Hop/Call`).
//!
//! `chain-grpc` (or `chain-grpc serve`) runs the hop configured by the
//! environment (see docs/chain.md); `chain-grpc call grpc://HOST:PORT -H
//! fail=0.3` calls a chain from a terminal; `chain-grpc bench` loads one.

mod bench;
mod server;

use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "One hop of the chain over gRPC (configured by PORT, SERVICE_NAME, UPSTREAM, ...)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hop (the default).
    Serve,
    /// Call a chain once and print its answer.
    Call(hop::cli::CallArgs),
    /// Load a gRPC chain: N connections, one call in flight on each, for a
    /// bounded time; prints requests/s and latency percentiles.
    Bench {
        /// grpc://host:port
        target: String,
        #[arg(short, long, default_value_t = 1)]
        connections: usize,
        #[arg(short, long, default_value = "10s", value_parser = hop::cli::duration)]
        duration: Duration,
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Load generator threads (like wrk -t).
        #[arg(short, long, default_value_t = 1)]
        threads: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    // The load generator runs on one thread unless told otherwise
    // (--threads): spread over worker threads it costs more CPU than the
    // hops it measures.
    let runtime = match &cli.command {
        Some(Command::Bench { threads, .. }) if *threads > 1 => {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(*threads)
                .enable_all()
                .build()
        }
        Some(Command::Bench { .. }) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => hop::runtime::build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run().await,
            Command::Call(args) => args.run().await,
            Command::Bench {
                target,
                connections,
                duration,
                headers,
                ..
            } => bench::run(&target, connections, duration, &headers).await,
        }
    });
    std::process::exit(code);
}
