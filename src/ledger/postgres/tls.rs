//! TLS to PostgreSQL over rustls, as libpq's `sslmode` and `sslrootcert` ask for it.
//!
//! The driver knows `sslmode` only as disable, prefer and require, and refuses `sslrootcert`:
//! crumb takes both out of the URL, tells the driver whether TLS is required, and does the
//! certificate checks itself in the rustls configuration it hands over.
//!
//! - `disable`: no TLS.
//! - `prefer` (libpq's default, and crumb's when the URL names none): TLS if the server offers
//!   it, else a plain connection; the certificate is not checked (its chain is, with
//!   `sslrootcert`, as libpq does). That keeps a URL without `sslmode` working against a
//!   server without TLS, as it did before crumb spoke TLS. Unlike libpq, a TLS handshake that
//!   fails is not retried in plain text.
//! - `require`: TLS or no connection, but the certificate is not checked (libpq's meaning:
//!   encryption against a passive listener, not proof of who answers). With `sslrootcert`
//!   given it checks the chain, as `verify-ca` (libpq does the same when a root file exists).
//! - `verify-ca`: TLS, the chain checked against the roots; the host name is not.
//! - `verify-full`: TLS, the chain and the host name checked.
//!
//! The roots are the certificates in `sslrootcert=PATH`; without it (or with libpq's
//! `sslrootcert=system`) the Mozilla roots compiled into crumb. No mode falls back to a weaker
//! one: a server that refuses TLS fails `require` and the verify modes. Over a Unix socket
//! there is no TLS whatever the mode, as in libpq (the caller decides that).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, but `allow` (plain first, TLS only if refused), which crumb refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, TlsSettingsError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => return Err(TlsSettingsError::Allow),
            _ => return Err(TlsSettingsError::UnknownMode),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told: whether a server without TLS is refused.
    fn driver(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// Where the trusted roots come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// The Mozilla roots compiled into crumb (no `sslrootcert`, or `sslrootcert=system`).
    Mozilla,
    /// The certificates in a PEM file (`sslrootcert=PATH`).
    File(PathBuf),
}

/// The TLS settings of a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub roots: Roots,
    /// Whether `sslrootcert` was given (it turns `require` into `verify-ca`, as in libpq).
    root_file_given: bool,
}

/// A URL's TLS parameters that crumb cannot honour. The values are never echoed: a pasted URL
/// may hold anything there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsSettingsError {
    #[error("sslmode must be one of disable, prefer, require, verify-ca, verify-full")]
    UnknownMode,
    #[error("sslmode=allow (a plain connection first) is not supported: use prefer, or disable")]
    Allow,
    #[error("sslrootcert=system needs sslmode=verify-full (as in libpq)")]
    SystemNeedsVerifyFull,
    #[error("sslrootcert is empty")]
    EmptyRootCert,
    #[error("a TLS parameter of the URL is not valid percent-encoded UTF-8")]
    Encoding,
    #[error("{0} (client certificates) is not supported")]
    ClientCertificate(&'static str),
}

/// Why the roots of `sslrootcert` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    #[error("sslrootcert {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("sslrootcert {path} holds no certificate (`-----BEGIN CERTIFICATE-----`)")]
    Empty { path: String },
    #[error("sslrootcert {path}: a certificate crumb cannot use: {reason}")]
    Unusable { path: String, reason: String },
}

/// The parameters crumb reads itself; the driver is never shown them.
const OWN_PARAMS: [&str; 2] = ["sslmode", "sslrootcert"];

/// Client-certificate parameters of libpq: refused by name rather than by the driver's
/// "unknown option" (`sslpassword` would hold a secret; its value is never echoed).
const CLIENT_CERT_PARAMS: [&str; 4] = ["sslcert", "sslkey", "sslpassword", "sslcertmode"];

/// Splits `url` into the URL the driver reads (without crumb's own parameters) and those
/// parameters, decoded, in their order. The query starts at the first `?` after the user
/// information, as the driver reads it (which ends at the first `@`).
pub fn split_url(url: &str) -> (String, Vec<(String, Option<String>)>) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let after_credentials = url[after_scheme..].find('@').map_or(after_scheme, |i| after_scheme + i + 1);
    let Some(q) = url[after_credentials..].find('?').map(|i| after_credentials + i) else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept: Vec<&str> = Vec::new();
    let mut own = Vec::new();
    for param in url[q + 1..].split('&') {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        match decode(key) {
            Some(k) if OWN_PARAMS.contains(&k.as_str()) => own.push((k, decode(value))),
            _ => kept.push(param),
        }
    }
    let mut driver = url[..q].to_owned();
    if !kept.is_empty() {
        driver.push('?');
        driver.push_str(&kept.join("&"));
    }
    (driver, own)
}

