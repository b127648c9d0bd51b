//! The durable queue between probes and the collector.
//!
//! Every report is written to its own file `<seq>.<kind>.rpt` (atomically: temp file,
//! fsync, rename) before anything is sent, and deleted only once the collector has
//! acknowledged it. Files carry a checksum; a corrupt one is moved to `quarantine/` with a
//! warning, never silently dropped and never allowed to block the rest.
//!
//! The spool is bounded. When full, the oldest health samples go first, then inventory,
//! software and patch reports that a newer one of the same kind supersedes; the latest
//! inventory/software/patch state is always kept.
//!
//! Sequence numbers are persisted (`seq`), so they keep rising across restarts; if that
//! file is lost the spool restarts numbering at the current time in microseconds, which is
//! above any number used before, so the collector never mistakes a new report for a resend.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use tilsyn_proto::v1::{report::Body, Report};

const MAGIC: &[u8; 4] = b"TSP1";
const HEADER: usize = 4 + 8;
const QUARANTINE: &str = "quarantine";

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    kind: &'static str,
    size: u64,
    /// In-memory spools keep the bytes here; disk spools read the file when sending.
    data: Option<Vec<u8>>,
}

/// What the spool did to stay within its bound, for logs and self-metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolStats {
    pub dropped_health: u64,
    pub dropped_superseded: u64,
    pub quarantined: u64,
}

pub struct Spool {
    dir: Option<PathBuf>,
    max_bytes: u64,
    entries: BTreeMap<u64, Entry>,
    used: u64,
    next_seq: u64,
    pub stats: SpoolStats,
}

/// The kind of a report, by body; reports with only errors count as health (expendable).
pub fn kind_of(r: &Report) -> &'static str {
    match &r.body {
        Some(Body::Inventory(_)) => "inventory",
        Some(Body::Software(_)) => "software",
        Some(Body::Patches(_)) => "patches",
        Some(Body::Health(_)) | None => "health",
        Some(Body::Facts(_)) => "facts",
        Some(Body::Unchanged(s)) if s.section == "software" => "software",
        Some(Body::Unchanged(s)) if s.section == "facts" => "facts",
        Some(Body::Unchanged(_)) => "inventory",
    }
}

fn kind_from_name(s: &str) -> Option<&'static str> {
    ["inventory", "software", "patches", "health", "facts"]
        .into_iter()
        .find(|k| *k == s)
}

fn checksum(payload: &[u8]) -> [u8; 8] {
    let d = ring::digest::digest(&ring::digest::SHA256, payload);
    d.as_ref()[..8].try_into().expect("8 bytes")
}

/// Wall-clock microseconds: the starting sequence number when the `seq` file is lost. A
/// new spool counts up by one per report from here, far slower than the clock advances,
/// so a restart without the file still starts above every number used before.
fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1)
        .max(1)
}

impl Spool {
    /// A spool kept only in memory (the simulator's virtual hosts).
    pub fn in_memory(max_bytes: u64) -> Self {
        Spool {
            dir: None,
            max_bytes,
            entries: BTreeMap::new(),
            used: 0,
            next_seq: 1,
            stats: SpoolStats::default(),
        }
    }

