//! Waivers made through the API or the command line (approved deviations from one rule
//! until a date), kept beside the standards directory's waiver files: the waiver itself as
//! a waiver file's entry (`doc`, JSON), who made it and when, and when it was withdrawn.
//! Every change is written with its audit entry in one transaction.

use crate::access::{audit_in, json_of, parse_json, Actor, ApiWaiver};
use crate::sql::{params, Conn, Row};
use crate::{Result, SqlStore};

const COLS: &str = "id, doc_json, created_by, created_at_ms, updated_at_ms, ended_at_ms";

fn row(r: &Row) -> Result<ApiWaiver> {
    let id: String = r.get(0)?;
    Ok(ApiWaiver {
        doc: parse_json(&format!("waiver {id}"), Some(r.get(1)?))?.unwrap_or_default(),
        created_by: r.get(2)?,
        created_at_ms: r.get(3)?,
        updated_at_ms: r.get(4)?,
        ended_at_ms: r.get(5)?,
        id,
    })
}

fn waiver_in(c: &dyn Conn, id: &str) -> Result<Option<ApiWaiver>> {
    c.query_row(
        &format!("SELECT {COLS} FROM api_waivers WHERE id = ?1"),
        params![id],
        row,
    )
}

impl SqlStore {
    pub(crate) fn save_waiver_impl(&self, w: &ApiWaiver, action: &str, by: &Actor) -> Result<()> {
        self.db.write(|c| {
            let before = waiver_in(c, &w.id)?;
            c.execute(
                &format!(
                    "INSERT INTO api_waivers ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (id) DO UPDATE SET doc_json = excluded.doc_json, \
                     updated_at_ms = excluded.updated_at_ms, ended_at_ms = excluded.ended_at_ms"
                ),
                params![
                    w.id,
                    w.doc.to_string(),
                    w.created_by,
                    w.created_at_ms,
                    w.updated_at_ms,
                    w.ended_at_ms
                ],
            )?;
            audit_in(
                c,
                by,
                action,
                &format!("waiver:{}", w.id),
                before.as_ref().map(json_of).as_ref(),
                Some(&json_of(w)),
                w.updated_at_ms,
            )
        })
    }

    pub(crate) fn api_waiver_impl(&self, id: &str) -> Result<Option<ApiWaiver>> {
        self.db.read(|c| waiver_in(c, id))
    }

    pub(crate) fn api_waivers_impl(&self) -> Result<Vec<ApiWaiver>> {
        self.db.read(|c| {
            c.query_map(
                &format!("SELECT {COLS} FROM api_waivers WHERE ended_at_ms IS NULL ORDER BY id"),
                params![],
                row,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Access, AuditFilter};
    use crate::tests::stores;

    #[test]
    fn a_waiver_is_saved_listed_until_withdrawn_and_every_change_audited() {
        for s in stores() {
            let by = Actor {
                actor: "token:ops".into(),
                source: "127.0.0.1".into(),
            };
            let mut w = ApiWaiver {
                id: "W-1".into(),
                doc: serde_json::json!({"standard": "s", "rule": "r", "hosts": ["pc-*"]}),
                created_by: "token:ops".into(),
                created_at_ms: 10,
                updated_at_ms: 10,
                ended_at_ms: None,
            };
            s.save_waiver(&w, "waiver.create", &by).unwrap();
            assert_eq!(s.api_waivers().unwrap(), vec![w.clone()]);
            w.ended_at_ms = Some(20);
            w.updated_at_ms = 20;
            s.save_waiver(&w, "waiver.end", &by).unwrap();
            assert!(s.api_waivers().unwrap().is_empty());
            assert_eq!(s.api_waiver("W-1").unwrap(), Some(w));
            let trail = s
                .audit_entries(&AuditFilter {
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["waiver.end", "waiver.create"]);
            assert_eq!(
                trail[0].before.as_ref().unwrap()["ended_at_ms"],
                serde_json::Value::Null
            );
            assert_eq!(trail[0].after.as_ref().unwrap()["ended_at_ms"], 20);
        }
    }
}
