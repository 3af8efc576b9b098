//! Random *valid* profiles, for the properties of properties.rs: what is
//! generated ([`GenProfile`], written out as TOML) and the proptest
//! strategies that generate it ([`profile`]). Every generated profile must be
//! accepted by `meshgen::validate::resolve`, so the generator avoids what
//! validation rightly refuses: call cycles (a service calls only later ones),
//! colliding object names (the chain's, and those Istio makes for its
//! Gateways: see [`GenProfile::identities`]), an external host port called
//! both with and without TLS, names kubectl would misread
//! (`no`, `on`...), a per-try timeout without retries, ambient with
//! `routing_api = "istio"` or with `egress = "REGISTRY_ONLY"`, and what the
//! Gateway API cannot say (faults; retries on a GRPCRoute).
//!
//! The mesh is any valid pick of `istio.data_plane` (sidecar, ambient or
//! unset), `istio.routing_api` (istio, gateway-api or unset) and
//! `istio.revision` (unset or a DNS label). Now and then a service gets a name
//! that collides under some meshes and not others (`waypoint`,
//! `a-waypoint`, `a-prod`, `a-gateway-istio`...): the profiles where it collides
//! are filtered out, the others must be accepted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};

/// Versions a service may have besides the default subset.
const EXTRA_VERSIONS: [&str; 4] = ["canary", "v2", "beta", "exp-1"];
pub const DEFAULT_SUBSET: &str = "prod";
const GRPC_CODES: [&str; 4] = [
    "UNAVAILABLE",
    "INTERNAL",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
];

/// Whether `resolve` refuses the DNS label `name` because kubectl would
/// misread it (YAML 1.1: a boolean, a null, a decimal, octal, hexadecimal or
/// binary integer; a label has no `.`, `_`, `:` or sign, so no float).
fn misread_by_kubectl(name: &str) -> bool {
    let all = |s: &str, ok: fn(u8) -> bool| !s.is_empty() && s.bytes().all(ok);
    let word = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"].contains(&name);
    let binary = name
        .strip_prefix("0b")
        .is_some_and(|b| all(b, |c| c == b'0' || c == b'1'));
    let hex = name
        .strip_prefix("0x")
        .is_some_and(|x| all(x, |c| c.is_ascii_hexdigit()));
    word || binary || hex || all(name, |c| c.is_ascii_digit())
}

/// Service names that collide with another object under some meshes only:
/// Istio's waypoint (ambient), a service's L7 policy `<svc>-waypoint`
/// (ambient with mTLS), a version's Service `<svc>-<version>` (Gateway API),
/// the Deployment, Service and ServiceAccount Istio makes for the entry
/// gateway `<entry>-gateway-istio` (Gateway API), the entry route
/// `<entry>-ingress`; and `a` itself, whose objects they would collide with.
const NEAR_MISSES: [&str; 8] = [
    "a",
    "waypoint",
    "a-waypoint",
    "a-prod",
    "a-canary",
    "a-gateway",
    "a-gateway-istio",
    "a-ingress",
];

// ---------------------------------------------------------------------------
// Generated profiles and their TOML
// ---------------------------------------------------------------------------

/// A TOML key and value, e.g. `("istio.mtls", "true")`.
pub type Setting = (String, String);

#[derive(Clone, Debug, Default)]
pub struct GenService {
    pub name: String,
    /// Always contains the default subset.
    pub versions: Vec<String>,
    /// Whether `versions` is written (it may be left out when it is only the default).
    pub write_versions: bool,
    /// Service names (only later services, so no cycles) and URLs, in call order.
    pub upstreams: Vec<String>,
    /// More keys of the service (`replicas`, `work`).
    pub keys: Vec<Setting>,
    /// Its `routing.canary`, `routing.weights` and `routing.fault` settings.
    pub routing: Vec<Setting>,
}

#[derive(Clone)]
pub struct GenProfile {
    pub name: String,
    pub namespace: String,
    /// `ingress.service`, when written.
    pub entry: Option<String>,
    /// More settings, as dotted keys (`istio.mtls`, `routing.retries`...).
    pub settings: Vec<Setting>,
    pub services: Vec<GenService>,
}

