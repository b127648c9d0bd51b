//! The command line's access, lifecycle and change commands — `token`, `audit`, `host`,
//! `maintenance` — on the collector's database (they work while it runs: running
//! collectors follow within seconds). The same code as the API's
//! ([`crate::services::lifecycle`], [`crate::api`]'s token rules); the actor in the audit
//! trail is `cli:<user>`.

use std::process::ExitCode;

use clap::Subcommand;
use tilsyn_collector_core::incidents::maintenance::ScopeDoc;
use tilsyn_collector_store::{Actor, AuditFilter, Store};

use crate::config::CollectorConfig;
use crate::services::lifecycle::{self, HostAction, NewWindow, WindowEnd};

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Make an API token and print it (once: the store keeps only its hash).
    Create {
        #[arg(long)]
        name: String,
        /// admin, operator, reader, department or metrics.
        #[arg(long)]
        role: String,
        /// For role department: a department it reads (repeat for several).
        #[arg(long = "department")]
        departments: Vec<String>,
        /// Last day it is accepted (YYYY-MM-DD, UTC).
        #[arg(long)]
        expires: Option<String>,
    },
    /// The tokens (never their secrets).
    List,
    /// Refuse a token from now on (by its id, as `list` shows it).
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum HostCmd {
    /// Retire a host (scrapped, replaced): its open incidents resolve in the desk with the
    /// reason, it leaves counts and compliance, its agent is refused; history stays.
    Retire {
        agent_id: String,
        #[arg(long)]
        reason: String,
    },
    /// Move a host to another department and/or class.
    Move {
        agent_id: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        class: Option<String>,
        #[arg(long)]
        reason: String,
    },
    /// Revoke a host's agent credential (a stolen laptop): the agent is refused at once,
    /// the host record is retired (its incidents resolve, history stays); the machine, if
    /// it is still yours, enrolls again with a department token as a new host.
    Revoke {
        agent_id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum MaintenanceCmd {
    /// Make a change window (suppresses incidents and pauses the SLA clock in its scope).
    Create {
        /// The desk's change reference; the window's id.
        #[arg(long)]
        change_ref: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        title: Option<String>,
        /// RFC 3339 or a date; default now.
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: String,
        #[arg(long = "department")]
        departments: Vec<String>,
        #[arg(long = "class")]
        classes: Vec<String>,
        /// Hostname glob (repeat for several).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Check glob, e.g. `offline` or `health/*`.
        #[arg(long = "check")]
        checks: Vec<String>,
    },
    /// Give a change window a later end.
    Extend {
        id: String,
        #[arg(long)]
        end: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End a change window now.
    End {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Change windows not yet ended.
    List,
}

#[derive(Subcommand)]
pub enum WaiverCmd {
    /// Grant a waiver: an approved deviation from one rule for some hosts until a day.
    Grant {
        /// Default `W-API-<hex>`.
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        standard: String,
        #[arg(long)]
        rule: String,
        /// Hostname glob (repeat for several); and/or --department, --label.
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long)]
        department: Option<String>,
        /// KEY=VALUE (repeat for several).
        #[arg(long = "label")]
        labels: Vec<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        approved_by: String,
        /// The last day it is valid (YYYY-MM-DD, UTC).
        #[arg(long)]
        expires: String,
    },
    /// Withdraw a waiver granted here or through the API.
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Waivers granted here or through the API and not withdrawn.
    List,
}

/// `cli:<user>` from the command line.
/// Who runs the command: the user behind sudo, else the login (environment, then the
/// process's uid in /etc/passwd, then the bare uid).
fn actor() -> Actor {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let user = env("SUDO_USER")
        .or_else(|| env("USER"))
        .or_else(|| env("LOGNAME"))
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            match std::fs::metadata("/proc/self") {
                Ok(m) => std::fs::read_to_string("/etc/passwd")
                    .ok()
                    .and_then(|p| passwd_name(&p, m.uid()))
                    .unwrap_or_else(|| format!("uid{}", m.uid())),
                Err(_) => "unknown".into(),
            }
        });
    Actor {
        actor: format!("cli:{user}"),
        source: "cli".into(),
    }
}

/// The name of `uid` in an /etc/passwd text (`name:x:uid:gid:…`).
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid && !name.is_empty()).then(|| name.to_string())
    })
}

fn open(cfg: &CollectorConfig) -> Result<std::sync::Arc<dyn Store>, ExitCode> {
    tilsyn_collector_store::open(&cfg.store).map_err(|e| {
        eprintln!("tilsyn-collector: {e}");
        ExitCode::from(2)
    })
}

