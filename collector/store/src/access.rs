//! Who may see and do what, and what they did: API tokens, the audit trail, the hosts'
//! lifecycle (retire, move, revoke) and the maintenance windows made as changes through
//! the API. Each action is written with its audit entry in one transaction, so the trail
//! never misses a change nor records one that did not happen.

use serde::Serialize;

use crate::sql::{params, Conn, Row};
use crate::{Result, SqlStore, StoreError};

/// An API token as stored (its secret only as a hash, kept apart in [`Access::token`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// `admin`, `operator`, `reader`, `department` or `metrics`.
    pub role: String,
    /// The departments a `department` token reads; empty for the other roles.
    pub departments: Vec<String>,
    pub created_at_ms: i64,
    pub created_by: String,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// A waiver made through the API or CLI (its SQL in `waivers.rs`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApiWaiver {
    pub id: String,
    /// As a waiver file's entry (`standard`, `rule`, `hosts`, `department`, `labels`,
    /// `reason`, `approved_by`, `expires`).
    pub doc: serde_json::Value,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// Withdrawn (`end`) at; it no longer applies.
    pub ended_at_ms: Option<i64>,
}

/// Who did something, from where: written with the change.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `token:<name>`, `cli:<user>`, `local` (loopback without authentication).
    pub actor: String,
    /// The client's address, or `cli`.
    pub source: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub source: String,
    /// e.g. `host.retire`, `host.move`, `token.create`, `maintenance.create`.
    pub action: String,
    /// What it acted on: `host:<agent id>`, `token:<id>`, `window:<id>`.
    pub subject: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Which audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub limit: u32,
}

/// A host as its lifecycle sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostLifecycle {
    pub agent_id: String,
    pub hostname: String,
    pub department: String,
    pub class: String,
    pub state: String,
    pub retired_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// A maintenance window made through the API or CLI: one occurrence, `[start, end)`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChangeWindow {
    pub id: String,
    pub title: String,
    /// The change's reference in the desk (e.g. `CHG0012345`).
    pub change_ref: String,
    pub reason: String,
    /// As a window file's `scope:` (department, class, hosts, labels, checks).
    pub scope: serde_json::Value,
    pub start_ms: i64,
    pub end_ms: i64,
    pub created_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The access half of the store (a supertrait of [`crate::Store`]).