/// A TOML basic string (generated values hold no quote, backslash or control).
pub fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

impl GenService {
    pub fn new(name: &str, versions: Vec<String>, upstreams: Vec<String>) -> Self {
        let mut s = GenService::default();
        (s.name, s.versions, s.upstreams) = (name.to_owned(), versions, upstreams);
        s.write_versions = true;
        s
    }

    fn toml(&self, t: &mut String) {
        write!(t, "\n[[service]]\nname = {}\n", q(&self.name)).unwrap();
        if self.write_versions {
            writeln!(t, "versions = {}", list(&self.versions)).unwrap();
        }
        match self.upstreams.as_slice() {
            [] => {}
            [one] => writeln!(t, "upstream = {}", q(one)).unwrap(),
            many => writeln!(t, "upstream = {}", list(many)).unwrap(),
        }
        for (k, v) in &self.keys {
            writeln!(t, "{k} = {v}").unwrap();
        }
    }
}

impl GenProfile {
    pub fn new(name: &str, namespace: &str, services: Vec<GenService>) -> Self {
        let (name, namespace) = (name.to_owned(), namespace.to_owned());
        let (entry, settings) = (None, vec![]);
        GenProfile {
            name,
            namespace,
            entry,
            settings,
            services,
        }
    }

    pub fn toml(&self) -> String {
        let (name, namespace) = (q(&self.name), q(&self.namespace));
        let mut t = format!("name = {name}\nnamespace = {namespace}\n");
        if let Some(entry) = &self.entry {
            writeln!(t, "ingress.service = {}", q(entry)).unwrap();
        }
        let routing = self.services.iter().flat_map(|s| &s.routing);
        for (k, v) in self.settings.iter().chain(routing) {
            writeln!(t, "{k} = {v}").unwrap();
        }
        self.services.iter().for_each(|s| s.toml(&mut t));
        t
    }

