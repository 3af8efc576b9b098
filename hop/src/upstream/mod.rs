//! Calling the configured upstreams, in order, whatever their protocol.
//!
//! Every call gets a client span, the propagated headers, a timeout and a
//! metric; a failed call becomes an error text in the reply, never a failure
//! of the hop (like the original).

mod grpc;
mod h2c;
mod http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ::http::HeaderMap;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use crate::metrics::{Metrics, Outcome};
use crate::reply::{Answer, UpstreamReply};
use crate::telemetry::Telemetry;
use crate::{HopConfig, Target, TargetScheme};
use crate::{deadline, headers};

pub use self::grpc::GrpcClient;
pub use self::http::HttpClient;

/// What one call produced.
pub struct CallResult {
    pub answer: Answer,
    pub outcome: Outcome,
    /// HTTP status or gRPC code, when the upstream answered.
    pub code: Option<i64>,
}

impl CallResult {
    fn error(outcome: Outcome, text: String, code: Option<i64>) -> CallResult {
        CallResult {
            answer: Answer::Error(text),
            outcome,
            code,
        }
    }
}

enum Client {
    Http(HttpClient),
    Grpc(GrpcClient),
}

struct Upstream {
    target: Target,
    /// The target's text, shared with the metric labels.
    label: Arc<String>,
    client: Client,
    /// Whether calls carry the route headers: not to an API outside the mesh.
    route_headers: bool,
}

/// The configured upstreams with their (pooled) clients, built once.
pub struct Upstreams {
    upstreams: Vec<Upstream>,
    timeout: Duration,
    /// Forwarded besides the fixed headers: the ones routes match on.
    forward: Vec<::http::HeaderName>,
}

impl Upstreams {
    /// Builds the clients; must run inside the Tokio runtime. Connections are
    /// opened lazily and reused: one HTTP/1.1 pool shared by all HTTP(S)
    /// targets, one multiplexed HTTP/2 connection per gRPC target.
    pub fn new(config: &HopConfig) -> Result<Upstreams, String> {
        let timeout: Duration = config.upstream_timeout.into();
        let mut http_client = None;
        let mut upstreams = Vec::with_capacity(config.upstreams.len());
        for target in &config.upstreams {
            let client = match target.scheme {
                TargetScheme::Http | TargetScheme::Https => {
                    if http_client.is_none() {
                        http_client = Some(HttpClient::new(timeout)?);
                    }
                    Client::Http(http_client.clone().expect("just built"))
                }
                TargetScheme::Grpc => Client::Grpc(GrpcClient::new(target, timeout)?),
            };
            upstreams.push(Upstream {
                label: Arc::new(target.raw.clone()),
                target: target.clone(),
                client,
                route_headers: config.forwards_route_headers_to(target),
            });
        }
        Ok(Upstreams {
            upstreams,
            timeout,
            forward: config.forward_headers.clone(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty()
    }

    /// Calls every upstream in order with the headers forwarded from `incoming`.
    pub async fn call_all(
        &self,
        incoming: &HeaderMap,
        deadline: Option<Instant>,
        cx: &Context,
        telemetry: &Telemetry,
        metrics: &Metrics,
    ) -> Vec<UpstreamReply> {
        let forwarded = headers::forwarded(incoming, telemetry.enabled(), &self.forward);
        // Outside the mesh no route matches: the APIs there get the request
        // id and the trace context only.
        let outside = self
            .upstreams
            .iter()
            .any(|u| !u.route_headers)
            .then(|| headers::forwarded_outside(incoming, telemetry.enabled()));
        let mut replies = Vec::with_capacity(self.upstreams.len());
        for upstream in &self.upstreams {
            let timeout = deadline::budget(self.timeout, deadline);
            let headers = match (upstream.route_headers, &outside) {
                (false, Some(outside)) => outside,
                _ => &forwarded,
            };
            let answer = self
                .call(upstream, headers, timeout, cx, telemetry, metrics)
                .await;
            replies.push(UpstreamReply {
                target: upstream.target.raw.clone(),
                answer,
            });
        }
        replies
    }

    async fn call(
        &self,
        upstream: &Upstream,
        forwarded: &HeaderMap,
        timeout: Duration,
        cx: &Context,
        telemetry: &Telemetry,
        metrics: &Metrics,
    ) -> Answer {
        let start = Instant::now();
        let target = &upstream.target;
        let (name, is_grpc) = match upstream.client {
            Client::Http(_) => ("GET", false),
            Client::Grpc(_) => ("chain.v1.Hop/Call", true),
        };
        let ccx = telemetry.start(cx, name, SpanKind::Client, || {
            client_attributes(target, is_grpc)
        });
        let mut headers = forwarded.clone();
        telemetry.inject(&ccx, &mut headers);

        let call = async {
            match &upstream.client {
                Client::Http(client) => client.get(target, headers).await,
                Client::Grpc(client) => client.call(headers, timeout).await,
            }
        };
        let result = tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| {
                CallResult::error(
                    Outcome::Timeout,
                    format!("TimeoutError: no answer within {timeout:?}"),
                    None,
                )
            });

        metrics.upstream(&upstream.label, result.outcome, start.elapsed());
        let span = ccx.span();
        if let Some(code) = result.code {
            let key = if is_grpc {
                "rpc.grpc.status_code"
            } else {
                "http.response.status_code"
            };
            span.set_attribute(KeyValue::new(key, code));
        }
        if result.outcome != Outcome::Ok {
            span.set_attribute(KeyValue::new("error.type", result.outcome.as_str()));
            if let Answer::Error(text) = &result.answer {
                span.set_status(Status::error(text.clone()));
            }
        }
        span.end();
        result.answer
    }
}

/// OpenTelemetry semantic conventions for HTTP and RPC client spans.
fn client_attributes(target: &Target, is_grpc: bool) -> Vec<KeyValue> {
    let host = target.uri.host().unwrap_or_default().to_string();
    let port = target.uri.port_u16().unwrap_or(match target.scheme {
        TargetScheme::Https => 443,
        _ => 80,
    });
    let mut attributes = vec![
        KeyValue::new("server.address", host),
        KeyValue::new("server.port", i64::from(port)),
    ];
    if is_grpc {
        attributes.extend([
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", "chain.v1.Hop"),
            KeyValue::new("rpc.method", "Call"),
        ]);
    } else {
        attributes.extend([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.full", target.raw.clone()),
        ]);
    }
    attributes
}

/// An error and its causes on one line ("client error (Connect): tcp connect
/// error: Connection refused"), since the top-level text alone says little.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// One call to `target` outside of a hop (the binaries' `call` subcommand):
/// same clients, same rules.
pub async fn call_once(
    target: &Target,
    headers: HeaderMap,
    timeout: Duration,
) -> Result<CallResult, String> {
    let call = async {
        Ok(match target.scheme {
            TargetScheme::Http | TargetScheme::Https => {
                HttpClient::new(timeout)?.get(target, headers).await
            }
            TargetScheme::Grpc => {
                GrpcClient::new(target, timeout)?
                    .call(headers, timeout)
                    .await
            }
        })
    };
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| Err(format!("TimeoutError: no answer within {timeout:?}")))
}
