//! Small clients for the tests, each bounded by a timeout.

use std::time::Duration;

use bytes::Bytes;
use chain_proto::v1::hop_client::HopClient;
use chain_proto::{CallRequest, Reply};
use http::HeaderMap;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::metadata::MetadataMap;

const LIMIT: Duration = Duration::from_secs(10);

/// GET `path` over HTTP/1.1 on 127.0.0.1:`port`: (status, headers, body).
pub async fn http_get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
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
    tokio::time::timeout(LIMIT, request)
        .await
        .map_err(|_| format!("no answer within {LIMIT:?}"))?
}

/// Writes raw bytes to 127.0.0.1:`port` and returns what came back until the
/// server closed the connection (or a short pause): for malformed requests.
pub async fn raw_http(port: u16, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    // The server may answer and close before reading everything: ignore write errors.
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `chain.v1.Hop/Call` with the given metadata.
pub async fn grpc_call(
    port: u16,
    metadata: &[(&str, &str)],
) -> Result<(MetadataMap, Reply), tonic::Status> {
    let call = async {
        let mut client = HopClient::connect(format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut request = tonic::Request::new(CallRequest {});
        for (name, value) in metadata {
            let key =
                tonic::metadata::MetadataKey::from_bytes(name.as_bytes()).expect("metadata name");
            request
                .metadata_mut()
                .insert(key, value.parse().expect("metadata value"));
        }
        let response = client.call(request).await?;
        let (metadata, reply, _) = response.into_parts();
        Ok((metadata, reply))
    };
    tokio::time::timeout(LIMIT, call)
        .await
        .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("test client timeout")))
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
