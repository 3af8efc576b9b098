//! The gRPC server: `chain.v1.Hop/Call`, grpc.health.v1, server reflection.
//! A failing hop answers its status (INTERNAL by default) before any message,
//! which tonic sends as a trailers-only response: `grpc-status` sits in the
//! response headers, where Envoy's gRPC retry conditions look for it.
//!
//! The generated tonic services are served straight from hyper's HTTP/2
//! connections through a path-prefix dispatcher (`Routes`), not through
//! `tonic::transport::Server`: its per-connection tower stack (boxing, connect
//! info, error recovery) and axum router cost about 7 % of each hop's CPU per
//! call. `Routes` keeps what they did that a client can see: `grpc-timeout`
//! deadlines and UNIMPLEMENTED for unknown services.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use chain_proto::v1::hop_server::{Hop as HopRpc, HopServer};
use chain_proto::{CallRequest, FILE_DESCRIPTOR_SET};
use hop::fail_status::grpc_code_name;
use hop::serve::Bound;
use hop::{Hop, Outcome};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceContextExt as _};
use tonic::codegen::{BoxFuture, Service};
use tonic::{Code, Request, Response, Status};

struct HopService {
    hop: Arc<Hop>,
}

#[tonic::async_trait]
impl HopRpc for HopService {
    async fn call(
        &self,
        request: Request<CallRequest>,
    ) -> Result<Response<chain_proto::Reply>, Status> {
        let start = Instant::now();
        let hop = &self.hop;
        let headers = request.into_parts().0.into_headers();
        let parent = hop.telemetry.extract(&headers);
        let cx = hop.telemetry.start(
            &parent,
            "chain.v1.Hop/Call",
            SpanKind::Server,
            server_attributes,
        );

        let result = match hop.handle(&headers, &cx).await {
            Outcome::Fail(status) => Err(Status::new(status.grpc, "fail dice")),
            Outcome::Reply(reply) => Ok(Response::new(reply.into())),
        };

        let code = result.as_ref().map_or_else(Status::code, |_| Code::Ok);
        let span = cx.span();
        span.set_attribute(KeyValue::new("rpc.grpc.status_code", code as i64));
        if code != Code::Ok {
            span.set_attribute(KeyValue::new("error.type", grpc_code_name(code)));
            span.set_status(SpanStatus::error("fail dice"));
        }
        span.end();
        hop.metrics
            .request(grpc_code_name(code).into(), start.elapsed());
        result
    }
}

/// OpenTelemetry semantic conventions for an RPC server span.
fn server_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("rpc.system", "grpc"),
        KeyValue::new("rpc.service", "chain.v1.Hop"),
        KeyValue::new("rpc.method", "Call"),
    ]
}

pub async fn run() -> i32 {
    let Bound { hop, listener } = match hop::serve::bind(hop::Protocol::Grpc).await {
        Ok(bound) => bound,
        Err(code) => return code,
    };

    // Health: "" (the server) is SERVING from the start; add the hop service.
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<HopServer<HopService>>().await;
    // Both reflection versions: grpcurl 1.8 speaks v1alpha, newer clients v1.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let (reflection_v1, reflection_v1alpha) =
        match (reflection().build_v1(), reflection().build_v1alpha()) {
            (Ok(v1), Ok(v1alpha)) => (v1, v1alpha),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("reflection: {e}");
                return 1;
            }
        };

    let routes = Routes {
        hop: HopServer::new(HopService { hop: hop.clone() }),
        health: health_service,
        reflection_v1,
        reflection_v1alpha,
    };
    let builder = connection_builder();
    let open = hop::serve::accept_until_signal(listener, |io| {
        builder.serve_connection(io, routes.clone())
    })
    .await;
    // Tell health checkers first, then let in-flight calls finish (GOAWAY to clients).
    health.set_not_serving::<HopServer<HopService>>().await;
    hop::serve::drain(&hop, open).await
}

/// HTTP/2 only (prior knowledge h2c), with the settings tonic's
/// `transport::Server` used: bounded header lists, no stream limit, no
/// keep-alive pings.
fn connection_builder() -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        .max_concurrent_streams(None)
        .max_pending_accept_reset_streams(None)
        .max_local_error_reset_streams(None)
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

