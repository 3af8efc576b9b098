//! The requests of a connection ([`Counted`]): each is open
//! from its headers until its answer is sent or dropped, counted on its
//! connection (for `REQUEST_TIMEOUT`) and against the hop's `MAX_IN_FLIGHT`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};

use super::conn::Activity;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One request open, from its headers until its answer is sent or dropped:
/// counted on its connection (for its deadline) and, unless it is a health
/// check, against the hop's `MAX_IN_FLIGHT`.
struct OpenRequest {
    activity: Arc<Activity>,
    began: u64,
    counted: bool,
}

impl OpenRequest {
    /// `None` when the hop already has `MAX_IN_FLIGHT` requests open. Health
    /// checks always open: an attack that holds `MAX_IN_FLIGHT` must not get
    /// the pod restarted by its liveness probe (their cost is a stream's,
    /// within the budget).
    fn try_new(activity: &Arc<Activity>, health_check: bool) -> Option<OpenRequest> {
        let counted = !health_check;
        if counted && !activity.shared().try_open() {
            return None;
        }
        let began = activity.began();
        Some(OpenRequest {
            activity: activity.clone(),
            began,
            counted,
        })
    }
}

/// The paths of the hops' health checks (HTTP `/healthz`, gRPC
/// `grpc.health.v1.Health`), which Kubernetes probes call.
fn is_health_check(path: &str) -> bool {
    path == "/healthz" || path.starts_with("/grpc.health.v1.Health/")
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.activity.ended(self.began);
        if self.counted {
            self.activity.shared().closed();
        }
    }
}

/// The answer to a hop that already has `MAX_IN_FLIGHT` requests open:
/// the protocol's "overloaded" (HTTP 503, gRPC RESOURCE_EXHAUSTED).
pub type Overloaded<B> = Arc<dyn Fn() -> http::Response<B> + Send + Sync>;

/// A hyper service whose requests are [`OpenRequest`]s: past the hop's
/// `MAX_IN_FLIGHT` a request (not a health check) is answered `overloaded`
/// at once (before its body is read); past `REQUEST_TIMEOUT` its stream is
/// reset (HTTP/2 RST_STREAM CANCEL; HTTP/1.1: the connection closes).
pub struct Counted<S, B> {
    inner: S,
    activity: Arc<Activity>,
    overloaded: Overloaded<B>,
}

impl<S: Clone, B> Clone for Counted<S, B> {
    fn clone(&self) -> Self {
        Counted {
            inner: self.inner.clone(),
            activity: self.activity.clone(),
            overloaded: self.overloaded.clone(),
        }
    }
}

impl<S, B> Counted<S, B> {
    pub fn new(inner: S, activity: &Arc<Activity>, overloaded: &Overloaded<B>) -> Counted<S, B> {
        Counted {
            inner,
            activity: activity.clone(),
            overloaded: overloaded.clone(),
        }
    }
}

impl<S, In, B> hyper::service::Service<http::Request<In>> for Counted<S, B>
where
    S: hyper::service::Service<http::Request<In>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = http::Response<CountedBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, request: http::Request<In>) -> Self::Future {
        // A request began: whatever was read before was its header.
        self.activity.request_arrived();
        let health_check = is_health_check(request.uri().path());
        let Some(open) = OpenRequest::try_new(&self.activity, health_check) else {
            let answer = (self.overloaded)().map(|body| CountedBody { body, _open: None });
            return Box::pin(std::future::ready(Ok(answer)));
        };
        let deadline: Duration = self.activity.shared().limits().request_timeout.into();
        let response = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(deadline, response).await {
                Ok(Ok(response)) => Ok(response.map(|body| CountedBody {
                    body,
                    _open: Some(open),
                })),
                Ok(Err(e)) => Err(e.into()),
                // hyper resets the stream with the reason it finds in the error.
                Err(_) => Err(Box::new(h2::Error::from(h2::Reason::CANCEL)) as BoxError),
            }
        })
    }
}

/// An answer's body that keeps its request open until it is sent or dropped.
pub struct CountedBody<B> {
    body: B,
    _open: Option<OpenRequest>,
}

impl<B: Body + Unpin> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
