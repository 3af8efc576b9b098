//! The chain's objects, built as typed values from the [`View`] and written
//! once: one module per output file, in apply order.
//!
//! They are not templates: a template's text would have to be parsed back to
//! be checked and written canonically, which was most of a large render's
//! time. Users change them with a kustomize overlay on the output (`render
//! --kustomization`); the addons, which users tune, stay templates.

mod destinations;
mod egress;
mod ingress;
mod kinds;
mod namespace;
mod routes;
mod routing;
mod security;
mod workloads;

use serde::Serialize;

use super::canonical::Stream;
use super::kube::{Labels, View};
use super::yaml;
use crate::model::applyset;

pub use destinations::destinations;
pub use egress::egress;
pub use ingress::ingress;
pub use namespace::namespace;
pub use routing::routing;
pub use security::security;
pub use workloads::workloads;

/// A builder of one output file's documents.
pub type Build = fn(&View, &mut Docs) -> yaml::Result;

/// Any Kubernetes object: its type, metadata and the fields of its kind.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a, B> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta<'a>,
    #[serde(flatten)]
    pub body: B,
}

#[derive(Serialize)]
pub struct Meta<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    pub labels: &'a Labels,
}

impl<'a> Meta<'a> {
    /// Metadata of an object in the chain's namespace.
    pub fn of(v: &'a View, name: &'a str, labels: &'a Labels) -> Self {
        Meta {
            name,
            namespace: Some(&v.model.namespace),
            labels,
        }
    }
}

/// Most kinds: their `spec`.
#[derive(Serialize)]
pub struct Spec<S> {
    pub spec: S,
}

/// The documents of one file, written as they are built.
pub struct Docs<'s>(pub Stream<'s>);

impl Docs<'_> {
    pub fn push<B: Serialize>(&mut self, object: &Object<B>) -> yaml::Result {
        let part_of = object.metadata.labels.get(applyset::PART_OF_LABEL);
        self.0.push(
            object,
            object.api_version,
            object.kind,
            part_of.map(String::as_str),
        )
    }
}
