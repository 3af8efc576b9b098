//! HTTP/1.1 upstreams (http:// and https://) over one pooled hyper client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, header};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{CallResult, describe};
use crate::Target;
use crate::metrics::Outcome;
use crate::reply::{Answer, Reply};

/// How often a GET is sent again after its pooled connection closed under it.
const RESENDS: usize = 3;

/// An upstream body larger than this is an error, not a memory problem.
const MAX_BODY: usize = 1024 * 1024;

/// "connection closed before message completed": the connection ended
/// before any byte of an answer.
fn closed_before_answer(e: &hyper_util::client::legacy::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_incomplete_message)
}

/// Cheap to clone: clones share the connection pool (and one allocation:
/// hyper's client is a few hundred bytes of settings).
#[derive(Clone)]
pub struct HttpClient {
    client: Arc<Client<HttpsConnector<HttpConnector>, Empty<Bytes>>>,
}

impl HttpClient {
    pub fn new(timeout: Duration) -> Result<HttpClient, String> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        // Let the TLS layer see https:// URLs.
        connector.enforce_http(false);
        // rustls with ring and Mozilla's roots compiled in: no OpenSSL, no CA file.
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("TLS setup: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(HttpClient {
            client: Arc::new(client),
        })
    }

    /// GET the target, asking for JSON so that a hop upstream answers its
    /// structured reply; anything else is kept as a plain body.
    pub async fn get(&self, target: &Target, mut headers: HeaderMap) -> CallResult {
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(header::USER_AGENT, HeaderValue::from_static("chain-hop"));
        let request = || {
            let mut request = Request::new(Empty::new());
            *request.uri_mut() = target.uri.clone();
            *request.headers_mut() = headers.clone();
            request
        };
        let mut sent = self.client.request(request()).await;
        // A pooled connection the upstream closed (idle timeout, drain) just as
        // this request went out: the upstream never answered it, and GET is
        // idempotent, so send it again. A draining upstream closes all its
        // pooled connections at once, so the next one may be closing too.
        for _ in 0..RESENDS {
            if !sent.as_ref().is_err_and(closed_before_answer) {
                break;
            }
            sent = self.client.request(request()).await;
        }
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return CallResult::error(
                    Outcome::Error,
                    format!("RequestError: {}", describe(&e)),
                    None,
                );
            }
        };
        let status = response.status();
        let code = Some(i64::from(status.as_u16()));
        let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => {
                return CallResult::error(
                    Outcome::Error,
                    format!("RequestError: body: {}", describe(&*e)),
                    code,
                );
            }
        };
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return CallResult::error(
                Outcome::Status,
                format!("StatusCodeError: {} - {text:?}", status.as_u16()),
                code,
            );
        }
        let answer = match Reply::from_json(&body) {
            Some(reply) => Answer::Reply(Box::new(reply)),
            None => Answer::Body(String::from_utf8_lossy(&body).into_owned()),
        };
        CallResult {
            answer,
            outcome: Outcome::Ok,
            code,
        }
    }
}
