//! `meshgen compare --experiment NAME`: the behaviours people bring gRPC into
//! a mesh for, each measured on the local mesh beside the figure the
//! profile's settings predict, per protocol.
//!
//! Each experiment starts from a profile's model, changes only what it is
//! about (replicas, one service's traffic policy or route, one pod's
//! misbehaviour), runs a fresh mesh per setting, and returns [`Finding`]s:
//! one measured figure each, with the expected one and its tolerance where
//! the settings predict it. The figures come from what the client received
//! (the pods named in the answers, their errors) and from the proxies' own
//! statistics, never from the settings themselves.

mod balance;
mod breaker;
mod mirror;
mod outlier;
pub mod print;
pub mod report;
mod timeout;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::load::{self, Outcome, Spec};
use super::{Mesh, Options, RetryMode};
use meshgen::model::{DataPlane, Model, Protocol, Service, Upstream};

/// The experiments, in the order `all` runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// Requests per pod of three: bare (kube-proxy, one pod per connection)
    /// against the mesh (per request).
    LoadBalancing,
    /// Istio's circuit-breaking task: overflow against concurrency with 1
    /// connection and 1 pending request.
    CircuitBreaking,
    /// One pod of three failing: success over time until it is ejected.
    OutlierDetection,
    /// A route timeout against the backend's delay; a gRPC deadline below it.
    Timeouts,
    /// A share of the traffic copied to a failing version.
    Mirroring,
}

impl Experiment {
    pub const ALL: [Experiment; 5] = [
        Experiment::LoadBalancing,
        Experiment::CircuitBreaking,
        Experiment::OutlierDetection,
        Experiment::Timeouts,
        Experiment::Mirroring,
    ];

    /// The experiments a `--experiment` value names (`all`: every one).
    pub fn named(name: &str) -> Option<Vec<Experiment>> {
        match name {
            "all" => Some(Experiment::ALL.to_vec()),
            _ => Experiment::ALL
                .into_iter()
                .find(|e| e.name() == name)
                .map(|e| vec![e]),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Experiment::LoadBalancing => "load-balancing",
            Experiment::CircuitBreaking => "circuit-breaking",
            Experiment::OutlierDetection => "outlier-detection",
            Experiment::Timeouts => "timeouts",
            Experiment::Mirroring => "mirroring",
        }
    }

    /// What the report says under the experiment's plot: what it shows, and
    /// why the protocols differ, from Envoy's and Istio's behaviour.
    pub fn explanation(self) -> &'static str {
        match self {
            Experiment::LoadBalancing => {
                "Without a mesh, a Kubernetes Service balances connections: kube-proxy picks a \
                 pod when a connection opens, and every request on it goes there. An HTTP/1.1 \
                 client opens a connection per request in flight and spreads over the pods; a \
                 gRPC client multiplexes every call on one HTTP/2 connection, which reaches one \
                 pod. The caller's proxy balances each request instead (Envoy's LEAST_REQUEST \
                 by default in Istio), so both protocols reach every pod."
            }
            Experiment::CircuitBreaking => {
                "The DestinationRule of Istio's circuit-breaking task (tcp.maxConnections 1, \
                 http1MaxPendingRequests 1, maxRequestsPerConnection 1) becomes circuit \
                 breakers in the caller's proxy: what finds no connection and no pending slot \
                 is answered 503 with x-envoy-overloaded, gRPC UNAVAILABLE, without reaching \
                 the service. With one request per connection both protocols overflow alike; \
                 without maxRequestsPerConnection, HTTP/2 multiplexes every request on its one \
                 connection and gRPC overflows far less than HTTP/1.1, which needs a \
                 connection per request in flight."
            }
            Experiment::OutlierDetection => {
                "One pod of three fails every request. Each calling proxy ejects it after \
                 consecutive5xxErrors failures in a row, for baseEjectionTime, and success \
                 returns to 1. Outlier detection counts HTTP statuses: a gRPC error is an HTTP \
                 200 whose grpc-status Envoy maps first (INTERNAL is 500), so both protocols \
                 eject alike. Retries are off here, so that the failures show."
            }
            Experiment::Timeouts => {
                "The route's timeout ends a call to a backend slower than it: Envoy answers \
                 504 upstream request timeout, which a gRPC caller reads as UNAVAILABLE \
                 (Envoy's mapping of 504). A gRPC caller's own deadline (grpc-timeout) is \
                 honoured below the route's (Istio writes max_grpc_timeout), so a shorter \
                 deadline ends the call sooner; an HTTP caller has no such header."
            }
            Experiment::Mirroring => {
                "A share of the requests is copied to another version, whose every answer \
                 fails here: Envoy sends the copy without waiting for it and drops its answer, \
                 so the callers' success stays 1 whatever the mirror does. The share is read \
                 from the proxies' counts of requests to the mirrored version."
            }
        }
    }
}

