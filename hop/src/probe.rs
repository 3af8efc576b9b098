//! Probes a supervisor runs against a process on 127.0.0.1 (a hop's health,
//! Envoy's admin): `meshgen up` and the tests use the same ones.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;

const LIMIT: Duration = Duration::from_secs(10);

/// GET `path` over HTTP/1.1 on 127.0.0.1:`port`: (status, headers, body).
pub async fn http_get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, HeaderMap, String), String> {
    http_get_within(port, path, headers, LIMIT).await
}

/// [`http_get`] bounded by `limit`.
pub async fn http_get_within(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    limit: Duration,
) -> Result<(u16, HeaderMap, String), String> {
    let request = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut builder = hyper::Request::get(path).header("host", format!("127.0.0.1:{port}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(limit, request)
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
}

/// Whether grpc.health.v1 says `service` is SERVING.
pub async fn grpc_serving(port: u16, service: &str) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let check = async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .ok()?
            .connect()
            .await
            .ok()?;
        let mut client = HealthClient::new(channel);
        let response = client
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .ok()?;
        Some(response.into_inner().status == ServingStatus::Serving as i32)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), check).await,
        Ok(Some(true))
    )
}