type GrpcResponse = http::Response<tonic::body::Body>;

/// What every service of this server is: a generated tonic server. (A trait
/// and its blanket impl: Rust's way to name a bound.)
trait GrpcService:
    Service<
        http::Request<Incoming>,
        Response = GrpcResponse,
        Error = Infallible,
        Future = BoxFuture<GrpcResponse, Infallible>,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: Service<
            http::Request<Incoming>,
            Response = GrpcResponse,
            Error = Infallible,
            Future = BoxFuture<GrpcResponse, Infallible>,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// The services by path prefix, served straight to hyper: what tonic's
/// `transport::Server` and its router did per call, without their tower
/// layers, boxing and axum routing. Like tonic, it honours `grpc-timeout`
/// (CANCELLED "Timeout expired" when the handler overruns it) and answers
/// UNIMPLEMENTED for unknown services.
#[derive(Clone)]
struct Routes<H, V1, V1A> {
    hop: HopServer<HopService>,
    health: H,
    reflection_v1: V1,
    reflection_v1alpha: V1A,
}

impl<H, V1, V1A> hyper::service::Service<http::Request<Incoming>> for Routes<H, V1, V1A>
where
    H: GrpcService,
    V1: GrpcService,
    V1A: GrpcService,
{
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = CallFuture;

    fn call(&self, request: http::Request<Incoming>) -> CallFuture {
        let timeout = grpc_timeout(request.headers());
        let path = request.uri().path();
        // The generated servers are always ready (poll_ready is a no-op) and
        // cheap to clone (an Arc and a few settings).
        let inner = if path.starts_with("/chain.v1.Hop/") {
            self.hop.clone().call(request)
        } else if path.starts_with("/grpc.health.v1.Health/") {
            self.health.clone().call(request)
        } else if path.starts_with("/grpc.reflection.v1.ServerReflection/") {
            self.reflection_v1.clone().call(request)
        } else if path.starts_with("/grpc.reflection.v1alpha.ServerReflection/") {
            self.reflection_v1alpha.clone().call(request)
        } else {
            return CallFuture {
                inner: None,
                sleep: None,
            };
        };
        CallFuture {
            inner: Some(inner),
            sleep: timeout.map(|timeout| Box::pin(tokio::time::sleep(timeout))),
        }
    }
}

/// A call in flight, raced against its deadline; no call: UNIMPLEMENTED.
struct CallFuture {
    inner: Option<BoxFuture<GrpcResponse, Infallible>>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for CallFuture {
    type Output = Result<GrpcResponse, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            // What tonic's router answered (its axum fallback adds the length).
            let mut response = Status::unimplemented("").into_http();
            response.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_static("0"),
            );
            return Poll::Ready(Ok(response));
        };
        if let ready @ Poll::Ready(_) = inner.as_mut().poll(cx) {
            return ready;
        }
        match self.sleep.as_mut() {
            Some(sleep) => {
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Ok(Status::cancelled("Timeout expired").into_http()))
            }
            None => Poll::Pending,
        }
    }
}

/// The `grpc-timeout` header (gRPC over HTTP/2: at most 8 digits and a unit),
/// as tonic's server reads it; anything unparsable means no deadline.
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.as_bytes();
    let (&unit, digits) = value.split_last()?;
    if digits.len() > 8 {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(n * 60 * 60),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(value: &str) -> Option<Duration> {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn grpc_timeout_like_tonic() {
        assert_eq!(timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("1999m"), Some(Duration::from_millis(1999)));
        assert_eq!(timeout("3H"), Some(Duration::from_secs(3 * 3600)));
        assert_eq!(timeout("5M"), Some(Duration::from_secs(300)));
        assert_eq!(
            timeout("12345678u"),
            Some(Duration::from_micros(12_345_678))
        );
        assert_eq!(timeout("7n"), Some(Duration::from_nanos(7)));
        for bad in ["", "S", "123456789m", "10x", "1.5S", "-1S"] {
            assert_eq!(timeout(bad), None, "{bad:?}");
        }
        assert_eq!(grpc_timeout(&http::HeaderMap::new()), None);
    }
}
