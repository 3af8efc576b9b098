//! `--stub-external`: a local stand-in for every external API, answering a time
//! JSON shaped like time.jsontest.com's, whatever the request says (it ignores
//! `fail`, as a real external API would).

use std::convert::Infallible;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinHandle;

pub struct ExternalStub {
    pub port: u16,
    task: JoinHandle<()>,
}

impl ExternalStub {
    pub async fn start() -> Result<ExternalStub, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("external stub: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|_req| async {
                        let body = hop::reply::time_json(SystemTime::now());
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ExternalStub { port, task })
    }
}

impl Drop for ExternalStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}
