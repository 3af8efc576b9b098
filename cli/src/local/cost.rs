//! What each proxy costs, as Istio measures it: CPU seconds per 1,000
//! requests (the same number as vCPU per 1,000 requests per second) and the
//! peak resident memory, read from `/proc` ([`localmesh::usage`]) before and
//! after a run; and
//! Istio's own published figures to print beside them.

use localmesh::usage::{cpu_seconds, peak_rss_mib};
use serde::{Deserialize, Serialize};

/// One proxy's use during one run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProxyCost {
    /// `ingress gateway`, `sidecar backend-prod-0`, `waypoint`.
    pub proxy: String,
    /// `gateway`, `sidecar`, `waypoint` or `ztunnel`: what Istio's figures
    /// are per.
    pub role: String,
    pub cpu_s_per_1000: f64,
    pub peak_rss_mib: f64,
}

/// A figure Istio publishes for one kind of proxy.
pub struct Published {
    pub role: &'static str,
    /// vCPU per 1,000 requests per second, i.e. CPU seconds per 1,000 requests.
    pub cpu_s_per_1000: f64,
    pub memory_mb: f64,
}

/// Where [`ISTIO`] comes from.
pub const ISTIO_SOURCE: &str = "Istio 1.24, performance and scalability (1 KB requests, \
     2 worker threads, 1,000 requests per second)";

/// Istio's published cost per proxy.
pub const ISTIO: [Published; 3] = [
    Published {
        role: "sidecar",
        cpu_s_per_1000: 0.20,
        memory_mb: 60.0,
    },
    Published {
        role: "waypoint",
        cpu_s_per_1000: 0.25,
        memory_mb: 60.0,
    },
    Published {
        role: "ztunnel",
        cpu_s_per_1000: 0.06,
        memory_mb: 12.0,
    },
];

/// The latency two sidecars add, as Istio last published it as one figure
/// (later releases publish it as graphs only).
pub const ISTIO_ADDED_LATENCY: &str = "Istio 1.12.3: the client and server sidecars add \
     about 1.7 ms at p90 and 2.7 ms at p99";

/// The role of a proxy by its name.
pub fn role(proxy: &str) -> &'static str {
    match proxy.split_whitespace().next() {
        Some("sidecar") => "sidecar",
        Some("waypoint") => "waypoint",
        Some("ztunnel") => "ztunnel",
        _ => "gateway",
    }
}

/// Each proxy's cost over a run of `requests`, from its CPU seconds before
/// (`before`, by pid) and its state now.
pub fn over_run(
    proxies: &[(String, u32)],
    before: &[(u32, f64)],
    requests: usize,
) -> Vec<ProxyCost> {
    proxies
        .iter()
        .filter_map(|(name, pid)| {
            let start = before.iter().find(|(p, _)| p == pid)?.1;
            let used = cpu_seconds(*pid)? - start;
            Some(ProxyCost {
                proxy: name.clone(),
                role: role(name).to_owned(),
                cpu_s_per_1000: used * 1000.0 / requests.max(1) as f64,
                peak_rss_mib: peak_rss_mib(*pid)?,
            })
        })
        .collect()
}

/// CPU seconds of every proxy now, by pid.
pub fn cpu_now(proxies: &[(String, u32)]) -> Vec<(u32, f64)> {
    proxies
        .iter()
        .filter_map(|(_, pid)| Some((*pid, cpu_seconds(*pid)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn roles_by_name() {
        assert_eq!(super::role("sidecar backend-prod-0"), "sidecar");
        assert_eq!(super::role("ingress gateway"), "gateway");
        assert_eq!(super::role("waypoint"), "waypoint");
        assert_eq!(super::role("ztunnel"), "ztunnel");
    }
}
