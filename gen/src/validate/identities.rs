//! No two objects of the demo may share an identity: `kubectl apply` would keep
//! one of them and say nothing. The identities are the model's
//! ([`identity::objects`]); this names the profile keys behind a collision.

use std::collections::BTreeMap;

use crate::model::identity::{self, ObjectRef, Owner};
use crate::model::{Model, Upstream};
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
        namespace: &Sourced<String>,
    ) {
        // What a profile reader would call each owner, and where it is written.
        let owner = |o: Owner| -> (String, &Sourced<String>) {
            match o {
                Owner::Chain => ("the chain's namespace".into(), namespace),
                Owner::Service(i) => (
                    format!("service \"{}\"", model.services[i].name),
                    &specs[i].name,
                ),
                Owner::Workload(i, j) => (
                    format!(
                        "version \"{}\" of service \"{}\"",
                        model.services[i].versions[j].version, model.services[i].name
                    ),
                    &specs[i].versions[j],
                ),
                Owner::Ingress => (
                    format!("the ingress of service \"{}\"", model.ingress.service),
                    ingress.service.as_ref().unwrap_or(&specs[0].name),
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
                    (format!("external host \"{host}\""), item)
                }
            }
        };
        // A workload's name is also a label value (`app.kubernetes.io/instance`).
        for (i, s) in model.services.iter().enumerate() {
            for (j, w) in s.versions.iter().enumerate() {
                if let Err(why) = dns1123_label(&w.name) {
                    let (what, at) = owner(Owner::Workload(i, j));
                    self.err(at, format!("the workload of {what} would be named \"{}\", which is not a valid name and label value: {why}", w.name));
                }
            }
        }
        let mut seen: BTreeMap<ObjectRef, Owner> = BTreeMap::new();
        for (object, o) in identity::objects(model)
            .into_iter()
            .chain(identity::made_by_istio(model))
        {
            if let Some(first) = seen.get(&object).copied() {
                let (first_what, first_at) = owner(first);
                let (what, at) = owner(o);
                let first_loc = self.sm.locate(first_at.source, first_at.span.start);
                self.err(
                    at,
                    format!(
                        "{what} and {first_what} (at {first_loc}) both make {object}; \
                         rename one of them"
                    ),
                );
            } else {
                seen.insert(object, o);
            }
        }
    }
}
