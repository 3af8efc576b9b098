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

const MIB: u32 = 1024 * 1024;

/// Why a call failed: whether it may be sent again.
enum Failed {
    Unprocessed(h2::Error),
    Other(BoxError),
}

impl From<Failed> for BoxError {
    fn from(failed: Failed) -> BoxError {
        match failed {
            Failed::Unprocessed(e) => e.into(),
            Failed::Other(e) => e,
        }
    }
}

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
    /// Connections opened so far: the next one's generation.
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
        // A call the upstream certainly did not process is sent again, once,
        // as gRPC clients do ("transparent retry"): its connection was closed
        // (GOAWAY) before the stream opened, or refused the stream.
        match self.send_once(head.clone(), message.clone()).await {
            Err(Failed::Unprocessed(_)) => self.send_once(head, message).await.map_err(Into::into),
            sent => sent.map_err(Into::into),
        }
    }

    async fn send_once(
        &self,
        head: http::Request<()>,
        message: Bytes,
    ) -> Result<http::Response<ResponseBody>, Failed> {
        let Open {
            mut sender,
            generation,
        } = self.ready().await.map_err(Failed::Other)?;
        let failed = |e: h2::Error| {
            if e.is_go_away() && e.is_remote() {
                // Streams above a GOAWAY's last stream id were not processed.
                self.forget(generation);
                Failed::Unprocessed(e)
            } else if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
                Failed::Unprocessed(e)
            } else {
                Failed::Other(e.into())
            }
        };
        let (response, mut stream) = sender.send_request(head, false).map_err(failed)?;
        stream.send_data(message, true).map_err(failed)?;
        let response = response.await.map_err(failed)?;
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
        // hyper's client settings, which this transport replaced.
        let (sender, connection) = h2::client::Builder::new()
            .enable_push(false)
            .initial_window_size(2 * MIB)
            .initial_connection_window_size(5 * MIB)
            .max_header_list_size(16 * 1024)
            .handshake(tcp)
            .await?;
        // Runs until either side closes the connection; its handle then
        // fails `ready`, and the next call connects anew.
        let authority = shared.authority.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await
                && e.reason() != Some(h2::Reason::NO_ERROR)
            {
                eprintln!("upstream {authority}: HTTP/2 connection closed: {e}");
            }
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    /// Reads the client's connection preface and frames until its first
    /// HEADERS frame, i.e. until the call's stream is on the wire.
    async fn read_until_headers(tcp: &mut TcpStream) {
        let mut preface = [0; 24];
        tcp.read_exact(&mut preface).await.unwrap();
        loop {
            let mut head = [0; 9];
            tcp.read_exact(&mut head).await.unwrap();
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if head[3] == 0x1 {
                return;
            }
        }
    }

    /// A call on a connection that the upstream closes before processing the
    /// call's stream (GOAWAY, last stream id 0) is sent again on a new one.
    #[tokio::test]
    async fn a_call_refused_by_goaway_is_sent_again_on_a_new_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = tokio::spawn(async move {
            let (mut first, _) = listener.accept().await.unwrap();
            read_until_headers(&mut first).await;
            // An empty SETTINGS, then GOAWAY(last stream 0, NO_ERROR), then close.
            let mut frames = vec![0, 0, 0, 0x4, 0, 0, 0, 0, 0];
            frames.extend([0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            first.write_all(&frames).await.unwrap();
            drop(first);

            let (second, _) = listener.accept().await.unwrap();
            let mut h2 = h2::server::handshake(second).await.unwrap();
            let (_, mut respond) = h2.accept().await.unwrap().unwrap();
            let ok = http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "0")
                .body(())
                .unwrap();
            respond.send_response(ok, true).unwrap();
            while h2.accept().await.is_some() {}
        });

        let connection = Connection::new(addr.to_string(), Duration::from_secs(1));
        let empty_call = http_body_util::Full::new(Bytes::from_static(&[0; 5]));
        let request = http::Request::post(format!("http://{addr}/chain.v1.Hop/Call"))
            .header("content-type", "application/grpc")
            .body(tonic::body::Body::new(empty_call))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), connection.send(request))
            .await
            .expect("answered within 5 s")
            .expect("sent again after the GOAWAY");
        assert_eq!(response.headers()["grpc-status"], "0");
        drop(connection);
        upstream.abort();
    }
}