    /// The raw TOML value of setting `key`, when written.
    fn value(&self, key: &str) -> Option<&str> {
        let found = self.settings.iter().rev().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_str())
    }

    pub fn grpc(&self) -> bool {
        self.value("protocol") == Some("\"grpc\"")
    }

    pub fn mtls(&self) -> bool {
        self.value("istio.mtls") == Some("true")
    }

    pub fn stubs(&self) -> bool {
        self.value("stub_external") == Some("true")
    }

    pub fn ambient(&self) -> bool {
        self.value("istio.data_plane") == Some("\"ambient\"")
    }

    /// Whether the routes are the Gateway API's: written so, or left to
    /// ambient's default.
    pub fn gateway_api(&self) -> bool {
        match self.value("istio.routing_api") {
            Some(api) => api == "\"gateway-api\"",
            None => self.ambient(),
        }
    }

    /// The entry service.
    pub fn entry(&self) -> &str {
        self.entry.as_ref().unwrap_or(&self.services[0].name)
    }

    /// What the profile is made of in the chain's namespace, as (kind, name),
    /// as docs/profile.md describes it (written here independently of
    /// `meshgen::model::identity`, which the properties check against the
    /// rendered objects), plus what Istio makes there for the Gateways.
    pub fn identities(&self) -> Vec<(&'static str, String)> {
        let (gateway_api, ambient, mtls) = (self.gateway_api(), self.ambient(), self.mtls());
        let route = match (gateway_api, self.grpc()) {
            (false, _) => "VirtualService",
            (true, false) => "HTTPRoute",
            (true, true) => "GRPCRoute",
        };
        let made_by_istio = ["Deployment", "Service", "ServiceAccount"];
        let mut ids = vec![("NetworkPolicy", "chain-ingress".to_owned())];
        if ambient {
            ids.push(("Gateway", "waypoint".to_owned()));
            ids.extend(made_by_istio.map(|k| (k, "waypoint".to_owned())));
        }
        if mtls {
            ids.push(("PeerAuthentication", "default".to_owned()));
            if ambient {
                ids.push(("PeerAuthentication", "hop-metrics".to_owned()));
            }
        }
        for s in &self.services {
            let name = &s.name;
            ids.extend(["ServiceAccount", "Service", route].map(|k| (k, name.clone())));
            if !gateway_api {
                ids.push(("DestinationRule", name.clone()));
            }
            if mtls {
                ids.push(("AuthorizationPolicy", name.clone()));
            }
            if mtls && ambient {
                ids.push(("AuthorizationPolicy", format!("{name}-waypoint")));
            }
            for v in &s.versions {
                ids.push(("Deployment", format!("{name}-{v}")));
                if gateway_api {
                    ids.push(("Service", format!("{name}-{v}")));
                }
            }
        }
        let gateway = format!("{}-gateway", self.entry());
        ids.push(("Gateway", gateway.clone()));
        if gateway_api {
            ids.push(("NetworkPolicy", gateway.clone()));
            ids.extend(made_by_istio.map(|k| (k, format!("{gateway}-istio"))));
        }
        ids.push((route, format!("{}-ingress", self.entry())));
        // External hosts: a ServiceEntry each, or with stub_external a stub
        // workload named the same (`time.example` -> `time-example`).
        let hosts: BTreeSet<String> = self
            .services
            .iter()
            .flat_map(|s| &s.upstreams)
            .filter_map(|u| u.split_once("://"))
            .map(|(_, rest)| {
                let authority = rest.split('/').next().unwrap_or_default();
                authority
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .replace('.', "-")
            })
            .collect();
        for name in hosts {
            if !self.stubs() {
                ids.push(("ServiceEntry", name));
                continue;
            }
            ids.extend(["ServiceAccount", "Service", "Deployment"].map(|k| (k, name.clone())));
            if mtls {
                ids.push(("AuthorizationPolicy", name.clone()));
            }
            if mtls && ambient {
                ids.push(("AuthorizationPolicy", format!("{name}-waypoint")));
            }
        }
        ids
    }

    /// No two objects of [`Self::identities`] may share an identity
    /// (validate would rightly refuse the profile): e.g. workloads
    /// `{service}-{version}`, the entry route `{entry}-ingress`, Istio's
    /// `waypoint`.
    pub fn identities_are_distinct(&self) -> bool {
        let mut seen = BTreeSet::new();
        self.identities().into_iter().all(|id| seen.insert(id))
    }

    /// Each port of an external host is called over one protocol (validate
    /// rightly refuses `http://h:443/` beside `https://h/`).
    pub fn external_ports_agree(&self) -> bool {
        let mut tls_of = BTreeMap::new();
        let urls = self.services.iter().flat_map(|s| &s.upstreams);
        urls.filter_map(|u| u.split_once("://"))
            .all(|(scheme, rest)| {
                let tls = scheme == "https";
                let authority = rest.split('/').next().unwrap_or_default();
                let (host, port) = match authority.split_once(':') {
                    Some((host, port)) => (host, port.parse::<u16>().expect("generated port")),
                    None => (authority, if tls { 443 } else { 80 }),
                };
                *tls_of.entry((host.to_owned(), port)).or_insert(tls) == tls
            })
    }

    /// Drops what the mesh cannot do, which validate rightly refuses: faults
    /// under the Gateway API, retries on a GRPCRoute, `REGISTRY_ONLY` egress
    /// in ambient mode (ztunnel does not enforce it), a sampling rate of its
    /// own for a chain behind the shared ingress gateway (Istio's API) or
    /// without tracing.
    fn expressible(mut self) -> Self {
        // A mirror to the version the default rule sends everything to is
        // refused (the copies would reach the same pods twice).
        for s in &mut self.services {
            let weights = s
                .routing
                .iter()
                .find(|(k, _)| k.starts_with("routing.weights."));
            let everything_to = |v: &str| match weights {
                Some((_, w)) => w.contains(&format!("{v} = 100")),
                None => v == DEFAULT_SUBSET,
            };
            let mirrored_to = |value: &str| {
                let after = value.split("subset = \"").nth(1)?;
                after.split('"').next().map(str::to_owned)
            };
            let doomed = s.routing.iter().any(|(k, v)| {
                k.starts_with("routing.mirror.")
                    && mirrored_to(v).is_some_and(|m| everything_to(&m))
            });
            if doomed {
                s.routing.retain(|(k, _)| !k.starts_with("routing.mirror."));
            }
        }
        if !self.gateway_api() {
            self.settings
                .retain(|(k, v)| k != "istio.trace_sampling" || v == "100.0");
        }
        if self.value("istio.tracing") != Some("true") {
            self.settings.retain(|(k, _)| k != "istio.trace_sampling");
        }
        if self.ambient() {
            self.settings
                .retain(|(k, v)| k != "istio.egress" || v != "\"REGISTRY_ONLY\"");
        }
        if self.gateway_api() {
            for s in &mut self.services {
                s.routing.retain(|(k, _)| !k.starts_with("routing.fault."));
            }
            if self.grpc() {
                self.settings.retain(|(k, _)| k != "routing.retries");
                // A GRPCRoute has no `timeouts`.
                for s in &mut self.services {
                    s.routing
                        .retain(|(k, _)| !k.starts_with("routing.timeout."));
                }
            }
        }
        self
    }
}

