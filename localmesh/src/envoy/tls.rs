//! Istio's mutual TLS, both ends, as istiod writes it.
//!
//! The proxy's key and certificate and the root are the secrets `default` and
//! `ROOTCA`, which istiod's contexts name (`SDSDefaultResourceName`,
//! `SDSRootResourceName`, pilot/pkg/security/model). istio-agent serves them
//! over SDS; here they are static secrets of the bootstrap (files written by
//! [`crate::ca`]), named the same, so the contexts are istiod's own.

use serde::Serialize;

use super::types::{Any, NamedConfig, StringMatcher};
use crate::ca::Credentials;

/// istiod's `SDSDefaultResourceName`: the proxy's own key and certificate.
pub const DEFAULT_SECRET: &str = "default";
/// istiod's `SDSRootResourceName`: the root its peers are verified against.
pub const ROOT_SECRET: &str = "ROOTCA";
/// The transport socket's name for TLS.
const TLS_SOCKET: &str = "envoy.transport_sockets.tls";

/// `SupportedCiphers` of pilot/pkg/security/authn/utils (server side).
const SUPPORTED_CIPHERS: [&str; 6] = [
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
];

/// `util.ALPNHttp`: what the inbound side of an HTTP port negotiates.
pub const ALPN_HTTP: [&str; 2] = ["h2", "http/1.1"];
/// `util.ALPNInMeshWithMxc`: a client sidecar's ALPN to an HTTP/1.1 cluster in
/// the mesh ("istio" marks mesh traffic for the server's filter chain match).
pub const ALPN_IN_MESH: [&str; 2] = ["istio-peer-exchange", "istio"];
/// `util.ALPNInMeshH2WithMxc`: the same to an HTTP/2 (gRPC) cluster.
pub const ALPN_IN_MESH_H2: [&str; 3] = ["istio-peer-exchange", "istio", "h2"];
/// `allIstioMtlsALPNs` of listener.go: what a PERMISSIVE inbound side
/// recognizes as a mesh client's mutual TLS.
pub const ALL_ISTIO_MTLS_ALPNS: [&str; 5] = [
    "istio",
    "istio-peer-exchange",
    "istio-http/1.0",
    "istio-http/1.1",
    "istio-h2",
];

