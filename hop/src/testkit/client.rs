//! Small clients for the tests, each bounded by a timeout.

use std::time::Duration;

use chain_proto::v1::hop_client::HopClient;
use chain_proto::{CallRequest, Reply};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic::metadata::MetadataMap;

const LIMIT: Duration = Duration::from_secs(10);

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