/// The profile text, so proptest prints the minimal failing profile readably.
impl fmt::Debug for GenProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let toml = self.toml();
        write!(f, "\n----- profile.toml -----\n{toml}-------")
    }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// A name from `regex` that meshgen accepts (kubectl would misread some).
fn name(regex: &'static str) -> impl Strategy<Value = String> {
    regex.prop_filter("kubectl misreads it", |n| !misread_by_kubectl(n))
}

type MaybeSetting = BoxedStrategy<Option<Setting>>;

/// With probability `p`, the setting `key = value`.
fn setting<S>(key: impl Into<String>, p: f64, value: S) -> MaybeSetting
where
    S: Strategy<Value = String> + 'static,
{
    let key = key.into();
    weighted(p, value.prop_map(move |v| (key.clone(), v))).boxed()
}

/// The settings that are present.
fn present(settings: Vec<MaybeSetting>) -> impl Strategy<Value = Vec<Setting>> {
    settings.prop_map(|s| s.into_iter().flatten().collect())
}

fn percent() -> impl Strategy<Value = String> {
    (0u32..=1000).prop_map(|n| format!("{}.{}", n / 10, n % 10))
}

/// A duration Istio takes, short enough that 6 tries fit in a hop's hour.
fn duration() -> impl Strategy<Value = String> {
    let listed = ["1.005s", "500ms", "2s", "1m", "250ms", "1ms", "1.5s"];
    let seconds = (0u32..=599, 0u32..1000).prop_filter("1ms or more", |(s, ms)| s + ms > 0);
    prop_oneof![
        select(listed.to_vec()).prop_map(q),
        (1u32..=600_000).prop_map(|ms| q(&format!("{ms}ms"))),
        seconds.prop_map(|(s, ms)| q(&format!("{s}.{ms:03}s"))),
    ]
}

fn flag() -> impl Strategy<Value = String> {
    any::<bool>().prop_map(|b| b.to_string())
}

