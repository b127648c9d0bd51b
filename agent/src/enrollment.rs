//! What an agent is handed at install, before it has an identity: the collector's address
//! and CA, and the department's enrollment token. Config-management tools and package
//! scripts give them to `tilsyn-agent enroll` (flags, environment or a response file) so
//! nobody edits `agent.yaml`:
//!
//! - the collector goes to `collector.json` in the state directory and is used whenever
//!   `agent.yaml` names no `collector.url` (an explicit URL in the config wins);
//! - the token waits in `enroll.token` (0600) until enrollment succeeds, then is deleted,
//!   so no token stays on disk once the agent has its own identity.
//!
//! The response file is `KEY=VALUE` lines (the same keys as the environment):
//! `TILSYN_COLLECTOR_URL`, `TILSYN_COLLECTOR_CA` (path of the CA's PEM),
//! `TILSYN_COLLECTOR_SERVER_NAME`, `TILSYN_ENROLL_TOKEN`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The collector given at enrollment, in the state directory.
pub const COLLECTOR_FILE: &str = "collector.json";
/// The token waiting for enrollment, in the state directory (0600).
pub const TOKEN_FILE: &str = "enroll.token";

/// The collector this agent was handed by `tilsyn-agent enroll`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GivenCollector {
    pub url: String,
    /// Name to verify in the collector's certificate when it differs from the URL's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// The PEM of the CA that signed the collector's certificate (copied, so the file it
    /// came from may go away).
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// Checks a collector URL (or several, comma-separated) the way `agent.yaml`'s
/// `collector.url` is checked.
pub fn check_url(urls: &str) -> Result<(), String> {
    let all = crate::transport::split_urls(urls);
    if all.is_empty() {
        return Err("names no collector".into());
    }
    all.into_iter().try_for_each(check_one_url)
}

fn check_one_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "{url:?} must start with https:// (or http:// for a plaintext collector)"
        ));
    }
    if url.split("://").nth(1).is_none_or(|h| h.is_empty()) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

/// Checks that `pem` holds at least one certificate.
pub fn check_ca_pem(pem: &str) -> Result<(), String> {
    if pem.contains("-----BEGIN CERTIFICATE-----") {
        Ok(())
    } else {
        Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())
    }
}

