//! Where everything of a local mesh listens, decided once before anything
//! starts: one pod per replica of every workload (its hop, its inbound side
//! and one outbound listener per destination, held by its sidecar or in
//! ambient mode by ztunnel), the ingress gateway, the waypoint in ambient
//! mode, and one plan per external host:port.
//!
//! Everything listens on 127.0.0.1. Envoy admins take any free port and
//! report it ([`crate::process`]), so none is planned here.

use std::collections::BTreeMap;
use std::net::IpAddr;

use meshgen::model::{DataPlane, Model, Service, Upstream, Workload};

/// Hands out distinct free ports and holds each one until dropped.
///
/// A held port is a socket bound to it with SO_REUSEPORT and not listening.
/// While it is held the kernel gives the port to no other `bind` and to no
/// outgoing connection as its ephemeral port, yet the mesh's own processes
/// can bind it: Envoy listens with SO_REUSEPORT by default and the hops do
/// too (`hop::serve::listen`). Only listening sockets receive
/// connections, so a holder never takes one. Keep the `Ports` until every
/// process has bound its ports, then drop it: no port can be taken between
/// planning and binding.
#[derive(Default)]
pub struct Ports {
    held: Vec<socket2::Socket>,
}

impl Ports {
    /// Any free port.
    pub fn take(&mut self) -> Result<u16, String> {
        self.hold(0)
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
    }

    /// `port` itself (a port the user asked for): free now, or why not.
    pub fn fixed(&mut self, port: u16) -> Result<u16, String> {
        let refuse = |e: std::io::Error| format!("cannot listen on 127.0.0.1:{port}: {e}");
        // A program of this user listening with SO_REUSEPORT would let the
        // bind through and share its connections: a port that answers is
        // not free.
        let addr = (std::net::Ipv4Addr::LOCALHOST, port).into();
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500))
            .is_ok()
        {
            return Err(refuse(std::io::ErrorKind::AddrInUse.into()));
        }
        self.hold(port).map_err(refuse)
    }

    fn hold(&mut self, port: u16) -> std::io::Result<u16> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.set_reuse_port(true)?;
        socket.bind(&std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)).into())?;
        let port = socket
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("not an IP socket"))?;
        self.held.push(socket);
        Ok(port)
    }
}

/// How Istio's data plane is laid out, from the profile's `data_plane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// A sidecar per pod: the caller's sidecar, then the callee's.
    Sidecars,
    /// No sidecars: ztunnel carries every pod's calls in HBONE tunnels to
    /// the namespace waypoint, which applies the routes and policies and
    /// tunnels them on to the destination pods' ztunnel.
    Ambient,
}

impl Topology {
    pub fn of(m: &Model) -> Topology {
        match m.mesh.data_plane {
            DataPlane::Ambient => Topology::Ambient,
            _ => Topology::Sidecars,
        }
    }
}

/// The whole layout.
#[derive(Debug, Clone)]
pub struct Plan {
    pub topology: Topology,
    /// The ingress gateway's listener (what users call).
    pub ingress: u16,
    pub pods: Vec<Pod>,
    /// In ambient mode, the waypoint's HBONE port (Istio's 15008).
    pub waypoint: Option<u16>,
    /// One per external host:port the chain calls.
    pub externals: Vec<ExternalPlan>,
    /// OTLP/gRPC collector, when the profile traces and an endpoint is given.
    pub collector: Option<Collector>,
}

/// One replica of one workload.
#[derive(Debug, Clone)]
pub struct Pod {
    pub service: String,
    pub version: String,
    /// `<workload>-<replica>`, as a StatefulSet names its pods: names its
    /// hop, its sidecar and their logs.
    pub name: String,
    pub hop: u16,
    /// The hop's Prometheus port.
    pub metrics: u16,
    /// Its inbound side: its sidecar's, or in ambient mode ztunnel's HBONE
    /// port for the pod (Istio's 15008 on the pod's address).
    pub inbound: u16,
    /// Where the hop calls each destination, by [`Destination`]: its own
    /// sidecar's outbound listeners, or in ambient mode ztunnel's for the
    /// pod (what ztunnel captures from the pod's network namespace).
    pub outbound: BTreeMap<Destination, u16>,
}

impl Pod {
    /// The pod's address and port, as a tunnel to it names them (Istio: the
    /// pod's IP and the target port).
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.hop)
    }
}

/// Something a pod calls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Destination {
    Service(String),
    External { host: String, port: u16 },
}

