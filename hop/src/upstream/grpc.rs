//! gRPC upstreams (grpc://host:port): one lazily connected, multiplexed
//! tonic channel per target.

use std::time::Duration;

use chain_proto::CallRequest;
use chain_proto::v1::hop_client::HopClient;
use http::HeaderMap;
use tonic::Code;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use super::CallResult;
use crate::config::Target;
use crate::fail_status::grpc_code_name;
use crate::metrics::Outcome;
use crate::reply::Answer;

pub struct GrpcClient {
    client: HopClient<Channel>,
}

impl GrpcClient {
    pub fn new(target: &Target, timeout: Duration) -> Result<GrpcClient, String> {
        let channel = Endpoint::from(target.uri.clone())
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(GrpcClient {
            client: HopClient::new(channel),
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
                let outcome = match status.code() {
                    Code::DeadlineExceeded => Outcome::Timeout,
                    // A transport failure (refused, reset) carries its cause.
                    _ if std::error::Error::source(&status).is_some() => Outcome::Error,
                    _ => Outcome::Status,
                };
                let text = format!(
                    "Status: {} - {:?}",
                    grpc_code_name(status.code()),
                    status.message()
                );
                CallResult::error(outcome, text, Some(status.code() as i64))
            }
        }
    }
}
