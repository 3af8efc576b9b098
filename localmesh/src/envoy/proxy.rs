//! What every proxy of the mesh shares, whatever its role (gateway, sidecar,
//! waypoint): its name in traces and logs, the retry mode its routes carry,
//! the collector its spans go to; the HTTP connection manager istiod gives
//! each of its HTTP listeners; and the bootstrap that holds it all.

use std::collections::BTreeMap;

use meshgen::model::{Model, Protocol, istio};

use super::tls::Secret;
use super::types::{
    Address, Admin, Any, Bootstrap, CircuitBreakers, Cluster, ClusterLoadAssignment, EnvoyGrpc,
    GrpcService, Http2ProtocolOptions, HttpConnectionManager, InlineString, LayeredRuntime,
    Listener, NamedConfig, Node, OpenTelemetryConfig, Percent, RequestIdExtension,
    RouteConfiguration, RuntimeLayer, StaticResources, StdoutAccessLog, SubstitutionFormatString,
    Tracing, UuidRequestIdConfig, h2_upstream,
};
use super::{ProxyOptions, RetryMode, route};
use crate::plan::Collector;

/// One proxy's shared settings.
#[derive(Debug, Clone)]
pub struct Proxy<'a> {
    pub model: &'a Model,
    /// `workload.namespace`, as Istio names a proxy's spans.
    pub name: String,
    pub options: &'a ProxyOptions,
}

/// Which side of the mesh a connection manager serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The ingress gateway: clients from outside.
    Gateway,
    /// A sidecar's or the waypoint's outbound side: the local app's calls.
    Outbound,
    /// A sidecar's inbound side: calls to the local app.
    Inbound,
}

/// Istio's access log (`meshConfig.accessLogFile: /dev/stdout`, its default
/// TEXT format), on Envoy's stdout as a pod writes it to `kubectl logs -c
/// istio-proxy`.
const ISTIO_ACCESS_LOG_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% \
    %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \
    %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \
    \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% \
    %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \
    \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% \
    %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% \
    %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// The collector's cluster (its spans are not the mesh's: no retries counted).
pub fn collector_cluster_name() -> String {
    route::cluster_name(istio::COLLECTOR_PORT, "", &istio::collector_host())
}