pub trait Access {
    /// Stores a new token with the hash of its secret; audited.
    fn create_token(&self, t: &ApiToken, secret_hash: &str, by: &Actor) -> Result<()>;
    /// A token and its secret's hash.
    fn token(&self, id: &str) -> Result<Option<(ApiToken, String)>>;
    fn list_tokens(&self) -> Result<Vec<ApiToken>>;
    /// Revokes a token now; `None` when there is no such token. Audited.
    fn revoke_token(&self, id: &str, now_ms: i64, by: &Actor) -> Result<Option<ApiToken>>;
    /// Records that a token was used (the caller does it at most once a minute per token).
    fn touch_token(&self, id: &str, now_ms: i64) -> Result<()>;
    /// Writes one audit entry (actions that change the store write theirs themselves).
    fn record_audit(
        &self,
        by: &Actor,
        action: &str,
        subject: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> Result<()>;
    fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>>;
    /// Deletes audit entries older than `before_ms` (fenced: the leader's retention).
    fn prune_audit(&self, before_ms: i64) -> Result<u64>;
    fn host_lifecycle(&self, agent_id: &str) -> Result<Option<HostLifecycle>>;
    /// Retires a host: state `retired`, its credential revoked, out of counts and
    /// compliance from now on (kept for history and past SLA periods). Returns the host
    /// before, `None` when there is none. Audited with `reason`. This and the other
    /// lifecycle actions leave a retired host unchanged (the returned state says so).
    fn retire_host(
        &self,
        agent_id: &str,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>>;
    /// Moves a host to another department and/or class (the class then stays as set:
    /// classification rules no longer change it). Returns the host before. Audited.
    fn move_host(
        &self,
        agent_id: &str,
        department: Option<&str>,
        class: Option<&str>,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>>;
    /// Revokes a host's agent credential: the agent is refused from now on and the host
    /// record is retired with it (its identity has ended; the machine, if it is still the
    /// organisation's, enrolls again with a department token as a new host). Returns the
    /// host before. Audited as `host.revoke`.
    fn revoke_agent(
        &self,
        agent_id: &str,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>>;
    /// Offline hosts last seen before `seen_before_ms` (never seen: enrolled before it),
    /// longest silent first, at most `limit`: (agent id, last seen) — for
    /// `hosts.expire_after`.
    fn expired_hosts(&self, seen_before_ms: i64, limit: u32) -> Result<Vec<(String, i64)>>;
    /// Hosts retired, moved or revoked at or after `since_ms` (the database's clock):
    /// (agent id, at_ms). Collectors drop their cached credentials of these.
    fn lifecycle_changes_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>>;
    /// Creates or replaces a change window; audited (`maintenance.create` or `.update`).
    fn save_change_window(&self, w: &ChangeWindow, action: &str, by: &Actor) -> Result<()>;
    fn change_window(&self, id: &str) -> Result<Option<ChangeWindow>>;
    /// Change windows ending after `ends_after_ms`, by start.
    fn change_windows(&self, ends_after_ms: i64) -> Result<Vec<ChangeWindow>>;
    /// Creates or replaces a waiver made through the API or CLI; audited (`waiver.create`,
    /// `.update` or `.end`).
    fn save_waiver(&self, w: &ApiWaiver, action: &str, by: &Actor) -> Result<()>;
    fn api_waiver(&self, id: &str) -> Result<Option<ApiWaiver>>;
    /// The waivers made through the API or CLI and not withdrawn, by id.
    fn api_waivers(&self) -> Result<Vec<ApiWaiver>>;
}

/// Retires a host (?1) at ?2: its credential is refused from then on; a retired host stays
/// as it was retired.
const RETIRE: &str =
    "UPDATE hosts SET state = 'retired', retired_at_ms = COALESCE(retired_at_ms, ?2), \
     revoked_at_ms = COALESCE(revoked_at_ms, ?2), offline_after_ms = NULL WHERE agent_id = ?1";

const TOKEN_COLS: &str = "id, name, role, departments, created_at_ms, created_by, expires_at_ms, revoked_at_ms, last_used_ms";
const LIFE_COLS: &str =
    "agent_id, hostname, department, class, state, retired_at_ms, revoked_at_ms";
const WINDOW_COLS: &str = "id, title, change_ref, reason, scope_json, start_ms, end_ms, created_by, created_at_ms, updated_at_ms";

fn token_row(r: &Row) -> Result<ApiToken> {
    let depts: String = r.get(3)?;
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        departments: depts
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
        created_at_ms: r.get(4)?,
        created_by: r.get(5)?,
        expires_at_ms: r.get(6)?,
        revoked_at_ms: r.get(7)?,
        last_used_ms: r.get(8)?,
    })
}

fn life_row(r: &Row) -> Result<HostLifecycle> {
    Ok(HostLifecycle {
        agent_id: r.get(0)?,
        hostname: r.get(1)?,
        department: r.get(2)?,
        class: r.get(3)?,
        state: r.get(4)?,
        retired_at_ms: r.get(5)?,
        revoked_at_ms: r.get(6)?,
    })
}

pub(crate) fn json_of<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(crate) fn parse_json(what: &str, s: Option<String>) -> Result<Option<serde_json::Value>> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|e| StoreError::Corrupt {
            what: what.to_string(),
            message: e.to_string(),
        })
    })
    .transpose()
}

