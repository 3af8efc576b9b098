//! The `call` subcommand shared by both binaries: call one chain from a
//! terminal, over HTTP or gRPC, and print its text.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::Target;
use crate::reply::Answer;
use crate::upstream;

/// `chain-http call` / `chain-grpc call`: one call to a chain, whatever its protocol.
#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// http://host:port/, https://... or grpc://host:port
    pub target: String,
    /// A request header (gRPC metadata), e.g. -H fail=0.3 -H x-dev-user=super-secret
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Print the reply as JSON instead of the text.
    #[arg(long)]
    pub json: bool,
    /// Give up after this long (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub timeout: Duration,
}

/// Parses a duration for a command-line flag (the contract's grammar: `5s`, `500ms`).
pub fn duration(text: &str) -> Result<Duration, contract::ParseDurationError> {
    contract::Duration::parse(text).map(Duration::from)
}

impl CallArgs {
    /// Makes the call; returns the process exit code.
    pub async fn run(&self) -> i32 {
        call(&self.target, &self.headers, self.json, self.timeout).await
    }
}

/// Calls `target` with `headers` given as `name=value` (or `name: value`);
/// prints the reply's text (or JSON) and returns the process exit code.
pub async fn call(target: &str, headers: &[String], json: bool, timeout: Duration) -> i32 {
    let target = match Target::parse(target) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let mut map = HeaderMap::new();
    for header in headers {
        let Some((name, value)) = header.split_once(['=', ':']) else {
            eprintln!("-H {header}: expected name=value");
            return 2;
        };
        match (
            HeaderName::try_from(name.trim().to_ascii_lowercase()),
            HeaderValue::try_from(value.trim()),
        ) {
            (Ok(name), Ok(value)) => {
                map.append(name, value);
            }
            _ => {
                eprintln!("-H {header}: not a valid header");
                return 2;
            }
        }
    }
    match upstream::call_once(&target, map, timeout).await {
        Err(e) => {
            eprintln!("{e}");
            1
        }
        Ok(result) => match result.answer {
            Answer::Reply(reply) if json => {
                println!("{}", reply.to_json());
                0
            }
            Answer::Reply(reply) => {
                print!("{}", reply.to_text());
                0
            }
            Answer::Body(body) => {
                println!("{}", body.trim_end());
                0
            }
            Answer::Error(error) => {
                eprintln!("{error}");
                1
            }
        },
    }
}
