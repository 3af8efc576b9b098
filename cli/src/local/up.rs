//! `meshgen up` and `meshgen compare` as commands: a Tokio runtime, signals, output.

use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use super::compare::{self, Row, Settings};
use super::report;
use super::{Mesh, Options, check};
use meshgen::model::{Model, Protocol};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// `meshgen up`: start, print `ingress: URL`, wait for Ctrl-C or SIGTERM, stop all.
pub fn up(model: Model, opts: &Options) -> Result<ExitCode, String> {
    for n in check(&model, opts)? {
        eprintln!("note: {n}");
    }
    let rt = runtime()?;
    // Everything runs in the block_on future, on this thread (see procs::Proc::spawn).
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let starting = Mesh::start(model, opts);
        let mut mesh = tokio::select! {
            m = starting => m?,
            _ = term.recv() => return Ok(ExitCode::SUCCESS),
            _ = int.recv() => return Ok(ExitCode::SUCCESS),
        };
        let url = mesh.ingress_url();
        eprintln!(
            "envoy admin: http://127.0.0.1:{} (retries: {}); {} hop processes",
            mesh.layout.admin,
            mesh.mode.as_str(),
            mesh.pids().len() - 1
        );
        if mesh.protocol() == Protocol::Grpc {
            eprintln!(
                "try: grpcurl -plaintext 127.0.0.1:{} chain.v1.Hop/Call",
                mesh.ingress_port()
            );
        } else {
            eprintln!("try: curl {url}/");
        }
        println!("ingress: {url}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let code = loop {
            tokio::select! {
                _ = term.recv() => break ExitCode::SUCCESS,
                _ = int.recv() => break ExitCode::SUCCESS,
                _ = tick.tick() => {
                    if let Some(why) = mesh.died() {
                        eprintln!("error: {why}");
                        break ExitCode::from(1);
                    }
                }
            }
        };
        eprintln!("stopping");
        mesh.stop();
        Ok(code)
    })
}

/// How `compare` prints its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// `meshgen compare`: every profile in every mode at every `fail` of the
/// sweep; the rows on stdout, and the HTML page to `report` if asked.
/// A deployed mesh to drive instead of a local one: its ingress URL, and the
/// 127.0.0.1 port of its gateway's Envoy admin when forwarded.
#[derive(Clone, Debug)]
pub struct Deployed {
    pub url: String,
    pub admin: Option<u16>,
}

pub fn compare(
    profiles: Vec<(String, Model)>,
    opts: &Options,
    settings: &Settings,
    format: Format,
    report: Option<&std::path::Path>,
    deployed: Option<Vec<Deployed>>,
) -> Result<ExitCode, String> {
    match &deployed {
        None => {
            for (label, model) in &profiles {
                for n in check(model, opts)? {
                    eprintln!("note: {label}: {n}");
                }
            }
        }
        Some(d) => {
            eprintln!(
                "note: driving the deployed mesh: its routes retry as deployed (one mode); \
                 no bare chain to compare with"
            );
            if d.iter().any(|d| d.admin.is_none()) {
                eprintln!(
                    "note: Envoy's retries are left out where no --ingress-admin port is given \
                     (kubectl port-forward the gateway's 15000); they are the gateway's own"
                );
            }
        }
    }
    let started = std::time::Instant::now();
    let rt = runtime()?;
    let rows: Vec<Row> = rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let bars = compare::progress();
        let mut rows = Vec::new();
        for (i, (label, model)) in profiles.into_iter().enumerate() {
            // A signal drops the running profile's Mesh, which stops its processes.
            let run = async {
                match deployed.as_ref().map(|d| &d[i]) {
                    Some(d) => {
                        compare::deployed(&label, &model, &d.url, d.admin, settings, &bars).await
                    }
                    None => compare::profile(&label, model, opts, settings, &bars).await,
                }
            };
            let more = tokio::select! {
                r = run => r?,
                _ = term.recv() => return Err("interrupted".to_string()),
                _ = int.recv() => return Err("interrupted".to_string()),
            };
            rows.extend(more);
        }
        let _ = bars.clear();
        Ok::<_, String>(rows)
    })?;
    if let Some(path) = report {
        let info = report::RunInfo {
            meshgen: env!("CARGO_PKG_VERSION").to_owned(),
            envoy: envoy_version(opts),
            machine: machine(),
            load: format!("closed loop, {} requests in flight", settings.concurrency),
            requests: settings.requests,
            seconds: started.elapsed().as_secs_f64(),
        };
        let page = report::html(&rows, &info)?;
        std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialize")
        ),
        Format::Csv => print!("{}", compare::csv(&rows)),
        Format::Table => print!("{}", compare::table(&rows)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `envoy --version`'s line, or why there is none.
fn envoy_version(opts: &Options) -> String {
    let Ok(envoy) = super::find_envoy(opts.envoy.as_deref()) else {
        return "unknown".into();
    };
    std::process::Command::new(envoy)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.lines()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The OS, architecture, CPU model and count.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_default();
    format!(
        "{} {}, {cpus} CPUs {model}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
