//! A service's traffic policy (load balancing, connection pool, outlier
//! detection) and the route keys beyond retries (timeout, mirror). Istio
//! reads a 0 in most of these fields as "unset" and would silently keep its
//! default: such values are refused with what to write instead.

use std::collections::{BTreeMap, BTreeSet};

use contract::{HopConfig, Protocol, headers};

use crate::model::{
    ConnectionPool, DataPlane, Duration, LoadBalancer, Mirror, OutlierDetection, RetryPolicy,
    RoutingApi, TrafficPolicy,
};
use crate::profile::schema;
use crate::profile::source::Sourced;

use super::Cx;

/// The most Istio's int32 fields hold.
const ISTIO_INT32: u32 = i32::MAX as u32;

/// One request per million: the finest mirror share Istio writes (Envoy's
/// fraction per million).
const MIN_MIRROR_PERCENT: f64 = 0.0001;

impl Cx<'_> {
    /// Each service's traffic policy, from the three maps keyed by service.
    pub(super) fn traffic(
        &mut self,
        r: &schema::Routing,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
    ) -> BTreeMap<String, TrafficPolicy> {
        let mut out: BTreeMap<String, TrafficPolicy> = BTreeMap::new();
        for (svc, lb) in &r.load_balancer {
            if self.routed_service(svc, versions_of, known_list).is_some()
                && let Some(lb) = self.load_balancer(svc, lb)
            {
                out.entry(svc.value.clone()).or_default().load_balancer = Some(lb);
            }
        }
        for (svc, pool) in &r.connection_pool {
            if self.routed_service(svc, versions_of, known_list).is_some()
                && let Some(pool) = self.connection_pool(svc, pool)
            {
                out.entry(svc.value.clone()).or_default().connection_pool = Some(pool);
            }
        }
        for (svc, o) in &r.outlier_detection {
            if self.routed_service(svc, versions_of, known_list).is_some()
                && let Some(o) = self.outlier_detection(svc, o)
            {
                out.entry(svc.value.clone()).or_default().outlier_detection = Some(o);
            }
        }
        out
    }

    fn load_balancer(
        &mut self,
        svc: &Sourced<String>,
        lb: &schema::LoadBalancer,
    ) -> Option<LoadBalancer> {
        match (&lb.simple, &lb.consistent_hash) {
            (Some(s), None) => Some(LoadBalancer::Simple { policy: s.value }),
            (None, Some(hash)) => {
                let Some(h) = &hash.http_header_name else {
                    self.err(
                        svc,
                        "load_balancer.consistent_hash needs `http_header_name`",
                    );
                    return None;
                };
                if let Err(why) = headers::check_match_name(&h.value) {
                    self.err(
                        h,
                        format!("\"{}\" cannot be hashed on: {why}", h.value.escape_debug()),
                    );
                    return None;
                }
                Some(LoadBalancer::ConsistentHash {
                    http_header_name: h.value.clone(),
                })
            }
            (Some(s), Some(_)) => {
                self.err(
                    s,
                    "load_balancer takes `simple` or `consistent_hash`, not both (Istio's \
                     `loadBalancer` is one or the other)",
                );
                None
            }
            (None, None) => {
                self.err(svc, "load_balancer needs `simple` or `consistent_hash`");
                None
            }
        }
    }

    /// A limit Istio applies only when positive, and holds in an int32.
    fn limit(&mut self, v: &Option<Sourced<u32>>, what: &str) -> Option<u32> {
        let v = v.as_ref()?;
        if v.value == 0 {
            self.err(
                v,
                format!(
                    "{what} = 0 is read by Istio as unset (no limit); leave it out for no \
                     limit, or give at least 1"
                ),
            );
        } else if v.value > ISTIO_INT32 {
            self.err(
                v,
                format!("{what} is at most {ISTIO_INT32} (an int32 in Istio's API)"),
            );
        }
        Some(v.value)
    }

    fn connection_pool(
        &mut self,
        svc: &Sourced<String>,
        p: &schema::ConnectionPool,
    ) -> Option<ConnectionPool> {
        let pool = ConnectionPool {
            max_connections: self.limit(&p.tcp.max_connections, "tcp.max_connections"),
            http1_max_pending_requests: self.limit(
                &p.http.http1_max_pending_requests,
                "http.http1_max_pending_requests",
            ),
            http2_max_requests: self.limit(&p.http.http2_max_requests, "http.http2_max_requests"),
            max_requests_per_connection: self.limit(
                &p.http.max_requests_per_connection,
                "http.max_requests_per_connection",
            ),
        };
        if pool == ConnectionPool::default() {
            self.err(
                svc,
                "connection_pool sets no limit: give tcp.max_connections, \
                 http.http1_max_pending_requests, http.http2_max_requests or \
                 http.max_requests_per_connection",
            );
            return None;
        }
        Some(pool)
    }

    fn outlier_detection(
        &mut self,
        svc: &Sourced<String>,
        o: &schema::OutlierDetection,
    ) -> Option<OutlierDetection> {
        // What ejects: a positive count. Neither given would silently be
        // Envoy's 5 consecutive 5xx; a 0 turns a kind off, and the gateway
        // kind is off unless given.
        let count = |c: &Option<Sourced<u32>>| c.as_ref().map(|c| c.value);
        match (
            count(&o.consecutive_5xx_errors),
            count(&o.consecutive_gateway_errors),
        ) {
            (None, None) => self.err(
                svc,
                "outlier_detection needs consecutive_5xx_errors or consecutive_gateway_errors \
                 (without either, Envoy's default of 5 consecutive 5xx would apply unsaid)",
            ),
            (Some(0), None | Some(0)) | (None, Some(0)) => self.err(
                svc,
                "no pod would ever be ejected: consecutive_5xx_errors is 0 and \
                 consecutive_gateway_errors 0 or unset; leave outlier_detection out instead",
            ),
            _ => {}
        }
        if let Some(p) = &o.max_ejection_percent {
            match p.value {
                0 => self.err(
                    p,
                    "0 is read by Istio as unset (10%); give a percentage from 1 to 100",
                ),
                101.. => self.err(p, format!("{} is not a percentage from 1 to 100", p.value)),
                _ => {}
            }
        }
        Some(OutlierDetection {
            // Left out, Envoy would eject after 5 consecutive 5xx: when only
            // the gateway kind is asked for, the 5xx kind is written off.
            consecutive_5xx_errors: match (&o.consecutive_5xx_errors, &o.consecutive_gateway_errors)
            {
                (Some(c), _) => Some(c.value),
                (None, Some(_)) => Some(0),
                (None, None) => None,
            },
            consecutive_gateway_errors: o.consecutive_gateway_errors.as_ref().map(|c| c.value),
            interval: o.interval.as_ref().map(|d| self.duration(d)),
            base_ejection_time: o.base_ejection_time.as_ref().map(|d| self.duration(d)),
            max_ejection_percent: o.max_ejection_percent.as_ref().map(|p| p.value),
        })
    }

    /// Each service's route timeout. A GRPCRoute has none; a timeout shorter
    /// than a try would end every request before its retries.
    pub(super) fn timeouts(
        &mut self,
        map: &BTreeMap<Sourced<String>, Sourced<String>>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
        retries: &RetryPolicy,
        mesh_retries: &RetryPolicy,
        (protocol, api, data_plane): (Protocol, RoutingApi, DataPlane),
    ) -> BTreeMap<String, Duration> {
        let mut out = BTreeMap::new();
        for (svc, t) in map {
            if self.routed_service(svc, versions_of, known_list).is_none() {
                continue;
            }
            if api == RoutingApi::GatewayApi && protocol == Protocol::Grpc {
                let instead = match data_plane {
                    DataPlane::Sidecar => "routing_api = \"istio\"",
                    DataPlane::Ambient => {
                        "sidecars and Istio's API (data_plane = \"sidecar\", routing_api = \"istio\")"
                    }
                };
                self.err(
                    t,
                    format!(
                        "a GRPCRoute has no `timeouts`: a gRPC caller gives its own deadline \
                         (`grpc-timeout`), which Istio honours; for a route timeout use \
                         {instead}, whose VirtualService `timeout` caps it"
                    ),
                );
                continue;
            }
            let before = self.errors.len();
            let d = self.duration(t);
            if self.errors.len() > before {
                continue;
            }
            // The caller's hop waits a second longer, within its own bound.
            let longest =
                Duration::from_nanos(HopConfig::MAX_UPSTREAM_TIMEOUT.as_nanos() - 1_000_000_000);
            if d > longest {
                self.err(
                    t,
                    format!(
                        "\"{}\" is longer than {longest}: the caller's hop waits a second more, \
                         and at most {}",
                        t.value,
                        HopConfig::MAX_UPSTREAM_TIMEOUT
                    ),
                );
            }
            // The route's own retries, or the mesh-wide ones it gets.
            let (policy, key) = match retries {
                RetryPolicy::Default => (mesh_retries, "istio.mesh_retries.per_try_timeout"),
                own => (own, "retries.per_try_timeout"),
            };
            if let RetryPolicy::Retry(r) = policy
                && d < r.per_try_timeout
            {
                self.err(
                    t,
                    format!(
                        "\"{}\" is shorter than {key} ({}): the route's timeout would end \
                         every request during its first try, and no retry would run (an \
                         HTTPRoute refuses it too: backendRequest must not exceed request)",
                        t.value, r.per_try_timeout
                    ),
                );
            }
            out.insert(svc.value.clone(), d);
        }
        out
    }

    /// Each service's mirror: a version of it, a percentage; `split_of`,
    /// the subsets each service's default rule sends to.
    pub(super) fn mirrors(
        &mut self,
        map: &BTreeMap<Sourced<String>, schema::Mirror>,
        versions_of: &BTreeMap<&str, Vec<&str>>,
        known_list: &str,
        split_of: &BTreeMap<&str, Vec<&str>>,
    ) -> BTreeMap<String, Mirror> {
        let mut out = BTreeMap::new();
        for (svc, m) in map {
            let Some(versions) = self.routed_service(svc, versions_of, known_list) else {
                continue;
            };
            let Some(subset) = &m.subset else {
                self.err(
                    svc,
                    "a mirror needs `subset` (the version that receives the copies)",
                );
                continue;
            };
            self.subset_of(subset, &svc.value, versions);
            let percent = m.percent.as_ref().map_or(100.0, |p| self.percent(p));
            // 0 is Istio's "no mirror": how a layer turns an inherited one off.
            if percent == 0.0 {
                continue;
            }
            if let Some(p) = &m.percent
                && percent < MIN_MIRROR_PERCENT
            {
                self.err(
                    p,
                    format!(
                        "{} is below {MIN_MIRROR_PERCENT} percent, one request per million, \
                         the finest share Envoy mirrors (Istio would write 0: no mirror)",
                        p.value
                    ),
                );
            }
            // Copies of what already goes there would reach the same pods twice.
            if split_of
                .get(svc.value.as_str())
                .is_some_and(|w| *w == [subset.value.as_str()])
            {
                self.err(
                    subset,
                    format!(
                        "every request of {} already goes to \"{}\" (its default rule): the \
                         copies would reach the same pods a second time; mirror to another \
                         version",
                        svc.value, subset.value
                    ),
                );
            }
            out.insert(
                svc.value.clone(),
                Mirror {
                    subset: subset.value.clone(),
                    percent,
                },
            );
        }
        out
    }

    /// The hash headers count among the headers routes match on: each hop in
    /// front forwards them.
    pub(super) fn hash_headers_fit(
        &mut self,
        r: &schema::Routing,
        canary_headers: &BTreeSet<&str>,
    ) {
        let mut distinct = canary_headers.clone();
        for lb in r.load_balancer.values() {
            if let Some(h) = lb
                .consistent_hash
                .as_ref()
                .and_then(|c| c.http_header_name.as_ref())
                && distinct.insert(h.value.as_str())
                && distinct.len() == headers::MAX_ROUTE_HEADERS + 1
            {
                self.err(
                    h,
                    format!(
                        "routes and load balancers may read at most {} distinct headers (each \
                         hop in front forwards them); this is header {}",
                        headers::MAX_ROUTE_HEADERS,
                        distinct.len()
                    ),
                );
            }
        }
    }
}
