//! Kinds, or parts of kinds, that more than one file prints.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::render::kube::Labels;

/// An empty mapping (`{}`), such as a selector of every pod.
#[derive(Serialize)]
pub struct Empty {}

/// `{ matchLabels: ... }`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector<L: Serialize> {
    pub match_labels: L,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy<'a> {
    pub pod_selector: PodSelector<'a>,
    pub policy_types: [&'static str; 1],
    pub ingress: [NetworkRule<'a>; 1],
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum PodSelector<'a> {
    All(Empty),
    Labels(Selector<&'a Labels>),
}

#[derive(Serialize)]
pub struct NetworkRule<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<Peer<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkPort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Peer<'a> {
    PodSelector(Empty),
    NamespaceSelector(Selector<BTreeMap<&'static str, &'a str>>),
    IpBlock(IpBlock),
}

#[derive(Serialize)]
pub struct IpBlock {
    pub cidr: &'static str,
}

#[derive(Serialize)]
pub struct NetworkPort {
    pub port: u16,
    pub protocol: &'static str,
}

/// A Gateway API Gateway with one listener.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gateway<'a> {
    pub gateway_class_name: &'static str,
    pub listeners: [Listener; 1],
    pub infrastructure: Infrastructure<'a>,
}

/// What Istio puts on the Deployment, Service and ServiceAccount it makes for
/// a Gateway. Without it Istio copies every label of the Gateway, kubectl's
/// ApplySet `part-of` included, and `kubectl apply --prune --applyset` then
/// deletes them as members the output no longer lists
/// (pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go,
/// `extractInfrastructureLabels`).
#[derive(Serialize)]
pub struct Infrastructure<'a> {
    pub labels: &'a Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    pub name: &'static str,
    pub port: u16,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Serialize)]
pub struct AllowedRoutes {
    pub namespaces: RouteNamespaces,
}

#[derive(Serialize)]
pub struct RouteNamespaces {
    pub from: &'static str,
}
