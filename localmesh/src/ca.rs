//! The mesh's certificate authority, made at start, as istiod's self-signed
//! CA: a root `O=cluster.local` (the trust domain, [`istio::TRUST_DOMAIN`]),
//! and for each workload a leaf as istiod signs a CSR
//! (security/pkg/pki/util/generate_cert.go, `genCertTemplateFromCSR`): empty
//! subject, the SPIFFE URI as its only SAN, marked critical since the subject
//! is empty (san.go), digital signature and key encipherment, server and
//! client auth, valid from 2 minutes before now (`ClockSkewGracePeriod`) for
//! 24 hours (`DefaultWorkloadCertTTL`). Keys are EC P-256 (istio-agent's
//! `ECC_SIGNATURE_ALGORITHM=ECDSA`; its default is RSA 2048).
//!
//! Everything is written in one private temporary directory (0700, files
//! 0600), named as a pod mounts them (`cert-chain.pem`, `key.pem`,
//! `root-cert.pem`), and removed with the [`Authority`].

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use meshgen::model::istio;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::identity::Identity;

/// istiod's `DefaultWorkloadCertTTL`.
pub const WORKLOAD_CERT_TTL: Duration = Duration::hours(24);
/// istiod's `DefaultSelfSignedCACertTTL` (10 years).
pub const ROOT_CERT_TTL: Duration = Duration::days(3650);
/// istiod's `ClockSkewGracePeriod`: certificates are valid a little before
/// they are made.
pub const CLOCK_SKEW_GRACE: Duration = Duration::minutes(2);

/// The CA, its private directory and its root certificate there.
pub struct Authority {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
    root_cert: PathBuf,
}

/// What a pod's proxy is given: its certificate, key, and the root to verify
/// peers with.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub identity: Identity,
    pub cert_chain: PathBuf,
    pub key: PathBuf,
    pub root_cert: PathBuf,
}

impl Authority {
    /// A new CA in a new private temporary directory.
    pub fn new() -> Result<Authority, Error> {
        let dir = tempfile::Builder::new()
            .prefix("meshgen-ca-")
            .tempdir()
            .map_err(|source| Error::Io {
                what: "cannot create the private directory",
                path: std::env::temp_dir(),
                source,
            })?;
        private(dir.path(), 0o700)?;
        let key = KeyPair::generate().map_err(|source| Error::Certificate {
            what: "root key".into(),
            source,
        })?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, istio::TRUST_DOMAIN);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        (params.not_before, params.not_after) = validity(ROOT_CERT_TTL);
        let issuer =
            CertifiedIssuer::self_signed(params, key).map_err(|source| Error::Certificate {
                what: "self-signed root".into(),
                source,
            })?;
        let root_cert = dir.path().join("root-cert.pem");
        write_private(&root_cert, issuer.pem().as_bytes())?;
        Ok(Authority {
            dir,
            issuer,
            root_cert,
        })
    }

    /// The private directory: everything the local mesh writes goes here.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The root certificate (PEM) every proxy verifies its peers against.
    pub fn root_cert(&self) -> &Path {
        &self.root_cert
    }

    /// A new key and certificate for `id`, in `<dir>/<name>/`.
    pub fn issue(&self, id: &Identity) -> Result<Credentials, Error> {
        let name = &id.name;
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\0']) {
            return Err(Error::BadName(name.clone()));
        }
        let failed = |source| Error::Certificate {
            what: format!("certificate of {}", id.spiffe_uri()),
            source,
        };
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        let uri = id.spiffe_uri().try_into().map_err(failed)?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        (params.not_before, params.not_after) = validity(WORKLOAD_CERT_TTL);
        let cert = params.signed_by(&key, &self.issuer).map_err(failed)?;

        let dir = self.dir.path().join(name);
        fs::create_dir(&dir).map_err(|source| Error::Io {
            what: "cannot create the credentials directory",
            path: dir.clone(),
            source,
        })?;
        private(&dir, 0o700)?;
        let cert_chain = dir.join("cert-chain.pem");
        let key_file = dir.join("key.pem");
        write_private(&cert_chain, cert.pem().as_bytes())?;
        write_private(&key_file, key.serialize_pem().as_bytes())?;
        Ok(Credentials {
            identity: id.clone(),
            cert_chain,
            key: key_file,
            root_cert: self.root_cert.clone(),
        })
    }
}

fn validity(ttl: Duration) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - CLOCK_SKEW_GRACE, now + ttl)
}

fn private(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| Error::Io {
        what: "cannot restrict",
        path: path.to_owned(),
        source,
    })
}

/// A new file, readable by us only from the start (never a moment world-readable).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| Error::Io {
            what: "cannot write",
            path: path.to_owned(),
            source,
        })
}
