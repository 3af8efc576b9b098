//! `25-destinations.yaml`: one DestinationRule per service, its subsets (one
//! per version). They come before any route that names a subset (the ingress
//! route names the entry service's), since a route to a subset that does not
//! exist yet answers 503.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Docs, Meta, Object, Spec};
use crate::model::RoutingApi;
use crate::render::kube::View;
use crate::render::yaml;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DestinationRule<'a> {
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic_policy: Option<TrafficPolicy>,
    subsets: Vec<Subset<'a>>,
}

#[derive(Serialize)]
struct TrafficPolicy {
    tls: Tls,
}

#[derive(Serialize)]
struct Tls {
    mode: &'static str,
}

#[derive(Serialize)]
struct Subset<'a> {
    name: &'a str,
    labels: BTreeMap<&'static str, &'a str>,
}

pub fn destinations(v: &View, docs: &mut Docs) -> yaml::Result {
    if v.model.mesh.routing_api != RoutingApi::Istio {
        return Ok(());
    }
    for s in &v.services {
        docs.push(&Object {
            api_version: "networking.istio.io/v1",
            kind: "DestinationRule",
            metadata: Meta::of(v, s.name, &s.labels),
            body: Spec {
                spec: DestinationRule {
                    host: &s.host,
                    traffic_policy: v.model.mesh.mtls.then_some(TrafficPolicy {
                        tls: Tls {
                            mode: "ISTIO_MUTUAL",
                        },
                    }),
                    subsets: s
                        .subsets
                        .iter()
                        .map(|version| Subset {
                            name: version,
                            labels: [("version", *version)].into(),
                        })
                        .collect(),
                },
            },
        })?;
    }
    Ok(())
}
