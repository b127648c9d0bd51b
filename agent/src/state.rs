//! The agent's identity on disk: `agent-state.json` in the state directory, mode 0600.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "agent-state.json";

/// What enrollment gave this agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub agent_id: String,
    /// Never logged.
    pub secret: String,
    pub department: String,
    /// The collector this identity belongs to.
    pub collector: String,
    pub enrolled_at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "agent state file {} is corrupt ({detail}); move it away and re-enroll with \
         `tilsyn-agent enroll --force --config <agent.yaml>` (the enrollment token is needed)",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot read agent state file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Loads the identity; `Ok(None)` when the agent has not enrolled yet.
pub fn load(state_dir: &Path) -> Result<Option<Identity>, StateError> {
    let path = state_dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StateError::Read { path, source }),
    };
    let id: Identity = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if id.agent_id.is_empty() || id.secret.is_empty() {
        return Err(StateError::Corrupt {
            path,
            detail: "agent_id or secret is empty".into(),
        });
    }
    Ok(Some(id))
}

pub fn save(state_dir: &Path, id: &Identity) -> Result<(), StateError> {
    let path = state_dir.join(STATE_FILE);
    let bytes = serde_json::to_vec_pretty(id).expect("identity serializes");
    write_private(&path, &bytes).map_err(|source| StateError::Write { path, source })
}

pub use tilsyn_proto::files::write_private;

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            agent_id: "a1".into(),
            secret: "s".into(),
            department: "d".into(),
            collector: "https://c".into(),
            enrolled_at_ms: 1,
        }
    }

    #[test]
    fn round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        save(dir.path(), &id()).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(id()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(STATE_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_and_truncated_files_say_how_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let full = serde_json::to_string(&id()).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), &full[..full.len() / 2]).unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(matches!(e, StateError::Corrupt { .. }));
        assert!(e.to_string().contains("enroll --force"), "{e}");
    }
}
