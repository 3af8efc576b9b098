//! The gRPC server: `chain.v1.Hop/Call`, grpc.health.v1, server reflection.
//! A failing hop answers its status (INTERNAL by default) before any message,
//! which tonic sends as a trailers-only response: `grpc-status` sits in the
//! response headers, where Envoy's gRPC retry conditions look for it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chain_proto::v1::hop_server::{Hop as HopRpc, HopServer};
use chain_proto::{CallRequest, FILE_DESCRIPTOR_SET};
use hop::fail_status::grpc_code_name;
use hop::{Config, Hop, Outcome};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status as SpanStatus, TraceContextExt as _};
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// How long in-flight calls may take to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(20);

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
    let config = match Config::from_env(50051) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return 2;
        }
    };
    let hop = match Hop::new(config) {
        Ok(hop) => Arc::new(hop),
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 2;
        }
    };
    let metrics_addr = SocketAddr::from(([0, 0, 0, 0], hop.config.metrics_port));
    if let Err(e) = hop.metrics.clone().serve(metrics_addr).await {
        eprintln!("METRICS_PORT {}: {e}", hop.config.metrics_port);
        return 1;
    }
    let addr = SocketAddr::from(([0, 0, 0, 0], hop.config.port));
    let incoming = match TcpIncoming::bind(addr) {
        Ok(incoming) => incoming.with_nodelay(Some(true)),
        Err(e) => {
            eprintln!("PORT {}: {e}", hop.config.port);
            return 1;
        }
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

    eprintln!(
        "{}-{} serving gRPC on {addr}, metrics on {metrics_addr}, upstreams: {:?}",
        hop.config.service,
        hop.config.version,
        hop.config
            .upstreams
            .iter()
            .map(|t| &t.raw)
            .collect::<Vec<_>>()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = Server::builder()
        // Bounded metadata: larger header blocks are refused by HTTP/2 itself.
        .http2_max_header_list_size(64 * 1024)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(HopServer::new(HopService { hop: hop.clone() }))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        });
    let server = tokio::spawn(server);
    tokio::pin!(server);

    let code = tokio::select! {
        finished = &mut server => {
            eprintln!("server stopped: {finished:?}");
            1
        }
        _ = hop::shutdown::signal() => {
            // Stop accepting, let in-flight calls finish (GOAWAY to clients).
            health.set_not_serving::<HopServer<HopService>>().await;
            let _ = stop.send(());
            match tokio::time::timeout(DRAIN, &mut server).await {
                Ok(Ok(Ok(()))) => 0,
                Ok(result) => {
                    eprintln!("server stopped: {result:?}");
                    1
                }
                Err(_) => {
                    eprintln!("drain: gave up after {DRAIN:?}");
                    0
                }
            }
        }
    };
    let hop2 = hop.clone();
    let _ = tokio::task::spawn_blocking(move || hop2.telemetry.shutdown()).await;
    code
}