fn done(r: Result<String, String>) -> ExitCode {
    match r {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tilsyn-collector: {e}");
            ExitCode::FAILURE
        }
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

fn ms(t: Option<i64>) -> String {
    t.and_then(|t| jiff::Timestamp::from_millisecond(t).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn token(cfg: &CollectorConfig, cmd: &TokenCmd) -> ExitCode {
    let st = match open(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let now = crate::server::now_ms();
    let by = actor();
    done(match cmd {
        TokenCmd::Create {
            name,
            role,
            departments,
            expires,
        } => {
            let known = cfg.department_ids();
            let t = crate::api::admin::NewToken {
                name: name.clone(),
                role: role.clone(),
                departments: departments.clone(),
                expires: expires.clone(),
            };
            crate::api::admin::make_token(&t, &known, &by.actor, now).and_then(
                |(rec, token, hash)| {
                    st.create_token(&rec, &hash, &by)
                        .map_err(|e| e.to_string())?;
                    Ok(format!(
                        "{token}\n# token {} ({}, role {}): shown once, keep it in a secret store\n",
                        rec.id, rec.name, rec.role
                    ))
                },
            )
        }
        TokenCmd::List => st.list_tokens().map_err(|e| e.to_string()).map(|ts| {
            let mut out = format!(
                "{:<14} {:<20} {:<10} {:<20} {:<17} {:<17} {}\n",
                "ID", "NAME", "ROLE", "DEPARTMENTS", "EXPIRES", "LAST USED", "STATE"
            );
            for t in ts {
                let state = if t.revoked_at_ms.is_some() {
                    "revoked"
                } else if t.expires_at_ms.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                out += &format!(
                    "{:<14} {:<20} {:<10} {:<20} {:<17} {:<17} {}\n",
                    t.id,
                    t.name,
                    t.role,
                    t.departments.join(","),
                    ms(t.expires_at_ms),
                    ms(t.last_used_ms),
                    state
                );
            }
            out
        }),
        TokenCmd::Revoke { id } => match st.revoke_token(id, now, &by) {
            Ok(Some(t)) => Ok(format!(
                "token {} ({}) revoked; collectors refuse it within 10 s\n",
                t.id, t.name
            )),
            Ok(None) => Err(format!(
                "no token {id:?} (tilsyn-collector token list shows the ids)"
            )),
            Err(e) => Err(e.to_string()),
        },
    })
}

#[allow(clippy::too_many_arguments)]
pub fn audit(
    cfg: &CollectorConfig,
    since: Option<&str>,
    actor: Option<&str>,
    action: Option<&str>,
    subject: Option<&str>,
    limit: u32,
    as_json: bool,
) -> ExitCode {
    let st = match open(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let since = match since.map(lifecycle::instant).transpose() {
        Ok(s) => s,
        Err(e) => return done(Err(format!("--since: {e}"))),
    };
    let f = AuditFilter {
        since_ms: since,
        actor: actor.map(str::to_string),
        action: action.map(str::to_string),
        subject: subject.map(str::to_string),
        limit,
        ..Default::default()
    };
    done(st.audit_entries(&f).map_err(|e| e.to_string()).map(|es| {
        if as_json {
            return es
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
                .collect();
        }
        let mut out = format!(
            "{:<17} {:<22} {:<16} {:<20} {:<30} {}\n",
            "WHEN", "WHO", "FROM", "ACTION", "SUBJECT", "AFTER"
        );
        for e in es {
            out += &format!(
                "{:<17} {:<22} {:<16} {:<20} {:<30} {}\n",
                ms(Some(e.at_ms)),
                e.actor,
                e.source,
                e.action,
                e.subject,
                e.after.map(|v| v.to_string()).unwrap_or_default()
            );
        }
        out
    }))
}

pub fn host(cfg: &CollectorConfig, cmd: &HostCmd) -> ExitCode {
    let st = match open(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (now, by) = (crate::server::now_ms(), actor());
    // The leading collector's incident engine resolves a retired host's incidents.
    let retired = |agent_id: &str, note: &str| {
        st.push_news(
            &[(
                agent_id.to_string(),
                crate::services::incidents::retired_news(note),
            )],
            now,
        )
        .map_err(lifecycle::ActionError::from)
    };
    let r = match cmd {
        HostCmd::Retire { agent_id, reason } => {
            let a = HostAction {
                reason: reason.clone(),
                ..Default::default()
            };
            lifecycle::retire(&*st, agent_id, &a, &by, now).and_then(|h| {
                retired(agent_id, &lifecycle::retire_note(&by, reason))?;
                Ok(format!(
                    "host {} ({agent_id}) retired; its open incidents resolve in the desk\n",
                    h.hostname
                ))
            })
        }
        HostCmd::Move {
            agent_id,
            department,
            class,
            reason,
        } => {
            let a = HostAction {
                reason: reason.clone(),
                department: department.clone(),
                class: class.clone(),
            };
            let known = cfg.department_ids();
            lifecycle::move_host(&*st, &known, agent_id, &a, &by, now).and_then(|h| {
                st.push_news(
                    &[(
                        agent_id.clone(),
                        crate::services::incidents::reload_news(now),
                    )],
                    now,
                )?;
                Ok(format!(
                    "host {} ({agent_id}) moved from {}/{} to {}/{}\n",
                    h.hostname,
                    h.department,
                    h.class,
                    department.as_deref().unwrap_or(&h.department),
                    class.as_deref().unwrap_or(&h.class)
                ))
            })
        }
        HostCmd::Revoke { agent_id, reason } => {
            let a = HostAction {
                reason: reason.clone(),
                ..Default::default()
            };
            lifecycle::revoke(&*st, agent_id, &a, &by, now).and_then(|h| {
                retired(agent_id, &lifecycle::revoke_note(&by, reason))?;
                Ok(format!(
                    "agent credential of {} ({agent_id}) revoked, the host retired; collectors refuse it within seconds \
                     and its open incidents resolve in the desk\n",
                    h.hostname
                ))
            })
        }
    };
    done(r.map_err(|e| e.to_string()))
}

pub fn maintenance(cfg: &CollectorConfig, cmd: &MaintenanceCmd) -> ExitCode {
    let st = match open(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (now, by) = (crate::server::now_ms(), actor());
    let file = match cfg.incidents.compile() {
        Ok(p) => p.windows,
        Err(es) => return done(Err(es.join("\n  "))),
    };
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let r = match cmd {
        MaintenanceCmd::Create {
            change_ref,
            reason,
            title,
            start,
            end,
            departments,
            classes,
            hosts,
            checks,
        } => {
            let w = NewWindow {
                change_ref: change_ref.clone(),
                reason: reason.clone(),
                title: title.clone(),
                start: start.clone(),
                end: end.clone(),
                scope: Some(ScopeDoc {
                    department: list(departments),
                    class: list(classes),
                    hosts: list(hosts),
                    checks: list(checks),
                    labels: None,
                }),
            };
            lifecycle::create_window(&*st, &file, &w, &by, now).map(|w| json(&w))
        }
        MaintenanceCmd::Extend { id, end, reason } => {
            let e = WindowEnd {
                end: Some(end.clone()),
                reason: reason.clone(),
            };
            lifecycle::end_window(&*st, id, &e, &by, now).map(|w| json(&w))
        }
        MaintenanceCmd::End { id, reason } => {
            let e = WindowEnd {
                end: None,
                reason: reason.clone(),
            };
            lifecycle::end_window(&*st, id, &e, &by, now).map(|w| json(&w))
        }
        MaintenanceCmd::List => st
            .change_windows(now)
            .map(|ws| json(&ws))
            .map_err(Into::into),
    };
    done(r.map_err(|e| e.to_string()))
}

pub fn waiver(cfg: &CollectorConfig, cmd: &WaiverCmd) -> ExitCode {
    use crate::services::waivers;
    let st = match open(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (now, by) = (crate::server::now_ms(), actor());
    let file = || {
        tilsyn_collector_core::compliance::standard::StandardSet::load_dir(
            &cfg.compliance.standards_dir,
        )
        .map_err(|e| format!("the standards directory does not load: {e}"))
    };
    let r = match cmd {
        WaiverCmd::Grant {
            id,
            standard,
            rule,
            hosts,
            department,
            labels,
            reason,
            approved_by,
            expires,
        } => (|| {
            let mut l = std::collections::BTreeMap::new();
            for kv in labels {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--label {kv:?}: write KEY=VALUE"))?;
                l.insert(k.to_string(), v.to_string());
            }
            let w = waivers::NewWaiver {
                id: id.clone().unwrap_or_default(),
                standard: standard.clone(),
                rule: rule.clone(),
                hosts: hosts.clone(),
                department: department.clone(),
                labels: l,
                reason: reason.clone(),
                approved_by: approved_by.clone(),
                expires: expires.clone(),
            };
            let row = waivers::grant(&*st, &file()?, &cfg.department_ids(), w, &by, now)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "waiver {} granted until {expires}; collectors apply it within seconds\n",
                row.id
            ))
        })(),
        WaiverCmd::Withdraw { id, reason } => file().and_then(|f| {
            let e = waivers::WaiverEnd {
                reason: reason.clone(),
            };
            waivers::withdraw(&*st, &f, id, &e, &by, now)
                .map(|w| format!("waiver {} withdrawn\n", w.id))
                .map_err(|e| e.to_string())
        }),
        WaiverCmd::List => st
            .api_waivers()
            .map(|ws| json(&ws))
            .map_err(|e| e.to_string()),
    };
    done(r)
}

#[cfg(test)]
mod tests {
    use super::passwd_name;

    #[test]
    fn the_login_of_a_uid_comes_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad\nops:x:1000:1000:Ops,,,:/home/ops:/bin/sh\n";
        assert_eq!(passwd_name(p, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(p, 1000).as_deref(), Some("ops"));
        assert_eq!(passwd_name(p, 7), None);
    }
}