/// The URL the driver reads and the TLS settings crumb applies.
pub fn settings(url: &str) -> Result<(String, TlsSettings), TlsSettingsError> {
    let (driver, own) = split_url(url);
    let (mut mode, mut root) = (None, None);
    for (key, value) in own {
        let value = value.ok_or(TlsSettingsError::Encoding)?;
        match key.as_str() {
            "sslmode" => mode = Some(SslMode::parse(&value)?),
            _ => root = Some(value),
        }
    }
    // The driver would refuse these as unknown options; say which feature is missing instead.
    for param in split_query_keys(&driver) {
        if let Some(name) = CLIENT_CERT_PARAMS.iter().find(|p| **p == param) {
            return Err(TlsSettingsError::ClientCertificate(name));
        }
    }
    let mode = mode.unwrap_or(SslMode::Prefer);
    let roots = match root.as_deref() {
        None => Roots::Mozilla,
        Some("") => return Err(TlsSettingsError::EmptyRootCert),
        Some("system") if mode != SslMode::VerifyFull => return Err(TlsSettingsError::SystemNeedsVerifyFull),
        Some("system") => Roots::Mozilla,
        Some(path) => Roots::File(PathBuf::from(path)),
    };
    Ok((driver, TlsSettings { mode, roots, root_file_given: root.is_some() }))
}

fn split_query_keys(url: &str) -> Vec<String> {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let after_credentials = url[after_scheme..].find('@').map_or(after_scheme, |i| after_scheme + i + 1);
    match url[after_credentials..].split_once('?') {
        Some((_, query)) => query.split('&').filter_map(|p| decode(p.split_once('=').map_or(p, |(k, _)| k))).collect(),
        None => Vec::new(),
    }
}

/// Percent-decoding as the driver does it (`+` is a plus sign); `None` if not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl TlsSettings {
    /// The mode in force: `require` with a root file is `verify-ca`, as libpq has it.
    pub fn effective_mode(&self) -> SslMode {
        match self.mode {
            SslMode::Require if self.root_file_given => SslMode::VerifyCa,
            mode => mode,
        }
    }

    pub fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        self.effective_mode().driver()
    }

    /// Where the roots came from, for a message about a certificate they did not vouch for.
    pub fn roots_named(&self) -> String {
        match &self.roots {
            Roots::Mozilla => "the Mozilla roots built into crumb; give sslrootcert=PATH for a private CA".into(),
            Roots::File(path) => format!("sslrootcert {}", path.display()),
        }
    }

    /// The connector every connection of the pool uses (the roots read once, here).
    pub fn connector(&self) -> Result<MakeRustlsConnect, RootsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring's provider supports the default TLS versions");
        let unchecked = |builder: rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>| {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Unchecked(provider.clone())))
        };
        let config = match self.effective_mode() {
            // `disable` never uses the connector; `require` (without a root file, else it is
            // `verify-ca`) does not check; `prefer` checks the chain only given a root file,
            // as libpq.
            SslMode::Disable | SslMode::Require => unchecked(builder).with_no_client_auth(),
            SslMode::Prefer if !self.root_file_given => unchecked(builder).with_no_client_auth(),
            SslMode::Prefer | SslMode::VerifyCa => {
                let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(self.root_store()?), provider.clone())
                    .build()
                    .map_err(|e| self.unusable(e.to_string()))?;
                builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly(chain))).with_no_client_auth()
            }
            SslMode::VerifyFull => builder.with_root_certificates(self.root_store()?).with_no_client_auth(),
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<rustls::RootCertStore, RootsError> {
        let mut roots = rustls::RootCertStore::empty();
        let path = match &self.roots {
            Roots::Mozilla => {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                return Ok(roots);
            }
            Roots::File(path) => path,
        };
        let shown = path.display().to_string();
        let pem = std::fs::read(path)
            .map_err(|e| RootsError::Unreadable { path: shown.clone(), reason: crate::error::io_reason(&e) })?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| RootsError::Unusable { path: shown.clone(), reason: e.to_string() })?;
            roots.add(cert).map_err(|e| self.unusable(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(RootsError::Empty { path: shown });
        }
        Ok(roots)
    }

    fn unusable(&self, reason: String) -> RootsError {
        let path = match &self.roots {
            Roots::File(path) => path.display().to_string(),
            Roots::Mozilla => "system".into(),
        };
        RootsError::Unusable { path, reason }
    }
}

