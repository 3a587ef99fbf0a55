//! Certificates made at test time, for tests of TLS connections.
//!
//! [`TestPki::generate`] makes, in a directory of the test's choosing, a test
//! certificate authority, a server certificate it signed for the given names
//! (`localhost`, `127.0.0.1`, ...), a client certificate it signed (for
//! `sslcert` / `sslkey` and `clientcert` tests), and a second, unrelated
//! authority to prove that a wrong CA is refused. Everything is PEM, written
//! with the file names PostgreSQL's documentation uses (`server.crt`,
//! `server.key`, `root.crt`, ...), key files with mode 0600 as libpq and the
//! server demand. Nothing is kept between runs.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// The files of one test PKI. All paths are absolute.
#[derive(Clone, Debug)]
pub struct TestPki {
    /// The authority that signed the server and client certificates.
    pub root_crt: PathBuf,
    /// A second authority that signed nothing here: `sslrootcert` set to it
    /// must make `verify-ca` fail.
    pub wrong_root_crt: PathBuf,
    /// The server certificate (its subject alternative names are the names
    /// given to [`TestPki::generate`]) and its key.
    pub server_crt: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate for the user name given, and its key.
    pub client_crt: PathBuf,
    pub client_key: PathBuf,
}

fn other(e: rcgen::Error) -> io::Error {
    io::Error::other(e.to_string())
}

fn authority(common_name: &str) -> io::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().map_err(other)?;
    CertifiedIssuer::self_signed(params, key).map_err(other)
}

fn write_key(path: &Path, pem: &str) -> io::Result<()> {
    fs::write(path, pem)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

impl TestPki {
    /// Makes the certificates in `dir` (created if missing). `server_names`
    /// are the server certificate's subject alternative names (a name that
    /// parses as an IP address becomes an IP entry); `client_user` is the
    /// client certificate's common name.
    pub fn generate(dir: &Path, server_names: &[&str], client_user: &str) -> io::Result<TestPki> {
        fs::create_dir_all(dir)?;
        let dir = fs::canonicalize(dir)?;
        let ca = authority("tandem test root CA")?;
        let wrong = authority("tandem unrelated CA")?;

        let names: Vec<String> = server_names.iter().map(|s| s.to_string()).collect();
        let mut server = CertificateParams::new(names).map_err(other)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            server_names.first().copied().unwrap_or("localhost"),
        );
        server.distinguished_name = dn;
        let server_key = KeyPair::generate().map_err(other)?;
        let server_cert = server.signed_by(&server_key, &ca).map_err(other)?;

        let mut client = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, client_user);
        client.distinguished_name = dn;
        let client_key = KeyPair::generate().map_err(other)?;
        let client_cert = client.signed_by(&client_key, &ca).map_err(other)?;

        let pki = TestPki {
            root_crt: dir.join("root.crt"),
            wrong_root_crt: dir.join("wrong-root.crt"),
            server_crt: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_crt: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        };
        fs::write(&pki.root_crt, ca.pem())?;
        fs::write(&pki.wrong_root_crt, wrong.pem())?;
        fs::write(&pki.server_crt, server_cert.pem())?;
        write_key(&pki.server_key, &server_key.serialize_pem())?;
        fs::write(&pki.client_crt, client_cert.pem())?;
        write_key(&pki.client_key, &client_key.serialize_pem())?;
        Ok(pki)
    }

    /// Copies the server certificate and key into a data directory as
    /// `server.crt` / `server.key` (mode 0600) and the root as `root.crt`,
    /// the names `ssl_cert_file`, `ssl_key_file` and `ssl_ca_file` default
    /// to or are usually set to. Returns the `postgresql.conf` lines that turn
    /// TLS on with them.
    pub fn install_server(&self, datadir: &Path) -> io::Result<String> {
        fs::copy(&self.server_crt, datadir.join("server.crt"))?;
        fs::copy(&self.server_key, datadir.join("server.key"))?;
        fs::set_permissions(
            datadir.join("server.key"),
            fs::Permissions::from_mode(0o600),
        )?;
        fs::copy(&self.root_crt, datadir.join("root.crt"))?;
        Ok("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_pem_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::generate(dir.path(), &["localhost", "127.0.0.1"], "postgres")
            .expect("generate");
        for p in [
            &pki.root_crt,
            &pki.server_crt,
            &pki.client_crt,
            &pki.wrong_root_crt,
        ] {
            let text = fs::read_to_string(p).expect("read");
            assert!(
                text.starts_with("-----BEGIN CERTIFICATE-----"),
                "{}",
                p.display()
            );
        }
        let key = fs::read_to_string(&pki.server_key).expect("read key");
        assert!(key.contains("PRIVATE KEY"));
        let mode = fs::metadata(&pki.server_key)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
