//! TLS on crumb's own listeners (`--tls-cert`, `--tls-key`): rustls, HTTP/1.1, TLS 1.2 and 1.3.
//!
//! The certificate and key are read at start and again on every reload (SIGHUP), so a renewed
//! certificate (certbot, cert-manager) is served from the next handshake on, without a restart
//! and without dropping a connection. A pair that does not load is refused: at start the server
//! does not start, and on a reload the pair in force stays.

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate in force, behind a swap: each handshake takes the one current then.
#[derive(Debug)]
struct Current(arc_swap::ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// A listener's TLS: where its certificate comes from, and the acceptor that serves it.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<Current>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.cert.display())
    }
}

/// Reads a certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 or
/// SEC1) and checks that they belong together.
fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let provider = rustls::crypto::ring::default_provider();
    let cert_pem = read_bounded(cert).map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("--tls-cert {}: no PEM certificate in it", cert.display()));
    }
    // The key's own error may quote its bytes: name the file only.
    let key_pem = zeroize::Zeroizing::new(read_bounded(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?);
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| format!("--tls-key {}: not a PEM private key", key.display()))?;
    let signer = provider
        .key_provider
        .load_private_key(private)
        .map_err(|_| format!("--tls-key {}: a key type rustls cannot sign with", key.display()))?;
    let certified = CertifiedKey::new(chain, signer);
    certified
        .keys_match()
        .map_err(|_| format!("--tls-key {} is not the key of --tls-cert {}", key.display(), cert.display()))?;
    Ok(certified)
}

/// Larger than any certificate chain or key: a file past it (or a device) is refused before
/// it is read whole.
const MAX_PEM: u64 = 1 << 20;

/// Reads a regular file of at most [`MAX_PEM`] bytes.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| format!("cannot read it: {}", e.kind()))?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_PEM + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read it: {}", e.kind()))?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(format!("larger than {MAX_PEM} bytes"));
    }
    Ok(bytes)
}

impl Tls {
    /// Loads the pair; an error names the flag and the file, never the key's bytes.
    pub fn new(cert: &Path, key: &Path) -> Result<Tls, String> {
        let current = Arc::new(Current(arc_swap::ArcSwap::from_pointee(load(cert, key)?)));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Reads the pair again and serves it from the next handshake on; on an error the pair in
    /// force stays.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = load(&self.cert, &self.key)?;
        self.current.0.store(Arc::new(fresh));
        Ok(())
    }

    /// The private key's file, to warn when others can read it.
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.acceptor.clone()
    }
}
