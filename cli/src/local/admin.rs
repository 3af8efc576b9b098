//! Envoy's admin interface: what `compare` reads from it.

use hop::probe::http_get_within;

use super::PROBE;

/// Sum of `upstream_rq_retry` over one proxy's outbound clusters, from its
/// admin `/stats`. The filter is an RE2 regex and cluster names contain `|`
/// (alternation), so filter on the suffix only and match names here.
pub async fn envoy_retries(admin: u16) -> Result<u64, String> {
    let (status, _, body) =
        http_get_within(admin, "/stats?filter=upstream_rq_retry%24", &[], PROBE).await?;
    if status != 200 {
        return Err(format!("envoy /stats answered {status}"));
    }
    Ok(sum_retries(&body))
}

fn sum_retries(stats: &str) -> u64 {
    let collector = format!(
        "cluster.{}.",
        localmesh::envoy::proxy::collector_cluster_name()
    );
    sum(stats, ".upstream_rq_retry", |name| {
        (name.starts_with("cluster.outbound|") || name.starts_with("cluster.PassthroughCluster|"))
            && !name.starts_with(&collector)
    })
}

/// Sum of one statistic (`suffix`, e.g. `.upstream_rq_timeout`) over one
/// proxy's clusters whose name contains `cluster`, e.g. `|prod|backend.`.
pub async fn cluster_stat(admin: u16, cluster: &str, suffix: &str) -> Result<u64, String> {
    let path = format!("/stats?filter={}%24", suffix.trim_start_matches('.'));
    let (status, _, body) = http_get_within(admin, &path, &[], PROBE).await?;
    if status != 200 {
        return Err(format!("envoy /stats answered {status}"));
    }
    Ok(sum(&body, suffix, |name| {
        name.starts_with("cluster.") && name.contains(cluster)
    }))
}

fn sum(stats: &str, suffix: &str, keep: impl Fn(&str) -> bool) -> u64 {
    stats
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(name, _)| name.ends_with(suffix) && keep(name))
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_are_summed_over_outbound_clusters_only() {
        let stats = "cluster.outbound|80|prod|backend.ns.svc.cluster.local.upstream_rq_retry: 7\n\
                     cluster.outbound|80|canary|middleware.ns.svc.cluster.local.upstream_rq_retry: 3\n\
                     cluster.outbound|4317||jaeger-collector.istio-system.svc.cluster.local.upstream_rq_retry: 9\n\
                     cluster.outbound|80|prod|x.upstream_rq_retry_success: 5\n";
        assert_eq!(super::sum_retries(stats), 10);
        let canary = super::sum(stats, ".upstream_rq_retry", |n| {
            n.contains("|canary|middleware.")
        });
        assert_eq!(canary, 3);
    }
}