fn one_of(values: &[&'static str]) -> impl Strategy<Value = String> + use<> {
    select(values.to_vec()).prop_map(q)
}

/// `istio.revision`: a DNS label kubectl reads as a string.
fn revision() -> impl Strategy<Value = String> {
    let listed = select(vec![
        "canary", "stable", "1-28", "1-28-0", "prod-2", "1e3", "0x",
    ]);
    let any = "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?";
    prop_oneof![listed.prop_map(str::to_owned), any]
        .prop_filter("kubectl misreads it", |r| !misread_by_kubectl(r))
        .prop_map(|r| q(&r))
}

/// `istio.data_plane` and `istio.routing_api`, each written or not: every
/// pair but ambient with `routing_api = "istio"` (refused: ambient routes at
/// the waypoint, which takes Gateway API routes).
pub fn mesh() -> impl Strategy<Value = Vec<Setting>> + use<> {
    let planes = [None, Some("sidecar"), Some("ambient")];
    let apis = [None, Some("istio"), Some("gateway-api")];
    let pairs = planes.into_iter().flat_map(|p| apis.map(|a| (p, a)));
    let valid: Vec<_> = pairs
        .filter(|&p| p != (Some("ambient"), Some("istio")))
        .collect();
    select(valid).prop_map(|(plane, api)| {
        let plane = plane.map(|p| ("istio.data_plane".to_owned(), q(p)));
        let api = api.map(|a| ("istio.routing_api".to_owned(), q(a)));
        plane.into_iter().chain(api).collect()
    })
}

/// The top-level settings besides the names and the entry.
fn settings() -> impl Strategy<Value = Vec<Setting>> {
    let hosts = ["*", "demo.example", "*.apps.example", "a-b.c.example"];
    let hosts = subsequence(hosts.map(str::to_owned).to_vec(), 1..=3);
    let retries = (0u32..=5, prop::option::of(duration())).prop_map(|(a, d)| match d {
        // A per-try timeout with no retries is refused (it would have no effect).
        Some(d) if a > 0 => format!("{{ attempts = {a}, per_try_timeout = {d} }}"),
        _ => format!("{{ attempts = {a} }}"),
    });
    let tag = "[a-z0-9][a-z0-9._-]{0,10}".prop_map(|t| q(&t));
    let others = present(vec![
        setting("protocol", 0.5, one_of(&["http", "grpc"])),
        setting("istio.mtls", 0.5, flag()),
        setting("istio.tracing", 0.5, flag()),
        setting("istio.grafana", 0.5, flag()),
        setting("istio.servicegraph", 0.5, flag()),
        setting("istio.access_log", 0.5, flag()),
        setting("istio.egress", 0.5, one_of(&["REGISTRY_ONLY", "ALLOW_ANY"])),
        setting("istio.trace_sampling", 0.2, percent()),
        setting("image.tag", 0.2, tag),
        setting("ingress.hosts", 0.3, hosts.prop_map(|h| list(&h))),
        setting("routing.default_subset", 0.5, Just(q(DEFAULT_SUBSET))),
        setting("routing.retries", 0.6, retries),
        setting("istio.revision", 0.3, revision()),
        setting("stub_external", 0.2, flag()),
    ]);
    (mesh(), others).prop_map(|(mesh, others)| mesh.into_iter().chain(others).collect())
}

fn external_url() -> impl Strategy<Value = String> {
    let scheme = select(vec!["http", "https"]);
    let port = prop::option::of(select(vec![80u16, 443, 8080, 8443, 9000]));
    let path = select(vec!["/", "/api", "/v1/time", ""]);
    (scheme, "[a-z]{1,6}", port, path).prop_map(|(scheme, host, port, path)| {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}://{host}.example.com{port}{path}")
    })
}

/// A canary of one of `versions` on a header, as a TOML inline table.
fn canary(versions: Vec<String>) -> impl Strategy<Value = String> {
    // Names the policy refuses (`x-auth`, `x-token`...) are left out.
    let allowed = |h: &String| contract::headers::check_match_name(h).is_ok();
    let random = "x-[a-z]{1,8}".prop_filter("a header routes may match on", allowed);
    let header = prop_oneof![1 => Just("x-dev-user".to_owned()), 4 => random];
    // Printable ASCII from a safe set, no surrounding spaces; a leading `v`
    // keeps it from being a YAML 1.1 boolean or number, which is refused.
    let value = "v([A-Za-z0-9 _.-]{0,14}[A-Za-z0-9_.-])?";
    (select(versions), header, value).prop_map(|(subset, header, value)| {
        let (subset, header, value) = (q(&subset), q(&header), q(&value));
        format!("{{ subset = {subset}, header = {header}, value = {value} }}")
    })
}

