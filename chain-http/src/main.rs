//! chain-http: one hop of the chain over HTTP/1.1 and h2c.
//!
//! `chain-http` (or `chain-http serve`) runs the hop configured by the
//! environment (see docs/chain.md); `chain-http call URL -H fail=0.3` calls a
//! chain from a terminal.

mod server;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "One hop of the chain over HTTP (configured by PORT, SERVICE_NAME, UPSTREAM, ...)"
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
}

fn main() {
    let cli = Cli::parse();
    let runtime = match hop::runtime::build() {
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
        }
    });
    std::process::exit(code);
}
