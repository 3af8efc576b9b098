//! Command line: `meshgen render | validate | schema`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;
use crate::profile::{Layers, load};
use crate::{render, validate, write};

const ABOUT: &str = "Render the Istio 101 demo (install options, addons, Kubernetes and Istio \
manifests) for today's Istio from one TOML profile, for an HTTP or a gRPC chain.";

const AFTER: &str = "\
Examples:
  meshgen render profiles/demo.toml                       write out/ (and out/istio/install.yaml)
  meshgen render profiles/demo-grpc.toml -o out-grpc      the same chain over gRPC
  meshgen render profiles/demo.toml -o - | kubectl apply -f -
  meshgen render profiles/demo.toml --set istio.mtls=false --set routing.retries.attempts=5
  meshgen render profiles/demo.toml --check               exit 1 if out/ is not up to date
  meshgen validate profiles/demo.toml -f my-overrides.toml
  meshgen schema > meshgen.schema.json                    JSON Schema for editor completion

Exit codes: 0 success, 1 `--check` found differences, 2 bad input or output error.
The profile format is described in docs/profile.md.";

#[derive(Parser)]
#[command(name = "meshgen", version, about = ABOUT, after_help = AFTER)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render the manifests of a profile into a directory (default `out`) or stdout.
    #[command(after_help = AFTER)]
    Render {
        #[command(flatten)]
        input: Input,
        /// Output directory, or `-` for one multi-document YAML stream on stdout
        /// (without istio/install.yaml, which is for `istioctl install -f`).
        #[arg(
            short = 'o',
            long = "output",
            value_name = "DIR",
            default_value = "out"
        )]
        output: PathBuf,
        /// Directory of templates overriding the embedded ones (same file names,
        /// e.g. 20-workloads.yaml.j2; extra partials must be named _*.j2).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Write nothing; exit 0 if DIR already holds exactly this render, 1 and a
        /// list of differing files otherwise.
        #[arg(long)]
        check: bool,
    },
    /// Parse, merge and validate a profile; print nothing on success.
    Validate {
        #[command(flatten)]
        input: Input,
    },
    /// Print the JSON Schema of profiles (for Taplo / Even Better TOML).
    Schema,
}

#[derive(Args)]
struct Input {
    /// The profile (TOML). `extends = "other.toml"` inside it inherits another.
    #[arg(value_name = "PROFILE")]
    profile: PathBuf,
    /// More TOML layered on top, in order (later wins).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Override one key, typed like TOML: `istio.mtls=false`, `routing.retries.attempts=5`,
    /// `namespace=demo` (a value that is not TOML is a string). Applied last, in order.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl Input {
    fn model(&self) -> Result<crate::model::Model, Error> {
        let loaded = load(&Layers {
            profile: self.profile.clone(),
            files: self.files.clone(),
            sets: self.sets.clone(),
        })?;
        Ok(validate::resolve(&loaded)?)
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn execute(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::Schema => {
            println!("{}", crate::schema_json());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { input } => {
            input.model()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            input,
            output,
            templates,
            check,
        } => {
            let model = input.model()?;
            let files = render::render(&model, templates.as_deref())?;
            let stdout_mode = output.as_os_str() == "-";
            if check {
                if stdout_mode {
                    return Err(Error::Output("--check needs a directory, not -o -".into()));
                }
                let diffs = write::check(&output, &files)?;
                if diffs.is_empty() {
                    return Ok(ExitCode::SUCCESS);
                }
                eprintln!("{} is not up to date with the profile:", output.display());
                for d in diffs {
                    eprintln!("  {d}");
                }
                return Ok(ExitCode::from(1));
            }
            if stdout_mode {
                let mut out = std::io::stdout().lock();
                out.write_all(render::stream(&files).as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
                return Ok(ExitCode::SUCCESS);
            }
            let stale = write::write(&output, &files)?;
            let docs: usize = files.iter().map(|f| f.documents).sum();
            eprintln!(
                "wrote {} files ({docs} objects) to {}{}",
                files.len(),
                output.display(),
                if stale.is_empty() {
                    String::new()
                } else {
                    format!("; removed stale {}", stale.join(", "))
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
