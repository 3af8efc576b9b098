//! Who each workload of the mesh is: its name (for files and proxy names) and
//! its principal. Nothing is decided here: the principals are the Model's
//! ([`istio::principal`], [`istio::ingress_principal`]), and a service runs as
//! the ServiceAccount [`istio::account`] names, as the Kubernetes view
//! renders it.

use meshgen::model::{Caller, DataPlane, Model, istio};

/// One workload identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    /// The workload it belongs to (a service, an external stub, the ingress
    /// proxy): names its credential files and its proxy.
    pub name: String,
    /// `cluster.local/ns/<namespace>/sa/<account>`, as AuthorizationPolicies
    /// write it.
    pub principal: String,
}

impl Identity {
    /// The SPIFFE ID istiod puts in the certificate's URI SAN, and that the
    /// RBAC filter matches (`authenticated.principal_name`).
    pub fn spiffe_uri(&self) -> String {
        spiffe_uri(&self.principal)
    }
}

/// `spiffe://` and a principal.
pub fn spiffe_uri(principal: &str) -> String {
    format!("spiffe://{principal}")
}

/// The identity of a service's pods (or of an in-cluster external stub).
pub fn service(m: &Model, name: &str) -> Identity {
    Identity {
        name: name.to_owned(),
        principal: istio::principal(&m.namespace, istio::account(name)),
    }
}

/// The identity of the proxy at the chain's entry (Istio's ingress gateway,
/// or the Gateway API gateway's `<gateway>-istio`).
pub fn ingress(m: &Model) -> Identity {
    Identity {
        name: istio::ingress_proxy(m).0,
        principal: istio::ingress_principal(m),
    }
}

/// The identity of the namespace's waypoint (ambient mode).
pub fn waypoint(m: &Model) -> Identity {
    Identity {
        name: istio::WAYPOINT.to_owned(),
        principal: istio::waypoint_principal(&m.namespace),
    }
}

/// Who a caller is.
pub fn caller(m: &Model, c: &Caller) -> Identity {
    match c {
        Caller::Ingress => ingress(m),
        Caller::Service { name } => service(m, name),
    }
}

/// Every identity of the mesh: the ingress proxy, each service, each external
/// stub that runs in the cluster (`stub_external`), the waypoint in ambient
/// mode.
pub fn mesh(m: &Model) -> Vec<Identity> {
    let services = m.services.iter().map(|s| service(m, &s.name));
    let stubs = m
        .externals
        .iter()
        .filter(|e| e.stub)
        .map(|e| service(m, &e.name));
    let waypoint = (m.mesh.data_plane == DataPlane::Ambient).then(|| waypoint(m));
    std::iter::once(ingress(m))
        .chain(services)
        .chain(stubs)
        .chain(waypoint)
        .collect()
}
