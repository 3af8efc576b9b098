//! Random *valid* profiles, for the properties of properties.rs: what is
//! generated ([`GenProfile`], written out as TOML) and the proptest
//! strategies that generate it ([`profile`]). Every generated profile must be
//! accepted by `meshgen::validate::resolve`, so the generator avoids what
//! validation rightly refuses: call cycles (a service calls only later ones),
//! colliding object names, names kubectl would misread (`no`, `on`...), a
//! per-try timeout without retries.

use std::collections::BTreeSet;
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

/// Whether `resolve` refuses `name` because kubectl would misread it.
fn misread_by_kubectl(name: &str) -> bool {
    let bits = name.strip_prefix("0b").unwrap_or("-");
    let binary = !bits.is_empty() && bits.bytes().all(|c| c == b'0' || c == b'1');
    binary || matches!(name, "y" | "n" | "yes" | "no" | "on" | "off")
}

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

    /// No two generated objects may share an identity (validate would rightly
    /// refuse the profile): workload names `{service}-{version}` and the entry
    /// route `{entry}-ingress` must not collide.
    pub fn identities_are_distinct(&self) -> bool {
        let mut workloads = BTreeSet::new();
        let mut all = self.services.iter().flat_map(|s| {
            let name = &s.name;
            s.versions.iter().map(move |v| format!("{name}-{v}"))
        });
        let distinct = all.all(|w| workloads.insert(w));
        let entry = self.entry.as_ref().unwrap_or(&self.services[0].name);
        let route = format!("{entry}-ingress");
        distinct && self.services.iter().all(|s| s.name != route)
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
    present(vec![
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
    ])
}

fn external_url() -> impl Strategy<Value = String> {
    let scheme = select(vec!["http", "https"]);
    let port = prop::option::of(select(vec![80u16, 443, 8080, 8443, 9000]));
    let path = select(vec!["/", "/api", "/v1/time", ""]);
    (scheme, "[a-z]{1,6}", port, path).prop_map(|(scheme, host, port, path)| {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}://{host}.example{port}{path}")
    })
}

/// A canary of one of `versions` on a header, as a TOML inline table.
fn canary(versions: Vec<String>) -> impl Strategy<Value = String> {
    let header = prop_oneof![1 => Just("x-dev-user".to_owned()), 4 => "x-[a-z]{1,8}"];
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

/// The routing settings of service `name` with `versions`.
fn routing(name: &str, versions: &[String]) -> impl Strategy<Value = Vec<Setting>> + use<> {
    let mut all = vec![setting(format!("routing.fault.{name}"), 0.15, fault())];
    if versions.len() > 1 {
        let (canary, weights) = (canary(versions.to_vec()), weights(versions.to_vec()));
        all.push(setting(format!("routing.canary.{name}"), 0.5, canary));
        all.push(setting(format!("routing.weights.{name}"), 0.4, weights));
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
    let names = prop::collection::vec(name("[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?"), 1..=8);
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
            GenProfile {
                entry,
                settings,
                ..GenProfile::new(&name, &namespace, services)
            }
        })
        .prop_filter("distinct identities", GenProfile::identities_are_distinct)
}