impl Proxy<'_> {
    pub fn mode(&self) -> RetryMode {
        self.options.retry_mode
    }

    pub fn h2(&self) -> bool {
        self.model.wire.protocol == Protocol::Grpc
    }

    /// The profile traces and `up` was given a collector.
    fn traces(&self) -> Option<(&Collector, f64)> {
        let t = self.model.mesh.tracing.as_ref()?;
        Some((self.options.collector.as_ref()?, t.sampling_percent))
    }

    /// An HTTP connection manager as istiod writes one: codec AUTO (HTTP/1.1
    /// and h2c gRPC on one port), no idle stream timeout, paths normalized,
    /// UUID request ids that decide sampling, tracing and the access log as
    /// the profile asks; `filters` end with the router.
    pub fn connection_manager(
        &self,
        stat_prefix: String,
        route_config: RouteConfiguration,
        mut http_filters: Vec<NamedConfig>,
        side: Side,
    ) -> NamedConfig {
        http_filters.push(NamedConfig {
            name: "envoy.filters.http.router",
            typed_config: Any::Router(Default::default()),
        });
        let tracing = self.traces().map(|(_, sampling)| Tracing {
            // configureSampling + otelConfig.
            client_sampling: Percent { value: 100.0 },
            random_sampling: Percent { value: sampling },
            overall_sampling: Percent { value: 100.0 },
            provider: NamedConfig {
                name: "envoy.tracers.opentelemetry",
                typed_config: Any::OpenTelemetry(OpenTelemetryConfig {
                    grpc_service: GrpcService {
                        envoy_grpc: EnvoyGrpc {
                            cluster_name: collector_cluster_name(),
                            authority: istio::collector_host(),
                        },
                    },
                    service_name: self.name.clone(),
                }),
            },
            spawn_upstream_span: side == Side::Gateway,
        });
        let access_log = match self.model.mesh.access_log {
            true => vec![NamedConfig {
                name: "envoy.access_loggers.stdout",
                typed_config: Any::StdoutAccessLog(StdoutAccessLog {
                    log_format: SubstitutionFormatString {
                        text_format_source: InlineString {
                            inline_string: ISTIO_ACCESS_LOG_FORMAT,
                        },
                    },
                }),
            }],
            false => Vec::new(),
        };
        let inbound = side == Side::Inbound;
        let hcm = HttpConnectionManager {
            stat_prefix,
            codec_type: "AUTO",
            route_config,
            http_filters,
            use_remote_address: side == Side::Gateway,
            normalize_path: true,
            stream_idle_timeout: "0s",
            // buildSidecarInboundHTTPOpts: the caller's certificate to the app.
            forward_client_cert_details: inbound.then_some("APPEND_FORWARD"),
            set_current_client_cert_details: inbound.then_some(super::types::ClientCertDetails {
                subject: true,
                dns: true,
                uri: true,
            }),
            http2_protocol_options: (inbound && self.h2()).then(Http2ProtocolOptions::default),
            request_id_extension: Some(RequestIdExtension {
                typed_config: Any::UuidRequestId(UuidRequestIdConfig {
                    use_request_id_for_trace_sampling: true,
                }),
            }),
            tracing,
            access_log,
            upgrade_configs: Vec::new(),
        };
        NamedConfig {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: Any::HttpConnectionManager(Box::new(hcm)),
        }
    }

    /// The bootstrap: the node as istio-agent names it, the admin on any
    /// free 127.0.0.1 port, the listeners and clusters given plus the
    /// collector's, the secrets.
    pub fn bootstrap(
        &self,
        node_id: String,
        listeners: Vec<Listener>,
        mut clusters: Vec<Cluster>,
        secrets: Vec<Secret>,
    ) -> Bootstrap {
        let mut layered_runtime = None;
        if let Some((c, _)) = self.traces() {
            clusters.push(collector_cluster(c));
            // Spans every second instead of every 5 s: a local run is watched live.
            layered_runtime = Some(LayeredRuntime {
                layers: vec![RuntimeLayer {
                    name: "static",
                    static_layer: BTreeMap::from([(
                        "tracing.opentelemetry.flush_interval_ms",
                        1000,
                    )]),
                }],
            });
        }
        let internal = listeners.iter().any(|l| l.internal_listener.is_some());
        Bootstrap {
            bootstrap_extensions: match internal {
                true => vec![NamedConfig {
                    name: "envoy.bootstrap.internal_listener",
                    typed_config: Any::InternalListener(Default::default()),
                }],
                false => Vec::new(),
            },
            node: Node {
                id: node_id,
                cluster: self.name.clone(),
            },
            admin: Admin {
                address: Address::local(0),
            },
            static_resources: StaticResources {
                listeners,
                clusters,
                secrets,
            },
            layered_runtime,
        }
    }
}

/// A cluster with istiod's defaults: `connect_timeout` 10 s (meshConfig),
/// LEAST_REQUEST (`defaultLBAlgorithm`), circuit breakers raised
/// (`getDefaultCircuitBreakerThresholds`), HTTP/2 for gRPC (`setH2Options`),
/// DNS for names.
pub fn cluster(
    name: String,
    endpoints: Vec<Address>,
    h2: bool,
    transport_socket: Option<NamedConfig>,
) -> Cluster {
    let dns = endpoints.iter().any(Address::needs_dns);
    Cluster {
        load_assignment: ClusterLoadAssignment::at(&name, endpoints),
        name,
        discovery: if dns { "STRICT_DNS" } else { "STATIC" },
        connect_timeout: "10s",
        lb_policy: "LEAST_REQUEST",
        dns_lookup_family: dns.then_some("V4_PREFERRED"),
        circuit_breakers: Some(CircuitBreakers::istio_default()),
        outlier_detection: None,
        common_lb_config: None,
        ring_hash_lb_config: None,
        transport_socket,
        typed_extension_protocol_options: match h2 {
            true => h2_upstream(),
            false => Default::default(),
        },
    }
}

fn collector_cluster(c: &Collector) -> Cluster {
    cluster(
        collector_cluster_name(),
        vec![Address::at(&c.host, c.port)],
        true,
        None,
    )
}
