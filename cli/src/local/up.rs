//! `meshgen up` and `meshgen compare` as commands: a Tokio runtime, signals, output.

use std::process::ExitCode;
use std::time::Duration;

use super::stop::Stop;

use super::compare::{self, Row, Settings};
use super::experiment::{self, Experiment};
use super::{Mesh, Options, check, external_hint, find_programs, load, provenance, report, table};
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
    // A missing program is the first thing said, before any note.
    find_programs([&model], opts)?;
    for n in check(&model, opts)? {
        eprintln!("note: {n}");
    }
    let rt = runtime()?;
    // Everything runs in the block_on future, on this thread (see localmesh::process::Group::spawn).
    rt.block_on(async {
        let mut stop = Stop::listen()?;
        let starting = Mesh::start(model, opts);
        let mut mesh = tokio::select! {
            m = starting => m?,
            _ = stop.recv() => return Ok(ExitCode::SUCCESS),
        };
        if let Err(e) = first_request(&mesh).await {
            eprintln!("warning: none of the first requests through the ingress succeeded: {e}");
            if let Some(h) = external_hint(&mesh.model, opts) {
                eprintln!("  hint: {h}");
            }
        }
        if opts.print_routes {
            let proxies: Vec<(String, serde_json::Value)> = mesh
                .bootstraps()
                .into_iter()
                .map(|(name, b)| (name, serde_json::to_value(b).expect("bootstraps serialize")))
                .collect();
            eprint!("{}", super::view::routes(&proxies));
        }
        say_ready(&mesh);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let code = loop {
            tokio::select! {
                _ = stop.recv() => break ExitCode::SUCCESS,
                _ = tick.tick() => {
                    if let Some(why) = mesh.died() {
                        eprintln!("{}", meshgen::error::Diagnostic::with_detail(&why));
                        break ExitCode::from(1);
                    }
                }
            }
        };
        eprintln!("stopping");
        mesh.stop();
        if mesh.keeps_logs() {
            eprintln!("logs kept in {}", mesh.log_dir().display());
        }
        Ok(code)
    })
}

