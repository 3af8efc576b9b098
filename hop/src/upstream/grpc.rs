//! gRPC upstreams (grpc://host:port): tonic's generated client over one
//! multiplexed h2c connection per target (see `h2c`).
//!
//! Why not `tonic::transport::Channel`: it puts a tower Buffer (a queue and a
//! task hop per call) in front of the connection, which cost about a third of
//! the gRPC chain's throughput on this 2-core machine.

use std::time::Duration;

use chain_proto::CallRequest;
use chain_proto::v1::hop_client::HopClient;
use http::HeaderMap;
use tonic::Code;
use tonic::metadata::MetadataMap;

use super::CallResult;
use super::h2c::Connection;
use crate::Target;
use crate::fail_status::grpc_code_name;
use crate::metrics::Outcome;
use crate::reply::Answer;

#[derive(Clone)]
pub struct GrpcClient {
    client: HopClient<Connection>,
}

impl GrpcClient {
    /// No I/O until the first call; `connect_timeout` bounds each connect.
    pub fn new(target: &Target, connect_timeout: Duration) -> Result<GrpcClient, String> {
        // Target::parse checked that a grpc:// target has a host and a port.
        let authority = target
            .uri
            .authority()
            .ok_or_else(|| format!("`{}` has no host", target.raw))?;
        let connection = Connection::new(authority.to_string(), connect_timeout);
        Ok(GrpcClient {
            client: HopClient::with_origin(connection, target.uri.clone()),
        })
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
