//! A hop binary running as a child process, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, grpc_serving, http_get};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Grpc,
}

pub struct HopProcess {
    child: Child,
    pub protocol: Protocol,
    pub port: u16,
    pub metrics_port: u16,
}

impl HopProcess {
    /// One hop named `service`-`version` calling `upstream`, with `extra` environment.
    pub async fn hop(
        binary: &Path,
        protocol: Protocol,
        (service, version): (&str, &str),
        upstream: &str,
        extra: &[(&str, &str)],
    ) -> HopProcess {
        let mut env = vec![
            ("SERVICE_NAME", service),
            ("SERVICE_VERSION", version),
            ("UPSTREAM", upstream),
        ];
        env.extend_from_slice(extra);
        HopProcess::start(binary, protocol, &env).await
    }

    /// The demo's chain: frontend-prod -> middleware-canary -> backend-prod ->
    /// `last`; returns `[frontend, middleware, backend]`.
    pub async fn chain(binary: &Path, protocol: Protocol, last: &str) -> [HopProcess; 3] {
        let backend = HopProcess::hop(binary, protocol, ("backend", "prod"), last, &[]).await;
        let middleware = HopProcess::hop(
            binary,
            protocol,
            ("middleware", "canary"),
            &backend.url(),
            &[],
        )
        .await;
        let frontend = HopProcess::hop(
            binary,
            protocol,
            ("frontend", "prod"),
            &middleware.url(),
            &[],
        )
        .await;
        [frontend, middleware, backend]
    }

    /// Starts `binary` with only the given environment (plus PORT and
    /// METRICS_PORT on free ports, unless given, on 127.0.0.1) and waits
    /// until it answers its health check.
    pub async fn start(binary: &Path, protocol: Protocol, env: &[(&str, &str)]) -> HopProcess {
        let given = |key: &str| {
            let value = env.iter().rev().find(|(k, _)| *k == key)?.1;
            Some(value.parse::<u16>().expect("a port number"))
        };
        let port = given("PORT").unwrap_or_else(free_port);
        let metrics_port = given("METRICS_PORT").unwrap_or_else(free_port);
        let child = Command::new(binary)
            .env_clear()
            .env("PORT", port.to_string())
            .env("METRICS_PORT", metrics_port.to_string())
            .env("LISTEN_ADDRESS", "127.0.0.1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut hop = HopProcess {
            child,
            protocol,
            port,
            metrics_port,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while !hop.healthy().await {
            if let Ok(Some(status)) = hop.child.try_wait() {
                panic!("{} exited early: {status}", binary.display());
            }
            assert!(
                Instant::now() < end,
                "{} on port {port} not healthy within 20s",
                binary.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        hop
    }

    /// Whether it answers its health check (HTTP `/healthz`, gRPC `""`).
    pub async fn healthy(&self) -> bool {
        match self.protocol {
            Protocol::Http => matches!(http_get(self.port, "/healthz", &[]).await, Ok((200, _, _))),
            Protocol::Grpc => grpc_serving(self.port, "").await,
        }
    }

    /// How other hops and clients reach this one.
    pub fn url(&self) -> String {
        match self.protocol {
            Protocol::Http => format!("http://127.0.0.1:{}/", self.port),
            Protocol::Grpc => format!("grpc://127.0.0.1:{}", self.port),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (without waiting).
    pub fn sigterm(&self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
        assert_eq!(
            unsafe { libc::kill(pid, libc::SIGTERM) },
            0,
            "kill -TERM {pid}"
        );
    }

    /// Waits for the process to exit, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < end,
                "the hop did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait(Duration::from_secs(30)).await
    }

    /// Whether the process still runs (it must survive bad input).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for HopProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
