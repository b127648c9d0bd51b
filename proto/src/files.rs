//! Writing state files so that a crash leaves the old content or the new, never half of
//! either: temp file, fsync, rename. Agent identity, spool files and the collector's TLS
//! material all go through here.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically with Unix mode `mode` (ignored elsewhere),
/// creating the parent directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    // The rename is durable only once the directory is: without this a power cut right
    // after it can bring back the old file (or none) though the caller was told it was saved.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The most a configuration file (collector, agent, standards, SLA, maintenance) may hold.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The most a credential file (a token, a password, an API key) may hold.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Reads a small text file, such as a credential: a file larger than `max` bytes (a
/// mistyped path to a log, a device like `/dev/zero`) is an error, not a hang or an
/// exhausted memory.
pub fn read_small(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut s)?;
    if s.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes, the most such a file may hold"),
        ));
    }
    Ok(s)
}

/// [`write_atomic`] readable by the owner only (0600): secrets, keys, identities.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes, 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_is_read_and_a_big_one_or_a_device_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token");
        std::fs::write(&p, "secret\n").unwrap();
        assert_eq!(read_small(&p, 16).unwrap(), "secret\n");
        std::fs::write(&p, "x".repeat(17)).unwrap();
        assert!(read_small(&p, 16)
            .unwrap_err()
            .to_string()
            .contains("larger than 16 bytes"));
        #[cfg(unix)]
        assert!(read_small(Path::new("/dev/zero"), MAX_SECRET_BYTES).is_err());
    }
}
