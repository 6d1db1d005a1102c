//! The rustls client configuration towards the external broker: the CA file's
//! certificates (or the operating system's roots), an optional client
//! certificate, and — only when `insecure_skip_verify` is set explicitly — a
//! verifier that accepts any server certificate. The ring provider is used, as
//! everywhere in Twinspace.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::BridgeError;
use crate::config::TlsConfig;

/// Builds the client configuration for bridge `bridge`.
pub(crate) fn client_config(bridge: &str, tls: &TlsConfig) -> Result<ClientConfig, BridgeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let error = |what: &'static str, path: &str, message: String| BridgeError::Tls {
        bridge: bridge.into(),
        what,
        path: path.into(),
        message,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| error("protocol versions", "", e.to_string()))?;

    let builder = if tls.insecure_skip_verify {
        tracing::warn!(
            bridge,
            "TLS server certificate verification is OFF (insecure_skip_verify)"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer { provider }))
    } else {
        let mut roots = RootCertStore::empty();
        match &tls.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| error("ca_file", path, e.to_string()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| error("ca_file", path, e.to_string()))?;
                if certs.is_empty() {
                    return Err(error("ca_file", path, "holds no PEM certificate".into()));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| error("ca_file", path, e.to_string()))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for problem in &found.errors {
                    tracing::warn!(bridge, error = %problem, "reading the system's CA certificates");
                }
                let (added, _ignored) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(error(
                        "ca_file",
                        "(system roots)",
                        "no CA file is configured and the system has no CA certificates; set tls.ca_file".into(),
                    ));
                }
            }
        }
        builder.with_root_certificates(roots)
    };

    match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert_path), Some(key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert_path)
                .map_err(|e| error("client_cert_file", cert_path, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| error("client_cert_file", cert_path, e.to_string()))?;
            if chain.is_empty() {
                return Err(error(
                    "client_cert_file",
                    cert_path,
                    "holds no PEM certificate".into(),
                ));
            }
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| error("client_key_file", key_path, e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| error("client_key_file", key_path, e.to_string()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts every server certificate, yet still checks the handshake
/// signatures (so the connection is encrypted to whoever answered). Used only
/// with `insecure_skip_verify = true`.
#[derive(Debug)]
struct AcceptAnyServer {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
