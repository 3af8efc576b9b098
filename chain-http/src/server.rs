//! The HTTP server: `GET /` runs the hop, `GET /healthz` answers 200.
//! HTTP/1.1 and h2c on the same port; SIGTERM drains, then exits 0.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use contract::{CONNECTION_WINDOW, Limits, MAX_HEADER_BYTES, STREAM_WINDOW};
use hop::serve::{Bound, Counted, Overloaded};
use hop::{Hop, Outcome};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _};

pub async fn run() -> i32 {
    let Bound { hop, listener } = match hop::serve::bind(hop::Protocol::Http).await {
        Ok(bound) => bound,
        Err(code) => return code,
    };
    let limits = hop.config.limits;
    let builder = connection_builder(&limits);
    let overloaded: Overloaded<Full<Bytes>> = {
        let hop = hop.clone();
        Arc::new(move || {
            hop.metrics.request("503".into(), Duration::ZERO);
            plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded\n")
        })
    };
    let open = hop::serve::accept_until_signal(listener, limits, |io, activity| {
        let hop = hop.clone();
        let service = hyper::service::service_fn(move |req| {
            let hop = hop.clone();
            async move { Ok::<_, Infallible>(route(&hop, req).await) }
        });
        builder
            .serve_connection(io, Counted::new(service, activity, &overloaded))
            .into_owned()
    })
    .await;
    hop::serve::drain(&hop, open).await
}

/// HTTP/1.1 and h2c with bounded headers: hyper answers 431 (HTTP/1.1) or
/// resets the stream (HTTP/2) rather than buffering anything a client sends;
/// HTTP/1.1 headers must arrive within `HEADER_TIMEOUT` (hyper's timer;
/// HTTP/2's is the hop's own, see `hop::serve`); at most `max_streams` calls
/// at once on one HTTP/2 connection, whose windows bound the request bytes
/// a client can push before the hop reads them.
fn connection_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from(limits.header_timeout))
        .max_buf_size(MAX_HEADER_BYTES as usize)
        .max_headers(100);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES)
        .max_concurrent_streams(limits.max_streams)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

async fn route(hop: &Hop, req: Request<Incoming>) -> Response<Full<Bytes>> {
    // The hop never reads a body (its requests are GETs): one over the limit
    // is refused by its length; one without a length is dropped with the answer.
    if req.body().size_hint().lower() > u64::from(hop.config.limits.max_message_bytes) {
        return plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large (MAX_MESSAGE_BYTES)\n",
        );
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => serve_hop(hop, req).await,
        (&Method::GET, "/healthz") => plain(StatusCode::OK, "ok\n"),
        (_, "/" | "/healthz") => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
            response
        }
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: the hop answers GET / and GET /healthz\n",
        ),
    }
}

async fn serve_hop(hop: &Hop, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let headers = req.headers();
    let parent = hop.telemetry.extract(headers);
    let cx = hop.telemetry.start(&parent, "GET /", SpanKind::Server, || {
        server_attributes(&req)
    });

    let response = match hop.handle(headers, &cx).await {
        // Empty body, like the original: the status says it all.
        Outcome::Fail(status) => {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() =
                StatusCode::from_u16(status.http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response
        }
        // Standing in for an external API: its answer alone, as the API gives it.
        Outcome::Reply(reply) if hop.config.external_stub => with_type(
            Response::new(Full::new(Bytes::from(reply.body.unwrap_or_default()))),
            "application/json",
        ),
        Outcome::Reply(reply) if wants_json(headers) => with_type(
            Response::new(Full::new(Bytes::from(reply.to_json()))),
            "application/json",
        ),
        Outcome::Reply(reply) => with_type(
            Response::new(Full::new(Bytes::from(reply.to_text()))),
            "text/plain; charset=utf-8",
        ),
    };

    let status = response.status();
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        span.set_attribute(KeyValue::new("error.type", status.as_u16().to_string()));
        span.set_status(Status::error("fail dice"));
    }
    span.end();
    hop.metrics
        .request(status.as_u16().to_string().into(), start.elapsed());
    response
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/json"))
}

/// OpenTelemetry semantic conventions for an HTTP server span.
fn server_attributes<B>(req: &Request<B>) -> Vec<KeyValue> {
    let version = match req.version() {
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_10 => "1.0",
        _ => "1.1",
    };
    let mut attributes = vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/"),
        KeyValue::new("url.path", req.uri().path().to_string()),
        KeyValue::new("url.scheme", "http"),
        KeyValue::new("network.protocol.version", version),
    ];
    if let Some(agent) = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("user_agent.original", agent.to_string()));
    }
    attributes
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = with_type(
        Response::new(Full::new(Bytes::from_static(body.as_bytes()))),
        "text/plain; charset=utf-8",
    );
    *response.status_mut() = status;
    response
}

fn with_type(
    mut response: Response<Full<Bytes>>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
