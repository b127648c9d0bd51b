//! Acting on the fleet — retire, move and revoke hosts, make, extend and end change
//! windows — for the API and the command line alike: the store records the action with
//! its audit entry, then the running engines hear of it here (the compliance views, the
//! incident engine, the SLA's maintenance windows, the agents' cached credentials). Other
//! collectors on the same database follow within seconds ([`Follow`]).

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::Deserialize;
use tilsyn_collector_core::incidents::maintenance::{ScopeDoc, Windows};
use tilsyn_collector_store::{Actor, ChangeWindow, HostLifecycle, Store, StoreError};

/// Why an action was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A host to retire, move or revoke.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostAction {
    /// Why: written to the audit trail and, for retire, to the desk.
    #[serde(default)]
    pub reason: String,
    /// Move: the new department (an id of `departments:`).
    #[serde(default)]
    pub department: Option<String>,
    /// Move: the new class (stays: classification rules no longer change it).
    #[serde(default)]
    pub class: Option<String>,
}

pub fn retire(
    store: &dyn Store,
    agent_id: &str,
    a: &HostAction,
    by: &Actor,
    now: i64,
) -> Result<HostLifecycle, ActionError> {
    need_reason(a)?;
    let before = store
        .retire_host(agent_id, &a.reason, now, by)?
        .ok_or_else(|| no_host(agent_id))?;
    not_retired(before, "was already retired")
}

pub fn move_host(
    store: &dyn Store,
    departments: &[String],
    agent_id: &str,
    a: &HostAction,
    by: &Actor,
    now: i64,
) -> Result<HostLifecycle, ActionError> {
    need_reason(a)?;
    if a.department.is_none() && a.class.is_none() {
        return Err(ActionError::Invalid(
            "say where to: department and/or class".into(),
        ));
    }
    if let Some(d) = &a.department {
        if !departments.contains(d) {
            return Err(ActionError::Invalid(format!(
                "unknown department {d:?} (known: {})",
                departments.join(", ")
            )));
        }
    }
    if let Some(c) = &a.class {
        if !tilsyn_collector_core::text::valid_id(c) {
            return Err(ActionError::Invalid(format!(
                "class {c:?} must be 1-64 characters of a-z, 0-9, '-' or '_'"
            )));
        }
    }
    let before = store
        .move_host(
            agent_id,
            a.department.as_deref(),
            a.class.as_deref(),
            &a.reason,
            now,
            by,
        )?
        .ok_or_else(|| no_host(agent_id))?;
    not_retired(before, "is retired")
}

/// The store leaves a retired host unchanged: that is a conflict for the caller.
fn not_retired(before: HostLifecycle, what: &str) -> Result<HostLifecycle, ActionError> {
    if before.state == "retired" {
        return Err(ActionError::Conflict(format!(
            "host {} ({}) {what}",
            before.agent_id, before.hostname
        )));
    }
    Ok(before)
}

pub fn revoke(
    store: &dyn Store,
    agent_id: &str,
    a: &HostAction,
    by: &Actor,
    now: i64,
) -> Result<HostLifecycle, ActionError> {
    need_reason(a)?;
    let before = store
        .revoke_agent(agent_id, &a.reason, now, by)?
        .ok_or_else(|| no_host(agent_id))?;
    not_retired(before, "is retired: its agent is refused already")
}

fn need_reason(a: &HostAction) -> Result<(), ActionError> {
    if a.reason.trim().is_empty() {
        return Err(ActionError::Invalid(
            "give a reason (it goes to the audit trail and, when retiring, to the desk)".into(),
        ));
    }
    if a.reason.len() > 1000 {
        return Err(ActionError::Invalid(
            "reason: at most 1000 characters".into(),
        ));
    }
    Ok(())
}

fn no_host(agent_id: &str) -> ActionError {
    ActionError::NotFound(format!("no host with agent id {agent_id:?}"))
}

/// The note a retired host's incidents resolve with.
pub fn retire_note(by: &Actor, reason: &str) -> String {
    format!("by {}: {}", by.actor, reason.trim())
}

/// Hosts retired per pass of [`expire`]: the rest follow on the next one.
const EXPIRE_BATCH: u32 = 200;

