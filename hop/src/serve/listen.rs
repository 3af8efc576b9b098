//! How a hop binds its ports.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Listens on `addr` with SO_REUSEPORT as well as SO_REUSEADDR.
///
/// Whoever starts the hop may hold the port (bound, not listening, with
/// SO_REUSEPORT) until the hop is up: `meshgen up` does, so that no other
/// program and no outgoing connection's ephemeral port takes it between
/// planning and binding. Only listening sockets receive connections, so the
/// holder never gets one. In a pod nothing else holds the port and this is
/// an ordinary bind.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
