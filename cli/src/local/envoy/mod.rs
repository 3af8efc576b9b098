//! The Envoy target: the resolved [`Model`] plus the local ports ([`Layout`]) in,
//! one static Envoy bootstrap out, playing Istio's data plane on 127.0.0.1.
//!
//! Pure: no I/O. Every Istio-specific value mirrors the istiod function that
//! produces it (names in the comments, details in docs/local.md):
//! `retry.ConvertPolicy` / `retry.DefaultPolicy` / `parseRetryOn`,
//! `route.TranslateRoute` / `TranslateFault` / `setTimeout`,
//! `buildCatchAllVirtualHost` (REGISTRY_ONLY: HTTP 502), `getDefaultCircuitBreakerThresholds`,
//! `setH2Options`, `defaultLBAlgorithm`, tracing `configureSampling` / `otelConfig`.
//!
//! Shape: one ingress listener (the gateway) with the entry service's routes; one
//! outbound listener per service (its callers' sidecars) with `domains: ["*"]`, so
//! the listener port names the destination and the hops' `UPSTREAM` points at it;
//! one cluster per subset `outbound|PORT|SUBSET|HOST`; one listener per external
//! host:port (ServiceEntry route, ALLOW_ANY passthrough or REGISTRY_ONLY `block_all`).

mod retry;
mod route;
pub mod view;

use std::collections::BTreeMap;

use serde_json::{Value, json};

pub use retry::{RetryMode, convert_retries, default_retry_policy, parse_retry_on, retry_policy};
pub use route::{fault, routes};

use meshgen::model::istio;
use meshgen::model::{DataPlane, Egress, Model, Protocol, Upstream};

/// Where everything listens on 127.0.0.1, decided by `meshgen up` (see `ports.rs`).
#[derive(Clone, Debug)]
pub struct Layout {
    pub admin: u16,
    pub ingress: u16,
    /// Per service (by name).
    pub services: BTreeMap<String, ServicePorts>,
    /// One per external host:port the chain calls.
    pub externals: Vec<ExternalPlan>,
    /// OTLP/gRPC collector, when the profile traces and an endpoint is given.
    pub collector: Option<Collector>,
}

#[derive(Clone, Debug)]
pub struct ServicePorts {
    /// The outbound listener playing this service's callers' sidecars.
    pub listener: u16,
    /// Hop port per version (subset).
    pub versions: BTreeMap<String, u16>,
}

#[derive(Clone, Debug)]
pub struct ExternalPlan {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// The listener the calling hop's UPSTREAM is rewritten to.
    pub listener: u16,
    /// Whether the host is in the registry (a ServiceEntry, as `render` writes one
    /// for every external URL); `up --without-service-entry HOST` clears it.
    pub service_entry: bool,
    pub upstream: ExternalUpstream,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternalUpstream {
    /// The local stub on this port (`--stub-external`).
    Stub(u16),
    /// The real host, resolved by DNS (plain HTTP only: TLS externals need the stub).
    Dns,
    /// The real host's port at this address (`--resolve`).
    Address(std::net::IpAddr),
}

#[derive(Clone, Debug)]
pub struct Collector {
    pub host: String,
    pub port: u16,
}

const UINT32_MAX: u64 = 4_294_967_295;
/// The FQDN of a service, as the mesh names it.
pub fn service_host(model: &Model, service: &str) -> String {
    istio::host(service, &model.namespace)
}

/// `model.BuildSubsetKey(TrafficDirectionOutbound, subset, host, port)`.
pub fn cluster_name(port: u16, subset: &str, host: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// The name of the OTLP collector cluster (excluded from retry counts).
pub fn collector_cluster() -> String {
    cluster_name(istio::COLLECTOR_PORT, "", &istio::collector_host())
}

fn address(host: &str, port: u16) -> Value {
    json!({"socket_address": {"address": host, "port_value": port}})
}

fn h2_options() -> Value {
    // setH2Options: Envoy's default of 100 concurrent streams is too low.
    json!({"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {"max_concurrent_streams": 1_073_741_824}}
    }})
}

/// An outbound cluster: `connect_timeout` 10s (meshConfig default), LEAST_REQUEST
/// (`defaultLBAlgorithm`), circuit breakers raised (`getDefaultCircuitBreakerThresholds`:
/// Envoy's default `max_retries: 3` would trip under concurrent load).
fn cluster(name: &str, endpoints: &[(String, u16)], h2: bool, dns: bool) -> Value {
    let lb: Vec<Value> = endpoints
        .iter()
        .map(|(h, p)| json!({"endpoint": {"address": address(h, *p)}}))
        .collect();
    let mut c = json!({
        "name": name,
        "type": if dns { "STRICT_DNS" } else { "STATIC" },
        "connect_timeout": "10s",
        "lb_policy": "LEAST_REQUEST",
        "circuit_breakers": {"thresholds": [{
            "max_connections": UINT32_MAX, "max_pending_requests": UINT32_MAX,
            "max_requests": UINT32_MAX, "max_retries": UINT32_MAX, "track_remaining": true
        }]},
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": lb}]}
    });
    if dns {
        c["dns_lookup_family"] = json!("V4_PREFERRED");
    }
    if h2 {
        c["typed_extension_protocol_options"] = h2_options();
    }
    c
}

struct TracingConf {
    sampling: f64,
}

/// An HTTP connection manager like the sidecars' (codec AUTO serves HTTP/1.1 and
/// h2c gRPC on one port; fault filter before the router; `validate_clusters: false`).
fn hcm(
    stat_prefix: &str,
    vhosts: Vec<Value>,
    tracing: Option<&TracingConf>,
    service_name: &str,
    gateway: bool,
) -> Value {
    let mut cfg = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": stat_prefix,
        "codec_type": "AUTO",
        "use_remote_address": gateway,
        "stream_idle_timeout": "0s",
        "normalize_path": true,
        "request_id_extension": {"typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
            "use_request_id_for_trace_sampling": true
        }},
        "route_config": {"name": stat_prefix, "virtual_hosts": vhosts, "validate_clusters": false},
        "http_filters": [
            {"name": "envoy.filters.http.fault", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
            {"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
        ]
    });
    if let Some(t) = tracing {
        // configureSampling + otelConfig.
        let mut tr = json!({
            "client_sampling": {"value": 100.0},
            "overall_sampling": {"value": 100.0},
            "random_sampling": {"value": t.sampling},
            "provider": {"name": "envoy.tracers.opentelemetry", "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": collector_cluster(), "authority": istio::collector_host()}},
                "service_name": service_name
            }}
        });
        if gateway {
            tr["spawn_upstream_span"] = json!(true);
        }
        cfg["tracing"] = tr;
    }
    json!({"name": "envoy.filters.network.http_connection_manager", "typed_config": cfg})
}

