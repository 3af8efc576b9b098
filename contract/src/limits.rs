//! What bounds the memory one hop can be made to hold, whatever its clients
//! do: its [`Limits`] (variables of the hop, rendered by meshgen), the fixed
//! protocol settings both servers apply, and the worst case they imply
//! ([`Limits::memory_budget`]), which the defaults keep below the pod's
//! memory limit (docs/chain.md, "Memory budget").

use std::fmt;

use crate::Duration;

/// The memory limit of a hop's pod (meshgen renders it as `64Mi`).
pub const POD_MEMORY_LIMIT: u64 = 64 << 20;

/// The largest header block a hop reads: HTTP/1.1 answers 431 above it
/// (hyper's read buffer), HTTP/2 refuses it (`SETTINGS_MAX_HEADER_LIST_SIZE`).
/// The chain's headers (trace context, a few route headers, what Envoy adds)
/// take well under 2 KiB.
pub const MAX_HEADER_BYTES: u32 = 16 << 10;

/// HTTP/2 receive windows (`SETTINGS_INITIAL_WINDOW_SIZE` and the
/// connection's): the request bytes a client can push before the hop reads
/// them. The connection's cannot be smaller than the protocol's initial
/// 65,535 bytes; a stream's is one frame, enough for any message the chain
/// sends in one go.
pub const STREAM_WINDOW: u32 = 16 << 10;
pub const CONNECTION_WINDOW: u32 = 64 << 10;

/// Measured costs (scripts/chaos, optimised build, glibc malloc), rounded
/// up: what a hop holds at rest (6.5-7.5 MiB with two runtime threads; a pod
/// gets one from its 500m CPU limit), per open connection (socket, buffers,
/// HTTP/2 state and HPACK tables, its task: 21-26 KiB), per open stream (its
/// HTTP/2 state, the answer and its task: 4-5 KiB when 2,560 wait behind a
/// zero window), and per request being handled (its headers, the handler
/// and its upstream call).
const REST_BYTES: u64 = 10 << 20;
const CONNECTION_BYTES: u64 = 32 << 10;
const STREAM_BYTES: u64 = 4 << 10;
const REQUEST_BYTES: u64 = 16 << 10;

/// The limits of one hop: each is a variable of its environment (see
/// [`crate::env`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; a new one beyond it closes the one idle
    /// longest, or is closed at once when none is idle.
    pub max_connections: u32,
    /// Concurrent streams per HTTP/2 connection (both protocols).
    pub max_streams: u32,
    /// Requests open at once over all connections, from their headers to
    /// the end of their answer; more are answered "overloaded" at once (HTTP
    /// 503, gRPC RESOURCE_EXHAUSTED) before their body is read.
    pub max_in_flight: u32,
    /// The largest request body (HTTP, else 413) and gRPC message (else
    /// OUT_OF_RANGE), both ways for gRPC.
    pub max_message_bytes: u32,
    /// Connections idle this long (nothing in flight, nothing read or
    /// written) are closed.
    pub idle_timeout: Duration,
    /// Bytes arriving for this long without making a request (a header
    /// trickled a byte at a time) close the connection; HTTP/1.1 and HTTP/2.
    pub header_timeout: Duration,
    /// Every request ends within this, from its headers to the end of its
    /// answer: past it the stream is reset (HTTP/2 RST_STREAM CANCEL,
    /// HTTP/1.1 the connection closed), or its connection closed when the
    /// answer is stuck behind a client that does not read.
    pub request_timeout: Duration,
}

impl Limits {
    /// The defaults: every attack of scripts/chaos stays below
    /// [`POD_MEMORY_LIMIT`] with them ([`Limits::memory_budget`] says how).
    pub const DEFAULT: Limits = Limits {
        // Behind a sidecar a hop sees a few connections per Envoy worker
        // (HTTP/2) or one per request in flight (HTTP/1.1).
        max_connections: 128,
        // gRPC-Go's default is 100, Envoy's 2^31; the chain's callers keep one
        // or a few calls open per connection.
        max_streams: 32,
        max_in_flight: 256,
        // The chain's messages are a few hundred bytes (an empty request, a
        // reply of a few lines); gRPC's usual 4 MiB would let one stream hold 4 MiB.
        max_message_bytes: 16 << 10,
        // Envoy closes its own idle upstream connections after 1h; a hop closes
        // its side sooner so silent clients cannot hold its descriptors.
        idle_timeout: Duration::from_secs(60),
        // hyper's HTTP/1.1 default header read timeout.
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
    };