/// One measured figure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Finding {
    pub experiment: Experiment,
    pub profile: String,
    pub protocol: Protocol,
    pub data_plane: DataPlane,
    /// What was set for this run (`bare`, `concurrency 4`, `delay 700ms`).
    pub setting: String,
    /// The setting as a number, for the plot (concurrency, delay in ms...).
    pub x: f64,
    /// What is measured (`busiest pod's share`).
    pub measure: String,
    /// The figure the report plots for its experiment (against `x`), one
    /// line per profile and `series`.
    pub plotted: bool,
    /// A variant of the experiment's settings, its own line in the plot.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub series: String,
    /// What the settings predict; `None` where they do not.
    pub expected: Option<f64>,
    /// How far from `expected` still agrees.
    pub tolerance: f64,
    pub measured: f64,
    /// Requests sent for this figure.
    pub requests: usize,
    /// What the caller received, and other detail for people.
    pub note: String,
}

impl Finding {
    /// Whether the measured figure agrees with the expected one.
    pub fn agrees(&self) -> Option<bool> {
        self.expected
            .map(|e| (self.measured - e).abs() <= self.tolerance + 1e-9)
    }
}

/// What every experiment of one profile shares.
pub struct Run<'a> {
    pub label: &'a str,
    pub model: &'a Model,
    pub opts: &'a Options,
}

impl Run<'_> {
    fn finding(&self, e: Experiment, setting: impl Into<String>, x: f64) -> Finding {
        Finding {
            experiment: e,
            profile: self.label.to_owned(),
            protocol: self.model.wire.protocol,
            data_plane: self.model.mesh.data_plane,
            setting: setting.into(),
            x,
            measure: String::new(),
            plotted: false,
            series: String::new(),
            expected: None,
            tolerance: 0.0,
            measured: f64::NAN,
            requests: 0,
            note: String::new(),
        }
    }

    /// A mesh of `model` with retries `mode` (bare: none at all), warmed
    /// up: connections open, and the chain shown to answer.
    async fn mesh(
        &self,
        model: Model,
        mode: Option<RetryMode>,
        opts: Options,
    ) -> Result<Mesh, String> {
        let mesh = self.cold_mesh(model, mode, opts).await?;
        super::compare::warm_up(self.model.wire.protocol, &mesh.url()).await?;
        Ok(mesh)
    }

    /// A mesh without the warm-up: for experiments whose first requests are
    /// the measurement (an ejection) or fail by design (a timeout).
    async fn cold_mesh(
        &self,
        model: Model,
        mode: Option<RetryMode>,
        opts: Options,
    ) -> Result<Mesh, String> {
        Mesh::start(
            model,
            &Options {
                retry_mode: mode,
                bare: mode.is_none(),
                ..opts
            },
        )
        .await
    }

    async fn load(&self, url: &str, spec: &Spec) -> Result<Outcome, String> {
        load::run_at(self.model.wire.protocol, url, spec, None).await
    }
}

