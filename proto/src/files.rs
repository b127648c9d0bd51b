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

/// [`write_atomic`] readable by the owner only (0600): secrets, keys, identities.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, bytes, 0o600)
}
