//! What can fail, each error naming the piece that failed (which file, which
//! proxy, which program) so that `up` can print it as it is.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

#[derive(Debug)]
pub enum Error {
    /// A file or directory of the private temporary directory.
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CA could not make or sign a certificate.
    Certificate { what: String, source: rcgen::Error },
    /// An identity whose name cannot be a file name (never from a valid Model).
    BadName(String),
    /// No Envoy program where it was looked for.
    EnvoyNotFound(String),
    /// The Envoy program could not be started at all.
    EnvoyNotStarted {
        proxy: String,
        program: PathBuf,
        source: std::io::Error,
    },
    /// Envoy exited (a busy port, a bad certificate file, a signal...).
    EnvoyExited {
        proxy: String,
        status: ExitStatus,
        log: PathBuf,
        log_tail: String,
    },
    /// Envoy runs but its admin did not answer `/ready` in time.
    EnvoyNotReady {
        proxy: String,
        waited: Duration,
        log: PathBuf,
        log_tail: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { what, path, source } => write!(f, "{what} {}: {source}", path.display()),
            Error::Certificate { what, source } => {
                write!(f, "certificate authority: {what}: {source}")
            }
            Error::BadName(name) => write!(f, "{name:?} cannot name a workload's credentials"),
            Error::EnvoyNotFound(why) => write!(f, "Envoy not found: {why}"),
            Error::EnvoyNotStarted {
                proxy,
                program,
                source,
            } => write!(
                f,
                "cannot start Envoy for {proxy} ({}): {source}",
                program.display()
            ),
            Error::EnvoyExited {
                proxy,
                status,
                log,
                log_tail,
            } => write!(
                f,
                "Envoy for {proxy} exited ({status}); the end of its log ({}):\n{log_tail}",
                log.display()
            ),
            Error::EnvoyNotReady {
                proxy,
                waited,
                log,
                log_tail,
            } => write!(
                f,
                "Envoy for {proxy} not ready after {} s (admin /ready); the end of its log ({}):\n{log_tail}",
                waited.as_secs_f64().round(),
                log.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::EnvoyNotStarted { source, .. } => Some(source),
            Error::Certificate { source, .. } => Some(source),
            _ => None,
        }
    }
}
