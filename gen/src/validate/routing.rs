//! Routing: the ingress, retries, canaries by header, weights and faults.

use std::collections::BTreeMap;

use crate::model::{
    Abort, Delay, Duration, Fault, HeaderMatch, Ingress, Protocol, Retries, WeightedSubset, Wire,
};
use crate::profile::schema;
use crate::profile::source::Sourced;

use super::names::gateway_host;
use super::services::Spec;
use super::{Cx, val};

impl Cx<'_> {
    pub(super) fn ingress(
        &mut self,
        i: &schema::Ingress,
        known: &[&str],
        known_list: &str,
        specs: &[Spec],
    ) -> Option<Ingress> {
        let service = match &i.service {
            Some(s) => {
                if !known.contains(&s.value.as_str()) {
                    self.err(
                        s,
                        format!("\"{}\" names no service (known: {known_list})", s.value),
                    );
                    return None;
                }
                s.value.clone()
            }
            None => specs.first()?.name.value.clone(),
        };
        let hosts = match &i.hosts {
            Some(h) => {
                if h.value.is_empty() {
                    self.err(h, "at least one host is needed (\"*\" answers any)");
                }
                for host in &h.value {
                    if let Err(why) = gateway_host(&host.value) {
                        self.err(
                            host,
                            format!("\"{}\" is not a valid host: {why}", host.value),
                        );
                    }
                }
                h.value.iter().map(|s| s.value.clone()).collect()
            }
            None => vec!["*".to_owned()],
        };
        Some(Ingress { service, hosts })
    }

    pub(super) fn retries(&mut self, r: &schema::Retries, wire: &Wire) -> Option<Retries> {
        let per_try = r
            .per_try_timeout
            .as_ref()
            .map_or(Duration::from_millis(2000), |d| self.duration(d));
        // No `attempts`: the route carries no `retries` block and Istio's default
        // policy applies. `attempts = 0` must stay explicit: it is the only way to
        // turn that default off.
        let a = r.attempts.as_ref()?;
        if a.value > 10 {
            self.err(
                a,
                "more than 10 retries per try would multiply the load; use at most 10",
            );
        }
        // Each hop waits for every try of its upstream call (`UPSTREAM_TIMEOUT`, see
        // `resolve`); the hop refuses to start with more than its maximum.
        let waits = per_try.saturating_mul(u64::from(a.value) + 1);
        if u128::from(waits.as_millis()) > hop::duration::MAX.as_millis() {
            let msg = format!(
                "(attempts + 1) x per_try_timeout is {waits}, longer than the {}s a hop \
                 waits for an upstream",
                hop::duration::MAX.as_secs()
            );
            match &r.per_try_timeout {
                Some(p) => self.err(p, msg),
                None => self.err(a, msg),
            }
        }
        Some(Retries {
            attempts: a.value,
            per_try_timeout: per_try,
            retry_on: wire.retry_on.to_owned(),
        })
    }

    /// Checks that a routing key names a service; returns its versions.
    pub(super) fn routed_service<'v>(
        &mut self,
        key: &Sourced<String>,
        versions_of: &'v BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> Option<&'v Vec<&'v str>> {
        let v = versions_of.get(key.value.as_str());
        if v.is_none() {
            self.err(
                key,
                format!("\"{}\" names no service (known: {known_list})", key.value),
            );
        }
        v
    }

    pub(super) fn subset_of(&mut self, subset: &Sourced<String>, service: &str, versions: &[&str]) {
        if !versions.contains(&subset.value.as_str()) {
            self.err(
                subset,
                format!(
                    "\"{}\" is not a version of service \"{service}\" (versions: {})",
                    subset.value,
                    versions.join(", ")
                ),
            );
        }
    }

    pub(super) fn canaries(
        &mut self,
        map: &BTreeMap<Sourced<String>, schema::Canary>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> BTreeMap<String, HeaderMatch> {
        let mut out = BTreeMap::new();
        for (svc, c) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let (Some(subset), Some(header), Some(value)) = (&c.subset, &c.header, &c.value) else {
                self.err(svc, "a canary needs `subset`, `header` and `value`");
                continue;
            };
            self.subset_of(subset, &svc.value, versions);
            let token =
                |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
            if header.value.is_empty()
                || !header.value.chars().all(token)
                || header.value.starts_with(':')
            {
                self.err(
                    header,
                    format!(
                        "\"{}\" is not a lowercase header name like \"x-dev-user\"",
                        header.value
                    ),
                );
            }
            if value.value.is_empty() {
                self.err(value, "the header value to match cannot be empty");
            }
            out.insert(
                svc.value.clone(),
                HeaderMatch {
                    header: header.value.clone(),
                    value: value.value.clone(),
                    subset: subset.value.clone(),
                },
            );
        }
        out
    }

    pub(super) fn weights(
        &mut self,
        map: &BTreeMap<Sourced<String>, Sourced<schema::Split>>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> BTreeMap<String, Vec<WeightedSubset>> {
        let mut out = BTreeMap::new();
        for (svc, table) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let mut sum: u64 = 0;
            let mut split = Vec::new();
            for (subset, w) in &table.value {
                self.subset_of(subset, &svc.value, versions);
                sum += u64::from(w.value);
                if w.value > 0 {
                    split.push(WeightedSubset {
                        subset: subset.value.clone(),
                        weight: w.value,
                    });
                }
            }
            if sum != 100 {
                self.err(
                    table,
                    format!("weights of \"{}\" sum to {sum}, not 100", svc.value),
                );
            }
            // Profile order is lost in the map; list by version order for stable output.
            split.sort_by_key(|s| versions.iter().position(|v| *v == s.subset));
            out.insert(svc.value.clone(), split);
        }
        out
    }

    pub(super) fn faults(
        &mut self,
        map: &BTreeMap<Sourced<String>, schema::Fault>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
        wire: &Wire,
    ) -> BTreeMap<String, Fault> {
        let mut out = BTreeMap::new();
        for (svc, f) in map {
            if self.routed_service(svc, versions_of, known_list).is_none() {
                continue;
            }
            if f.abort.is_none() && f.delay.is_none() {
                self.err(svc, "a fault needs `abort`, `delay` or both");
                continue;
            }
            let abort = f.abort.as_ref().and_then(|a| {
                let Some(p) = &a.percent else {
                    self.err(svc, "fault.abort needs `percent`");
                    return None;
                };
                let percent = self.percent(p);
                if let Some(h) = &a.http_status
                    && !(200..=599).contains(&h.value)
                {
                    self.err(
                        h,
                        format!("{} is not an HTTP status between 200 and 599", h.value),
                    );
                }
                if let Some(g) = &a.grpc_status
                    && hop::fail_status::grpc_code_by_name(&g.value).is_none()
                {
                    self.err(
                        g,
                        format!(
                            "\"{}\" is not a gRPC code name (e.g. UNAVAILABLE, INTERNAL)",
                            g.value
                        ),
                    );
                }
                Some(match wire.protocol {
                    Protocol::Http => Abort {
                        percent,
                        http_status: Some(val(&a.http_status, wire.default_abort_http)),
                        grpc_status: None,
                    },
                    Protocol::Grpc => Abort {
                        percent,
                        http_status: None,
                        grpc_status: Some(val(&a.grpc_status, wire.default_abort_grpc.to_owned())),
                    },
                })
            });
            let delay = f.delay.as_ref().and_then(|d| {
                let (Some(fixed), Some(p)) = (&d.fixed, &d.percent) else {
                    self.err(svc, "fault.delay needs `fixed` and `percent`");
                    return None;
                };
                Some(Delay {
                    fixed: self.duration(fixed),
                    percent: self.percent(p),
                })
            });
            out.insert(svc.value.clone(), Fault { abort, delay });
        }
        out
    }
}
