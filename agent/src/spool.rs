//! The durable queue between probes and the collector.
//!
//! Every report is written to its own file `<seq>.<kind>.rpt` (atomically: temp file,
//! fsync, rename) before anything is sent, and deleted only once the collector has
//! acknowledged it. Files carry a checksum; a corrupt one is moved to `quarantine/` with a
//! warning, never silently dropped and never allowed to block the rest.
//!
//! The spool is bounded. When full, the oldest health samples go first, then inventory,
//! software, patch and facts reports that a newer one of the same kind (the one being
//! stored included) supersedes; the latest inventory/software/patch/facts report is always
//! kept, even beyond the bound.
//!
//! Sequence numbers are persisted (`seq`), so they keep rising across restarts; if that
//! file is lost or damaged (anything but a positive decimal number) the spool restarts
//! numbering at the current time in microseconds, which is above any number used before,
//! so the collector never mistakes a new report for a resend. Leftover `*.tmp` files (a
//! write interrupted before its rename) are deleted on open, never sent or counted.

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

/// Makes the renames just done in `dir` durable (the new `seq` above all): without it a
/// power loss can bring back the previous `seq` file, and with it numbers already sent.
/// Best effort; not possible (nor needed) on Windows.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot sync the spool directory");
    }
    #[cfg(not(unix))]
    let _ = dir;
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
        // Only what `push` writes (decimal digits, at least 1) counts; anything else is a
        // damaged file and treated as lost.
        let stored = std::fs::read_to_string(dir.join("seq"))
            .ok()
            .filter(|s| {
                let s = s.trim();
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&s| s > 0);
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
        // A sample must fit beside what is kept; any other report is stored first, so
        // that the one it supersedes counts as superseded (and is never lost before the
        // new one is on disk), then the spool is brought back within its bound.
        let health = kind == "health";
        if health && !self.make_room(size) {
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
                sync_dir(dir);
                None
            }
            None => Some(bytes),
        };
        self.used += size;
        self.entries.insert(seq, Entry { kind, size, data });
        if !health {
            // False when only the latest of each kind is left: those stay beyond the bound.
            self.make_room(0);
        }
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

    fn software(n: usize) -> Report {
        Report {
            body: Some(Body::Software(tilsyn_proto::v1::SoftwareList {
                packages: (0..n)
                    .map(|i| tilsyn_proto::v1::Package {
                        name: format!("pkg{i}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn patches(pending: u32) -> Report {
        Report {
            body: Some(Body::Patches(tilsyn_proto::v1::PatchLevel {
                manager: "apt".into(),
                pending_count: pending,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// The bytes a report takes in a spool (header + encoding with its seq).
    fn stored_size(r: &Report, seq: u64) -> u64 {
        let mut r = r.clone();
        r.seq = seq;
        (HEADER + r.encoded_len()) as u64
    }

    fn rpt_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "seq" && n != QUARANTINE)
            .collect();
        names.sort();
        names
    }

    fn seqs(reports: &[Report]) -> Vec<u64> {
        reports.iter().map(|r| r.seq).collect()
    }

    /// A file that breaks after the spool listed it (a disk error, another process) is
    /// found when the batch is read: it goes to quarantine, it is not sent, it does not
    /// block the files after it or count against the batch, and the spool's size and
    /// length forget it, also after a restart.
    #[test]
    fn corruption_found_while_sending_is_quarantined_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = s.push(health(0.1)).unwrap().unwrap();
        let b = s.push(inventory("h")).unwrap().unwrap();
        let c = s.push(health(0.3)).unwrap().unwrap();
        let d = s.push(health(0.4)).unwrap().unwrap();
        let size_a = stored_size(&health(0.1), a);
        let size_d = stored_size(&health(0.4), d);
        // b: one payload byte flipped (the checksum no longer matches);
        // c: no longer readable as a file at all.
        let pb = dir.path().join(format!("{b:020}.inventory.rpt"));
        let mut bytes = std::fs::read(&pb).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&pb, &bytes).unwrap();
        let pc = dir.path().join(format!("{c:020}.health.rpt"));
        std::fs::remove_file(&pc).unwrap();
        std::fs::create_dir(&pc).unwrap();

        let got = s.peek(2, 1 << 20);
        assert_eq!(
            seqs(&got),
            vec![a, d],
            "the broken files are skipped, not sent"
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s.used_bytes(), size_a + size_d);
        assert_eq!(s.stats.quarantined, 2);
        let q = dir.path().join(QUARANTINE);
        assert!(q.join(format!("{b:020}.inventory.rpt")).is_file());
        assert!(q.join(format!("{c:020}.health.rpt")).exists());
        assert!(!pb.exists() && !pc.exists());
        // Read again (a retry after a failed send): the same batch, nothing new found.
        assert_eq!(seqs(&s.peek(10, 1 << 20)), vec![a, d]);
        assert_eq!(s.stats.quarantined, 2);
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.stats.quarantined, 0, "nothing left to quarantine");
        assert_eq!(seqs(&s.peek(10, 1 << 20)), vec![a, d]);
        s.ack(d, &[]);
        assert!(s.is_empty());
        assert_eq!(s.used_bytes(), 0);
        assert!(rpt_files(dir.path()).is_empty());
    }

    /// An interrupted write leaves `<seq>.<kind>.tmp` (and `seq.tmp`). It was never
    /// renamed into place, so it is deleted on open: not sent, not counted, not
    /// quarantined, even when its content is a complete, valid report.
    #[test]
    fn leftover_tmp_files_are_removed_never_sent_or_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = s.push(health(0.1)).unwrap().unwrap();
        let used = s.used_bytes();
        drop(s);
        // A complete report written under the temporary name, as write_atomic leaves it
        // when the agent dies between fsync and rename; a half-written one; seq.tmp.
        let full = std::fs::read(dir.path().join(format!("{a:020}.health.rpt"))).unwrap();
        let next = a + 1;
        std::fs::write(dir.path().join(format!("{next:020}.health.tmp")), &full).unwrap();
        std::fs::write(
            dir.path().join(format!("{:020}.inventory.tmp", next + 1)),
            &full[..full.len() / 2],
        )
        .unwrap();
        std::fs::write(dir.path().join("seq.tmp"), b"99").unwrap();

        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.used_bytes(), used);
        assert_eq!(s.stats.quarantined, 0);
        assert_eq!(seqs(&s.peek(10, 1 << 20)), vec![a]);
        assert_eq!(rpt_files(dir.path()), vec![format!("{a:020}.health.rpt")]);
        assert!(!dir.path().join(QUARANTINE).exists());
        // The seq file, not seq.tmp, decides the next number.
        assert_eq!(s.push(health(0.2)).unwrap(), Some(a + 1));
    }

    /// At the bound: the oldest health samples go first, then reports superseded by a
    /// newer one of their kind (including the one being pushed); the latest inventory,
    /// software and patch reports always stay, even beyond the bound. Evicted reports are
    /// deleted from disk.
    #[test]
    fn eviction_drops_oldest_health_then_superseded_and_keeps_latest() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes depend on the seq's encoding; all seqs here have the same length.
        let probe = Spool::open(&dir.path().join("probe"), 1 << 20)
            .unwrap()
            .next_seq;
        let (inv, sw, pat) = (inventory(&"a".repeat(30)), software(3), patches(1));
        let h = stored_size(&health(0.5), probe);
        let (si, ss, sp) = (
            stored_size(&inv, probe),
            stored_size(&sw, probe),
            stored_size(&pat, probe),
        );
        assert!(
            si < h * 3 && si > h,
            "the test needs an inventory of 2-3 samples"
        );
        let bound = si + ss + sp + 3 * h;
        let mut s = Spool::open(&dir.path().join("spool"), bound).unwrap();
        let i1 = s.push(inv.clone()).unwrap().unwrap();
        let s1 = s.push(sw.clone()).unwrap().unwrap();
        let p1 = s.push(pat.clone()).unwrap().unwrap();
        let hs: Vec<u64> = (1..=5)
            .map(|i| s.push(health(i as f64 / 10.0)).unwrap().unwrap())
            .collect();
        // Five samples, room for three: the two oldest went.
        let kept = seqs(&s.peek(100, 1 << 30));
        assert_eq!(kept, vec![i1, s1, p1, hs[2], hs[3], hs[4]]);
        assert_eq!(s.stats.dropped_health, 2);
        assert_eq!(s.stats.dropped_superseded, 0);
        assert_eq!(s.used_bytes(), bound);

        // A new inventory: health goes before the superseded inventory does.
        let i2 = s.push(inventory(&"b".repeat(30))).unwrap().unwrap();
        assert_eq!(seqs(&s.peek(100, 1 << 30)), vec![i1, s1, p1, hs[4], i2]);
        assert_eq!(s.stats.dropped_health, 4);
        assert_eq!(s.stats.dropped_superseded, 0);
        assert!(s.used_bytes() <= bound);
        // Another: the last sample goes, then the inventory it supersedes twice over.
        let i3 = s.push(inventory(&"c".repeat(30))).unwrap().unwrap();
        assert_eq!(seqs(&s.peek(100, 1 << 30)), vec![s1, p1, i2, i3]);
        assert_eq!(s.stats.dropped_health, 5);
        assert_eq!(s.stats.dropped_superseded, 1);
        assert!(s.used_bytes() <= bound);
        // A sample with no older sample to drop: the superseded inventory i2 makes room.
        let mut big = health(0.6);
        big.errors.push(tilsyn_proto::v1::ProbeError {
            probe: "health".into(),
            message: "x".repeat(50),
        });
        assert!(s.used_bytes() + stored_size(&big, probe) > bound);
        let h6 = s.push(big).unwrap().unwrap();
        assert_eq!(seqs(&s.peek(100, 1 << 30)), vec![s1, p1, i3, h6]);
        assert_eq!(s.stats.dropped_superseded, 2);
        assert!(s.used_bytes() <= bound);
        assert_eq!(rpt_files(&dir.path().join("spool")).len(), 4);

        // Far too small a bound: only the latest of each kind stays, health is refused,
        // and a newer report of a kind replaces the older one at once.
        let mut t = Spool::open(&dir.path().join("tiny"), 1).unwrap();
        let ti1 = t.push(inventory("a")).unwrap().unwrap();
        let ts = t.push(software(2)).unwrap().unwrap();
        let tp = t.push(patches(3)).unwrap().unwrap();
        assert_eq!(t.push(health(0.1)).unwrap(), None);
        assert_eq!(seqs(&t.peek(100, 1 << 30)), vec![ti1, ts, tp]);
        let ti2 = t.push(inventory("b")).unwrap().unwrap();
        assert_eq!(seqs(&t.peek(100, 1 << 30)), vec![ts, tp, ti2]);
        let tp2 = t.push(patches(4)).unwrap().unwrap();
        assert_eq!(seqs(&t.peek(100, 1 << 30)), vec![ts, ti2, tp2]);
        assert_eq!(t.stats.dropped_superseded, 2);
        assert_eq!(
            rpt_files(&dir.path().join("tiny")),
            vec![
                format!("{ts:020}.software.rpt"),
                format!("{ti2:020}.inventory.rpt"),
                format!("{tp2:020}.patches.rpt"),
            ],
            "evicted reports are deleted from disk"
        );
        drop(t);
        let t = Spool::open(&dir.path().join("tiny"), 1).unwrap();
        assert_eq!(t.len(), 3);
    }

    /// A damaged `seq` file must not send the numbering backwards: the collector treats
    /// a seq at or below the last one it committed as a resend and drops it, so every
    /// report until the numbers catch up would be lost.
    #[test]
    fn corrupt_seq_file_never_goes_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let mut last = 0;
        for i in 0..3 {
            last = s.push(health(0.1 * (i + 1) as f64)).unwrap().unwrap();
        }
        s.ack(last, &[]);
        assert!(s.is_empty());
        drop(s);
        let seq_file = dir.path().join("seq");
        for junk in [
            &b""[..],
            b"\0\0\0\0\0\0\0\0",
            b"garbage\n",
            b"-5",
            b"0",
            b"+7",
            b"18446744073709551616",
        ] {
            std::fs::write(&seq_file, junk).unwrap();
            let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
            let next = s.push(health(0.5)).unwrap().unwrap();
            assert!(
                next > last,
                "seq file {junk:?}: next seq {next} is not above {last}"
            );
            s.ack(next, &[]);
            last = next;
        }
        // A readable but stale number while reports are still spooled: numbering
        // continues above the spooled ones.
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        let kept = s.push(health(0.7)).unwrap().unwrap();
        drop(s);
        std::fs::write(&seq_file, b"1\n").unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(s.push(health(0.8)).unwrap(), Some(kept + 1));
        // And the file is whole again afterwards.
        assert_eq!(
            std::fs::read_to_string(&seq_file).unwrap(),
            (kept + 2).to_string()
        );
    }
}