impl GivenCollector {
    pub fn check(&self) -> Result<(), String> {
        check_url(&self.url)?;
        if self.url.starts_with("https://") && self.ca_pem.is_none() {
            return Err(format!(
                "{} is https: give the CA that signed the collector's certificate (--ca FILE or TILSYN_COLLECTOR_CA)",
                self.url
            ));
        }
        if let Some(pem) = &self.ca_pem {
            check_ca_pem(pem).map_err(|e| format!("the collector CA {e}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentFileError {
    #[error("{}: {message}; run `tilsyn-agent enroll --collector URL --ca FILE` again to replace it", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: PathBuf) -> impl FnOnce(std::io::Error) -> EnrollmentFileError {
    move |source| EnrollmentFileError::Io { path, source }
}

/// The collector given at enrollment; `None` when none was.
pub fn load_collector(state_dir: &Path) -> Result<Option<GivenCollector>, EnrollmentFileError> {
    let path = state_dir.join(COLLECTOR_FILE);
    let text = match tilsyn_proto::files::read_small(&path, tilsyn_proto::files::MAX_SECRET_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let given: GivenCollector =
        serde_json::from_str(&text).map_err(|e| EnrollmentFileError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
    given
        .check()
        .map_err(|message| EnrollmentFileError::Corrupt { path, message })?;
    Ok(Some(given))
}

pub fn save_collector(state_dir: &Path, c: &GivenCollector) -> Result<(), EnrollmentFileError> {
    let path = state_dir.join(COLLECTOR_FILE);
    let bytes = serde_json::to_vec_pretty(c).expect("collector serializes");
    tilsyn_proto::files::write_atomic(&path, &bytes, 0o644).map_err(io(path))
}

/// The token waiting for enrollment, if any.
pub fn pending_token(state_dir: &Path) -> Result<Option<String>, EnrollmentFileError> {
    let path = state_dir.join(TOKEN_FILE);
    match tilsyn_proto::files::read_small(&path, tilsyn_proto::files::MAX_SECRET_BYTES) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

pub fn save_token(state_dir: &Path, token: &str) -> Result<(), EnrollmentFileError> {
    let path = state_dir.join(TOKEN_FILE);
    tilsyn_proto::files::write_private(&path, token.trim().as_bytes()).map_err(io(path))
}

/// Deletes the waiting token (enrolled: it is not needed any more). Returns whether one was
/// there.
pub fn forget_token(state_dir: &Path) -> Result<bool, EnrollmentFileError> {
    let path = state_dir.join(TOKEN_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// What `tilsyn-agent enroll` was given, from flags, the environment or a response file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    pub url: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub token: Option<String>,
}

/// The registry values the Windows MSI writes from its properties
/// (packaging/windows/agent.wxs): COLLECTOR, CA (a PEM file's path), SERVER_NAME and TOKEN.
pub const MSI_VALUES: [&str; 4] = ["CollectorUrl", "CollectorCa", "ServerName", "EnrollToken"];

impl Given {
    /// What the Windows installer was given, from [`MSI_VALUES`] as the registry holds them
    /// (strings; trimmed); an empty value is not given (an upgrade run without the
    /// properties writes them empty and changes nothing).
    pub fn from_msi_values(values: &serde_json::Map<String, serde_json::Value>) -> Given {
        let get = |k: &str| {
            values
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        Given {
            url: get("CollectorUrl"),
            ca_file: get("CollectorCa").map(PathBuf::from),
            server_name: get("ServerName"),
            token: get("EnrollToken"),
        }
    }

    /// Fills what `self` lacks from `other` (flags first, then the environment, then the
    /// response file).
    pub fn or(self, other: Given) -> Given {
        Given {
            url: self.url.or(other.url),
            ca_file: self.ca_file.or(other.ca_file),
            server_name: self.server_name.or(other.server_name),
            token: self.token.or(other.token),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Given::default()
    }
}

/// Parses a response file: `KEY=VALUE` lines, `#` comments, blank lines, values optionally
/// in single or double quotes (as a shell would read them without expansion). Unknown keys
/// are errors, so a misspelt key is not silently ignored. `base` resolves a relative CA path.
pub fn parse_response(text: &str, base: &Path) -> Result<Given, String> {
    let mut g = Given::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", i + 1));
        };
        let value = value.trim();
        let value = match (value.chars().next(), value.chars().last()) {
            (Some(q @ ('"' | '\'')), Some(e)) if value.len() >= 2 && q == e => {
                &value[1..value.len() - 1]
            }
            (Some('"' | '\''), _) => {
                return Err(format!("line {}: unterminated quote", i + 1));
            }
            _ => value,
        };
        let value = (!value.is_empty()).then(|| value.to_string());
        match key.trim() {
            "TILSYN_COLLECTOR_URL" => g.url = value,
            "TILSYN_COLLECTOR_CA" => {
                g.ca_file = value.map(|v| {
                    let p = PathBuf::from(v);
                    if p.is_relative() {
                        base.join(p)
                    } else {
                        p
                    }
                })
            }
            "TILSYN_COLLECTOR_SERVER_NAME" => g.server_name = value,
            "TILSYN_ENROLL_TOKEN" => g.token = value,
            other => {
                return Err(format!(
                    "line {}: unknown key {other:?} (TILSYN_COLLECTOR_URL, TILSYN_COLLECTOR_CA, \
                     TILSYN_COLLECTOR_SERVER_NAME, TILSYN_ENROLL_TOKEN)",
                    i + 1
                ))
            }
        }
    }
    Ok(g)
}

/// Saves what was given into the state directory: the collector (merged with one given
/// earlier: a new URL keeps the earlier CA only when no new CA comes with it) and the token.
/// Returns the collector now in force from the state directory, if any.
pub fn save_given(
    state_dir: &Path,
    given: &Given,
) -> Result<Option<GivenCollector>, anyhow::Error> {
    use anyhow::Context;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create state_dir {}", state_dir.display()))?;
    crate::platform::secure_dir(state_dir);
    let earlier = load_collector(state_dir).unwrap_or(None);
    let ca_pem = match &given.ca_file {
        Some(p) => {
            let pem = tilsyn_proto::files::read_small(p, tilsyn_proto::files::MAX_SECRET_BYTES)
                .with_context(|| format!("cannot read the collector CA {}", p.display()))?;
            check_ca_pem(&pem)
                .map_err(|e| anyhow::anyhow!("the collector CA {} {e}", p.display()))?;
            Some(pem)
        }
        None => None,
    };
    let collector = match (&given.url, earlier) {
        (Some(url), earlier) => Some(GivenCollector {
            url: url.clone(),
            server_name: given
                .server_name
                .clone()
                .or_else(|| earlier.as_ref().and_then(|e| e.server_name.clone())),
            ca_pem: ca_pem.or_else(|| earlier.and_then(|e| e.ca_pem)),
        }),
        (None, Some(mut e)) => {
            if ca_pem.is_some() {
                e.ca_pem = ca_pem;
            }
            if given.server_name.is_some() {
                e.server_name = given.server_name.clone();
            }
            Some(e)
        }
        (None, None) => {
            if ca_pem.is_some() || given.server_name.is_some() {
                anyhow::bail!("a CA or server name needs the collector's URL too (--collector URL or TILSYN_COLLECTOR_URL)");
            }
            None
        }
    };
    if let Some(c) = &collector {
        c.check().map_err(anyhow::Error::msg)?;
        save_collector(state_dir, c)?;
    }
    if let Some(t) = &given.token {
        if t.trim().is_empty() {
            anyhow::bail!("the enrollment token is empty");
        }
        save_token(state_dir, t)?;
    }
    Ok(collector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msi_properties_become_enrollment() {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"CollectorUrl":"https://tilsyn.example.org:7443","CollectorCa":"\\\\fs\\it\\tilsyn-ca.pem","ServerName":"","EnrollToken":" tok-123 ","Other":1}"#,
        )
        .unwrap();
        let g = Given::from_msi_values(&v);
        assert_eq!(g.url.as_deref(), Some("https://tilsyn.example.org:7443"));
        assert_eq!(
            g.ca_file.as_deref(),
            Some(std::path::Path::new(r"\\fs\it\tilsyn-ca.pem"))
        );
        assert_eq!(g.server_name, None);
        assert_eq!(g.token.as_deref(), Some("tok-123"));
        // An upgrade without properties writes empty values: nothing given.
        let empty: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"CollectorUrl":"","EnrollToken":""}"#).unwrap();
        assert!(Given::from_msi_values(&empty).is_empty());
    }

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_response_file_reads_like_a_shell_would() {
        let g = parse_response(
            "# from the rollout\nexport TILSYN_COLLECTOR_URL=\"https://c.example:7443\"\n\
             TILSYN_COLLECTOR_CA=ca.pem\nTILSYN_ENROLL_TOKEN='abc def'\n\nTILSYN_COLLECTOR_SERVER_NAME=\n",
            Path::new("/etc/tilsyn"),
        )
        .unwrap();
        assert_eq!(g.url.as_deref(), Some("https://c.example:7443"));
        assert_eq!(g.ca_file, Some(PathBuf::from("/etc/tilsyn/ca.pem")));
        assert_eq!(g.token.as_deref(), Some("abc def"));
        assert_eq!(g.server_name, None);
    }

    #[test]
    fn a_bad_response_file_names_the_line() {
        let base = Path::new("/");
        let e = parse_response("TILSYN_COLLECTOR_URL=x\nTILSYN_TOKEN=y\n", base).unwrap_err();
        assert!(e.starts_with("line 2: unknown key \"TILSYN_TOKEN\""), "{e}");
        let e = parse_response("just words\n", base).unwrap_err();
        assert!(e.starts_with("line 1: expected KEY=VALUE"), "{e}");
        let e = parse_response("TILSYN_ENROLL_TOKEN=\"abc\n", base).unwrap_err();
        assert!(e.contains("unterminated quote"), "{e}");
    }

    #[test]
    fn given_values_are_saved_merged_and_the_token_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let st = dir.path().join("state");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, PEM).unwrap();
        let given = Given {
            url: Some("https://c1:7443".into()),
            ca_file: Some(ca.clone()),
            server_name: None,
            token: Some("department-token-0123\n".into()),
        };
        let c = save_given(&st, &given).unwrap().unwrap();
        assert_eq!(c.ca_pem.as_deref(), Some(PEM));
        assert_eq!(load_collector(&st).unwrap(), Some(c));
        assert_eq!(
            pending_token(&st).unwrap().as_deref(),
            Some("department-token-0123")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(st.join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A new address alone keeps the CA given before.
        let moved = Given {
            url: Some("https://c2:7443".into()),
            ..Given::default()
        };
        let c = save_given(&st, &moved).unwrap().unwrap();
        assert_eq!(
            (c.url.as_str(), c.ca_pem.as_deref()),
            ("https://c2:7443", Some(PEM))
        );
        assert!(forget_token(&st).unwrap());
        assert!(!forget_token(&st).unwrap());
        assert_eq!(pending_token(&st).unwrap(), None);
    }

    #[test]
    fn https_without_a_ca_or_a_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = save_given(
            dir.path(),
            &Given {
                url: Some("https://c:7443".into()),
                ..Given::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("give the CA"), "{e}");
        let bogus = dir.path().join("bogus.pem");
        std::fs::write(&bogus, "hello").unwrap();
        let e = save_given(
            dir.path(),
            &Given {
                url: Some("https://c:7443".into()),
                ca_file: Some(bogus),
                ..Given::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
        assert_eq!(load_collector(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_corrupt_collector_file_says_how_to_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(COLLECTOR_FILE), "{\"url\": 3").unwrap();
        let e = load_collector(dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("tilsyn-agent enroll --collector"),
            "{e}"
        );
    }
}