fn listener(name: &str, port: u16, hcm: Value) -> Value {
    json!({"name": name, "address": address("127.0.0.1", port), "filter_chains": [{"filters": [hcm]}]})
}

fn vhost(name: &str, routes: Vec<Value>) -> Value {
    json!({"name": name, "domains": ["*"], "include_request_attempt_count": true, "routes": routes})
}

/// `buildCatchAllVirtualHost` under REGISTRY_ONLY: 502, empty body.
fn block_all() -> Value {
    json!({"name": "block_all", "domains": ["*"], "include_request_attempt_count": true,
           "routes": [{"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}]})
}

/// Istio's access log (`meshConfig.accessLogFile: /dev/stdout`, its default
/// TEXT format): on Envoy's stdout, which `up` writes to envoy.log as a pod
/// writes it to `kubectl logs -c istio-proxy`.
fn access_log() -> Value {
    const ISTIO_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% \
        %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% \
        %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" \
        %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \
        \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \
        \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% \
        %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% \
        %ROUTE_NAME%\n";
    json!({"name": "envoy.access_loggers.stdout", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        "log_format": {"text_format_source": {"inline_string": ISTIO_FORMAT}}
    }})
}

/// The proxy name (`workload.namespace`) playing the callers of whatever
/// `called` matches, for span service names: their sidecars, or in ambient
/// mode the waypoint; the ingress proxy when no service calls it.
fn callers(model: &Model, called: impl Fn(&Upstream) -> bool) -> String {
    if model.mesh.data_plane == DataPlane::Ambient {
        return format!("{}.{}", istio::WAYPOINT, model.namespace);
    }
    let callers: Vec<&str> = model
        .services
        .iter()
        .filter(|s| s.upstreams.iter().any(&called))
        .map(|s| s.name.as_str())
        .collect();
    if callers.is_empty() {
        return ingress_proxy_name(model);
    }
    format!("{}.{}", callers.join("+"), model.namespace)
}

fn ingress_proxy_name(model: &Model) -> String {
    let (workload, namespace) = istio::ingress_proxy(model);
    format!("{workload}.{namespace}")
}

fn callers_of(model: &Model, service: &str) -> String {
    callers(
        model,
        |u| matches!(u, Upstream::Service { name } if name == service),
    )
}

fn external_callers(model: &Model, host: &str) -> String {
    callers(
        model,
        |u| matches!(u, Upstream::External { host: h, .. } if h == host),
    )
}

/// The whole bootstrap.
pub fn bootstrap(model: &Model, layout: &Layout, mode: RetryMode) -> Value {
    let h2 = model.wire.protocol == Protocol::Grpc;
    let port = model.wire.service_port;
    let mut clusters = Vec::new();
    let mut listeners = Vec::new();

    let tracing = match (&model.mesh.tracing, &layout.collector) {
        (Some(t), Some(c)) => {
            let dns = c.host.parse::<std::net::IpAddr>().is_err();
            clusters.push(cluster(
                &collector_cluster(),
                &[(c.host.clone(), c.port)],
                true,
                dns,
            ));
            Some(TracingConf {
                sampling: t.sampling_percent,
            })
        }
        _ => None,
    };

    for s in &model.services {
        let host = service_host(model, &s.name);
        let Some(ports) = layout.services.get(&s.name) else {
            continue;
        };
        for w in &s.versions {
            if let Some(p) = ports.versions.get(&w.version) {
                clusters.push(cluster(
                    &cluster_name(port, &w.version, &host),
                    &[("127.0.0.1".into(), *p)],
                    h2,
                    false,
                ));
            }
        }
        let vh = vhost(
            &format!("{host}:{port}"),
            routes(model, &s.name, &s.route, mode),
        );
        listeners.push(listener(
            &format!("outbound_{}", s.name),
            ports.listener,
            hcm(
                &format!("outbound_{port}_{}", s.name),
                vec![vh],
                tracing.as_ref(),
                &callers_of(model, &s.name),
                false,
            ),
        ));
    }

    // The ingress gateway: the gateway-bound VirtualService has the entry service's routes.
    if let Some(entry) = model.service(&model.ingress.service) {
        let vh = vhost("ingress", routes(model, &entry.name, &entry.route, mode));
        listeners.push(listener(
            "ingress",
            layout.ingress,
            hcm(
                "ingress",
                vec![vh],
                tracing.as_ref(),
                &ingress_proxy_name(model),
                true,
            ),
        ));
    }

    // Egress: one listener per external host:port.
    for e in &layout.externals {
        let allowed = e.service_entry || model.mesh.egress == Egress::AllowAny;
        let vh = if allowed {
            // A ServiceEntry gives `outbound|PORT||HOST` routed with the default
            // outbound route (default retry policy); ALLOW_ANY without one goes
            // through PassthroughCluster (no retries).
            let name = if e.service_entry {
                cluster_name(e.port, "", &e.host)
            } else {
                format!("PassthroughCluster|{}|{}", e.host, e.port)
            };
            let (endpoint, dns) = match e.upstream {
                ExternalUpstream::Stub(p) => (("127.0.0.1".to_owned(), p), false),
                ExternalUpstream::Dns => ((e.host.clone(), e.port), true),
                ExternalUpstream::Address(addr) => ((addr.to_string(), e.port), false),
            };
            clusters.push(cluster(&name, &[endpoint], false, dns));
            let mut action = json!({"cluster": name, "timeout": "0s", "max_grpc_timeout": "0s",
                                    "host_rewrite_literal": e.host});
            if e.service_entry {
                action["retry_policy"] = default_retry_policy();
            }
            vhost(
                &format!("{}:{}", e.host, e.port),
                vec![json!({"name": "default", "match": {"prefix": "/"}, "route": action})],
            )
        } else {
            block_all()
        };
        listeners.push(listener(
            &format!("egress_{}_{}", e.host, e.port),
            e.listener,
            hcm(
                &format!("outbound_{}_{}", e.port, e.host),
                vec![vh],
                tracing.as_ref(),
                &external_callers(model, &e.host),
                false,
            ),
        ));
    }

    if model.mesh.access_log {
        for l in &mut listeners {
            l["filter_chains"][0]["filters"][0]["typed_config"]["access_log"] =
                json!([access_log()]);
        }
    }
    let mut boot = json!({
        "node": {"id": format!("meshgen-local~{}", model.name), "cluster": model.name},
        "admin": {"address": address("127.0.0.1", layout.admin)},
        "static_resources": {"listeners": listeners, "clusters": clusters}
    });
    if tracing.is_some() {
        // Export spans every second instead of every 5 s: a local run is watched live.
        boot["layered_runtime"] = json!({"layers": [{"name": "static", "static_layer": {
            "tracing.opentelemetry.flush_interval_ms": 1000}}]});
    }
    boot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            cluster_name(80, "canary", "middleware.ns.svc.cluster.local"),
            "outbound|80|canary|middleware.ns.svc.cluster.local"
        );
        assert_eq!(
            cluster_name(443, "", "api.example"),
            "outbound|443||api.example"
        );
    }
}