    /// Opens (creating) a spool directory, verifying every stored report.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut spool = Spool {
            dir: Some(dir.to_path_buf()),
            max_bytes,
            entries: BTreeMap::new(),
            used: 0,
            next_seq: 0,
            stats: SpoolStats::default(),
        };
        for ent in std::fs::read_dir(dir).map_err(io(dir))? {
            let ent = ent.map_err(io(dir))?;
            let path = ent.path();
            if !path.is_file() {
                continue;
            }
            let name = ent.file_name().to_string_lossy().into_owned();
            if name == "seq" {
                continue;
            }
            if name.ends_with(".tmp") {
                // A write that never completed was never acknowledged to anyone.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let parsed = name
                .strip_suffix(".rpt")
                .and_then(|s| s.split_once('.'))
                .and_then(|(seq, kind)| Some((seq.parse::<u64>().ok()?, kind_from_name(kind)?)));
            let Some((seq, kind)) = parsed else {
                spool.quarantine(&path, "unexpected file name");
                continue;
            };
            match std::fs::read(&path) {
                Ok(bytes) if Self::verify(&bytes).is_some() => {
                    spool.used += bytes.len() as u64;
                    spool.entries.insert(
                        seq,
                        Entry {
                            kind,
                            size: bytes.len() as u64,
                            data: None,
                        },
                    );
                }
                Ok(_) => spool.quarantine(&path, "checksum mismatch or truncated"),
                Err(e) => spool.quarantine(&path, &e.to_string()),
            }
        }
        let stored = std::fs::read_to_string(dir.join("seq"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let after_entries = spool.entries.keys().next_back().map(|s| s + 1).unwrap_or(0);
        spool.next_seq = match stored {
            Some(s) => s.max(after_entries),
            None => now_us().max(after_entries),
        };
        Ok(spool)
    }

    fn quarantine(&mut self, path: &Path, why: &str) {
        let Some(dir) = &self.dir else { return };
        let qdir = dir.join(QUARANTINE);
        let target = qdir.join(path.file_name().unwrap_or_default());
        let moved = std::fs::create_dir_all(&qdir).and_then(|_| std::fs::rename(path, &target));
        self.stats.quarantined += 1;
        match moved {
            Ok(()) => tracing::warn!(
                file = %path.display(), moved_to = %target.display(), reason = why,
                "corrupt spool file quarantined; it is kept for inspection and skipped"
            ),
            Err(e) => tracing::error!(
                file = %path.display(), reason = why, error = %e,
                "corrupt spool file could not be moved to quarantine; skipping it"
            ),
        }
    }

    fn verify(bytes: &[u8]) -> Option<Report> {
        if bytes.len() < HEADER || &bytes[..4] != MAGIC {
            return None;
        }
        let payload = &bytes[HEADER..];
        if bytes[4..HEADER] != checksum(payload) {
            return None;
        }
        Report::decode(payload).ok()
    }

    fn path_of(&self, seq: u64, kind: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{seq:020}.{kind}.rpt")))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    /// Assigns the next sequence number and stores the report durably. Returns the seq, or
    /// `None` when the report was a health sample that did not fit.
    pub fn push(&mut self, mut report: Report) -> Result<Option<u64>, SpoolError> {
        let seq = self.next_seq;
        report.seq = seq;
        let kind = kind_of(&report);
        let payload = report.encode_to_vec();
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&checksum(&payload));
        bytes.extend_from_slice(&payload);
        let size = bytes.len() as u64;
        if !self.make_room(size) && kind == "health" {
            self.stats.dropped_health += 1;
            return Ok(None);
        }
        self.next_seq += 1;
        let data = match &self.dir {
            Some(dir) => {
                let seq_path = dir.join("seq");
                crate::state::write_private(&seq_path, self.next_seq.to_string().as_bytes())
                    .map_err(io(&seq_path))?;
                let path = self.path_of(seq, kind).expect("disk spool");
                crate::state::write_private(&path, &bytes).map_err(io(&path))?;
                None
            }
            None => Some(bytes),
        };
        self.used += size;
        self.entries.insert(seq, Entry { kind, size, data });
        Ok(Some(seq))
    }

    /// Frees space for `size` more bytes; false when that was not possible.
    fn make_room(&mut self, size: u64) -> bool {
        while self.used + size > self.max_bytes {
            if let Some(seq) = self.oldest_where(|_, e| e.kind == "health") {
                self.remove(seq);
                self.stats.dropped_health += 1;
                continue;
            }
            // Keep the newest report of each kind; anything older of that kind is superseded.
            let newest: BTreeMap<&str, u64> =
                self.entries.iter().map(|(s, e)| (e.kind, *s)).collect();
            if let Some(seq) = self.oldest_where(|s, e| newest.get(e.kind) != Some(&s)) {
                self.remove(seq);
                self.stats.dropped_superseded += 1;
                continue;
            }
            return false;
        }
        true
    }

    fn oldest_where(&self, f: impl Fn(u64, &Entry) -> bool) -> Option<u64> {
        self.entries
            .iter()
            .find(|(s, e)| f(**s, e))
            .map(|(s, _)| *s)
    }

    fn remove(&mut self, seq: u64) {
        if let Some(e) = self.entries.remove(&seq) {
            self.used -= e.size;
            if let Some(p) = self.path_of(seq, e.kind) {
                if let Err(err) = std::fs::remove_file(&p) {
                    tracing::warn!(file = %p.display(), error = %err, "cannot delete spool file");
                }
            }
        }
    }

    /// The oldest reports, in order, up to `max_count` and about `max_bytes`.
    pub fn peek(&mut self, max_count: usize, max_bytes: u64) -> Vec<Report> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut corrupt = Vec::new();
        for (&seq, e) in &self.entries {
            if out.len() >= max_count || (bytes > 0 && bytes + e.size > max_bytes) {
                break;
            }
            let raw = match (&e.data, self.path_of(seq, e.kind)) {
                (Some(d), _) => Some(d.clone()),
                (None, Some(p)) => std::fs::read(&p).ok(),
                (None, None) => None,
            };
            match raw.as_deref().and_then(Self::verify) {
                Some(r) => {
                    bytes += e.size;
                    out.push(r);
                }
                None => corrupt.push((seq, e.kind)),
            }
        }
        for (seq, kind) in corrupt {
            if let Some(e) = self.entries.remove(&seq) {
                self.used -= e.size;
            }
            if let Some(p) = self.path_of(seq, kind) {
                self.quarantine(&p, "changed on disk after it was written");
            }
        }
        out
    }

    /// Forgets everything the collector has committed (or rejected for good).
    pub fn ack(&mut self, committed_through: u64, rejected: &[u64]) {
        let done: Vec<u64> = self
            .entries
            .range(..=committed_through)
            .map(|(s, _)| *s)
            .chain(rejected.iter().copied())
            .collect();
        for s in done {
            self.remove(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_proto::v1::{Health, Inventory};

    fn health(cpu: f64) -> Report {
        Report {
            body: Some(Body::Health(Health {
                cpu_usage_ratio: cpu,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn inventory(host: &str) -> Report {
        Report {
            body: Some(Body::Inventory(Inventory {
                hostname: host.into(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn survives_restart_in_order_and_forgets_acked() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = s.push(inventory("h")).unwrap().unwrap();
        let b = s.push(health(0.5)).unwrap().unwrap();
        assert!(b > a);
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let got = s.peek(10, 1 << 20);
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![a, b]);
        s.ack(a, &[]);
        assert_eq!(s.len(), 1);
        let c = s.push(health(0.1)).unwrap().unwrap();
        assert_eq!(c, b + 1, "sequence keeps rising across restarts");
        drop(s);
        let s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn lost_seq_file_restarts_above_old_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = s.push(health(0.1)).unwrap().unwrap();
        s.ack(a, &[]);
        std::fs::remove_file(dir.path().join("seq")).unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(s.push(health(0.2)).unwrap().unwrap() > a);
    }

    #[test]
    fn corrupt_files_are_quarantined_not_lost_or_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = s.push(health(0.1)).unwrap().unwrap();
        let b = s.push(health(0.2)).unwrap().unwrap();
        drop(s);
        let victim = dir.path().join(format!("{a:020}.health.rpt"));
        let bytes = std::fs::read(&victim).unwrap();
        std::fs::write(&victim, &bytes[..bytes.len() - 3]).unwrap();
        std::fs::write(dir.path().join("garbage.txt"), b"x").unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.stats.quarantined, 2);
        assert_eq!(s.peek(10, 1 << 20)[0].seq, b);
        assert!(dir
            .path()
            .join(QUARANTINE)
            .join(format!("{a:020}.health.rpt"))
            .exists());
    }

    #[test]
    fn when_full_health_goes_first_and_latest_state_stays() {
        let mut s = Spool::in_memory(400);
        s.push(inventory("old")).unwrap();
        for i in 0..20 {
            s.push(health(i as f64 / 100.0)).unwrap();
        }
        s.push(inventory("new")).unwrap();
        let kept = s.peek(100, 1 << 20);
        assert!(s.used_bytes() <= 400);
        assert!(s.stats.dropped_health > 0);
        let invs: Vec<_> = kept
            .iter()
            .filter_map(|r| match &r.body {
                Some(Body::Inventory(i)) => Some(i.hostname.clone()),
                _ => None,
            })
            .collect();
        assert!(invs.contains(&"new".to_string()), "{invs:?}");
        // The newest health samples are the ones kept.
        let last = kept.iter().rev().find(|r| kind_of(r) == "health").unwrap();
        assert!(
            matches!(&last.body, Some(Body::Health(h)) if (h.cpu_usage_ratio - 0.19).abs() < 1e-9)
        );
    }

    #[test]
    fn rejected_reports_are_dropped_too() {
        let mut s = Spool::in_memory(1 << 20);
        let a = s.push(health(0.1)).unwrap().unwrap();
        let b = s.push(health(0.2)).unwrap().unwrap();
        s.ack(0, &[b]);
        assert_eq!(
            s.peek(10, 1 << 20)
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>(),
            vec![a]
        );
    }
}
