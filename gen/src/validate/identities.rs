//! No two objects of the demo may share an identity: `kubectl apply` would keep
//! one of them and say nothing. The identities are the model's
//! ([`identity::objects`]); this names the profile keys behind a collision.

use std::collections::{BTreeMap, HashMap, hash_map};

use crate::model::identity::{self, ObjectRef, Owner};
use crate::model::{Model, RoutingApi, Upstream, istio};
use crate::profile::schema;
use crate::profile::source::Sourced;

use super::Cx;
use super::names::dns1123_label;
use super::services::Spec;

impl Cx<'_> {
    pub(super) fn identities(
        &mut self,
        model: &Model,
        specs: &[Spec],
        upstreams: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
        ingress: &schema::Ingress,
        istio: &schema::Istio,
        namespace: &Sourced<String>,
    ) {
        let at = |s: &Sourced<String>| key_of(s);
        // The key that made Istio create its own objects in the namespace.
        let data_plane = istio.data_plane.as_ref().map(key_of);
        let routing_api = istio
            .routing_api
            .as_ref()
            .map(key_of)
            .or(data_plane.clone());
        // What a profile reader would call each owner, and where it is written.
        let owner = |o: Owner| -> (String, Sourced<()>) {
            let (what, where_) = match o {
                Owner::Chain => ("the chain's namespace".into(), at(namespace)),
                Owner::Service(i) => (
                    format!("service \"{}\"", model.services[i].name),
                    at(&specs[i].name),
                ),
                Owner::Workload(i, j) => (
                    format!(
                        "version \"{}\" of service \"{}\"",
                        model.services[i].versions[j].version, model.services[i].name
                    ),
                    at(&specs[i].versions[j]),
                ),
                Owner::Ingress => (
                    format!("the ingress of service \"{}\"", model.ingress.service),
                    at(ingress.service.as_ref().unwrap_or(&specs[0].name)),
                ),
                Owner::External(i) => {
                    let host = &model.externals[i].host;
                    let item = upstreams
                        .values()
                        .flatten()
                        .find_map(|(u, item)| match u {
                            Upstream::External { host: h, .. } if h == host => Some(item),
                            _ => None,
                        })
                        .expect("every external comes from an upstream");
                    (format!("external host \"{host}\""), at(item))
                }
                Owner::IstioGateway => (
                    format!(
                        "the proxy Istio deploys for the Gateway API ingress of service \"{}\"",
                        model.ingress.service
                    ),
                    routing_api
                        .clone()
                        .expect("the Gateway API is chosen by a key"),
                ),
                Owner::IstioWaypoint => (
                    "the waypoint Istio deploys for ambient mode".into(),
                    data_plane.clone().expect("ambient is chosen by a key"),
                ),
                Owner::Kubernetes => (
                    "Kubernetes (every namespace's own ServiceAccount, which pods naming \
                     no account run as)"
                        .into(),
                    at(namespace),
                ),
            };
            (what, where_)
        };
        // A workload's name is also a label value (`app.kubernetes.io/instance`).
        for (i, s) in model.services.iter().enumerate() {
            for (j, w) in s.versions.iter().enumerate() {
                if let Err(why) = dns1123_label(&w.name) {
                    let (what, at) = owner(Owner::Workload(i, j));
                    self.err(&at, format!("the workload of {what} would be named \"{}\", which is not a valid name and label value: {why}", w.name));
                }
            }
        }
        // Istio names its gateway proxy after the Gateway: `<entry>-gateway-istio`
        // must be a name, and `<entry>-gateway` a label value.
        if model.mesh.routing_api == RoutingApi::GatewayApi {
            let proxy = istio::gateway_deployment(&model.ingress.gateway);
            if let Err(why) = dns1123_label(&proxy) {
                let entry = ingress.service.as_ref().unwrap_or(&specs[0].name);
                self.err(
                    entry,
                    format!(
                        "under the Gateway API, Istio deploys the ingress proxy of service \
                         \"{}\" as \"{proxy}\", which is not a valid name: {why}; shorten the \
                         service's name",
                        model.ingress.service
                    ),
                );
            }
        }
        // Hashed, not ordered: a chain of 10,000 services makes 60,000 and more
        // identities, and only their uniqueness matters here.
        // Kubernetes' and Istio's objects first: a collision is then reported
        // at the profile's object, the one the user can rename.
        let mut all = identity::made_by_kubernetes(model);
        all.extend(identity::made_by_istio(model));
        all.extend(identity::objects(model));
        let mut seen: HashMap<ObjectRef, Owner> = HashMap::with_capacity(all.len());
        for (object, o) in all {
            match seen.entry(object) {
                hash_map::Entry::Vacant(v) => {
                    v.insert(o);
                }
                hash_map::Entry::Occupied(first) => {
                    let (first_what, first_at) = owner(*first.get());
                    let (what, at) = owner(o);
                    let first_loc = self.sm.locate(first_at.source, first_at.span.start);
                    let object = first.key();
                    self.err(
                        &at,
                        format!(
                            "{what} and {first_what} (at {first_loc}) both make {object}; \
                             rename one of them"
                        ),
                    );
                }
            }
        }
    }
}

/// Where a key is written, whatever its value's type.
fn key_of<T>(s: &Sourced<T>) -> Sourced<()> {
    Sourced {
        value: (),
        source: s.source,
        span: s.span.clone(),
    }
}
