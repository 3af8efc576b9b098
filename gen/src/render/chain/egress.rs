//! `40-egress.yaml`: one ServiceEntry per external host the chain calls: with
//! REGISTRY_ONLY egress, these are the only outside hosts the sidecars let
//! through. Visible to this namespace only, so two chains calling the same
//! host do not clash.

use serde::Serialize;

use super::{Docs, Meta, Object, Spec};
use crate::render::kube::{KPort, View};
use crate::render::yaml;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceEntry<'a> {
    hosts: [&'a str; 1],
    location: &'static str,
    resolution: &'static str,
    export_to: [&'static str; 1],
    ports: &'a [KPort],
}

pub fn egress(v: &View, docs: &mut Docs) -> yaml::Result {
    for e in &v.externals {
        docs.push(&Object {
            api_version: "networking.istio.io/v1",
            kind: "ServiceEntry",
            metadata: Meta::of(v, e.name, &v.labels),
            body: Spec {
                spec: ServiceEntry {
                    hosts: [e.host],
                    location: "MESH_EXTERNAL",
                    resolution: "DNS",
                    export_to: ["."],
                    ports: &e.ports,
                },
            },
        })?;
    }
    Ok(())
}