#[derive(Debug, Clone, Serialize)]
pub struct Secret {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<TlsCertificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_context: Option<CertificateValidationContext>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsCertificate {
    pub certificate_chain: DataSource,
    pub private_key: DataSource,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSource {
    pub filename: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CertificateValidationContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_ca: Option<DataSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_typed_subject_alt_names: Vec<SubjectAltNameMatcher>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubjectAltNameMatcher {
    pub san_type: &'static str,
    pub matcher: StringMatcher,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommonTlsContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_params: Option<TlsParameters>,
    pub alpn_protocols: Vec<&'static str>,
    pub tls_certificate_sds_secret_configs: Vec<SdsSecretConfig>,
    pub combined_validation_context: CombinedValidationContext,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsParameters {
    pub tls_minimum_protocol_version: &'static str,
    pub tls_maximum_protocol_version: &'static str,
    pub cipher_suites: Vec<&'static str>,
}

/// A secret by name; without `sds_config` Envoy takes it from the
/// bootstrap's static secrets.
#[derive(Debug, Clone, Serialize)]
pub struct SdsSecretConfig {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CombinedValidationContext {
    pub default_validation_context: CertificateValidationContext,
    pub validation_context_sds_secret_config: SdsSecretConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct DownstreamTlsContext {
    pub common_tls_context: CommonTlsContext,
    pub require_client_certificate: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UpstreamTlsContext {
    pub common_tls_context: CommonTlsContext,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sni: String,
}

/// The secrets a proxy's contexts name: its credentials and the root.
pub fn secrets(c: &Credentials) -> Vec<Secret> {
    vec![certificate(c, DEFAULT_SECRET), root(c)]
}

/// A workload's key and certificate as the secret `name`.
pub fn certificate(c: &Credentials, name: &str) -> Secret {
    Secret {
        name: name.to_owned(),
        tls_certificate: Some(TlsCertificate {
            certificate_chain: file(&c.cert_chain),
            private_key: file(&c.key),
        }),
        validation_context: None,
    }
}

/// The root every peer is verified against, as [`ROOT_SECRET`].
pub fn root(c: &Credentials) -> Secret {
    Secret {
        name: ROOT_SECRET.to_owned(),
        tls_certificate: None,
        validation_context: Some(CertificateValidationContext {
            trusted_ca: Some(file(&c.root_cert)),
            ..Default::default()
        }),
    }
}

fn file(p: &std::path::Path) -> DataSource {
    DataSource {
        filename: p.display().to_string(),
    }
}

/// The inbound side of an HTTP port under mutual TLS: `BuildInboundTLS`
/// (pilot/pkg/security/authn/utils): a client certificate required and
/// verified against the root, any SAN of the trust domain (who may call is
/// the RBAC filter's business), ALPN `h2, http/1.1`, TLS 1.2 to 1.3 with
/// `SupportedCiphers`.
pub fn inbound() -> NamedConfig {
    downstream(DEFAULT_SECRET, ALPN_HTTP.to_vec())
}

/// HBONE's server end (ztunnel's port 15008, a waypoint's): mutual TLS
/// under the secret `secret`, HTTP/2 only.
pub fn hbone_server(secret: &str) -> NamedConfig {
    downstream(secret, vec!["h2"])
}

/// HBONE's client end: HTTP/2 under mutual TLS with the secret `secret`,
/// the server verified against the root and its SPIFFE ID.
pub fn hbone_client(secret: &str, server_uri: &str) -> NamedConfig {
    upstream(secret, vec!["h2"], &[server_uri.to_owned()], String::new())
}

fn downstream(secret: &str, alpn_protocols: Vec<&'static str>) -> NamedConfig {
    let context = DownstreamTlsContext {
        common_tls_context: CommonTlsContext {
            tls_params: Some(TlsParameters {
                tls_minimum_protocol_version: "TLSv1_2",
                tls_maximum_protocol_version: "TLSv1_3",
                cipher_suites: SUPPORTED_CIPHERS.to_vec(),
            }),
            alpn_protocols,
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
            }],
            combined_validation_context: CombinedValidationContext {
                default_validation_context: CertificateValidationContext::default(),
                validation_context_sds_secret_config: SdsSecretConfig {
                    name: ROOT_SECRET.to_owned(),
                },
            },
        },
        require_client_certificate: true,
    };
    NamedConfig {
        name: TLS_SOCKET,
        typed_config: Any::DownstreamTlsContext(Box::new(context)),
    }
}

/// ISTIO_MUTUAL to a destination in the mesh (`buildUpstreamClusterTLSContext`,
/// pilot/pkg/networking/core/cluster_tls.go): the proxy's own certificate, the
/// server verified against the root and against the SPIFFE IDs of the
/// destination's service accounts, the SNI of the subset
/// (`outbound_.PORT_.SUBSET_.HOST`, auto mTLS), ALPN with "istio".
///
/// istiod writes the SANs as `match_subject_alt_names` (deprecated in Envoy,
/// matching any SAN type); this writes the typed form its waypoints use
/// (cluster_waypoint.go), restricted to URI SANs: the same check for
/// certificates that carry only a SPIFFE URI.
pub fn istio_mutual(server_uris: &[String], sni: String, h2: bool) -> NamedConfig {
    let alpn = match h2 {
        true => ALPN_IN_MESH_H2.to_vec(),
        false => ALPN_IN_MESH.to_vec(),
    };
    upstream(DEFAULT_SECRET, alpn, server_uris, sni)
}

fn upstream(
    secret: &str,
    alpn_protocols: Vec<&'static str>,
    server_uris: &[String],
    sni: String,
) -> NamedConfig {
    let context = UpstreamTlsContext {
        common_tls_context: CommonTlsContext {
            tls_params: None,
            alpn_protocols,
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
            }],
            combined_validation_context: CombinedValidationContext {
                default_validation_context: CertificateValidationContext {
                    trusted_ca: None,
                    match_typed_subject_alt_names: server_uris
                        .iter()
                        .map(|uri| SubjectAltNameMatcher {
                            san_type: "URI",
                            matcher: StringMatcher { exact: uri.clone() },
                        })
                        .collect(),
                },
                validation_context_sds_secret_config: SdsSecretConfig {
                    name: ROOT_SECRET.to_owned(),
                },
            },
        },
        sni,
    };
    NamedConfig {
        name: TLS_SOCKET,
        typed_config: Any::UpstreamTlsContext(Box::new(context)),
    }
}