impl Mesh {
    /// What a client calls: the ingress, with the path HTTP wants.
    pub(super) fn url(&self) -> String {
        format!("{}/", self.ingress_url())
    }
}

/// The service the experiments act on: the last of the chain that another
/// service calls (the demo's backend), and the service calling it.
fn target(m: &Model) -> Result<(&Service, &Service), String> {
    m.services
        .iter()
        .rev()
        .find_map(|t| {
            let caller = m.services.iter().find(|s| {
                s.upstreams
                    .iter()
                    .any(|u| matches!(u, Upstream::Service { name } if *name == t.name))
            })?;
            Some((t, caller))
        })
        .ok_or_else(|| "the experiments need a service that another service calls".to_owned())
}

/// A closed-loop load of `requests` with `concurrency` in flight.
fn closed(requests: usize, concurrency: usize, headers: Vec<(String, String)>) -> Spec {
    Spec {
        requests,
        concurrency,
        headers,
        timeout: Duration::from_secs(30),
        rate: None,
        duration: None,
    }
}

/// The cluster-name part of a service's subset (`|prod|backend.`), as the
/// proxies' statistics name it.
fn subset_stat(m: &Model, service: &str, subset: &str) -> String {
    format!("|{subset}|{service}.{}.", m.namespace)
}

/// Runs `experiments` for one profile on a deployed mesh, through its
/// ingress at `url`, with the profile's own settings: the experiments that
/// need no pod made slow or failing. Their requests ask the target for a
/// delay by the `delay` header, which only the target waits.
pub async fn run_deployed(
    experiments: &[Experiment],
    label: &str,
    model: &Model,
    url: &str,
    findings: &mut Vec<Finding>,
) -> Result<(), String> {
    let opts = Options::default();
    let run = Run {
        label,
        model,
        opts: &opts,
    };
    super::compare::warm_up(model.wire.protocol, url).await?;
    for e in experiments {
        let before = findings.len();
        match e {
            Experiment::LoadBalancing => balance::deployed(&run, url, findings).await?,
            Experiment::CircuitBreaking => breaker::deployed(&run, url, findings).await?,
            Experiment::Timeouts => timeout::deployed(&run, url, findings).await?,
            Experiment::OutlierDetection | Experiment::Mirroring => eprintln!(
                "note: {}: {label}: needs a pod made to fail, which only a local run does; \
                 skipped with --ingress",
                e.name()
            ),
        }
        said(*e, label, &findings[before..]);
    }
    Ok(())
}

/// One line per finding on stderr as it is measured.
fn said(e: Experiment, label: &str, findings: &[Finding]) {
    for f in findings {
        eprintln!(
            "measured {} {label} ({}): {}: {} {:.3}{}",
            e.name(),
            super::compare::protocol_name(f.protocol),
            f.setting,
            f.measure,
            f.measured,
            f.expected
                .map(|x| format!(" (expected {x:.3} ± {:.3})", f.tolerance))
                .unwrap_or_default()
        );
    }
}

/// Runs `experiments` for one profile; each finding is pushed as soon as it
/// is measured, so an interrupted run keeps what it measured.
pub async fn run(
    experiments: &[Experiment],
    label: &str,
    model: &Model,
    opts: &Options,
    findings: &mut Vec<Finding>,
) -> Result<(), String> {
    let run = Run { label, model, opts };
    for e in experiments {
        let before = findings.len();
        match e {
            Experiment::LoadBalancing => balance::run(&run, findings).await?,
            Experiment::CircuitBreaking => breaker::run(&run, findings).await?,
            Experiment::OutlierDetection => outlier::run(&run, findings).await?,
            Experiment::Timeouts => timeout::run(&run, findings).await?,
            Experiment::Mirroring => mirror::run(&run, findings).await?,
        }
        said(*e, label, &findings[before..]);
    }
    Ok(())
}
