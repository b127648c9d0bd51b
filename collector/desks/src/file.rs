//! The file desk: every action appended as one JSON line to a local file (default
//! `data_dir/incidents.jsonl`). The default when no desk is configured, so a fresh
//! collector shows its incidents somewhere a person (or `jq`, or a log shipper) can read
//! them, and the whole outbox path runs even without a service desk.
//!
//! Line format: `{"at_ms":…,"event":"create|note|resolve|reopen","id":"F-…","key":"tilsyn-…",
//! "ticket":{…} (create) | "text":"…"}`.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::json;

use crate::{Desk, DeskError, DeskFuture, Ticket, TicketRef, TicketStatus};
use tilsyn_proto::time::now_ms;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The JSON lines file (relative to the config file's directory).
    pub path: PathBuf,
}

impl FileConfig {
    pub fn resolve_paths(&mut self, base: &Path) {
        if self.path.is_relative() {
            self.path = base.join(&self.path);
        }
    }
}

pub struct FileDesk {
    path: PathBuf,
    /// One writer at a time, so lines never interleave.
    lock: Mutex<()>,
}

impl FileDesk {
    pub fn new(cfg: &FileConfig, _timeout: std::time::Duration) -> Result<FileDesk, Vec<String>> {
        if let Some(dir) = cfg.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Err(vec![format!(
                    "file.path: cannot create the directory {}: {e}",
                    dir.display()
                )]);
            }
        }
        Ok(FileDesk {
            path: cfg.path.clone(),
            lock: Mutex::new(()),
        })
    }

    fn append(&self, v: serde_json::Value) -> Result<(), DeskError> {
        let _g = self.lock.lock().expect("file desk lock");
        let mut line = serde_json::to_vec(&v).expect("json");
        line.push(b'\n');
        let r = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| {
                // A crash mid-write may have left a torn last line: end it first, so this
                // line stays whole (readers skip the torn one).
                if f.metadata()?.len() > 0 {
                    let mut last = [0u8; 1];
                    f.seek(SeekFrom::End(-1))?;
                    f.read_exact(&mut last)?;
                    if last[0] != b'\n' {
                        line.insert(0, b'\n');
                    }
                }
                f.write_all(&line)?;
                f.sync_data()
            });
        // A full disk or a permission problem may clear up: transient.
        r.map_err(|e| DeskError::transient(format!("file desk {}: {e}", self.path.display())))
    }

    /// Replays the file: the open ticket id for `key`, if any.
    fn scan(&self, key: &str) -> Result<Option<String>, DeskError> {
        let _g = self.lock.lock().expect("file desk lock");
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(DeskError::transient(format!(
                    "file desk {}: {e}",
                    self.path.display()
                )))
            }
        };
        let mut open: Option<String> = None;
        // Lines as bytes: a torn line (a crash mid-write, even inside a multi-byte
        // character) is skipped by the reader, not fatal.
        for line in std::io::BufReader::new(f).split(b'\n') {
            let line = line.map_err(|e| {
                DeskError::transient(format!("file desk {}: {e}", self.path.display()))
            })?;
            answers::replay_line(&mut open, &line, key);
        }
        Ok(open)
    }

    fn key_of(&self, id: &str) -> String {
        // `F-<opened ms>-<key>`
        id.splitn(3, '-').nth(2).unwrap_or_default().to_string()
    }
}

impl Desk for FileDesk {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn create<'a>(&'a self, t: &'a Ticket) -> DeskFuture<'a, TicketRef> {
        Box::pin(async move {
            let id = format!("F-{}-{}", t.opened_at_ms, t.key);
            self.append(
                json!({"at_ms": now_ms(), "event": "create", "id": id, "key": t.key, "ticket": t}),
            )?;
            Ok(TicketRef {
                id,
                number: None,
                url: Some(format!("file://{}", self.path.display())),
            })
        })
    }

    fn find_open<'a>(&'a self, key: &'a str) -> DeskFuture<'a, Option<TicketRef>> {
        Box::pin(async move { Ok(self.scan(key)?.map(TicketRef::new)) })
    }

    fn note<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.append(json!({"at_ms": now_ms(), "event": "note", "id": t.id, "key": self.key_of(&t.id), "text": text}))
        })
    }

    fn resolve<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.append(json!({"at_ms": now_ms(), "event": "resolve", "id": t.id, "key": self.key_of(&t.id), "text": text}))
        })
    }

    fn reopen<'a>(&'a self, t: &'a TicketRef, text: &'a str) -> DeskFuture<'a, ()> {
        Box::pin(async move {
            self.append(json!({"at_ms": now_ms(), "event": "reopen", "id": t.id, "key": self.key_of(&t.id), "text": text}))
        })
    }

    fn read_back<'a>(&'a self, _t: &'a TicketRef) -> DeskFuture<'a, Option<TicketStatus>> {
        // Nobody works tickets in a file.
        Box::pin(async { Ok(None) })
    }
}

