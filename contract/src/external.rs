//! What "external" means: a host a pod's resolver can only answer from
//! outside the cluster, on a port that is not the mesh's own.
//!
//! A profile's external URL becomes a `MESH_EXTERNAL` ServiceEntry and the
//! egress allow-list, outside the chain's cycle check and routes. A name the
//! cluster (or the pod itself) answers would hide a call back into the chain
//! (`http://frontend.istio101/` is the chain's own frontend: a cycle), reach
//! the API server (`https://kubernetes.default/`) or the sidecar's admin
//! (`http://localhost:15000/`). [`in_cluster`] is the one decision of which
//! hosts those are; [`mesh_port`] the one of which ports.
//!
//! How a pod resolves a name (Kubernetes' DNS for Services and Pods): its
//! `resolv.conf` has `search <ns>.svc.cluster.local svc.cluster.local
//! cluster.local` and `ndots:5`, so a name with fewer than five dots is first
//! tried under each search suffix. `frontend` is the Service of the pod's own
//! namespace, `frontend.other` the Service `frontend` of namespace `other`,
//! `web-0.nginx.other` a StatefulSet pod; whatever the dots, the name's
//! **last label** decides: it is a namespace, `svc`, `pod`, `cluster` or
//! `local` there. A name reaches outside only when its last label is a real
//! top-level domain (one of the public suffix list's: `vault.vault` or
//! `grafana.monitoring` are Services of namespaces `vault` and `monitoring`),
//! while the chain's own namespace and `default` are refused by name. A
//! namespace named like a real TLD (`dev`, `app`, `prod` are TLDs) would
//! still shadow `x.dev`; meshgen cannot see the cluster's namespaces.
//! A custom cluster domain (not `cluster.local`) is not known either: profiles
//! have no key for it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The ports of Istio's proxies and control plane ("Ports used by Istio",
/// istio.io/latest/docs/ops/deployment/requirements): a call to one reaches
/// the mesh's machinery, not an API.
pub const MESH_PORTS: [(u16, &str); 15] = [
    (15000, "Envoy's admin interface"),
    (15001, "Envoy's outbound capture"),
    (15004, "the proxy's debug port"),
    (15006, "Envoy's inbound capture"),
    (15008, "the HBONE mTLS tunnel"),
    (15009, "the HBONE port for secure networks"),
    (15010, "istiod's plaintext xDS and CA"),
    (15012, "istiod's xDS and CA"),
    (15014, "istiod's monitoring"),
    (15017, "istiod's webhooks"),
    (15020, "the proxy's merged Prometheus telemetry"),
    (15021, "the proxy's health checks"),
    (15053, "the proxy's DNS capture"),
    (15080, "ztunnel's SOCKS5 outbound"),
    (15090, "Envoy's Prometheus telemetry"),
];

/// What `port` is to the mesh, if it is one of [`MESH_PORTS`].
pub fn mesh_port(port: u16) -> Option<&'static str> {
    MESH_PORTS
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, what)| *what)
}

/// Last labels the cluster's own DNS, the pod or the node answer.
const CLUSTER_ZONES: [(&str, &str); 10] = [
    (
        "svc",
        "the cluster's Services (`<service>.<namespace>.svc`)",
    ),
    ("pod", "the cluster's pods (`<ip>.<namespace>.pod`)"),
    ("cluster", "the cluster's DNS zone (`cluster.local`)"),
    ("local", "the cluster's DNS zone (`cluster.local`) and mDNS"),
    ("localhost", "the pod itself (loopback)"),
    ("localdomain", "the pod itself (loopback)"),
    (
        "internal",
        "private-use names (the node's network, cloud metadata servers)",
    ),
    (
        "default",
        "namespace `default` (`kubernetes.default` is the API server)",
    ),
    (
        "arpa",
        "reverse lookups and the home network (`home.arpa`), answered by local resolvers",
    ),
    ("onion", "Tor's onion services, which no DNS resolves"),
];