/// `hosts.expire_after`: retires the hosts offline longer than `after_ms` (at most
/// [`EXPIRE_BATCH`] a pass), in the trail as `system:expire_after`. Returns each retired
/// host with the note its incidents resolve with.
pub fn expire(
    store: &dyn Store,
    after_ms: i64,
    after_text: &str,
    now: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    let by = Actor {
        actor: "system:expire_after".into(),
        source: "collector".into(),
    };
    let mut retired = Vec::new();
    for (agent_id, seen) in store.expired_hosts(now - after_ms, EXPIRE_BATCH)? {
        let reason = format!(
            "offline since {}, longer than hosts.expire_after ({after_text})",
            tilsyn_collector_core::text::rfc3339(seen)
        );
        if store.retire_host(&agent_id, &reason, now, &by)?.is_some() {
            retired.push((agent_id, retire_note(&by, &reason)));
        }
    }
    Ok(retired)
}

/// The note a revoked host's incidents resolve with.
pub fn revoke_note(by: &Actor, reason: &str) -> String {
    format!(
        "its agent's credential was revoked by {}: {}",
        by.actor,
        reason.trim()
    )
}

/// A change window to make: the desk's change reference, a reason, when and what.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// e.g. the desk's change number; also the window's id.
    pub change_ref: String,
    pub reason: String,
    #[serde(default)]
    pub title: Option<String>,
    /// RFC 3339 or ms since the epoch; default now.
    #[serde(default)]
    pub start: Option<String>,
    /// RFC 3339 or ms since the epoch.
    pub end: String,
    /// As a window file's `scope:`; omitted: every host and check.
    #[serde(default)]
    pub scope: Option<ScopeDoc>,
}

/// A new end for a change window (`extend`), or now (`end`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowEnd {
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// An instant as the API takes it: RFC 3339, a date, or ms since the epoch.
pub fn instant(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .ok()
        .or_else(|| tilsyn_proto::time::parse_timestamp_ms(s))
        .ok_or_else(|| format!("{s:?} is not a time (RFC 3339 like 2026-11-22T00:00:00Z, a date, or ms since the epoch)"))
}

/// The change windows of the last 400 days and the future: what the SLA may need.
const WINDOWS_KEPT_MS: i64 = 400 * 86_400_000;

/// Makes a change window; its id is the change reference (letters, digits, `-`, `_`,
/// `.`), and a window with that id must not exist yet.
pub fn create_window(
    store: &dyn Store,
    file: &Windows,
    w: &NewWindow,
    by: &Actor,
    now: i64,
) -> Result<ChangeWindow, ActionError> {
    let bad = |m: String| ActionError::Invalid(m);
    let id = w.change_ref.trim().to_string();
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(bad(format!(
            "change_ref {:?} must be 1-64 letters, digits, '-', '_' or '.' (the desk's change number)",
            w.change_ref
        )));
    }
    if w.reason.trim().is_empty() {
        return Err(bad("give a reason".into()));
    }
    let start = w
        .start
        .as_deref()
        .map(instant)
        .transpose()
        .map_err(bad)?
        .unwrap_or(now);
    let end = instant(&w.end).map_err(bad)?;
    if end <= start || end <= now {
        return Err(bad("end must be after start and in the future".into()));
    }
    if end - start > 31 * 86_400_000 {
        return Err(bad(
            "a change window lasts at most 31 days; put recurring maintenance in the windows file"
                .into(),
        ));
    }
    if store.change_window(&id)?.is_some() || file.get(&id).is_some() {
        return Err(ActionError::Conflict(format!(
            "a window {id:?} exists already; extend or end it"
        )));
    }
    let scope = w.scope.clone().unwrap_or_default();
    // Checked as the engines will compile it.
    file.with_changes(vec![(id.clone(), String::new(), start, end, scope.clone())])
        .map_err(|e| {
            bad(e
                .into_iter()
                .map(|(p, m)| format!("{p}: {m}"))
                .collect::<Vec<_>>()
                .join("; "))
        })?;
    let row = ChangeWindow {
        title: w.title.clone().unwrap_or_else(|| format!("Change {id}")),
        change_ref: id.clone(),
        id,
        reason: w.reason.trim().to_string(),
        scope: serde_json::to_value(&scope).unwrap_or_default(),
        start_ms: start,
        end_ms: end,
        created_by: by.actor.clone(),
        created_at_ms: now,
        updated_at_ms: now,
    };
    store.save_change_window(&row, "maintenance.create", by)?;
    Ok(row)
}