/// Weights of `versions` summing to 100, zero weights included now and then,
/// as a TOML inline table.
fn weights(versions: Vec<String>) -> impl Strategy<Value = String> {
    let cut = prop_oneof![1 => Just(0u32), 1 => Just(100u32), 4 => 0u32..=100];
    prop::collection::vec(cut, versions.len() - 1).prop_map(move |mut cuts| {
        cuts.sort_unstable();
        let bounds: Vec<u32> = [0].into_iter().chain(cuts).chain([100]).collect();
        let shares = bounds.windows(2).map(|w| w[1] - w[0]);
        let split = versions
            .iter()
            .zip(shares)
            .map(|(v, w)| format!("{v} = {w}"));
        format!("{{ {} }}", split.collect::<Vec<_>>().join(", "))
    })
}

/// An abort, a delay or both, as a TOML inline table.
fn fault() -> impl Strategy<Value = String> {
    prop_oneof![
        abort().prop_map(|a| format!("{{ {a} }}")),
        delay().prop_map(|d| format!("{{ {d} }}")),
        (abort(), delay()).prop_map(|(a, d)| format!("{{ {a}, {d} }}")),
    ]
}

fn abort() -> impl Strategy<Value = String> {
    let http = prop::option::of(200u16..=599);
    let grpc = prop::option::of(one_of(&GRPC_CODES));
    (percent(), http, grpc).prop_map(|(p, http, grpc)| {
        let http = http.map(|h| format!(", http_status = {h}"));
        let grpc = grpc.map(|g| format!(", grpc_status = {g}"));
        let (http, grpc) = (http.unwrap_or_default(), grpc.unwrap_or_default());
        format!("abort = {{ percent = {p}{http}{grpc} }}")
    })
}

fn delay() -> impl Strategy<Value = String> {
    let delay = (duration(), percent());
    delay.prop_map(|(d, p)| format!("delay = {{ fixed = {d}, percent = {p} }}"))
}

/// A route header name the policy allows (`x-auth`, `x-token`... are not).
fn route_header() -> impl Strategy<Value = String> {
    let allowed = |h: &String| contract::headers::check_match_name(h).is_ok();
    "x-[a-z]{1,8}".prop_filter("a header routes may match on", allowed)
}

/// A load balancer, simple or hashing a header, as a TOML inline table.
fn load_balancer() -> impl Strategy<Value = String> {
    prop_oneof![
        one_of(&["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"])
            .prop_map(|p| format!("{{ simple = {p} }}")),
        route_header()
            .prop_map(|h| format!("{{ consistent_hash = {{ http_header_name = {} }} }}", q(&h))),
    ]
}

/// A connection pool with every limit, each from 1 up.
fn connection_pool() -> impl Strategy<Value = String> {
    let n = || prop_oneof![1 => Just(1u32), 1 => Just(2_147_483_647u32), 4 => 1u32..=1000];
    (n(), n(), n(), n()).prop_map(|(c, p, r, k)| {
        format!(
            "{{ tcp = {{ max_connections = {c} }}, http = {{ http1_max_pending_requests = {p}, \
             http2_max_requests = {r}, max_requests_per_connection = {k} }} }}"
        )
    })
}

fn outlier_detection() -> impl Strategy<Value = String> {
    let count = 1u32..=20;
    let gateway = prop::option::of(0u32..=20);
    (count, gateway, duration(), duration(), 1u32..=100).prop_map(|(c, g, i, b, m)| {
        let g = g
            .map(|g| format!(", consecutive_gateway_errors = {g}"))
            .unwrap_or_default();
        format!(
            "{{ consecutive_5xx_errors = {c}{g}, interval = {i}, base_ejection_time = {b}, \
             max_ejection_percent = {m} }}"
        )
    })
}

/// A mirror to one of `versions`, above 0 %, whole or not.
fn mirror(versions: Vec<String>) -> impl Strategy<Value = String> {
    let percent = prop_oneof![
        (1u32..=100).prop_map(|p| p.to_string()),
        Just("12.5".to_owned())
    ];
    (select(versions), percent)
        .prop_map(|(v, p)| format!("{{ subset = {}, percent = {p} }}", q(&v)))
}