/// Why a pod of namespace `namespace` would not leave the cluster when it
/// calls `host` (a URL's host as `http::Uri` gives it: IPv6 in brackets), or
/// `None` when only the world outside answers it.
pub fn in_cluster(host: &str, namespace: &str) -> Option<String> {
    if host.contains('%') {
        return Some(format!(
            "`{host}` is percent-encoded: resolvers and proxies may decode it to any name"
        ));
    }
    let lower = host.to_ascii_lowercase();
    if let Some(v6) = lower.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return Some(match v6.parse::<Ipv6Addr>() {
            Ok(ip) => ipv6(ip),
            Err(_) => "an IPv6 address".to_owned(),
        });
    }
    // `localhost.` is `localhost`: a trailing dot only skips the search path.
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    let labels: Vec<&str> = name.split('.').collect();
    let last = *labels.last().expect("split yields one part at least");
    if ends_in_a_number(last) {
        return Some(match ipv4(name) {
            Some(ip) => ipv4_reason(ip),
            None => "an IPv4 address form (the last label is a number)".to_owned(),
        });
    }
    if let [single] = labels[..] {
        return Some(if single == "localhost" {
            "`localhost` is the pod itself (loopback): its sidecar's admin and the hop's own \
             ports listen there"
                .to_owned()
        } else {
            format!(
                "`{single}` is a single label: the pod's DNS search path makes it the Service \
                 `{single}` of its own namespace"
            )
        });
    }
    if let Some((_, what)) = CLUSTER_ZONES.iter().find(|(zone, _)| *zone == last) {
        return Some(format!("names under `.{last}` are {what}"));
    }
    if last == namespace {
        return Some(format!(
            "`{name}` is in the chain's own namespace `{namespace}`: the pod's DNS search path \
             makes it `{name}.svc.cluster.local`"
        ));
    }
    if !top_level_domain(last) {
        return Some(format!(
            "`{last}` is no top-level domain (none the public suffix list knows), so the pod's DNS search \
             path reads it as a namespace: `{name}.svc.cluster.local`"
        ));
    }
    None
}

/// The top-level domains of the public suffix list (its one-label rules,
/// all ICANN's), internationalized ones in punycode (`xn--p1ai`), one a
/// line, sorted. Refresh: the one-label rules of the `psl` crate's
/// data/rules.txt, each through IDNA (`python3 -c 'print(t.encode("idna"))'`).
const TOP_LEVEL_DOMAINS: &str = include_str!("tlds.txt");

/// Whether `label` is a real top-level domain, one the public suffix list
/// knows. `vault`, `monitoring`, `frontend` or `xn--zz` are not: the search
/// path makes `x.vault` the Service `x` of namespace `vault`.
fn top_level_domain(label: &str) -> bool {
    TOP_LEVEL_DOMAINS.lines().any(|tld| tld == label)
}

/// The WHATWG URL standard's "ends in a number": such a host is an IPv4
/// address to browsers and to `inet_aton` (`2130706433`, `0x7f.1`, `0177.0.0.1`).
fn ends_in_a_number(last: &str) -> bool {
    let digits = !last.is_empty() && last.chars().all(|c| c.is_ascii_digit());
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    digits || hex
}

/// An IPv4 address in any form `inet_aton` reads: one to four parts, each
/// decimal, octal (leading `0`) or hexadecimal (`0x`); the last part fills the
/// remaining bytes.
fn ipv4(name: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let number = |p: &str| -> Option<u64> {
        if let Some(hex) = p.strip_prefix("0x") {
            return if hex.is_empty() {
                Some(0)
            } else {
                u64::from_str_radix(hex, 16).ok()
            };
        }
        if p.len() > 1
            && let Some(octal) = p.strip_prefix('0')
        {
            return u64::from_str_radix(octal, 8).ok();
        }
        p.parse().ok()
    };
    let values: Vec<u64> = parts.iter().map(|p| number(p)).collect::<Option<_>>()?;
    let (last, first) = values.split_last()?;
    if first.iter().any(|v| *v > 255) || *last >= 1 << (8 * (4 - first.len())) {
        return None;
    }
    let address = first
        .iter()
        .enumerate()
        .fold(*last, |acc, (i, v)| acc | v << (8 * (3 - i)));
    Some(Ipv4Addr::from(u32::try_from(address).ok()?))
}

fn ipv4_reason(ip: Ipv4Addr) -> String {
    let what = if ip.is_loopback() {
        "the pod itself (loopback, 127.0.0.0/8): its sidecar's admin and the hop's own ports \
         listen there"
    } else if ip.is_unspecified() || ip.octets()[0] == 0 {
        "the unspecified address (0.0.0.0/8), which connects to the pod itself"
    } else if ip.is_link_local() {
        "link-local (169.254.0.0/16): the node, or a cloud's metadata server"
    } else {
        "an IP address: the egress allow-list names hosts, and an address may be the \
         cluster's own (a pod, a Service)"
    };
    format!("{ip} is {what}")
}