impl Destination {
    pub fn of(u: &Upstream) -> Destination {
        match u {
            Upstream::Service { name } => Destination::Service(name.clone()),
            Upstream::External { host, port, .. } => Destination::External {
                host: host.clone(),
                port: *port,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExternalPlan {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// Whether the host is in the registry (a ServiceEntry, as `render`
    /// writes one for every external URL); `up --without-service-entry HOST`
    /// clears it.
    pub service_entry: bool,
    pub upstream: ExternalUpstream,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalUpstream {
    /// The local stub on this port (`--stub-external`).
    Stub(u16),
    /// The real host, resolved by DNS (plain HTTP only: TLS externals need the stub).
    Dns,
    /// The real host's port at this address (`--resolve`).
    Address(IpAddr),
}

#[derive(Debug, Clone)]
pub struct Collector {
    pub host: String,
    pub port: u16,
}

/// What the plan needs besides the Model.
#[derive(Default)]
pub struct Input<'a> {
    /// The stub's port when externals are stubbed.
    pub stub: Option<u16>,
    /// Hosts treated as having no ServiceEntry.
    pub without_service_entry: &'a [String],
    /// External host:ports answered at a given address.
    pub resolve: &'a [(String, u16, IpAddr)],
    pub collector: Option<(String, u16)>,
    /// The gateway's port, when asked for (`up --port`).
    pub ingress: Option<u16>,
}

impl Plan {
    pub fn new(model: &Model, input: &Input, ports: &mut Ports) -> Result<Plan, String> {
        let topology = Topology::of(model);
        let externals = externals(model, input);
        let waypoint = match topology {
            Topology::Ambient => Some(ports.take()?),
            Topology::Sidecars => None,
        };
        let mut pods = Vec::new();
        for s in &model.services {
            for w in &s.versions {
                for replica in 0..w.replicas {
                    let mut outbound = BTreeMap::new();
                    for u in &s.upstreams {
                        outbound.insert(Destination::of(u), ports.take()?);
                    }
                    pods.push(Pod {
                        service: s.name.clone(),
                        version: w.version.clone(),
                        name: pod_name(w, replica),
                        hop: ports.take()?,
                        metrics: ports.take()?,
                        inbound: ports.take()?,
                        outbound,
                    });
                }
            }
        }
        let ingress = match input.ingress {
            Some(p) => ports.fixed(p)?,
            None => ports.take()?,
        };
        Ok(Plan {
            topology,
            ingress,
            pods,
            waypoint,
            externals,
            collector: input
                .collector
                .clone()
                .map(|(host, port)| Collector { host, port }),
        })
    }

    /// The pods of a service, or of one of its subsets.
    pub fn pods_of<'a>(
        &'a self,
        service: &'a str,
        subset: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods
            .iter()
            .filter(move |p| p.service == service && subset.is_none_or(|s| p.version == s))
    }

    /// A service's pods by subset (version), each as `endpoint` makes it.
    pub fn subsets<T>(
        &self,
        service: &str,
        endpoint: impl Fn(&Pod) -> T,
    ) -> BTreeMap<String, Vec<T>> {
        let mut subsets: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for p in self.pods_of(service, None) {
            subsets
                .entry(p.version.clone())
                .or_default()
                .push(endpoint(p));
        }
        subsets
    }

    /// The pod a client without a mesh reaches for `service` (the bare
    /// baseline): the first pod of its default subset.
    pub fn direct_pod<'a>(&'a self, model: &'a Model, service: &'a str) -> Option<&'a Pod> {
        let default = model
            .service(service)
            .and_then(|s| s.route.split.first())
            .map(|w| w.subset.as_str());
        self.pods_of(service, default)
            .next()
            .or_else(|| self.pods_of(service, None).next())
    }

    /// Sidecar passes of a request through the whole chain: each service's
    /// inbound side, and its outbound side once per upstream; `None` without
    /// sidecars. Istio's per-sidecar figures count one pass.
    pub fn sidecar_passes(&self, model: &Model) -> Option<u32> {
        let passes = model.services.iter().map(|s| 1 + s.upstreams.len() as u32);
        (self.topology == Topology::Sidecars).then(|| passes.sum())
    }

    pub fn external(&self, host: &str, port: u16) -> Option<&ExternalPlan> {
        self.externals
            .iter()
            .find(|e| e.host == host && e.port == port)
    }
}

impl ExternalPlan {
    pub fn destination(&self) -> Destination {
        Destination::External {
            host: self.host.clone(),
            port: self.port,
        }
    }
}

/// A pod's name: its workload's, then its replica (`backend-prod-0`).
pub fn pod_name(w: &Workload, replica: u32) -> String {
    format!("{}-{replica}", w.name)
}

/// One plan per external host:port, in the order the chain calls them.
fn externals(model: &Model, input: &Input) -> Vec<ExternalPlan> {
    let mut out: Vec<ExternalPlan> = Vec::new();
    let calls = model.services.iter().flat_map(|s: &Service| &s.upstreams);
    for u in calls {
        let Upstream::External {
            host, port, tls, ..
        } = u
        else {
            continue;
        };
        if out.iter().any(|e| &e.host == host && e.port == *port) {
            continue;
        }
        let pinned = input
            .resolve
            .iter()
            .find(|(h, p, _)| h == host && p == port)
            .map(|(_, _, addr)| *addr);
        out.push(ExternalPlan {
            host: host.clone(),
            port: *port,
            tls: *tls,
            service_entry: !input.without_service_entry.iter().any(|h| h == host),
            upstream: match (input.stub, pinned) {
                (Some(p), _) => ExternalUpstream::Stub(p),
                (None, Some(addr)) => ExternalUpstream::Address(addr),
                (None, None) => ExternalUpstream::Dns,
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct() {
        let mut p = Ports::default();
        let a: Vec<u16> = (0..20).map(|_| p.take().unwrap()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn a_held_port_is_taken_for_others_and_free_for_the_mesh() {
        use std::io::{Read, Write};
        let mut p = Ports::default();
        let port = p.take().unwrap();
        // Another program's ordinary bind is refused while the port is held.
        let other = std::net::TcpListener::bind(("127.0.0.1", port));
        assert!(other.is_err(), "{port} was given away while held");
        // Nothing listens yet: a call is refused, not swallowed by the holder.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        // The mesh's process listens with SO_REUSEPORT and gets the calls.
        let mesh =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        mesh.set_reuse_port(true).unwrap();
        mesh.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        mesh.listen(8).unwrap();
        let listener: std::net::TcpListener = mesh.into();
        for _ in 0..8 {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.write_all(b"x").unwrap();
            let (mut s, _) = listener.accept().unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
        }
        // A port the user names that a program already serves is refused.
        assert!(
            Ports::default()
                .fixed(port)
                .unwrap_err()
                .contains(&format!(":{port}"))
        );
    }
}
