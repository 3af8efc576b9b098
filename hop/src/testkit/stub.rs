//! A terminal upstream that records what it received: the place where
//! header propagation is checked.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::task::JoinHandle;

/// What the stub answers in the tests: the shape of the external time API.
pub const TIME_JSON: &str = r#"{"time": "12:43:09 AM", "by": "stub"}"#;

#[derive(Clone, Copy, Debug)]
pub enum StubMode {
    /// Answer 200 with this body (like an external JSON API).
    Answer(&'static str),
    /// Record the request, then never answer.
    Hang,
}

pub struct Stub {
    pub port: u16,
    requests: Arc<Mutex<Vec<HeaderMap>>>,
    task: JoinHandle<()>,
}

impl Stub {
    pub async fn start(mode: StubMode) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stub");
        let port = listener.local_addr().expect("stub address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        recorded.lock().unwrap().push(req.headers().clone());
                        async move {
                            match mode {
                                StubMode::Answer(body) => Ok::<_, Infallible>(Response::new(
                                    Full::new(Bytes::from_static(body.as_bytes())),
                                )),
                                StubMode::Hang => std::future::pending().await,
                            }
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub {
            port,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The headers of every request received so far.
    pub fn received(&self) -> Vec<HeaderMap> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}
