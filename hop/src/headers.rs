//! Reading request headers. Which headers a hop forwards is the contract's
//! decision (`contract::headers`), shared with meshgen's routes.

use http::HeaderMap;

pub use contract::headers::{forwarded, forwarded_outside};

/// A header as text, if present and printable.
pub fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
