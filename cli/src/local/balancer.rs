//! kube-proxy's part in a run without a mesh (`bare`): a Service's port that
//! hands each new connection to the next of its pods, then only copies
//! bytes. Every request of a connection reaches the pod its connection
//! reached, as in a cluster without a mesh, where one long-lived HTTP/2
//! connection (gRPC) stays on one pod. Round robin rather than iptables'
//! random pick: the same spread on average, and a count that reads exactly.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Connections copied at once; more are closed at once, so that a flood of
/// clients costs the balancer neither memory nor descriptors past it (the
/// pods' own limits are the hops' `MAX_CONNECTIONS`).
pub const MAX_CONNECTIONS: usize = 1024;

pub struct Balancer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free 127.0.0.1 port in front of the hops at `pods`,
    /// copying at most `limit` connections at once.
    pub async fn start(pods: Vec<u16>, limit: usize) -> Result<Balancer, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("no free port on 127.0.0.1 for a balancer: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let slots = Arc::new(Semaphore::new(limit));
        let task = tokio::spawn(async move {
            let mut next = 0;
            loop {
                let mut inbound = match listener.accept().await {
                    Ok((s, _)) => s,
                    Err(_) => {
                        // Out of descriptors: let some close rather than spin.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    continue; // dropped: closed at once
                };
                let pod = pods[next % pods.len()];
                next += 1;
                tokio::spawn(async move {
                    let _slot = slot;
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", pod)).await {
                        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Balancer { port, task })
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A pod that answers each connection with its own name, then holds it.
    async fn pod(name: u8) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let _ = s.write_all(&[name]).await;
                    let mut sink = [0u8; 16];
                    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        port
    }

    async fn first_byte(port: u16) -> Option<u8> {
        let mut c = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut b = [0u8; 1];
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), c.read(&mut b));
        match read.await {
            Ok(Ok(1)) => Some(b[0]),
            _ => None,
        }
    }

    #[tokio::test]
    async fn each_connection_goes_to_the_next_pod_and_a_flood_is_closed() {
        let pods = vec![pod(0).await, pod(1).await, pod(2).await];
        let b = Balancer::start(pods, 4).await.unwrap();
        // Held open, so each keeps its slot.
        let mut held = Vec::new();
        for want in [0, 1, 2, 0] {
            let mut c = TcpStream::connect(("127.0.0.1", b.port)).await.unwrap();
            let mut byte = [0u8; 1];
            c.read_exact(&mut byte).await.unwrap();
            assert_eq!(byte[0], want);
            held.push(c);
        }
        // Past the limit: closed without reaching a pod.
        assert_eq!(first_byte(b.port).await, None);
        drop(held);
        // Slots come back as connections end.
        let mut answered = None;
        for _ in 0..50 {
            answered = first_byte(b.port).await;
            if answered.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(answered.is_some(), "no slot came back");
    }
}
