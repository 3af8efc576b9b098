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
use contract::{CONNECTION_WINDOW, Limits, MAX_HEADER_BYTES, STREAM_WINDOW};
use hop::fail_status::grpc_code_name;
use hop::serve::{Bound, Counted, Overloaded};
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

    // Every service decodes at most MAX_MESSAGE_BYTES a message (tonic:
    // OUT_OF_RANGE beyond, before it buffers the message); the hop's own
    // replies are held to the same.
    let max_message = hop.config.limits.max_message_bytes as usize;
    // Health: "" (the server) is SERVING from the start; add the hop service.
    let (mut health, health_service) = tonic_health::server::health_reporter();
    let health_service = health_service.max_decoding_message_size(max_message);
    health.set_serving::<HopServer<HopService>>().await;
    // Both reflection versions: grpcurl 1.8 speaks v1alpha, newer clients v1.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let (reflection_v1, reflection_v1alpha) =
        match (reflection().build_v1(), reflection().build_v1alpha()) {
            (Ok(v1), Ok(v1alpha)) => (
                v1.max_decoding_message_size(max_message),
                v1alpha.max_decoding_message_size(max_message),
            ),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("reflection: {e}");
                return 1;
            }
        };

    let routes = Routes {
        hop: HopServer::new(HopService { hop: hop.clone() })
            .max_decoding_message_size(max_message)
            .max_encoding_message_size(max_message),
        health: health_service,
        reflection_v1,
        reflection_v1alpha,
    };
    let limits = hop.config.limits;
    let builder = connection_builder(&limits);
    let overloaded: Overloaded<tonic::body::Body> = {
        let hop = hop.clone();
        Arc::new(move || {
            hop.metrics.request(
                grpc_code_name(Code::ResourceExhausted).into(),
                Duration::ZERO,
            );
            Status::resource_exhausted("overloaded").into_http()
        })
    };
    let open = hop::serve::accept_until_signal(listener, limits, |io, activity| {
        builder.serve_connection(io, Counted::new(routes.clone(), activity, &overloaded))
    })
    .await;
    stop_serving(&mut health).await;
    hop::serve::drain(&hop, open).await
}

/// Tells health checkers first: both statuses (the server, "", and the hop
/// service) go NOT_SERVING, and open `Watch` streams get that and then end,
/// so they do not hold the drain. `Check` keeps answering NOT_SERVING while
/// in-flight calls finish (GOAWAY to clients).
async fn stop_serving(health: &mut tonic_health::server::HealthReporter) {
    use tonic_health::ServingStatus::NotServing;
    let hop = <HopServer<HopService> as tonic::server::NamedService>::NAME;
    for service in ["", hop] {
        health.set_service_status(service, NotServing).await;
    }
    // Let the watchers read NOT_SERVING before their streams end.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for service in ["", hop] {
        // Dropping a status's sender ends its Watch streams; a fresh one
        // keeps Check answering.
        health.clear_service_status(service).await;
        health.set_service_status(service, NotServing).await;
    }
}

/// HTTP/2 only (prior knowledge h2c): bounded header lists, at most
/// `max_streams` calls at once per connection (tonic's `transport::Server`
/// sets no limit: 20,000 streams on one connection took a hop to 381 MB),
/// and windows that bound the request bytes a client can push before the
/// hop reads them.
fn connection_builder(limits: &Limits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES)
        .max_concurrent_streams(limits.max_streams)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
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
        let timeout = hop::deadline::grpc_timeout(request.headers());
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