/// Extends a change window (`end` given) or ends it now.
pub fn end_window(
    store: &dyn Store,
    id: &str,
    e: &WindowEnd,
    by: &Actor,
    now: i64,
) -> Result<ChangeWindow, ActionError> {
    let mut w = store
        .change_window(id)?
        .ok_or_else(|| ActionError::NotFound(format!("no change window {id:?}")))?;
    if w.end_ms <= now {
        return Err(ActionError::Conflict(format!(
            "change window {id:?} has ended already"
        )));
    }
    let (action, end) = match &e.end {
        Some(t) => {
            let end = instant(t).map_err(ActionError::Invalid)?;
            if end <= now || end <= w.start_ms || end - w.start_ms > 31 * 86_400_000 {
                return Err(ActionError::Invalid(
                    "the new end must be in the future, after the start, at most 31 days after it"
                        .into(),
                ));
            }
            ("maintenance.extend", end)
        }
        None => ("maintenance.end", now.max(w.start_ms)),
    };
    w.end_ms = end;
    w.updated_at_ms = now;
    if !e.reason.trim().is_empty() {
        w.reason = format!("{} — {}", w.reason, e.reason.trim());
    }
    store.save_change_window(&w, action, by)?;
    Ok(w)
}

/// The change windows the engines need: those of the last 400 days and the future.
pub fn change_windows(store: &dyn Store, now: i64) -> Result<Vec<ChangeWindow>, StoreError> {
    store.change_windows(now - WINDOWS_KEPT_MS)
}

/// The windows in force: the file's and the change windows `rows`.
pub fn windows_in_force(file: &Windows, rows: &[ChangeWindow]) -> Windows {
    let changes = rows
        .iter()
        .filter_map(|r| {
            let scope: ScopeDoc = serde_json::from_value(r.scope.clone()).ok()?;
            Some((r.id.clone(), r.title.clone(), r.start_ms, r.end_ms, scope))
        })
        .collect();
    match file.with_changes(changes) {
        Ok(w) => w,
        Err(e) => {
            // Checked when made; a row another version wrote may not compile here.
            tracing::warn!(errors = ?e, "change windows that do not compile are left out");
            file.clone()
        }
    }
}

/// A change window as far as applying it goes: id, start, end, last update.
type Stamp = (String, i64, i64, i64);

/// What this collector last applied, so the engines are told only of changes.
#[derive(Default)]
pub struct Applied {
    seen: Mutex<Option<Vec<Stamp>>>,
}

impl Applied {
    /// True when `rows` differ from what was applied last (and remembers them).
    pub fn changed(&self, rows: &[ChangeWindow]) -> bool {
        let now: Vec<_> = rows
            .iter()
            .map(|r| (r.id.clone(), r.start_ms, r.end_ms, r.updated_at_ms))
            .collect();
        let mut seen = self.seen.lock().expect("applied");
        if seen.as_ref() == Some(&now) {
            return false;
        }
        *seen = Some(now);
        true
    }
}

/// Follows the hosts' lifecycle changes in the store (made on any collector): the
/// hosts retired, moved or revoked since the last look, with an overlap for late commits.
pub struct Follow {
    since_ms: i64,
    seen: BTreeSet<(String, i64)>,
}

impl Follow {
    pub fn new(start_ms: i64) -> Self {
        Follow {
            since_ms: start_ms,
            seen: BTreeSet::new(),
        }
    }

    pub fn since_ms(&self) -> i64 {
        self.since_ms - 30_000
    }

    /// The hosts not seen yet among `rows` (agent id, at_ms).
    pub fn take(&mut self, rows: Vec<(String, i64)>) -> Vec<String> {
        let mut out = Vec::new();
        for (id, at) in rows {
            self.since_ms = self.since_ms.max(at);
            if self.seen.insert((id.clone(), at)) {
                out.push(id);
            }
        }
        let floor = self.since_ms - 60_000;
        self.seen.retain(|(_, at)| *at >= floor);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_follower_reports_each_change_once_through_the_overlap() {
        let mut f = Follow::new(1_000);
        assert_eq!(f.take(vec![("a".into(), 2_000)]), ["a"]);
        assert!(f.since_ms() < 2_000);
        assert!(f.take(vec![("a".into(), 2_000)]).is_empty());
        assert_eq!(f.take(vec![("a".into(), 3_000)]), ["a"], "a second change");
    }

    #[test]
    fn applied_tells_only_of_changes() {
        let a = Applied::default();
        assert!(a.changed(&[]));
        assert!(!a.changed(&[]));
    }
}