fn window_row(r: &Row) -> Result<ChangeWindow> {
    let id: String = r.get(0)?;
    Ok(ChangeWindow {
        title: r.get(1)?,
        change_ref: r.get(2)?,
        reason: r.get(3)?,
        scope: parse_json(&format!("scope of change window {id}"), Some(r.get(4)?))?
            .unwrap_or_default(),
        start_ms: r.get(5)?,
        end_ms: r.get(6)?,
        created_by: r.get(7)?,
        created_at_ms: r.get(8)?,
        updated_at_ms: r.get(9)?,
        id,
    })
}

pub(crate) fn audit_in(
    c: &dyn Conn,
    by: &Actor,
    action: &str,
    subject: &str,
    before: Option<&serde_json::Value>,
    after: Option<&serde_json::Value>,
    now_ms: i64,
) -> Result<()> {
    let before = before.map(|v| v.to_string());
    let after = after.map(|v| v.to_string());
    c.execute(
        "INSERT INTO audit (at_ms, actor, source, action, subject, before_json, after_json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now_ms, by.actor, by.source, action, subject, before, after],
    )?;
    Ok(())
}

fn token_in(c: &dyn Conn, id: &str) -> Result<Option<ApiToken>> {
    c.query_row(
        &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?1"),
        params![id],
        token_row,
    )
}

fn window_in(c: &dyn Conn, id: &str) -> Result<Option<ChangeWindow>> {
    c.query_row(
        &format!("SELECT {WINDOW_COLS} FROM change_windows WHERE id = ?1"),
        params![id],
        window_row,
    )
}

fn lifecycle_in(c: &dyn Conn, agent_id: &str) -> Result<Option<HostLifecycle>> {
    c.query_row(
        &format!("SELECT {LIFE_COLS} FROM hosts WHERE agent_id = ?1"),
        params![agent_id],
        life_row,
    )
}

impl SqlStore {
    /// One lifecycle action on a host: reads it, lets `change` update it, records the
    /// host event and the audit entry, all in one transaction. A retired host is left as
    /// it is (nothing to record): the caller tells from the returned state.
    fn host_action(
        &self,
        agent_id: &str,
        action: &str,
        reason: &str,
        now_ms: i64,
        by: &Actor,
        change: &dyn Fn(&dyn Conn, &HostLifecycle) -> Result<()>,
    ) -> Result<Option<HostLifecycle>> {
        self.db.write(|c| {
            let Some(before) = lifecycle_in(c, agent_id)? else {
                return Ok(None);
            };
            if before.state == "retired" {
                return Ok(Some(before));
            }
            change(c, &before)?;
            c.execute(
                &format!(
                    "UPDATE hosts SET lifecycle_at_ms = {} WHERE agent_id = ?1",
                    crate::cluster::db_now(c.engine())
                ),
                params![agent_id],
            )?;
            let kind = action.trim_start_matches("host.");
            c.execute(
                "INSERT INTO host_events (agent_id, at_ms, kind) VALUES (?1, ?2, ?3)",
                params![agent_id, now_ms, kind],
            )?;
            let after = lifecycle_in(c, agent_id)?;
            let mut b = json_of(&before);
            let mut a = json_of(&after);
            if !reason.is_empty() {
                a["reason"] = reason.into();
            }
            // Only what the action can change, so the trail reads as a diff.
            for v in [&mut b, &mut a] {
                if let Some(o) = v.as_object_mut() {
                    o.remove("agent_id");
                    o.remove("hostname");
                }
            }
            audit_in(
                c,
                by,
                action,
                &format!("host:{agent_id}"),
                Some(&b),
                Some(&a),
                now_ms,
            )?;
            Ok(Some(before))
        })
    }
}