/// `prefer` and `require` without a root file: any certificate, as libpq. The handshake's
/// signatures are still checked against the certificate's key.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full check but for the host name. webpki checks the chain (issuer,
/// validity, usage) before the name, so a name mismatch is only reported for a good chain.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Why a connection failed in TLS, in plain words, and whether trying again could help; `None`
/// for any other failure. The driver has no public kind for TLS failures: its fixed message is
/// the one handle on them (pinned by the tests against a real server).
pub fn failure(e: &tokio_postgres::Error, settings: &TlsSettings) -> Option<(String, bool)> {
    use std::error::Error as _;
    if e.to_string() != "error performing TLS handshake" {
        return None;
    }
    // The mode as the URL gave it, which is what the operator will look for.
    let mode = settings.mode.as_str();
    let cause = e.source();
    let io = cause.and_then(|c| c.downcast_ref::<std::io::Error>());
    let rustls_error = io.and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref::<rustls::Error>());
    Some(match (rustls_error, io) {
        (Some(rustls::Error::InvalidCertificate(c)), _) => {
            let why = match c {
                CertificateError::UnknownIssuer => {
                    format!("is not issued by a CA crumb trusts ({})", settings.roots_named())
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    format!(
                        "does not name the host connected to ({c}); verify-full checks the name, verify-ca does not"
                    )
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!("has expired ({c})"),
                other => format!("was refused ({other})"),
            };
            (format!("TLS (sslmode={mode}): the server's certificate {why}"), false)
        }
        (Some(other), _) => (format!("TLS (sslmode={mode}): the handshake failed: {other}"), false),
        // The connection dropped during the handshake: a restarting server, worth retrying.
        (None, Some(io)) => (format!("TLS (sslmode={mode}): the connection failed during the handshake: {io}"), true),
        (None, None) => {
            let said = cause.map_or_else(String::new, |c| c.to_string());
            let reason = if said == "server does not support TLS" {
                format!("the server does not offer TLS, and sslmode={mode} refuses a plain connection")
            } else {
                format!("TLS (sslmode={mode}): {said}")
            };
            (reason, false)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(url: &str) -> SslMode {
        settings(url).unwrap().1.effective_mode()
    }

    #[test]
    fn sslmode_is_read_as_libpq_defines_it() {
        assert_eq!(mode_of("postgres://u@h/db"), SslMode::Prefer, "libpq's default");
        assert_eq!(mode_of("postgres://u@h/db?sslmode=disable"), SslMode::Disable);
        assert_eq!(mode_of("postgres://u@h/db?sslmode=require"), SslMode::Require);
        assert_eq!(mode_of("postgres://u@h/db?sslmode=verify-ca"), SslMode::VerifyCa);
        assert_eq!(mode_of("postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem"), SslMode::VerifyFull);
        // libpq: require with a root file checks the chain.
        assert_eq!(mode_of("postgres://u@h/db?sslrootcert=/ca.pem&sslmode=require"), SslMode::VerifyCa);
        assert_eq!(settings("postgres://u@h/db?sslmode=allow").unwrap_err(), TlsSettingsError::Allow);
        assert_eq!(settings("postgres://u@h/db?sslmode=verify_full").unwrap_err(), TlsSettingsError::UnknownMode);
        assert_eq!(
            settings("postgres://u@h/db?sslrootcert=system&sslmode=require").unwrap_err(),
            TlsSettingsError::SystemNeedsVerifyFull
        );
        assert_eq!(
            settings("postgres://u@h/db?sslmode=require&sslkey=/k.pem").unwrap_err(),
            TlsSettingsError::ClientCertificate("sslkey")
        );
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            assert_eq!(SslMode::parse(mode).unwrap().as_str(), mode);
        }
    }

    #[test]
    fn the_driver_sees_the_url_without_crumbs_own_parameters() {
        let (driver, tls) =
            settings("postgres://u:p%3Fw@h:5/db?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Fca.pem&connect_timeout=3")
                .unwrap();
        assert_eq!(driver, "postgres://u:p%3Fw@h:5/db?application_name=x&connect_timeout=3");
        assert_eq!(tls.roots, Roots::File(PathBuf::from("/etc/ca dir/ca.pem")));
        assert_eq!(tls.driver_mode(), tokio_postgres::config::SslMode::Require);
        // A raw `?` in the password is the driver's user information, not the query.
        let (driver, tls) = settings("postgres://u:p?sslmode=disable@h/db?sslmode=verify-ca").unwrap();
        assert_eq!(driver, "postgres://u:p?sslmode=disable@h/db");
        assert_eq!(tls.effective_mode(), SslMode::VerifyCa);
        assert_eq!(settings("postgres://u@h/db?sslmode=disable").unwrap().0, "postgres://u@h/db");
        assert_eq!(settings("postgres://u@h/db?sslrootcert=").unwrap_err(), TlsSettingsError::EmptyRootCert);
    }

    #[test]
    fn a_root_file_without_a_certificate_is_refused_when_the_ledger_opens() {
        let dir = std::env::temp_dir().join(format!("crumb-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let url = format!("postgres://u@h/db?sslmode=verify-full&sslrootcert={}", empty.display());
        let err = settings(&url).unwrap().1.connector().err().expect("an empty root file is refused");
        assert!(matches!(err, RootsError::Empty { .. }), "{err}");
        let url = format!("postgres://u@h/db?sslmode=verify-ca&sslrootcert={}", dir.join("absent.pem").display());
        let err = settings(&url).unwrap().1.connector().err().expect("a missing root file is refused");
        assert!(err.to_string().contains("no such file"), "{err}");
        // Unchecked modes never read the roots.
        assert!(settings("postgres://u@h/db?sslmode=require").unwrap().1.connector().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
