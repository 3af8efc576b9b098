//! What a report records about how it was made, beyond the rows: the
//! command line, the date, how the programs were built, the machine's load.

use std::path::Path;

use super::Options;
use meshgen::model::Protocol;

/// The command line as typed (arguments with spaces or quotes shell-quoted).
pub fn command_line() -> String {
    std::env::args()
        .enumerate()
        .map(|(i, a)| match i {
            0 => "meshgen".to_owned(),
            _ if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$*?".contains(c)) =>
            {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
            _ => a,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Now, in UTC, as `2026-12-07 16:45 UTC`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// `secs` after the Unix epoch as a UTC date and time (Howard Hinnant's
/// civil-from-days).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// The 1-minute load average, or `None` where /proc has none.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How meshgen itself was built.
pub fn meshgen_build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// How a program was built, from where cargo put it: `Some(true)` for
/// target/debug, `Some(false)` for target/release, `None` elsewhere.
pub fn debug_build(program: &Path) -> Option<bool> {
    let mut parts = program.components().rev().skip(1).map(|c| c.as_os_str());
    match parts.next()?.to_str()? {
        "debug" => Some(true),
        "release" => Some(false),
        _ => None,
    }
}

/// Where the hops of the rows' protocols are and whether they are debug
/// builds; a deployed mesh's are not this machine's to say.
pub fn hops_build(
    protocols: &[Protocol],
    opts: &Options,
    deployed: bool,
) -> (String, Option<bool>) {
    if deployed {
        return ("the deployed mesh's".into(), None);
    }
    let mut paths = Vec::new();
    for protocol in protocols {
        if let Ok(p) = super::find_binary(protocol.binary(), opts.bin_dir.as_deref())
            && !paths.contains(&p)
        {
            paths.push(p);
        }
    }
    let debug = paths.iter().map(|p| debug_build(p)).collect::<Vec<_>>();
    let shown = paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let any_debug = debug.contains(&Some(true));
    let all_release = !debug.is_empty() && debug.iter().all(|d| *d == Some(false));
    let verdict = match (any_debug, all_release) {
        (true, _) => Some(true),
        (false, true) => Some(false),
        _ => None,
    };
    (shown, verdict)
}

/// `envoy --version`'s line, or why there is none.
pub fn envoy_version(opts: &Options) -> String {
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
pub fn machine() -> String {
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

/// How a comparison was made, as its report says it: the programs, the
/// machine and its load, the command and how long it took. The load the
/// client made and the points are the caller's to fill in.
pub fn run_info(
    opts: &Options,
    protocols: &[Protocol],
    deployed: bool,
    started: std::time::Instant,
    date: String,
    load_before: Option<f64>,
) -> super::report::RunInfo {
    let (hops, hops_debug) = hops_build(protocols, opts, deployed);
    super::report::RunInfo {
        meshgen: env!("CARGO_PKG_VERSION").to_owned(),
        envoy: envoy_version(opts),
        machine: machine(),
        load: String::new(),
        per_point: String::new(),
        seconds: started.elapsed().as_secs_f64(),
        command: command_line(),
        date,
        meshgen_build: meshgen_build().to_owned(),
        hops,
        hops_debug,
        load_before,
        load_after: load_average(),
        latency_runs: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_796_232_514), "2026-12-02 17:28 UTC");
    }

    #[test]
    fn builds() {
        assert_eq!(
            debug_build(Path::new("/r/target/debug/chain-http")),
            Some(true)
        );
        assert_eq!(
            debug_build(Path::new("target/release/chain-grpc")),
            Some(false)
        );
        assert_eq!(debug_build(Path::new("/usr/bin/chain-http")), None);
    }
}
