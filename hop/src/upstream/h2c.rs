//! The HTTP/2 transport under the gRPC client: one multiplexed h2c (prior
//! knowledge) connection per target, driven by the `h2` crate directly and
//! reopened when it closes.
//!
//! Why not hyper's pooled client: it hands every request to its connection
//! task through a channel and pipes the body from a task of its own, and h2
//! grants a new stream no send capacity before the connection task has run,
//! so a unary call's HEADERS and DATA left in separate writes. Here the
//! calling task queues both frames itself (h2 buffers DATA sent without
//! reserved capacity) and the connection task writes them together.
//!
//! Only for unary calls: the request message is collected before sending.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use h2::RecvStream;
use h2::client::SendRequest;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection to one target (cheap to clone: clones share it).
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
}

struct Shared {
    /// `host:port`, resolved at each connect (Kubernetes Services move).
    authority: String,
    connect_timeout: Duration,
    /// The open connection, if any.
    open: Mutex<Option<Open>>,
    opened: AtomicU64,
    /// Held while connecting, so that concurrent calls open one connection.
    connecting: tokio::sync::Mutex<()>,
}

/// An open connection's request handle, and which connection it was.
#[derive(Clone)]
struct Open {
    sender: SendRequest<Bytes>,
    generation: u64,
}

impl Connection {
    /// No I/O until the first call.
    pub fn new(authority: String, connect_timeout: Duration) -> Connection {
        Connection {
            shared: Arc::new(Shared {
                authority,
                connect_timeout,
                open: Mutex::new(None),
                opened: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Sends one unary request; the response body streams the reply and the trailers.
    pub async fn send(
        &self,
        request: http::Request<tonic::body::Body>,
    ) -> Result<http::Response<ResponseBody>, BoxError> {
        let (parts, body) = request.into_parts();
        let message = body.collect().await?.to_bytes();
        let head = http::Request::from_parts(parts, ());
        let Open {
            mut sender,
            generation,
        } = self.ready().await?;
        let (response, mut stream) = match sender.send_request(head.clone(), false) {
            Ok(sent) => sent,
            // The connection closed since (GOAWAY, reset) and nothing was
            // sent: open a new one, once.
            Err(_) => {
                self.forget(generation);
                self.ready().await?.sender.send_request(head, false)?
            }
        };
        stream.send_data(message, true)?;
        let response = response.await?;
        Ok(response.map(|recv| ResponseBody {
            recv,
            data_done: false,
        }))
    }

    /// A handle ready for a new stream: the open connection's, or a new one's.
    async fn ready(&self) -> Result<Open, BoxError> {
        if let Some(open) = self.ready_open().await {
            return Ok(open);
        }
        let _connecting = self.shared.connecting.lock().await;
        // Another call may have connected while this one waited.
        if let Some(open) = self.ready_open().await {
            return Ok(open);
        }
        let open = Open {
            sender: self.connect().await?,
            generation: self.shared.opened.fetch_add(1, Ordering::Relaxed),
        };
        *self.shared.open.lock().expect("never poisoned") = Some(open.clone());
        Ok(Open {
            sender: open.sender.ready().await?,
            ..open
        })
    }

    /// The open connection's handle once it can take a new stream; a closed
    /// connection is forgotten.
    async fn ready_open(&self) -> Option<Open> {
        let open = self.shared.open.lock().expect("never poisoned").clone()?;
        match open.sender.ready().await {
            Ok(sender) => Some(Open { sender, ..open }),
            Err(_) => {
                self.forget(open.generation);
                None
            }
        }
    }

    fn forget(&self, generation: u64) {
        let mut open = self.shared.open.lock().expect("never poisoned");
        if open.as_ref().is_some_and(|o| o.generation == generation) {
            *open = None;
        }
    }

    async fn connect(&self) -> Result<SendRequest<Bytes>, BoxError> {
        let shared = &self.shared;
        let tcp = tokio::time::timeout(
            shared.connect_timeout,
            TcpStream::connect(&shared.authority),
        )
        .await
        .map_err(|_| {
            format!(
                "tcp connect error: no answer within {:?}",
                shared.connect_timeout
            )
        })?
        .map_err(|e| format!("tcp connect error: {e}"))?;
        tcp.set_nodelay(true)?;
        let (sender, connection) = h2::client::handshake(tcp).await?;
        // Runs until either side closes the connection; its handle then
        // fails `ready`, and the next call connects anew.
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// A response body: the DATA frames, then the trailers (where gRPC puts
/// `grpc-status`), returning flow-control capacity as data is read.
pub struct ResponseBody {
    recv: RecvStream,
    data_done: bool,
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        Poll::Ready(
            ready!(self.recv.poll_trailers(cx))
                .transpose()
                .map(|t| t.map(Frame::trailers)),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

/// What tonic's generated client calls: the connection as a tower service.
impl tonic::codegen::Service<http::Request<tonic::body::Body>> for Connection {
    type Response = http::Response<ResponseBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let connection = self.clone();
        Box::pin(async move { connection.send(request).await })
    }
}