/// The routing settings of service `name` with `versions`. A route timeout
/// longer than any generated per-try timeout (10 min at most), so the
/// retries' tries always fit in it.
fn routing(name: &str, versions: &[String]) -> impl Strategy<Value = Vec<Setting>> + use<> {
    let timeout = one_of(&["11m", "30m", "59m"]);
    let mut all = vec![
        setting(format!("routing.fault.{name}"), 0.15, fault()),
        setting(format!("routing.timeout.{name}"), 0.15, timeout),
        setting(
            format!("routing.load_balancer.{name}"),
            0.2,
            load_balancer(),
        ),
        setting(
            format!("routing.connection_pool.{name}"),
            0.15,
            connection_pool(),
        ),
        setting(
            format!("routing.outlier_detection.{name}"),
            0.15,
            outlier_detection(),
        ),
    ];
    if versions.len() > 1 {
        let (canary, weights) = (canary(versions.to_vec()), weights(versions.to_vec()));
        all.push(setting(format!("routing.canary.{name}"), 0.5, canary));
        all.push(setting(format!("routing.weights.{name}"), 0.4, weights));
        all.push(setting(
            format!("routing.mirror.{name}"),
            0.2,
            mirror(versions.to_vec()),
        ));
    }
    present(all)
}

/// The default subset and up to two more versions, in any order.
fn versions() -> impl Strategy<Value = Vec<String>> {
    let extra = subsequence(EXTRA_VERSIONS.to_vec(), 0..=2);
    (extra, any::<Index>()).prop_map(|(extra, at)| {
        let mut versions: Vec<String> = extra.into_iter().map(str::to_owned).collect();
        versions.insert(at.index(versions.len() + 1), DEFAULT_SUBSET.to_owned());
        versions
    })
}

/// Some of `later` services in any order, and now and then one URL among them.
fn upstreams(later: Vec<String>) -> impl Strategy<Value = Vec<String>> {
    let calls = subsequence(later.clone(), 0..=later.len()).prop_shuffle();
    let url = weighted(0.25, external_url());
    (calls, url, any::<Index>()).prop_map(|(mut calls, url, at)| {
        if let Some(url) = url {
            calls.insert(at.index(calls.len() + 1), url);
        }
        calls
    })
}

/// Service `i` of `names`: calls only services after it, so no cycles.
fn service(names: &[String], i: usize) -> impl Strategy<Value = GenService> + use<> {
    let name = names[i].clone();
    let keys = present(vec![
        setting("replicas", 0.2, (1u32..=3).prop_map(|r| r.to_string())),
        setting("work", 0.3, flag()),
    ]);
    let parts = (
        versions(),
        upstreams(names[i + 1..].to_vec()),
        keys,
        any::<bool>(),
    );
    parts.prop_flat_map(move |(versions, upstreams, keys, write)| {
        let routing = routing(&name, &versions);
        let write_versions = write || versions.len() > 1;
        let s = GenService {
            write_versions,
            keys,
            ..GenService::new(&name, versions, upstreams)
        };
        (Just(s), routing).prop_map(|(s, routing)| GenService { routing, ..s })
    })
}

pub fn profile() -> impl Strategy<Value = GenProfile> {
    let one = prop_oneof![
        12 => name("[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?").boxed(),
        1 => select(NEAR_MISSES.to_vec()).prop_map(str::to_owned).boxed(),
    ];
    let names = prop::collection::vec(one, 1..=8);
    let services = names.prop_flat_map(|mut names| {
        let mut seen = BTreeSet::new();
        names.retain(|n| seen.insert(n.clone()));
        (0..names.len())
            .map(|i| service(&names, i))
            .collect::<Vec<_>>()
    });
    let names = (name("[a-z][a-z0-9]{0,8}"), "mg-[a-z0-9]{1,8}");
    let entry = weighted(0.3, any::<Index>());
    (names, entry, settings(), services)
        .prop_map(|((name, namespace), entry, settings, services)| {
            let entry = entry.map(|i| i.get(&services).name.clone());
            let p = GenProfile {
                entry,
                settings,
                ..GenProfile::new(&name, &namespace, services)
            };
            p.expressible()
        })
        .prop_filter("distinct identities", GenProfile::identities_are_distinct)
        .prop_filter("one protocol per port", GenProfile::external_ports_agree)
}