/// The file desk's own JSON lines file (written by it, but also by whoever edits it, and
/// torn by a crash mid-write).
pub mod answers {

    use serde_json::Value;

    /// Replays one line onto `open`, the open ticket id for `key`: a `create` or `reopen`
    /// opens, a `resolve` of the open id closes. A line that is not a JSON object (torn,
    /// not UTF-8, edited) is skipped.
    pub fn replay_line(open: &mut Option<String>, line: &[u8], key: &str) {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            return;
        };
        if v["key"] != key {
            return;
        }
        let id = v["id"].as_str().unwrap_or_default().to_string();
        match v["event"].as_str() {
            Some("create" | "reopen") => *open = Some(id),
            Some("resolve") if open.as_deref() == Some(id.as_str()) => *open = None,
            _ => {}
        }
    }

    /// The whole file: the open ticket id for `key`, if any.
    pub fn replay(bytes: &[u8], key: &str) -> Option<String> {
        let mut open = None;
        for line in bytes.split(|b| *b == b'\n') {
            replay_line(&mut open, line, key);
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(key: &str) -> Ticket {
        Ticket {
            key: key.into(),
            title: "t".into(),
            body: "b".into(),
            priority: 2,
            impact: 1,
            urgency: 2,
            severity: "high".into(),
            hostname: "web01".into(),
            agent_id: "a1".into(),
            department: "it".into(),
            check: "offline".into(),
            opened_at_ms: 1000,
        }
    }

    #[tokio::test]
    async fn the_file_replays_to_the_open_ticket() {
        let d = tempfile::tempdir().unwrap();
        let desk = FileDesk::new(
            &FileConfig {
                path: d.path().join("sub/incidents.jsonl"),
            },
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(desk.find_open("tilsyn-k").await.unwrap(), None);
        let r = desk.create(&ticket("tilsyn-k")).await.unwrap();
        assert_eq!(r.id, "F-1000-tilsyn-k");
        assert_eq!(desk.find_open("tilsyn-k").await.unwrap().unwrap().id, r.id);
        desk.note(&r, "still bad").await.unwrap();
        desk.resolve(&r, "good again").await.unwrap();
        assert_eq!(desk.find_open("tilsyn-k").await.unwrap(), None);
        desk.reopen(&r, "back").await.unwrap();
        assert_eq!(desk.find_open("tilsyn-k").await.unwrap().unwrap().id, r.id);
        // A torn line at the end does not hide what came before.
        std::fs::OpenOptions::new()
            .append(true)
            .open(d.path().join("sub/incidents.jsonl"))
            .unwrap()
            .write_all(b"{\"event\":\"res")
            .unwrap();
        assert!(desk.find_open("tilsyn-k").await.unwrap().is_some());
        let text = std::fs::read_to_string(d.path().join("sub/incidents.jsonl")).unwrap();
        let events: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                format!(
                    "{} {}",
                    v["event"].as_str().unwrap(),
                    v["key"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                "create tilsyn-k",
                "note tilsyn-k",
                "resolve tilsyn-k",
                "reopen tilsyn-k"
            ]
        );
    }

    #[tokio::test]
    async fn an_append_after_a_torn_line_starts_on_a_new_line() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("incidents.jsonl");
        let desk = FileDesk::new(
            &FileConfig { path: path.clone() },
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let r = desk.create(&ticket("tilsyn-k")).await.unwrap();
        // A crash mid-write left half a line without its newline.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"at_ms\":1,\"event\":\"no")
            .unwrap();
        desk.note(&r, "still bad").await.unwrap();
        desk.resolve(&r, "good again").await.unwrap();
        // The resolve is read back: the ticket is no longer open.
        assert_eq!(desk.find_open("tilsyn-k").await.unwrap(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[1], "{\"at_ms\":1,\"event\":\"no",
            "the torn line stays alone"
        );
        let events: Vec<String> = [lines[0], lines[2], lines[3]]
            .iter()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("a whole line does not parse: {l}: {e}"));
                format!(
                    "{} {}",
                    v["event"].as_str().unwrap(),
                    v["key"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            events,
            ["create tilsyn-k", "note tilsyn-k", "resolve tilsyn-k"]
        );
        // A file that ends whole gets no blank line.
        desk.note(&r, "after").await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 5);
        assert!(!text.contains("\n\n"));
    }
}
