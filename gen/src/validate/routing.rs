//! Routing: the ingress, retries, canaries by header, weights and faults.

use std::collections::{BTreeMap, BTreeSet};

use contract::{Code, HopConfig, Protocol, headers};

use crate::model::{
    Abort, AbortStatus, DataPlane, Delay, Duration, Fault, HeaderMatch, Retries, RetryPolicy,
    RoutingApi, WeightedSubset, Wire, crd_bounds, mesh_retry_on,
};
use crate::profile::schema;
use crate::profile::source::Sourced;

use super::Cx;
use super::names::gateway_host;
use super::services::Spec;

impl Cx<'_> {
    pub(super) fn ingress(
        &mut self,
        i: &schema::Ingress,
        known: &BTreeSet<&str>,
        known_list: &str,
        specs: &[Spec],
    ) -> Option<(String, Vec<String>)> {
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
                let mut seen = BTreeSet::new();
                for host in &h.value {
                    if !seen.insert(host.value.as_str()) {
                        self.err(
                            host,
                            format!("\"{}\" is listed twice", host.value.escape_debug()),
                        );
                    }
                    if let Err(why) = gateway_host(&host.value) {
                        self.err(
                            host,
                            format!(
                                "\"{}\" is not a valid host: {why}",
                                host.value.escape_debug()
                            ),
                        );
                    }
                }
                h.value.iter().map(|s| s.value.clone()).collect()
            }
            None => vec!["*".to_owned()],
        };
        Some((service, hosts))
    }

    /// The retry policy of every route. No `attempts`: the route carries no
    /// `retries` block and Istio's default policy applies; a `per_try_timeout`
    /// would then be silently dropped, so it is refused. `attempts = 0` stays
    /// explicit: it is the only way to turn the default off.
    pub(super) fn retries(
        &mut self,
        r: &schema::Retries,
        wire: &Wire,
        api: RoutingApi,
    ) -> RetryPolicy {
        let per_try = r.per_try_timeout.as_ref().map(|d| (self.duration(d), d));
        let Some(a) = &r.attempts else {
            if let Some((_, at)) = per_try {
                self.err(
                    at,
                    "per_try_timeout needs `attempts`: without it routes keep Istio's default retry policy, which has no per-try timeout",
                );
            }
            return RetryPolicy::Default;
        };
        if a.value > 10 {
            self.err(
                a,
                "more than 10 retries of each request would multiply the load; use at most 10",
            );
        }
        // `attempts = 0` turns retries off whatever the per-try timeout says,
        // as in Istio: `--set routing.retries.attempts=0` over a profile with
        // retries is how the README renders the same demo without them.
        if a.value == 0 {
            return RetryPolicy::Off;
        }
        // `None` (a GRPCRoute) is refused by `gateway_api_expresses`.
        let (retry_on, status_codes) = wire.retry_conditions(api).unwrap_or_default();
        let policy = RetryPolicy::Retry(Retries {
            attempts: a.value,
            per_try_timeout: per_try.map_or(Duration::from_secs(2), |(d, _)| d),
            retry_on,
            status_codes,
        });
        // Each hop waits for every try of its upstream call (its UPSTREAM_TIMEOUT).
        let budget = policy.budget();
        if budget.is_none_or(|b| b > HopConfig::MAX_UPSTREAM_TIMEOUT) {
            let total = budget.map_or("beyond measure".into(), |b| b.to_string());
            let msg = format!(
                "(attempts + 1) x per_try_timeout is {total}, longer than the {} a hop waits \
                 for an upstream",
                HopConfig::MAX_UPSTREAM_TIMEOUT
            );
            match per_try {
                Some((_, at)) => self.err(at, msg),
                None => self.err(a, msg),
            }
        }
        policy
    }

    /// The mesh-wide policy (`meshConfig.defaultHttpRetryPolicy`), checked as
    /// a route's, with the conditions of both protocols.
    pub(super) fn mesh_retries(&mut self, r: &schema::Retries) -> RetryPolicy {
        let http = Wire::for_protocol(Protocol::Http);
        let mut policy = self.retries(r, &http, RoutingApi::Istio);
        if let RetryPolicy::Retry(retries) = &mut policy {
            retries.retry_on = mesh_retry_on();
        }
        policy
    }

    /// What the Gateway API cannot say is refused, never dropped: it has no
    /// fault injection, and a GRPCRoute has no `retry` field, so its routes
    /// keep Istio's default policy (`connect-failure,refused-stream,
    /// unavailable,cancelled`: UNAVAILABLE is retried, INTERNAL is not; Istio
    /// adds the same conditions to every HTTPRoute `retry`, conversion.go).
    /// The way out is Istio's own API, which needs sidecars.
    pub(super) fn gateway_api_expresses(
        &mut self,
        r: &schema::Routing,
        protocol: Protocol,
        data_plane: DataPlane,
        versions_of: &BTreeMap<&str, Vec<&str>>,
    ) {
        let instead = match data_plane {
            DataPlane::Sidecar => "write the routes with routing_api = \"istio\"",
            DataPlane::Ambient => {
                "use sidecars and Istio's API (data_plane = \"sidecar\", routing_api = \"istio\")"
            }
        };
        // A key naming no service is already refused for that.
        for svc in r
            .fault
            .keys()
            .filter(|k| versions_of.contains_key(k.value.as_str()))
        {
            self.err(
                svc,
                format!(
                    "the Gateway API has no fault injection; {instead} for a VirtualService \
                     `fault`"
                ),
            );
        }
        if protocol == Protocol::Grpc
            && let Some(a) = &r.retries.attempts
        {
            self.err(
                a,
                format!(
                    "a GRPCRoute has no `retry` field; its routes get Istio's default policy, \
                     which retries UNAVAILABLE and CANCELLED but not the hop's INTERNAL; leave \
                     `attempts` out for it, set [istio.mesh_retries] (MESH-WIDE: every route \
                     of every namespace without retries of its own), or {instead} for a \
                     VirtualService `retries` with `retryOn: internal`"
                ),
            );
        }
    }

    /// What the Gateway API CRDs bound, refused here rather than by the API
    /// server after a render that exited 0. Every other bound of the kinds
    /// meshgen writes is out of reach (`model::gateway_api`, and a test over
    /// the CRDs checks the list is whole).
    pub(super) fn gateway_api_limits(
        &mut self,
        ingress: &schema::Ingress,
        routing: &schema::Routing,
        weights: &BTreeMap<String, Vec<WeightedSubset>>,
    ) {
        if let Some(hosts) = &ingress.hosts
            && hosts.value.len() > crd_bounds::MAX_HOSTNAMES
        {
            self.err(
                hosts,
                format!(
                    "{} hosts, but a Gateway API route lists at most {} hostnames; use \
                     fewer hosts, a wildcard (\"*.example.com\"), or routing_api = \"istio\" \
                     (a VirtualService takes any number)",
                    hosts.value.len(),
                    crd_bounds::MAX_HOSTNAMES
                ),
            );
        }
        for (svc, table) in &routing.weights {
            let n = weights.get(&svc.value).map_or(0, Vec::len);
            if n > crd_bounds::MAX_BACKEND_REFS {
                self.err(
                    table,
                    format!(
                        "{n} versions with a weight, but a Gateway API rule sends to at most \
                         {} backends; give some of them 0 or route with routing_api = \"istio\"",
                        crd_bounds::MAX_BACKEND_REFS
                    ),
                );
            }
        }
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
        let mut distinct = BTreeSet::new();
        for (svc, c) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let (Some(subset), Some(header), Some(value)) = (&c.subset, &c.header, &c.value) else {
                self.err(svc, "a canary needs `subset`, `header` and `value`");
                continue;
            };
            self.subset_of(subset, &svc.value, versions);
            if distinct.insert(header.value.as_str())
                && distinct.len() == headers::MAX_ROUTE_HEADERS + 1
            {
                self.err(
                    header,
                    format!(
                        "routes may match on at most {} distinct headers: a request carries \
                         them through every hop in front of their routes, and each hop lists \
                         them in FORWARD_HEADERS; this is header {}",
                        headers::MAX_ROUTE_HEADERS,
                        distinct.len()
                    ),
                );
            }
            if let Err(why) = headers::check_match_name(&header.value) {
                self.err(
                    header,
                    format!(
                        "\"{}\" cannot be a canary header: {why}",
                        header.value.escape_debug()
                    ),
                );
            }
            if let Err(why) = headers::check_match_value(&value.value) {
                self.err(
                    value,
                    format!("\"{}\" can never match: {why}", value.value.escape_debug()),
                );
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
                let grpc = a.grpc_status.as_ref().and_then(|g| {
                    let code = Code::from_name(&g.value);
                    if code.is_none() {
                        self.err(
                            g,
                            format!(
                                "\"{}\" is not a gRPC code name (e.g. UNAVAILABLE, INTERNAL)",
                                g.value.escape_debug()
                            ),
                        );
                    }
                    code
                });
                // The chain's protocol decides which status an abort answers.
                let status = match wire.default_abort {
                    AbortStatus::Http(default) => {
                        AbortStatus::Http(a.http_status.as_ref().map_or(default, |h| h.value))
                    }
                    AbortStatus::Grpc(default) => AbortStatus::Grpc(grpc.unwrap_or(default)),
                };
                Some(Abort { percent, status })
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
