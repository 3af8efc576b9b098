//! gRPC upstreams (grpc://host:port): tonic's generated client over a pooled
//! hyper HTTP/2 client, one multiplexed h2c connection per target.
//!
//! Why not `tonic::transport::Channel`: it puts a tower Buffer (a queue and a
//! task hop per call) in front of the connection, which cost about a third of
//! the gRPC chain's throughput on this 2-core machine. hyper's pooled client
//! reconnects by itself, which is all the Channel added here.

use std::time::Duration;

use chain_proto::CallRequest;
use chain_proto::v1::hop_client::HopClient;
use http::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tonic::Code;
use tonic::metadata::MetadataMap;

use super::CallResult;
use crate::config::Target;
use crate::fail_status::grpc_code_name;
use crate::metrics::Outcome;
use crate::reply::Answer;

/// The HTTP/2 transport under the generated client.
pub type Transport = Client<HttpConnector, tonic::body::Body>;

/// A pooled h2c client (cheap to clone: clones share the pool).
pub fn transport(connect_timeout: Duration) -> Transport {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(connect_timeout));
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

#[derive(Clone)]
pub struct GrpcClient {
    client: HopClient<Transport>,
}

impl GrpcClient {
    pub fn new(target: &Target, timeout: Duration) -> Result<GrpcClient, String> {
        Ok(GrpcClient::with_transport(target, transport(timeout)))
    }

    pub fn with_transport(target: &Target, transport: Transport) -> GrpcClient {
        GrpcClient {
            client: HopClient::with_origin(transport, target.uri.clone()),
        }
    }

    /// One unary call with the forwarded metadata and a gRPC deadline of
    /// `timeout` (sent as `grpc-timeout`, so the upstream stops too).
    pub async fn call(&self, headers: HeaderMap, timeout: Duration) -> CallResult {
        let mut request = tonic::Request::new(CallRequest {});
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        request.set_timeout(timeout);
        // Clones share the channel: that is how tonic clients are meant to be used.
        match self.client.clone().call(request).await {
            Ok(reply) => CallResult {
                answer: Answer::Reply(Box::new(reply.into_inner().into())),
                outcome: Outcome::Ok,
                code: Some(0),
            },
            Err(status) => {
                // A transport failure (refused, reset) carries its cause; gRPC
                // calls that UNAVAILABLE, whatever tonic could infer from it.
                let transport = std::error::Error::source(&status).is_some();
                let (code, outcome) = match status.code() {
                    Code::DeadlineExceeded => (Code::DeadlineExceeded, Outcome::Timeout),
                    Code::Unknown | Code::Unavailable if transport => {
                        (Code::Unavailable, Outcome::Error)
                    }
                    code => (code, Outcome::Status),
                };
                let message = match transport {
                    true => super::describe(&status),
                    false => status.message().to_string(),
                };
                let text = format!("Status: {} - {message:?}", grpc_code_name(code));
                CallResult::error(outcome, text, Some(code as i64))
            }
        }
    }
}
