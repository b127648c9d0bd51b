//! TLS material for the gRPC port. With `tls.mode: auto` the collector creates, once, a
//! private CA and a server certificate signed by it under `<data_dir>/tls/`; agents trust
//! `ca.pem`. Real deployments usually bring their own (`mode: files`).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("generating certificates: {0}")]
    Generate(String),
}

pub struct ServerTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Where agents find the CA (auto mode).
    pub ca_path: Option<PathBuf>,
}

pub fn load_files(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    Ok(ServerTls {
        cert_pem: read(cert)?,
        key_pem: read(key)?,
        ca_path: None,
    })
}

/// Loads the auto-generated material, creating it on first start.
pub fn auto(dir: &Path, extra_names: &[String]) -> Result<ServerTls, TlsError> {
    let ca_path = dir.join("ca.pem");
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    if !(ca_path.exists() && cert_path.exists() && key_path.exists()) {
        generate(dir, extra_names)?;
        tracing::info!(ca = %ca_path.display(), "generated a private CA and server certificate for the gRPC port");
    }
    let mut t = load_files(&cert_path, &key_path)?;
    t.ca_path = Some(ca_path);
    Ok(t)
}

fn generate(dir: &Path, extra_names: &[String]) -> Result<(), TlsError> {
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;

    let ca_key = KeyPair::generate().map_err(g)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    ca.distinguished_name
        .push(DnType::CommonName, "Tilsyn collector CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Tilsyn");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = rcgen::date_time_ymd(2024, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let ca_cert = ca.self_signed(&ca_key).map_err(g)?;

    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            names.push(h.to_string());
        }
    }
    names.extend(extra_names.iter().cloned());
    let key = KeyPair::generate().map_err(g)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "tilsyn-collector");
    params.subject_alt_names = names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()
        .map_err(g)?;
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2034, 1, 1);
    let issuer = Issuer::new(ca, ca_key);
    let cert = params.signed_by(&key, &issuer).map_err(g)?;

    let write = |name: &str, data: String, private: bool| -> Result<(), TlsError> {
        let path = dir.join(name);
        tilsyn_proto::files::write_atomic(
            &path,
            data.as_bytes(),
            if private { 0o600 } else { 0o644 },
        )
        .map_err(|source| TlsError::Write { path, source })
    };
    write("ca.key", issuer_key_pem(&issuer), true)?;
    write("ca.pem", ca_cert.pem(), false)?;
    write("server.key", key.serialize_pem(), true)?;
    write(
        "server.pem",
        format!("{}{}", cert.pem(), ca_cert.pem()),
        false,
    )?;
    Ok(())
}

fn issuer_key_pem(issuer: &Issuer<'_, KeyPair>) -> String {
    issuer.key().serialize_pem()
}

/// The gRPC port's TLS: rustls with HTTP/2 by ALPN and **stateless session tickets** (keys
/// rotated by rustls every 6 hours), so an agent that reconnects for each delivery resumes
/// its session (no certificate chain sent, no signature made) and the collector keeps no
/// per-agent session state.
/// `alpn`: the protocols offered (`h2` for gRPC, `http/1.1` for the HTTP port).
pub fn server_config(t: &ServerTls, alpn: &[&[u8]]) -> anyhow::Result<rustls::ServerConfig> {
    use anyhow::Context;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(&t.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .context("the certificate is not valid PEM")?;
    anyhow::ensure!(
        !certs.is_empty(),
        "the certificate file holds no certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(&t.key_pem)
        .context("the key is not a valid PEM private key")?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the certificate and key do not match or are not supported")?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    cfg.ticketer = rustls::crypto::ring::Ticketer::new().context("TLS session tickets")?;
    // One ticket per handshake is enough: an agent resumes once per connection.
    cfg.send_tls13_tickets = 1;
    cfg.session_storage = std::sync::Arc::new(rustls::server::NoServerSessionStorage {});
    Ok(cfg)
}

/// The certificate and key a port serves under its `tls:` settings (`auto`: generated
/// under `<data_dir>/tls/`; `files`; `None` for plaintext). `at` names the section in
/// errors (`grpc.tls`, `http.tls`).
pub fn material(
    t: &crate::config::TlsConfig,
    data_dir: &std::path::Path,
    at: &str,
) -> anyhow::Result<Option<ServerTls>> {
    use anyhow::Context;
    Ok(match t.mode {
        crate::config::TlsMode::Auto => Some(auto(&data_dir.join("tls"), &t.extra_names)?),
        crate::config::TlsMode::Files => Some(load_files(
            t.cert_file
                .as_deref()
                .with_context(|| format!("{at}.cert_file"))?,
            t.key_file
                .as_deref()
                .with_context(|| format!("{at}.key_file"))?,
        )?),
        crate::config::TlsMode::Plaintext => None,
    })
}
