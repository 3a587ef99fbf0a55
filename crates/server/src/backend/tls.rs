//! TLS for `ssl = on`: loading `ssl_cert_file` / `ssl_key_file` (PEM, relative to
//! the data directory) into a rustls server configuration. Loaded at startup (a
//! missing file is FATAL, as PostgreSQL) and again on SIGHUP (a failure then keeps
//! the old configuration and is logged).
//!
//! Corresponds to PostgreSQL's `src/backend/libpq/be-secure-openssl.c`
//! (`be_tls_init`).

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tandem_types::{PgError, PgResult, SqlState};

/// `F0000 config_file_error`, FATAL at startup.
fn config_error(message: String) -> PgError {
    PgError::fatal(SqlState("F0000"), message)
}

fn os_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// Builds the server TLS configuration from the named files.
pub(crate) fn load(datadir: &Path, cert_file: &str, key_file: &str) -> PgResult<Arc<ServerConfig>> {
    let cert_path = datadir.join(cert_file);
    let key_path = datadir.join(key_file);
    let cert_text = std::fs::read(&cert_path).map_err(|e| {
        config_error(format!(
            "could not load server certificate file \"{cert_file}\": {}",
            os_reason(&e)
        ))
    })?;
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut BufReader::new(&cert_text[..]))
            .collect::<Result<_, _>>()
            .map_err(|e| {
                config_error(format!(
                    "could not load server certificate file \"{cert_file}\": {e}"
                ))
            })?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "could not load server certificate file \"{cert_file}\": no certificate found"
        )));
    }
    let key_text = std::fs::read(&key_path).map_err(|e| {
        config_error(format!(
            "could not load private key file \"{key_file}\": {}",
            os_reason(&e)
        ))
    })?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut BufReader::new(&key_text[..]))
            .map_err(|e| {
                config_error(format!(
                    "could not load private key file \"{key_file}\": {e}"
                ))
            })?
            .ok_or_else(|| {
                config_error(format!(
                    "could not load private key file \"{key_file}\": no private key found"
                ))
            })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("could not create SSL context: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            config_error(format!(
                "could not load private key file \"{key_file}\": {e}"
            ))
        })?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_certificate_is_fatal_with_postgresql_text() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(dir.path(), "server.crt", "server.key").unwrap_err();
        assert!(e.is_fatal());
        assert_eq!(
            e.message,
            "could not load server certificate file \"server.crt\": No such file or directory"
        );
        std::fs::write(dir.path().join("server.crt"), "not pem").unwrap();
        let e = load(dir.path(), "server.crt", "server.key").unwrap_err();
        assert!(
            e.message
                .starts_with("could not load server certificate file"),
            "{}",
            e.message
        );
    }
}