impl Access for SqlStore {
    fn create_token(&self, t: &ApiToken, secret_hash: &str, by: &Actor) -> Result<()> {
        self.db.write(|c| {
            let depts = t.departments.join(",");
            c.execute(
                &format!("INSERT INTO api_tokens ({TOKEN_COLS}, secret_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    t.id,
                    t.name,
                    t.role,
                    depts,
                    t.created_at_ms,
                    t.created_by,
                    t.expires_at_ms,
                    t.revoked_at_ms,
                    t.last_used_ms,
                    secret_hash
                ],
            )?;
            audit_in(
                c,
                by,
                "token.create",
                &format!("token:{}", t.id),
                None,
                Some(&json_of(t)),
                t.created_at_ms,
            )
        })
    }

    fn token(&self, id: &str) -> Result<Option<(ApiToken, String)>> {
        self.db.read(|c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLS}, secret_hash FROM api_tokens WHERE id = ?1"),
                params![id],
                |r| Ok((token_row(r)?, r.get(9)?)),
            )
        })
    }

    fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        self.db.read(|c| {
            c.query_map(
                &format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at_ms, id"),
                params![],
                token_row,
            )
        })
    }

    fn revoke_token(&self, id: &str, now_ms: i64, by: &Actor) -> Result<Option<ApiToken>> {
        self.db.write(|c| {
            let Some(before) = token_in(c, id)? else {
                return Ok(None);
            };
            c.execute(
                "UPDATE api_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE id = ?1",
                params![id, now_ms],
            )?;
            let after = token_in(c, id)?;
            audit_in(
                c,
                by,
                "token.revoke",
                &format!("token:{id}"),
                Some(&json_of(&before)),
                Some(&json_of(&after)),
                now_ms,
            )?;
            Ok(after)
        })
    }

    fn touch_token(&self, id: &str, now_ms: i64) -> Result<()> {
        self.db.write(|c| {
            c.execute(
                "UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1",
                params![id, now_ms],
            )
            .map(|_| ())
        })
    }

    fn record_audit(
        &self,
        by: &Actor,
        action: &str,
        subject: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> Result<()> {
        self.db
            .write(|c| audit_in(c, by, action, subject, before, after, now_ms))
    }

    fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.db.read(|c| {
            let mut sql = String::from(
                "SELECT seq, at_ms, actor, source, action, subject, before_json, after_json FROM audit WHERE 1 = 1",
            );
            let since = f.since_ms;
            let until = f.until_ms;
            let mut args: Vec<&dyn crate::sql::ToParam> = Vec::new();
            if let Some(v) = &since {
                args.push(v);
                sql.push_str(&format!(" AND at_ms >= ?{}", args.len()));
            }
            if let Some(v) = &until {
                args.push(v);
                sql.push_str(&format!(" AND at_ms < ?{}", args.len()));
            }
            for (col, v) in [
                ("actor", &f.actor),
                ("action", &f.action),
                ("subject", &f.subject),
            ] {
                if let Some(v) = v {
                    args.push(v);
                    sql.push_str(&format!(" AND {col} = ?{}", args.len()));
                }
            }
            sql.push_str(&format!(
                " ORDER BY seq DESC LIMIT {}",
                f.limit.clamp(1, 10_000)
            ));
            c.query_map(&sql, &args, |r| {
                let seq: i64 = r.get(0)?;
                let what = |s: &str| format!("{s} of audit entry {seq}");
                Ok(AuditEntry {
                    seq,
                    at_ms: r.get(1)?,
                    actor: r.get(2)?,
                    source: r.get(3)?,
                    action: r.get(4)?,
                    subject: r.get(5)?,
                    before: parse_json(&what("before"), r.get(6)?)?,
                    after: parse_json(&what("after"), r.get(7)?)?,
                })
            })
        })
    }

    fn prune_audit(&self, before_ms: i64) -> Result<u64> {
        self.leader_write(|c| c.execute("DELETE FROM audit WHERE at_ms < ?1", params![before_ms]))
    }

    fn host_lifecycle(&self, agent_id: &str) -> Result<Option<HostLifecycle>> {
        self.db.read(|c| lifecycle_in(c, agent_id))
    }

    fn retire_host(
        &self,
        agent_id: &str,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>> {
        self.host_action(agent_id, "host.retire", reason, now_ms, by, &|c, _| {
            c.execute(RETIRE, params![agent_id, now_ms]).map(|_| ())
        })
    }

    fn move_host(
        &self,
        agent_id: &str,
        department: Option<&str>,
        class: Option<&str>,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>> {
        self.host_action(agent_id, "host.move", reason, now_ms, by, &|c, before| {
            let dept = department.unwrap_or(&before.department);
            let class_now = class.unwrap_or(&before.class);
            c.execute(
                "UPDATE hosts SET department = ?2, class = ?3, \
                 class_source = CASE WHEN ?4 = 1 THEN 'operator' ELSE class_source END WHERE agent_id = ?1",
                params![agent_id, dept, class_now, class.is_some() as i64],
            )?;
            c.execute(
                "INSERT INTO host_moves (agent_id, at_ms, from_department, to_department, from_class, to_class) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![agent_id, now_ms, before.department, dept, before.class, class_now],
            )?;
            Ok(())
        })
    }

    fn revoke_agent(
        &self,
        agent_id: &str,
        reason: &str,
        now_ms: i64,
        by: &Actor,
    ) -> Result<Option<HostLifecycle>> {
        self.host_action(agent_id, "host.revoke", reason, now_ms, by, &|c, _| {
            c.execute(RETIRE, params![agent_id, now_ms]).map(|_| ())
        })
    }

    fn expired_hosts(&self, seen_before_ms: i64, limit: u32) -> Result<Vec<(String, i64)>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT agent_id, COALESCE(last_seen_ms, enrolled_at_ms) AS seen FROM hosts \
                 WHERE state = 'offline' AND COALESCE(last_seen_ms, enrolled_at_ms) < ?1 \
                 ORDER BY seen, agent_id LIMIT ?2",
                params![seen_before_ms, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn lifecycle_changes_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>> {
        self.db.read(|c| {
            c.query_map(
                "SELECT agent_id, lifecycle_at_ms FROM hosts WHERE lifecycle_at_ms >= ?1 ORDER BY lifecycle_at_ms",
                params![since_ms],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn save_change_window(&self, w: &ChangeWindow, action: &str, by: &Actor) -> Result<()> {
        self.db.write(|c| {
            let before = window_in(c, &w.id)?;
            let scope = w.scope.to_string();
            c.execute(
                &format!(
                    "INSERT INTO change_windows ({WINDOW_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (id) DO UPDATE SET title = excluded.title, change_ref = excluded.change_ref, \
                     reason = excluded.reason, scope_json = excluded.scope_json, start_ms = excluded.start_ms, \
                     end_ms = excluded.end_ms, updated_at_ms = excluded.updated_at_ms"
                ),
                params![
                    w.id,
                    w.title,
                    w.change_ref,
                    w.reason,
                    scope,
                    w.start_ms,
                    w.end_ms,
                    w.created_by,
                    w.created_at_ms,
                    w.updated_at_ms
                ],
            )?;
            audit_in(
                c,
                by,
                action,
                &format!("window:{}", w.id),
                before.as_ref().map(json_of).as_ref(),
                Some(&json_of(w)),
                w.updated_at_ms,
            )
        })
    }

    fn change_window(&self, id: &str) -> Result<Option<ChangeWindow>> {
        self.db.read(|c| window_in(c, id))
    }

    fn change_windows(&self, ends_after_ms: i64) -> Result<Vec<ChangeWindow>> {
        self.db.read(|c| {
            c.query_map(
                &format!("SELECT {WINDOW_COLS} FROM change_windows WHERE end_ms > ?1 ORDER BY start_ms, id"),
                params![ends_after_ms],
                window_row,
            )
        })
    }

    fn save_waiver(&self, w: &ApiWaiver, action: &str, by: &Actor) -> Result<()> {
        self.save_waiver_impl(w, action, by)
    }

    fn api_waiver(&self, id: &str) -> Result<Option<ApiWaiver>> {
        self.api_waiver_impl(id)
    }

    fn api_waivers(&self) -> Result<Vec<ApiWaiver>> {
        self.api_waivers_impl()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{agent, stores};
    use crate::Store;

    fn by() -> Actor {
        Actor {
            actor: "token:ops".into(),
            source: "127.0.0.1".into(),
        }
    }

    #[test]
    fn a_retired_host_leaves_the_counts_and_is_refused_and_the_trail_says_who() {
        for s in stores() {
            agent(&s, "a");
            agent(&s, "b");
            let before = s.retire_host("a", "scrapped", 100, &by()).unwrap().unwrap();
            assert_eq!(before.state, "new");
            let a = s.host_lifecycle("a").unwrap().unwrap();
            assert_eq!(
                (a.state.as_str(), a.retired_at_ms, a.revoked_at_ms),
                ("retired", Some(100), Some(100))
            );
            let counted: i64 = s.host_counts().unwrap().iter().map(|c| c.hosts).sum();
            assert_eq!(counted, 1, "only b is counted");
            let listed = s
                .list_hosts(&crate::HostFilter {
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(listed.len(), 1);
            assert!(s.agent_auth("a").unwrap().unwrap().revoked);
            assert!(!s.agent_auth("b").unwrap().unwrap().revoked);
            let mut seen = vec![];
            s.incident_hosts(None, &mut |h| seen.push(h.agent_id))
                .unwrap();
            assert_eq!(seen, ["b"]);
            let trail = s
                .audit_entries(&AuditFilter {
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(trail.len(), 1);
            let e = &trail[0];
            assert_eq!(
                (e.action.as_str(), e.subject.as_str(), e.actor.as_str()),
                ("host.retire", "host:a", "token:ops")
            );
            assert_eq!(e.after.as_ref().unwrap()["state"], "retired");
            assert_eq!(e.after.as_ref().unwrap()["reason"], "scrapped");
            assert_eq!(e.before.as_ref().unwrap()["state"], "new");
            assert!(!s.lifecycle_changes_since(0).unwrap().is_empty());
            assert!(s.retire_host("nope", "", 1, &by()).unwrap().is_none());
            // A retired host stays as it is, and nothing more is written to the trail.
            let again = s.retire_host("a", "twice", 200, &by()).unwrap().unwrap();
            assert_eq!(
                (again.state.as_str(), again.retired_at_ms),
                ("retired", Some(100))
            );
            assert!(s
                .move_host("a", Some("x"), None, "", 200, &by())
                .unwrap()
                .is_some());
            assert_eq!(
                s.host_lifecycle("a").unwrap().unwrap().department,
                before.department
            );
            let trail = s
                .audit_entries(&AuditFilter {
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(trail.len(), 1);
        }
    }

    #[test]
    fn expired_hosts_are_the_offline_ones_silent_longest_first() {
        for s in stores() {
            for (id, state, seen) in [
                ("a", "offline", Some(100)),
                ("b", "offline", Some(50)),
                ("c", "online", Some(10)),
                ("d", "offline", None),
                ("e", "offline", Some(500)),
            ] {
                agent(&s, id);
                s.db.write(|c| {
                    c.execute(
                        "UPDATE hosts SET state = ?2, last_seen_ms = ?3 WHERE agent_id = ?1",
                        params![id, state, seen],
                    )
                })
                .unwrap();
            }
            // d was never seen: its enrollment (1) stands in.
            let got = s.expired_hosts(200, 10).unwrap();
            let ids: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
            assert_eq!(ids, ["d", "b", "a"]);
            assert_eq!(s.expired_hosts(200, 1).unwrap().len(), 1);
            s.retire_host("b", "gone", 300, &by()).unwrap();
            assert_eq!(
                s.expired_hosts(200, 10).unwrap().len(),
                2,
                "retired: not again"
            );
        }
    }

    #[test]
    fn a_move_is_kept_as_history_and_pins_the_class() {
        for s in stores() {
            agent(&s, "a");
            s.move_host("a", Some("schools"), Some("server"), "reorg", 50, &by())
                .unwrap()
                .unwrap();
            let a = s.agent_auth("a").unwrap().unwrap();
            assert_eq!(
                (
                    a.department.as_str(),
                    a.class.as_str(),
                    a.class_source.as_str()
                ),
                ("schools", "server", "operator")
            );
            // The SLA sees where it was before: past periods keep the old department.
            let mut seen = vec![];
            s.sla_hosts(&mut |h| seen.push(h)).unwrap();
            let m = &seen[0].moves;
            assert_eq!(m.len(), 1);
            assert_eq!(
                (m[0].at_ms, seen[0].host_ref_at(49).department),
                (50, "social")
            );
            assert_eq!(seen[0].host_ref_at(50).department, "schools");
        }
    }

    #[test]
    fn tokens_are_listed_without_secrets_and_revoked_once() {
        for s in stores() {
            let t = ApiToken {
                id: "t1".into(),
                name: "grafana".into(),
                role: "department".into(),
                departments: vec!["schools".into(), "social".into()],
                created_at_ms: 5,
                created_by: "cli:root".into(),
                expires_at_ms: Some(1000),
                revoked_at_ms: None,
                last_used_ms: None,
            };
            s.create_token(&t, "hash", &by()).unwrap();
            let (got, hash) = s.token("t1").unwrap().unwrap();
            assert_eq!((got, hash.as_str()), (t.clone(), "hash"));
            s.touch_token("t1", 7).unwrap();
            let r = s.revoke_token("t1", 9, &by()).unwrap().unwrap();
            assert_eq!((r.revoked_at_ms, r.last_used_ms), (Some(9), Some(7)));
            // A second revocation keeps the first time.
            let r = s.revoke_token("t1", 20, &by()).unwrap().unwrap();
            assert_eq!(r.revoked_at_ms, Some(9));
            assert_eq!(s.list_tokens().unwrap().len(), 1);
            assert!(s.revoke_token("t2", 9, &by()).unwrap().is_none());
            let trail = s
                .audit_entries(&AuditFilter {
                    action: Some("token.create".into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(trail.len(), 1);
            assert!(!trail[0]
                .after
                .as_ref()
                .unwrap()
                .to_string()
                .contains("hash"));
            assert_eq!(s.prune_audit(8).unwrap(), 1, "the creation at 5");
        }
    }

    #[test]
    fn change_windows_are_saved_listed_and_audited() {
        for s in stores() {
            let mut w = ChangeWindow {
                id: "chg-1".into(),
                title: "Patch SQL".into(),
                change_ref: "CHG001".into(),
                reason: "emergency patch".into(),
                scope: serde_json::json!({"department": ["schools"]}),
                start_ms: 100,
                end_ms: 200,
                created_by: "token:ops".into(),
                created_at_ms: 90,
                updated_at_ms: 90,
            };
            s.save_change_window(&w, "maintenance.create", &by())
                .unwrap();
            w.end_ms = 300;
            w.updated_at_ms = 150;
            s.save_change_window(&w, "maintenance.extend", &by())
                .unwrap();
            assert_eq!(s.change_window("chg-1").unwrap().unwrap(), w);
            assert_eq!(s.change_windows(250).unwrap().len(), 1);
            assert!(s.change_windows(300).unwrap().is_empty());
            let trail = s
                .audit_entries(&AuditFilter {
                    subject: Some("window:chg-1".into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(trail[0].action, "maintenance.extend");
            assert_eq!(trail[0].before.as_ref().unwrap()["end_ms"], 200);
        }
    }
}
