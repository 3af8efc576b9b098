//! The chain's services: names, versions, upstreams (services or external URLs)
//! and the cycles a chain must not have.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Upstream;
use crate::profile::schema::{self, Upstreams};
use crate::profile::source::Sourced;

use super::names::{UrlError, dns1035_label, parse_url};
use super::{Cx, val};

/// A service as read from the profile, with defaults applied.
pub(super) struct Spec {
    pub(super) name: Sourced<String>,
    pub(super) versions: Vec<Sourced<String>>,
    pub(super) upstreams: Vec<Sourced<String>>,
    pub(super) replicas: u32,
    pub(super) work: bool,
}

impl Cx<'_> {
    pub(super) fn services(
        &mut self,
        list: &[schema::Service],
        default_subset: &Option<Sourced<String>>,
        default_name: &str,
    ) -> Vec<Spec> {
        let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut out = Vec::new();
        for s in list {
            if let Err(why) = dns1035_label(&s.name.value) {
                self.err(
                    &s.name,
                    format!(
                        "\"{}\" is not a valid service name: {why}",
                        s.name.value.escape_debug()
                    ),
                );
            }
            if let Some(first) = seen.get(&s.name.value) {
                let first = self.sm.locate(first.0, first.1);
                self.err(
                    &s.name,
                    format!(
                        "service \"{}\" is defined twice (first at {first})",
                        s.name.value
                    ),
                );
            } else {
                seen.insert(s.name.value.clone(), (s.name.source, s.name.span.start));
            }
            let versions = match &s.versions {
                Some(v) => {
                    if v.value.is_empty() {
                        self.err(v, "a service needs at least one version");
                    }
                    let mut vs = BTreeSet::new();
                    for ver in &v.value {
                        self.label(ver, "version");
                        if !vs.insert(ver.value.clone()) {
                            self.err(ver, format!("version \"{}\" is listed twice", ver.value));
                        }
                    }
                    if !v.value.is_empty() && !vs.contains(default_name) {
                        self.err(
                            v,
                            format!(
                                "service \"{}\" has no version \"{default_name}\" (routing.default_subset), which gets its default traffic",
                                s.name.value
                            ),
                        );
                    }
                    v.value.clone()
                }
                None => vec![match default_subset {
                    Some(d) => d.clone(),
                    None => Sourced {
                        value: default_name.to_owned(),
                        source: s.name.source,
                        span: s.name.span.clone(),
                    },
                }],
            };
            let upstreams = match &s.upstream {
                None => Vec::new(),
                Some(u) => match &u.value {
                    Upstreams::One(one) => vec![Sourced {
                        value: one.clone(),
                        source: u.source,
                        span: u.span.clone(),
                    }],
                    Upstreams::Many(many) => many.clone(),
                },
            };
            let replicas = match &s.replicas {
                Some(r) if r.value == 0 || r.value > 100 => {
                    self.err(r, "replicas must be between 1 and 100");
                    1
                }
                r => val(r, 1),
            };
            out.push(Spec {
                name: s.name.clone(),
                versions,
                upstreams,
                replicas,
                work: val(&s.work, false),
            });
        }
        out
    }

    pub(super) fn upstream(
        &mut self,
        item: &Sourced<String>,
        from: &str,
        known: &BTreeSet<&str>,
        known_list: &str,
        namespace: &str,
    ) -> Option<Upstream> {
        let text = item.value.as_str();
        if text.contains("://") {
            let msg = match parse_url(text, namespace) {
                Ok(u) => return Some(u),
                Err(UrlError::InCluster { host, why }) => {
                    match chain_service(&host, known, namespace) {
                        // `http://frontend/` or `http://frontend.<ns>/` would leave the
                        // mesh's routing, the cycle check and the allow-list to a
                        // ServiceEntry for the chain's own service.
                        Some(service) => format!(
                            "\"{}\" calls the chain's service \"{service}\" as if it were outside \
                         ({why}); write upstream = \"{service}\"",
                            text.escape_debug()
                        ),
                        None => format!(
                            "\"{}\" is inside the cluster, not an external API: {why}",
                            text.escape_debug()
                        ),
                    }
                }
                Err(UrlError::Invalid(why)) => {
                    format!("\"{}\" is not a usable URL: {why}", text.escape_debug())
                }
            };
            self.err(item, msg);
            return None;
        }
        if text == from {
            self.err(item, format!("service \"{from}\" cannot call itself"));
            return None;
        }
        if !known.contains(&text) {
            self.err(item, format!("\"{}\" names no service (known: {known_list}); external URLs start with http:// or https://", text.escape_debug()));
            return None;
        }
        Some(Upstream::Service {
            name: text.to_owned(),
        })
    }

    /// A call graph with a cycle would recurse forever at run time.
    pub(super) fn cycles(
        &mut self,
        specs: &[Spec],
        ups: &BTreeMap<String, Vec<(Upstream, Sourced<String>)>>,
    ) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut mark: BTreeMap<&str, Mark> = specs
            .iter()
            .map(|s| (s.name.value.as_str(), Mark::New))
            .collect();
        let mut reported = false;
        for start in specs {
            if mark[start.name.value.as_str()] != Mark::New || reported {
                continue;
            }
            // Iterative DFS: (service, next edge index).
            let mut stack: Vec<(&str, usize)> = vec![(start.name.value.as_str(), 0)];
            mark.insert(start.name.value.as_str(), Mark::Active);
            while let Some((node, i)) = stack.last().copied() {
                let edges = ups.get(node).map(Vec::as_slice).unwrap_or(&[]);
                if i == edges.len() {
                    mark.insert(node, Mark::Done);
                    stack.pop();
                    continue;
                }
                stack.last_mut().expect("non-empty").1 += 1;
                let (Upstream::Service { name }, at) = &edges[i] else {
                    continue;
                };
                match mark.get(name.as_str()).copied() {
                    Some(Mark::New) => {
                        mark.insert(name.as_str(), Mark::Active);
                        stack.push((name.as_str(), 0));
                    }
                    Some(Mark::Active) => {
                        let pos = stack
                            .iter()
                            .position(|(n, _)| *n == name.as_str())
                            .unwrap_or(0);
                        let mut path: Vec<&str> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        path.push(name.as_str());
                        self.err(at, format!("call cycle: {}", path.join(" -> ")));
                        reported = true;
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The chain's service an in-cluster `host` names: `<service>`, or
/// `<service>.<namespace>[...]` in the chain's namespace. Only picks the message.
fn chain_service<'k>(host: &str, known: &BTreeSet<&'k str>, namespace: &str) -> Option<&'k str> {
    let host = host.to_ascii_lowercase();
    let mut labels = host.trim_end_matches('.').split('.');
    let first = labels.next()?;
    if labels.next().is_some_and(|ns| ns != namespace) {
        return None;
    }
    known.get(first).copied()
}
