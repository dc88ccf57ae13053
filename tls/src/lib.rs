//! TLS for every connection that crosses a network. One crypto provider (ring: small to
//! build, and the same in every binary), clients that trust the system's roots plus an
//! optional CA bundle (a private CA, or a throwaway one for the local deployment), and
//! servers that present a PEM certificate chain and key.
//!
//! The services speak plain HTTP when no certificate is configured: behind a load
//! balancer that terminates TLS, or in tests that do not cross a network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde::{Deserialize, Serialize};

/// The `[tls]` section of a service's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain to serve HTTPS with (leaf first); with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// PEM bundle of extra CAs this service trusts when it calls `https://` URLs, on top
    /// of the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl TlsConfig {
    /// The server configuration, when this service serves HTTPS.
    pub fn server(&self) -> Result<Option<ServerConfig>, TlsError> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => server_config(cert, key).map(Some),
            (None, None) => Ok(None),
            _ => Err(TlsError::Config("tls.cert_file and tls.key_file go together".to_owned())),
        }
    }

    /// The client configuration for calls this service makes.
    pub fn client(&self) -> Result<ClientConfig, TlsError> {
        client_config(self.ca_file.as_deref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {message}")]
    Pem { path: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The one crypto provider every TLS connection of ours uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ours the process's default provider, for clients built without an explicit
/// configuration (reqwest's `Client::new()`). Idempotent; binaries call it first thing.
pub fn install_default_provider() {
    // Err means a provider is already installed, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client configuration trusting the system's roots and the CAs in `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, TlsError> {
    install_default_provider();
    let mut roots = RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for err in &system.errors {
        tracing::warn!(%err, "a system root certificate could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(system.certs);
    tracing::debug!(added, ignored, "system root certificates");
    if let Some(path) = ca_file {
        let certs = read_certs(path)?;
        if certs.is_empty() {
            return Err(TlsError::Pem { path: path.display().to_string(), message: "no certificate in it".to_owned() });
        }
        for cert in certs {
            roots.add(cert)?;
        }
    }
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A server configuration presenting the chain in `cert_file` with the key in `key_file`.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<ServerConfig, TlsError> {
    install_default_provider();
    let chain = read_certs(cert_file)?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: cert_file.display().to_string(),
            message: "no certificate in it".to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|err| TlsError::Pem { path: key_file.display().to_string(), message: err.to_string() })?;
    Ok(ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |err: rustls::pki_types::pem::Error| TlsError::Pem {
        path: path.display().to_string(),
        message: err.to_string(),
    };
    CertificateDer::pem_file_iter(path).map_err(pem_error)?.collect::<Result<Vec<_>, _>>().map_err(pem_error)
}
