//! kube-proxy's part in a run without a mesh (`bare`): a Service's port that
//! hands each new connection to the next of its pods, then only copies
//! bytes. Every request of a connection reaches the pod its connection
//! reached, as in a cluster without a mesh, where one long-lived HTTP/2
//! connection (gRPC) stays on one pod. Round robin rather than iptables'
//! random pick: the same spread on average, and a count that reads exactly.

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Balancer {
    pub port: u16,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free 127.0.0.1 port in front of the hops at `pods`.
    pub async fn start(pods: Vec<u16>) -> Result<Balancer, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("no free port on 127.0.0.1 for a balancer: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
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
                let pod = pods[next % pods.len()];
                next += 1;
                tokio::spawn(async move {
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