/// What `up` prints once ready: the admin, the logs, a command to try (on
/// stderr), then the ingress on stdout: a URL for HTTP, `HOST:PORT` for gRPC,
/// as grpcurl takes it.
fn say_ready(mesh: &Mesh) {
    let port = mesh.ingress_port();
    let proxies: Vec<_> = mesh.proxies().collect();
    if let Some((_, admin, _)) = proxies.first() {
        eprintln!(
            "{} Envoys ({}; retries: {}); gateway admin: http://127.0.0.1:{admin}",
            proxies.len(),
            match mesh.plan.topology {
                localmesh::plan::Topology::Sidecars => "the ingress gateway and a sidecar per pod",
                localmesh::plan::Topology::Ambient => {
                    "the ingress gateway, ztunnel and the waypoint"
                }
            },
            mesh.mode.as_str(),
        );
    }
    eprintln!(
        "{} pods (hop processes); ready in {:.1} s",
        mesh.plan.pods.len(),
        mesh.started_in.as_secs_f64()
    );
    let access = if mesh.model.mesh.access_log {
        " (each proxy's .log holds its access log)"
    } else {
        ""
    };
    eprintln!(
        "logs: {}{access}; {}",
        mesh.log_dir().display(),
        if mesh.keeps_logs() {
            "kept after exit"
        } else {
            "removed on exit (--keep-logs keeps them)"
        }
    );
    let ingress = match mesh.protocol() {
        Protocol::Grpc => {
            eprintln!("try: grpcurl -plaintext 127.0.0.1:{port} chain.v1.Hop/Call");
            format!("127.0.0.1:{port}")
        }
        Protocol::Http => {
            eprintln!("try: curl http://127.0.0.1:{port}/");
            format!("http://127.0.0.1:{port}")
        }
    };
    println!("ingress: {ingress}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
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

/// Where the report goes, and the earlier rows (`--beside`) it draws too.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportTo<'a> {
    pub path: Option<&'a std::path::Path>,
    pub beside: Option<&'a std::path::Path>,
}

pub fn compare(
    profiles: Vec<(String, Model)>,
    opts: &Options,
    settings: &Settings,
    format: Format,
    to: ReportTo<'_>,
    deployed: Option<Vec<Deployed>>,
) -> Result<ExitCode, String> {
    let report = to.path;
    // What would only fail at the end is refused before anything runs.
    if deployed.is_none() {
        find_programs(profiles.iter().map(|(_, m)| m), opts)?;
    }
    if let Some(path) = report {
        report::check_writable(path)?;
    }
    let earlier = match to.beside {
        Some(path) => compare::rows_from(path)?,
        None => Vec::new(),
    };
    match &deployed {
        None => {
            let mut notes = Vec::new();
            for (label, model) in &profiles {
                notes.push((label.as_str(), check(model, opts)?));
            }
            for n in condensed_notes(&notes) {
                eprintln!("note: {n}");
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
    let (date, load_before) = (provenance::utc_now(), provenance::load_average());
    let rt = runtime()?;
    let mut rows: Vec<Row> = Vec::new();
    let ended = rt.block_on(measure(
        profiles,
        opts,
        settings,
        deployed.as_deref(),
        &mut rows,
    ));
    // Whatever happened, every row measured is printed.
    if matches!(ended, Ended::Done) || !rows.is_empty() {
        print_rows(&rows, format);
    }
    match ended {
        Ended::Done => {}
        Ended::Interrupted => {
            eprintln!(
                "interrupted: {} row{} measured before the signal (above); nothing else written",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::from(130));
        }
        Ended::Failed(e) => {
            if !rows.is_empty() {
                eprintln!("the {} rows above were measured before:", rows.len());
            }
            return Err(e);
        }
    }
    if let Some(path) = report {
        let protocols: Vec<Protocol> = rows.iter().map(|r| r.protocol).collect();
        let info = report::RunInfo {
            load: load::Spec {
                concurrency: settings.concurrency,
                rate: settings.rate,
                ..load::Spec::default()
            }
            .mode()
            .to_string(),
            per_point: settings.per_point_text(),
            latency_runs: settings.latency_runs,
            ..provenance::run_info(
                opts,
                &protocols,
                deployed.is_some(),
                started,
                date,
                load_before,
            )
        };
        let drawn: Vec<Row> = rows.iter().chain(&earlier).cloned().collect();
        let page = report::html(&drawn, &info)?;
        std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `compare --experiment`: every experiment for every profile, findings
/// printed as they stand when the run ends (an interrupted or failed run
/// prints what it measured), the report written when asked.
pub fn experiments(
    profiles: Vec<(String, Model)>,
    opts: &Options,
    chosen: &[Experiment],
    format: Format,
    report: Option<&std::path::Path>,
    deployed: Vec<String>,
) -> Result<ExitCode, String> {
    if deployed.is_empty() {
        find_programs(profiles.iter().map(|(_, m)| m), opts)?;
    }
    if let Some(path) = report {
        report::check_writable(path)?;
    }
    if deployed.is_empty() {
        let mut notes = Vec::new();
        for (label, model) in &profiles {
            notes.push((label.as_str(), check(model, opts)?));
        }
        for n in condensed_notes(&notes) {
            eprintln!("note: {n}");
        }
    }
    let started = std::time::Instant::now();
    let date = provenance::utc_now();
    let rt = runtime()?;
    let mut findings = Vec::new();
    let ended = rt.block_on(async {
        let mut stop = match Stop::listen() {
            Ok(s) => s,
            Err(e) => return Ended::Failed(e),
        };
        for (i, (label, model)) in profiles.iter().enumerate() {
            let run = async {
                match deployed.get(i) {
                    Some(url) => {
                        experiment::run_deployed(chosen, label, model, url, &mut findings).await
                    }
                    None => experiment::run(chosen, label, model, opts, &mut findings).await,
                }
            };
            let result = tokio::select! {
                r = run => r,
                _ = stop.recv() => return Ended::Interrupted,
            };
            if let Err(e) = result {
                return Ended::Failed(format!("{label}: {e}"));
            }
        }
        Ended::Done
    });
    // Whatever happened, every finding measured is printed; nothing when
    // nothing was (an empty list would read as "no findings").
    if matches!(ended, Ended::Done) || !findings.is_empty() {
        match format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&findings).expect("findings serialize")
            ),
            Format::Csv => print!("{}", experiment::print::csv(&findings)),
            Format::Table => print!("{}", experiment::print::table(&findings)),
        }
    }
    match ended {
        Ended::Done => {}
        Ended::Interrupted => {
            eprintln!("interrupted: what was measured before the signal is above");
            return Ok(ExitCode::from(130));
        }
        Ended::Failed(e) => return Err(e),
    }
    if let Some(path) = report {
        let protocols: Vec<Protocol> = profiles.iter().map(|(_, m)| m.wire.protocol).collect();
        let info =
            provenance::run_info(opts, &protocols, !deployed.is_empty(), started, date, None);
        let page = experiment::report::html(&findings, &info)?;
        std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("report: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Each note once, in order: bare when every profile has it, else after the
/// profiles that do (`demo, demo-grpc: mtls: ...`).
fn condensed_notes(notes: &[(&str, Vec<String>)]) -> Vec<String> {
    let mut once: Vec<(&str, Vec<&str>)> = Vec::new();
    for (label, ns) in notes {
        for n in ns {
            match once.iter_mut().find(|(text, _)| text == n) {
                Some((_, who)) => who.push(label),
                None => once.push((n, vec![label])),
            }
        }
    }
    once.into_iter()
        .map(
            |(text, who)| match who.len() == notes.len() && notes.len() > 1 {
                true => text.to_owned(),
                false => format!("{}: {text}", who.join(", ")),
            },
        )
        .collect()
}

/// How a comparison's measurements ended.
enum Ended {
    Done,
    /// SIGINT or SIGTERM.
    Interrupted,
    Failed(String),
}

/// Every profile in turn, each row pushed to `rows` as it is measured; a
/// signal stops the run (dropping the running profile's Mesh stops its processes).
async fn measure(
    profiles: Vec<(String, Model)>,
    opts: &Options,
    settings: &Settings,
    deployed: Option<&[Deployed]>,
    rows: &mut Vec<Row>,
) -> Ended {
    let mut stop = match Stop::listen() {
        Ok(s) => s,
        Err(e) => return Ended::Failed(e),
    };
    let bars = compare::progress();
    for (i, (label, model)) in profiles.into_iter().enumerate() {
        let run = async {
            match deployed.map(|d| &d[i]) {
                Some(d) => {
                    compare::deployed(&label, &model, &d.url, d.admin, settings, &bars, rows).await
                }
                None => compare::profile(&label, model, opts, settings, &bars, rows).await,
            }
        };
        let result = tokio::select! {
            r = run => r,
            _ = stop.recv() => return Ended::Interrupted,
        };
        if let Err(e) = result {
            let _ = bars.clear();
            return Ended::Failed(e);
        }
    }
    let _ = bars.clear();
    Ended::Done
}

fn print_rows(rows: &[Row], format: Format) {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(rows).expect("rows serialize")
        ),
        Format::Csv => print!("{}", table::csv(rows)),
        Format::Table => print!("{}{}", table::table(rows), table::cost_tables(rows)),
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

/// A few requests through the ingress without `fail`: `Err` with the first
/// failure when none answers whole (one may fail by a profile's own faults).
async fn first_request(mesh: &Mesh) -> Result<(), String> {
    let spec = load::Spec {
        requests: 3,
        timeout: Duration::from_secs(30),
        ..load::Spec::default()
    };
    let outcome = load::run(mesh.protocol(), mesh.ingress_port(), &spec, None).await?;
    if outcome.successes() > 0 {
        return Ok(());
    }
    Err(outcome
        .samples
        .iter()
        .find_map(|s| s.error.clone())
        .unwrap_or_else(|| "no answer".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_every_profile_shares_are_said_once() {
        let notes = [
            ("demo", vec!["mtls: x".to_owned(), "tracing: y".to_owned()]),
            ("demo-grpc", vec!["mtls: x".to_owned()]),
        ];
        assert_eq!(
            condensed_notes(&notes),
            ["mtls: x".to_owned(), "demo: tracing: y".to_owned()]
        );
        let one = [("demo", vec!["mtls: x".to_owned()])];
        assert_eq!(condensed_notes(&one), ["demo: mtls: x".to_owned()]);
    }
}
