//! Child processes of a local mesh: each in its own process group, killed with
//! its parent (PR_SET_PDEATHSIG) even if meshgen itself is SIGKILLed, and
//! stopped (SIGTERM to the group, then SIGKILL) when dropped.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
    stopped: bool,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr to `log`. Must be called from a thread
    /// that lives as long as the process should (PDEATHSIG fires when the
    /// spawning *thread* exits): the main thread, i.e. the `block_on` future.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc, String> {
        let out =
            localmesh::process::open_log(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        localmesh::process::dies_with_this_thread(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            stopped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The end of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(15);
        lines[start..].join("\n")
    }

    /// SIGTERM to the process group, without waiting (see [`Proc::stop`]).
    pub fn terminate(&self) {
        if !self.stopped {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGTERM) };
        }
    }

    /// SIGTERM to the process group, up to `grace` to exit, then SIGKILL; reaps it.
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
        // Whatever is left in the group (the child, or anything it started).
        // SAFETY: as above; ESRCH when the group is gone is fine.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}
