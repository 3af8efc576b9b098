//! Which objects the demo is made of, by identity (kind, namespace, name), and
//! what in the model each one comes from. Decided once here: the Kubernetes
//! target prints exactly these objects in the chain's namespace (a test checks
//! it), and `validate` refuses a profile in which two of them share an identity
//! (`kubectl apply` would silently keep one).

use std::fmt;

use super::Model;

/// A Kubernetes object's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: &'static str,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// What in the model an object comes from (indices into [`Model::services`],
/// their versions, [`Model::externals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The chain as a whole (namespace, its network and mTLS policies).
    Chain,
    Service(usize),
    Workload(usize, usize),
    Ingress,
    External(usize),
}

/// Every object of the chain, in apply order, with its owner.
pub fn objects(m: &Model) -> Vec<(ObjectRef, Owner)> {
    let at = |kind, name: &str| ObjectRef {
        kind,
        namespace: m.namespace.clone(),
        name: name.to_owned(),
    };
    let mut out = vec![
        (
            ObjectRef {
                kind: "Namespace",
                namespace: String::new(),
                name: m.namespace.clone(),
            },
            Owner::Chain,
        ),
        (at("NetworkPolicy", NETWORK_POLICY), Owner::Chain),
    ];
    if m.mesh.mtls {
        out.push((at("PeerAuthentication", PEER_AUTHENTICATION), Owner::Chain));
    }
    for (i, s) in m.services.iter().enumerate() {
        let mut kinds = vec![
            "ServiceAccount",
            "Service",
            "VirtualService",
            "DestinationRule",
        ];
        if m.mesh.mtls {
            kinds.push("AuthorizationPolicy");
        }
        out.extend(
            kinds
                .into_iter()
                .map(|k| (at(k, &s.name), Owner::Service(i))),
        );
        for (j, w) in s.versions.iter().enumerate() {
            out.push((at("Deployment", &w.name), Owner::Workload(i, j)));
        }
    }
    out.push((at("Gateway", &m.ingress.gateway), Owner::Ingress));
    out.push((at("VirtualService", &m.ingress.route), Owner::Ingress));
    for (i, e) in m.externals.iter().enumerate() {
        out.push((at("ServiceEntry", &e.name), Owner::External(i)));
    }
    out
}

/// The NetworkPolicy that fences the chain's namespace.
pub const NETWORK_POLICY: &str = "chain-ingress";
/// The namespace-wide PeerAuthentication (`default` is Istio's convention).
pub const PEER_AUTHENTICATION: &str = "default";
