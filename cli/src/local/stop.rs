//! The signals that stop `up` and `compare`, as they stop any terminal
//! program: SIGTERM, SIGINT (Ctrl-C) and SIGHUP (the terminal or the SSH
//! session went away). Each is taken, so that the mesh is dropped and with
//! it every process, the keys and the temporary logs; only SIGKILL leaves
//! them behind.

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct Stop {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Stop {
    /// Takes the three signals from now on.
    pub fn listen() -> Result<Stop, String> {
        let take = |kind| signal(kind).map_err(|e| format!("signals: {e}"));
        Ok(Stop {
            term: take(SignalKind::terminate())?,
            int: take(SignalKind::interrupt())?,
            hup: take(SignalKind::hangup())?,
        })
    }

    /// Waits for any of them.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}