    /// The shortest `request_timeout` that lets a hop call `upstreams` one
    /// after the other, each taking its whole `upstream_timeout`, with room
    /// for its own work: what meshgen renders, never below the default.
    pub fn request_timeout_for(upstream_timeout: Duration, upstreams: usize) -> Duration {
        let calls = upstream_timeout
            .checked_mul(upstreams as u64)
            .unwrap_or(Duration::from_nanos(u64::MAX));
        let needed = calls.as_nanos().saturating_add(REQUEST_HEADROOM.as_nanos());
        let needed = needed.min(Self::MAX_REQUEST_TIMEOUT.as_nanos());
        Duration::from_nanos(needed.max(Self::DEFAULT.request_timeout.as_nanos()))
    }

    /// The longest `REQUEST_TIMEOUT` a hop accepts (a hop may call many
    /// upstreams, each for up to an hour).
    pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

    /// The most memory clients can make a hop hold with these limits.
    pub fn memory_budget(&self) -> MemoryBudget {
        let connections = u64::from(self.max_connections);
        let header = u64::from(MAX_HEADER_BYTES);
        MemoryBudget {
            connections,
            // Each connection: its state, a header block being read, and the
            // request bytes its window lets a client push before they are read.
            per_connection: CONNECTION_BYTES + header + u64::from(CONNECTION_WINDOW),
            // Every stream a connection may open, answered or not (one that
            // is past MAX_IN_FLIGHT is answered at once; it stays while a
            // client that does not read holds its answer).
            streams: connections * u64::from(self.max_streams),
            per_stream: STREAM_BYTES,
            in_flight: u64::from(self.max_in_flight),
            // Each request being handled: its state, its headers, its body or
            // message.
            per_request: REQUEST_BYTES + header + u64::from(self.max_message_bytes),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// What a hop does besides calling its upstreams, in the worst case (work
/// spans, a slow scheduler): added to the upstream calls' time.
const REQUEST_HEADROOM: Duration = Duration::from_secs(5);

/// The worst case of [`Limits`]: at rest + connections x per connection +
/// streams x per stream + requests in flight x per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryBudget {
    pub connections: u64,
    pub per_connection: u64,
    pub streams: u64,
    pub per_stream: u64,
    pub in_flight: u64,
    pub per_request: u64,
}

impl MemoryBudget {
    /// The worst case in bytes.
    pub fn total(&self) -> u64 {
        REST_BYTES
            + self.connections * self.per_connection
            + self.streams * self.per_stream
            + self.in_flight * self.per_request
    }
}

impl fmt::Display for MemoryBudget {
    /// One line: the worst case, how it adds up, and the pod's limit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kib = |b: u64| b >> 10;
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        write!(
            f,
            "memory worst case {:.1} MiB (pod limit {:.0} MiB) = {:.0} MiB at rest \
             + {} connections x {} KiB + {} streams x {} KiB + {} requests x {} KiB",
            mib(self.total()),
            mib(POD_MEMORY_LIMIT),
            mib(REST_BYTES),
            self.connections,
            kib(self.per_connection),
            self.streams,
            kib(self.per_stream),
            self.in_flight,
            kib(self.per_request),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered defaults leave an eighth of the pod's memory to spare
    /// (the allocator's own overhead, what the costs above did not see).
    #[test]
    fn the_defaults_fit_the_pod_with_margin() {
        let worst = Limits::DEFAULT.memory_budget().total();
        assert!(worst <= POD_MEMORY_LIMIT / 8 * 7, "{worst} bytes");
    }

    #[test]
    fn the_budget_grows_with_each_limit() {
        let base = Limits::DEFAULT.memory_budget().total();
        for more in [
            Limits {
                max_connections: 1000,
                ..Limits::DEFAULT
            },
            Limits {
                max_streams: 100,
                ..Limits::DEFAULT
            },
            Limits {
                max_in_flight: 1000,
                ..Limits::DEFAULT
            },
            Limits {
                max_message_bytes: 4 << 20,
                ..Limits::DEFAULT
            },
        ] {
            assert!(more.memory_budget().total() > base, "{more:?}");
        }
    }

    #[test]
    fn request_timeout_covers_the_upstream_calls() {
        let two = Limits::request_timeout_for(Duration::from_secs(20), 2);
        assert_eq!(two, Duration::from_secs(45));
        let none = Limits::request_timeout_for(Duration::from_secs(2), 0);
        assert_eq!(none, Limits::DEFAULT.request_timeout);
    }
}
