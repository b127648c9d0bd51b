//! A size-rotated log file, for where no journal collects stderr: the Windows service
//! writes `%ProgramData%\Tilsyn\logs\agent.log` through it (journald does this job for the
//! systemd unit). When the file passes its limit it becomes `agent.log.1`, the older ones
//! move up, and the oldest beyond `keep` is deleted, so the logs never hold more than
//! `(keep + 1) × limit` bytes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The log file and its rotation.
pub struct Rotating {
    path: PathBuf,
    limit: u64,
    keep: u32,
    file: Option<File>,
    written: u64,
}

impl Rotating {
    /// Opens (appends to) `path`, creating its directory.
    pub fn open(path: &Path, limit: u64, keep: u32) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = append(path)?;
        let written = file.metadata()?.len();
        Ok(Rotating {
            path: path.to_path_buf(),
            limit: limit.max(1),
            keep,
            file: Some(file),
            written,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        // Windows cannot rename an open file: close it first.
        self.file = None;
        if self.keep == 0 {
            std::fs::remove_file(&self.path).ok();
        } else {
            std::fs::remove_file(self.numbered(self.keep)).ok();
            for n in (1..self.keep).rev() {
                std::fs::rename(self.numbered(n), self.numbered(n + 1)).ok();
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = Some(append(&self.path)?);
        self.written = 0;
        Ok(())
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.limit {
            // A rotation that fails (another process holds the file) keeps appending.
            let _ = self.rotate();
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => self.file.insert(append(&self.path)?),
        };
        let n = file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// A shared [`Rotating`] as a `tracing_subscriber` writer: each event is one `write`.
#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<Rotating>>);

pub struct Guard<'a>(std::sync::MutexGuard<'a, Rotating>);

impl Write for Guard<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Shared {
    type Writer = Guard<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        Guard(self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_limit_and_keeps_so_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("agent.log");
        let mut r = Rotating::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            r.write_all(format!("{i:02} {}\n", "x".repeat(46)).as_bytes())
                .unwrap();
        }
        r.flush().unwrap();
        // 50-byte lines, 100-byte files: two lines a file, the newest two files kept.
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert!(
            read(path.clone()).starts_with("08 "),
            "{}",
            read(path.clone())
        );
        assert!(read(r.numbered(1)).starts_with("06 "));
        assert!(read(r.numbered(2)).starts_with("04 "));
        assert!(!r.numbered(3).exists());
        // Reopened, it appends and counts what is there.
        drop(r);
        let mut r = Rotating::open(&path, 100, 2).unwrap();
        r.write_all(b"more\n").unwrap();
        assert!(read(path.clone()).starts_with("more"));
        assert!(read(r.numbered(1)).starts_with("08 "));
    }
}
