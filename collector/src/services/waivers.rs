//! Waivers granted and withdrawn through the API or the command line, for both alike:
//! checked as a waiver file's entry would be (the standard and rule exist, the hosts are
//! named, a reason, an approver, an expiry date), recorded with the audit entry, and put
//! in force beside the standards directory's waivers by every collector within seconds
//! ([`in_force`], read every 2 s).

use std::path::Path;

use serde::Deserialize;
use tilsyn_collector_core::compliance::standard::StandardSet;
use tilsyn_collector_core::compliance::waiver::{Waiver, WaiverDoc};
use tilsyn_collector_store::{Actor, ApiWaiver, Store, StoreError};

use crate::services::lifecycle::ActionError;

/// A waiver to grant: a waiver file's entry, its id optional (`W-API-<hex>` when left out).
pub type NewWaiver = WaiverDoc;

/// Why a waiver is withdrawn.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverEnd {
    pub reason: String,
}

/// Each loaded standard's id with its rule ids: what a waiver may name.
pub fn known_rules(set: &StandardSet) -> Vec<(&str, Vec<&str>)> {
    set.standards
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.rules.iter().map(|r| r.id.as_str()).collect(),
            )
        })
        .collect()
}

fn file_waiver(set: &StandardSet, id: &str) -> bool {
    set.waivers.iter().any(|w| w.id == id)
}

fn valid_waiver_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Grants a waiver against the standards directory's set `file`.
pub fn grant(
    store: &dyn Store,
    file: &StandardSet,
    departments: &[String],
    w: NewWaiver,
    by: &Actor,
    now: i64,
) -> Result<ApiWaiver, ActionError> {
    let bad = ActionError::Invalid;
    let id = match w.id.trim() {
        "" => format!("W-API-{}", crate::auth::random_hex(4).to_uppercase()),
        given => given.to_string(),
    };
    if !valid_waiver_id(&id) {
        return Err(bad(format!(
            "id {id:?} must be 1-64 letters, digits, '-', '_' or '.'"
        )));
    }
    if let Some(d) = &w.department {
        if !departments.contains(d) {
            return Err(bad(format!(
                "unknown department {d:?} (known: {})",
                departments.join(", ")
            )));
        }
    }
    if w.reason.len() > 1000 || w.approved_by.len() > 200 {
        return Err(bad(
            "reason: at most 1000 characters; approved_by: at most 200".into(),
        ));
    }
    let doc = WaiverDoc {
        id: id.clone(),
        reason: w.reason.trim().to_string(),
        approved_by: w.approved_by.trim().to_string(),
        ..w
    };
    // Checked as the compliance engine will compile it.
    let known = known_rules(file);
    let mut issues = tilsyn_proto::yaml::Issues::default();
    let Some(compiled) =
        Waiver::compile(doc.clone(), "waiver", Path::new("api"), &known, &mut issues)
    else {
        return Err(bad(issues.messages().join("; ")));
    };
    if compiled.expires_at_ms <= now {
        return Err(bad(format!(
            "expires {:?} is in the past: a waiver is granted until a future day",
            doc.expires
        )));
    }
    if file_waiver(file, &id) || store.api_waiver(&id)?.is_some() {
        return Err(ActionError::Conflict(format!(
            "a waiver {id:?} exists already (ids are not reused); give another id"
        )));
    }
    let row = ApiWaiver {
        id,
        doc: serde_json::to_value(&doc).unwrap_or_default(),
        created_by: by.actor.clone(),
        created_at_ms: now,
        updated_at_ms: now,
        ended_at_ms: None,
    };
    store.save_waiver(&row, "waiver.create", by)?;
    Ok(row)
}

/// Withdraws a waiver made through the API or CLI (a file's waiver is withdrawn by
/// editing its file).
pub fn withdraw(
    store: &dyn Store,
    file: &StandardSet,
    id: &str,
    e: &WaiverEnd,
    by: &Actor,
    now: i64,
) -> Result<ApiWaiver, ActionError> {
    if e.reason.trim().is_empty() {
        return Err(ActionError::Invalid(
            "give a reason (it goes to the audit trail)".into(),
        ));
    }
    let Some(mut w) = store.api_waiver(id)? else {
        let why = if file_waiver(file, id) {
            format!("waiver {id:?} comes from the standards directory: edit its file")
        } else {
            format!("no waiver {id:?}")
        };
        return Err(ActionError::NotFound(why));
    };
    if w.ended_at_ms.is_some() {
        return Err(ActionError::Conflict(format!(
            "waiver {id:?} was withdrawn already"
        )));
    }
    w.ended_at_ms = Some(now);
    w.updated_at_ms = now;
    if let Some(o) = w.doc.as_object_mut() {
        let reason = o.get("reason").and_then(|r| r.as_str()).unwrap_or_default();
        let r = format!("{reason} — withdrawn: {}", e.reason.trim());
        o.insert("reason".into(), r.into());
    }
    store.save_waiver(&w, "waiver.end", by)?;
    Ok(w)
}

/// The waivers in force from the store, as waiver file entries (a row that does not read
/// as one is skipped and said so).
pub fn in_force(store: &dyn Store) -> Result<Vec<WaiverDoc>, StoreError> {
    Ok(store
        .api_waivers()?
        .into_iter()
        .filter_map(|w| match serde_json::from_value::<WaiverDoc>(w.doc) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(waiver = %w.id, error = %e, "a stored waiver does not read as a waiver; skipped");
                None
            }
        })
        .collect())
}