fn ipv6(ip: Ipv6Addr) -> String {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return format!("{ip} is an IPv4-mapped address: {}", ipv4_reason(v4));
    }
    let what = if ip.is_loopback() {
        "the pod itself (loopback)"
    } else if ip.is_unspecified() {
        "the unspecified address, which connects to the pod itself"
    } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
        "link-local (fe80::/10): the node's network"
    } else {
        "an IP address: the egress allow-list names hosts, and an address may be the \
         cluster's own (a pod, a Service)"
    };
    format!("{ip} is {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "istio101";

    #[test]
    fn the_world_outside() {
        for host in [
            "time.jsontest.com",
            "api.example.com",
            "kubernetes.io",
            "x.xn--p1ai",
            "b.c.d.e.f.org",
            "localhost.example.com",
            "svc.example.com",
            "istio101.dev",
        ] {
            assert_eq!(in_cluster(host, NS), None, "{host}");
        }
    }

    /// One row per class of name the cluster or the pod answers.
    #[test]
    fn the_cluster_and_the_pod() {
        for (host, says) in [
            ("frontend", "single label"),
            ("kubernetes", "single label"),
            ("frontend.istio101", "own namespace"),
            ("FRONTEND.ISTIO101", "own namespace"),
            ("web-0.nginx.istio101", "own namespace"),
            ("frontend.demo2", "no top-level domain"),
            ("frontend.other-ns", "no top-level domain"),
            ("a.b", "no top-level domain"),
            // Letters only, and still namespaces (the second review).
            ("vault.vault", "no top-level domain"),
            ("grafana.monitoring", "no top-level domain"),
            ("x.frontend", "no top-level domain"),
            ("mongo-0.mongo", "no top-level domain"),
            ("etcd.kube", "no top-level domain"),
            // Reserved for examples and tests (RFC 2606), so no TLD: a namespace.
            ("a.example", "no top-level domain"),
            // Punycode is no pass: only the real IDN TLDs are TLDs.
            ("a.xn--9", "no top-level domain"),
            ("a.xn--zz", "no top-level domain"),
            ("a.xn--istio101", "no top-level domain"),
            ("nas.home.arpa", "home network"),
            ("1.0.0.127.in-addr.arpa", "reverse"),
            ("abc.onion", "onion"),
            ("x.test", "no top-level domain"),
            ("kubernetes.default", "namespace `default`"),
            ("kubernetes.default.svc", "`.svc`"),
            ("frontend.istio101.svc.cluster.local", "`.local`"),
            ("frontend.istio101.svc.cluster.local.", "`.local`"),
            ("10-0-0-1.istio101.pod", "`.pod`"),
            ("x.cluster", "`.cluster`"),
            ("localhost", "loopback"),
            ("localhost.", "loopback"),
            ("LocalHost", "loopback"),
            ("app.localhost", "loopback"),
            ("metadata.google.internal", "metadata"),
            ("127.0.0.1", "loopback"),
            ("127.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("2130706433", "loopback"),
            ("0x7f000001", "loopback"),
            ("0x7f.0.0.1", "loopback"),
            ("0177.0.0.1", "loopback"),
            ("0", "unspecified"),
            ("0.0.0.0", "unspecified"),
            ("169.254.169.254", "link-local"),
            ("10.96.0.1", "IP address"),
            ("93.184.216.34", "IP address"),
            ("1.2.3.4.5", "IPv4 address form"),
            ("999.1.1.1", "IPv4 address form"),
            ("[::1]", "loopback"),
            ("[::]", "unspecified"),
            ("[fe80::1]", "link-local"),
            ("[febf::1]", "link-local"),
            ("[::ffff:127.0.0.1]", "loopback"),
            ("[::ffff:169.254.169.254]", "link-local"),
            ("[2001:db8::1]", "IP address"),
            ("fr%6Fntend", "percent"),
        ] {
            let why = in_cluster(host, NS).unwrap_or_else(|| panic!("{host} taken as outside"));
            assert!(why.contains(says), "{host}: {why}");
        }
    }

    /// The chain's own namespace shadows a name whatever it looks like.
    #[test]
    fn the_chains_namespace() {
        assert!(in_cluster("frontend.dev", "dev").is_some());
        assert!(in_cluster("web-0.nginx.dev.", "dev").is_some());
        assert_eq!(in_cluster("frontend.dev", "istio101"), None);
    }

    #[test]
    fn ipv4_forms() {
        assert_eq!(ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(ipv4("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(ipv4("10.0x10.0300"), Some(Ipv4Addr::new(10, 16, 0, 192)));
        assert_eq!(ipv4("4294967295"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(ipv4("4294967296"), None);
        assert_eq!(ipv4("1.256.1.1"), None);
        assert_eq!(ipv4("08.1.1.1"), None);
    }

    #[test]
    fn mesh_ports() {
        for p in [15000, 15001, 15006, 15008, 15020, 15021, 15090] {
            assert!(mesh_port(p).is_some(), "{p}");
        }
        for p in [80, 443, 8080, 15443, 14999] {
            assert_eq!(mesh_port(p), None, "{p}");
        }
    }

    mod classes {
        use super::super::*;
        use super::NS;
        use proptest::prelude::*;
        use proptest::sample::select;

        fn label() -> impl Strategy<Value = String> {
            "[a-z]([a-z0-9-]{0,14}[a-z0-9])?"
        }

        /// `ip` written as `inet_aton` reads it: 1 to 4 parts, each decimal,
        /// octal or hexadecimal.
        fn ipv4_text(ip: Ipv4Addr) -> impl Strategy<Value = String> {
            let n = u32::from(ip);
            (1usize..=4, prop::collection::vec(0u8..3, 4)).prop_map(move |(parts, radix)| {
                let bytes = n.to_be_bytes();
                let mut values: Vec<u64> =
                    bytes[..parts - 1].iter().map(|b| u64::from(*b)).collect();
                let rest = bytes[parts - 1..]
                    .iter()
                    .fold(0u64, |acc, b| acc << 8 | u64::from(*b));
                values.push(rest);
                let text = values.iter().zip(&radix).map(|(v, r)| match r {
                    0 => v.to_string(),
                    1 => format!("0{v:o}"),
                    _ => format!("0x{v:x}"),
                });
                text.collect::<Vec<_>>().join(".")
            })
        }

        fn in_block(first: u8, second: Option<u8>) -> impl Strategy<Value = Ipv4Addr> {
            (any::<u8>(), any::<u8>(), any::<u8>())
                .prop_map(move |(b, c, d)| Ipv4Addr::new(first, second.unwrap_or(b), c, d))
        }

        /// Loopback, unspecified and link-local addresses, in every form.
        fn pod_or_node_ipv4() -> impl Strategy<Value = String> {
            prop_oneof![
                in_block(127, None),
                in_block(0, None),
                in_block(169, Some(254))
            ]
            .prop_flat_map(ipv4_text)
        }

        fn pod_or_node_ipv6() -> impl Strategy<Value = String> {
            let link_local = (0xfe80u16..=0xfebf, any::<u64>()).prop_map(|(head, tail)| {
                Ipv6Addr::from((u128::from(head) << 112) | u128::from(tail))
            });
            let fixed = select(vec![Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED]);
            let mapped = prop_oneof![in_block(127, None), in_block(169, Some(254))]
                .prop_map(|v4| v4.to_ipv6_mapped());
            prop_oneof![link_local, fixed, mapped].prop_map(|ip| format!("[{ip}]"))
        }

        /// Names the pod's resolver answers inside the cluster.
        fn cluster_name() -> impl Strategy<Value = String> {
            let not_a_tld = "[a-z]{0,6}[0-9-][a-z0-9]{0,6}[0-9a-z]|[a-z]";
            prop_oneof![
                label(),
                Just("localhost".to_owned()),
                (label(), not_a_tld).prop_map(|(n, ns)| format!("{n}.{ns}")),
                label().prop_map(|n| format!("{n}.{NS}")),
                (label(), label()).prop_map(|(n, ns)| format!("{n}.{ns}.{NS}")),
                (
                    prop::collection::vec(label(), 1..4),
                    select(vec![
                        "svc",
                        "svc.cluster.local",
                        "pod.cluster.local",
                        "cluster.local",
                        "local",
                        "localhost",
                        "internal",
                        "default",
                        "default.svc",
                    ])
                )
                    .prop_map(|(labels, zone)| format!("{}.{zone}", labels.join("."))),
                label().prop_map(|n| format!("kubernetes.{n}.svc")),
            ]
        }

        /// `host` as a profile might disguise it: any letter's case, a
        /// trailing dot.
        fn disguised(host: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
            (host, any::<u64>(), any::<bool>()).prop_map(|(host, case, dot)| {
                let mut out: String = host
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if case >> (i % 64) & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect();
                if dot && !out.ends_with(']') {
                    out.push('.');
                }
                out
            })
        }

        #[test]
        fn the_tld_list_is_the_public_suffix_lists() {
            let tlds: Vec<&str> = TOP_LEVEL_DOMAINS.lines().collect();
            assert!(tlds.len() > 1000, "{} TLDs", tlds.len());
            assert!(tlds.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            let letters_or_punycode = |t: &str| match t.strip_prefix("xn--") {
                Some(rest) => rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                None => t.bytes().all(|b| b.is_ascii_lowercase()),
            };
            assert!(tlds.iter().all(|t| letters_or_punycode(t)));
            assert!(tlds.contains(&"xn--p1ai"), "the IDN TLDs, in punycode");
            for real in ["com", "org", "io", "dev", "app", "de", "museum"] {
                assert!(tlds.contains(&real), "{real}");
            }
            for namespace in ["vault", "monitoring", "istio", "kube", "local", "internal"] {
                assert!(!tlds.contains(&namespace), "{namespace}");
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn names_the_cluster_answers_are_refused(host in disguised(cluster_name())) {
                prop_assert!(in_cluster(&host, NS).is_some(), "{host} taken as outside");
            }

            #[test]
            fn addresses_of_the_pod_and_node_are_refused(
                host in disguised(prop_oneof![pod_or_node_ipv4(), pod_or_node_ipv6()]),
            ) {
                let why = in_cluster(&host, NS);
                prop_assert!(why.is_some(), "{host} taken as outside");
                let why = why.unwrap();
                prop_assert!(
                    ["loopback", "unspecified", "link-local"].iter().any(|w| why.contains(w)),
                    "{host}: {why}"
                );
            }

            #[test]
            fn percent_encoded_names_are_refused(host in cluster_name(), at in any::<prop::sample::Index>()) {
                let i = at.index(host.len());
                let encoded = format!("{}%{:02X}{}", &host[..i], host.as_bytes()[i], &host[i + 1..]);
                prop_assert!(in_cluster(&encoded, NS).is_some(), "{encoded}");
            }

            /// Any text is judged, never a panic.
            #[test]
            fn any_text_is_judged(host in "\\PC{0,40}|[0-9x.:\\[\\]]{0,30}") {
                let _ = in_cluster(&host, NS);
            }

            /// A namespace can be named any letters: under a last label that
            /// is not a real TLD, any name is the cluster's.
            #[test]
            fn letters_that_are_no_tld_are_a_namespace(
                service in "[a-z][a-z0-9-]{0,10}[a-z0-9]",
                namespace in "[a-z]{2,12}",
            ) {
                prop_assume!(!TOP_LEVEL_DOMAINS.lines().any(|t| t == namespace));
                let host = format!("{service}.{namespace}");
                prop_assert!(in_cluster(&host, NS).is_some(), "{host} taken for outside");
            }

            /// Whatever is taken as outside has a dot and a last label that
            /// no namespace of the cluster or address form can be.
            #[test]
            fn what_is_outside_is_a_dotted_name_under_a_tld(host in "[a-z0-9.-]{1,24}") {
                if in_cluster(&host, NS).is_none() {
                    let name = host.strip_suffix('.').unwrap_or(&host);
                    let last = name.rsplit('.').next().unwrap();
                    prop_assert!(name.contains('.'), "{host}");
                    prop_assert!(host.parse::<Ipv4Addr>().is_err(), "{host}");
                    prop_assert!(last.len() >= 2 && last.chars().all(|c| c.is_ascii_lowercase()), "{host}");
                    prop_assert!(!["svc", "local", "localhost", "internal", "default", NS].contains(&last), "{host}");
                }
            }
        }
    }
}
