//! Pure checks of one report: whatever an agent (or an attacker holding a valid identity)
//! sends, a malformed report is rejected with a reason and nothing else is affected.

use tilsyn_proto::v1::{report::Body, Report};

/// Limits for the checks; `now_ms` is injected so tests need no clock.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub now_ms: i64,
    pub max_future_skew_ms: i64,
}

/// Why a report was rejected: a short, bounded reason (a metric label) and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: &'static str,
    pub detail: String,
}

fn reject(reason: &'static str, detail: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection {
        reason,
        detail: detail.into(),
    })
}

/// 2015-01-01: no real report is older; an earlier timestamp is a broken clock.
const MIN_TIMESTAMP_MS: i64 = 1_420_070_400_000;
const MAX_TEXT: usize = 4096;
const MAX_LIST: usize = 4096;
const MAX_PACKAGES: usize = 200_000;
const MAX_UPDATES: usize = 50_000;
const MAX_ERRORS: usize = 64;

fn text(field: &str, s: &str) -> Result<(), Rejection> {
    if s.len() > MAX_TEXT {
        return reject(
            "field_too_long",
            format!("{field} is {} bytes (at most {MAX_TEXT})", s.len()),
        );
    }
    Ok(())
}

fn count(field: &str, n: usize, max: usize) -> Result<(), Rejection> {
    if n > max {
        return reject(
            "absurd_count",
            format!("{field} has {n} entries (at most {max})"),
        );
    }
    Ok(())
}

fn ratio(field: &str, v: f64) -> Result<(), Rejection> {
    if !v.is_finite() || !(0.0..=1.0 + 1e-9).contains(&v) {
        return reject(
            "value_out_of_range",
            format!("{field} = {v} is not a ratio between 0 and 1"),
        );
    }
    Ok(())
}

fn non_negative(field: &str, v: f64) -> Result<(), Rejection> {
    if !v.is_finite() || v < 0.0 {
        return reject(
            "value_out_of_range",
            format!("{field} = {v} must be a finite number >= 0"),
        );
    }
    Ok(())
}

fn used_within(field: &str, used: u64, total: u64) -> Result<(), Rejection> {
    if used > total {
        return reject(
            "inconsistent_sizes",
            format!("{field}: used {used} bytes exceeds total {total} bytes"),
        );
    }
    Ok(())
}

fn timestamp(field: &str, t: i64, l: &Limits) -> Result<(), Rejection> {
    if t > l.now_ms + l.max_future_skew_ms {
        return reject(
            "timestamp_in_future",
            format!("{field} is {} s ahead of the collector's clock; check the host's time synchronisation", (t - l.now_ms) / 1000),
        );
    }
    if t < MIN_TIMESTAMP_MS {
        return reject(
            "timestamp_too_old",
            format!("{field} = {t} ms is before 2015; check the host's clock"),
        );
    }
    Ok(())
}

pub fn validate(r: &Report, l: &Limits) -> Result<(), Rejection> {
    if r.seq == 0 {
        return reject("missing_seq", "seq must be at least 1");
    }
    timestamp("collected_at_ms", r.collected_at_ms, l)?;
    count("errors", r.errors.len(), MAX_ERRORS)?;
    for e in &r.errors {
        text("errors.probe", &e.probe)?;
        text("errors.message", &e.message)?;
    }
    match &r.body {
        None if r.errors.is_empty() => {
            reject("empty_report", "a report needs a section or probe errors")
        }
        None => Ok(()),
        Some(Body::Inventory(i)) => {
            if i.hostname.trim().is_empty() {
                return reject("missing_hostname", "inventory.hostname is empty");
            }
            for (f, s) in [
                ("hostname", &i.hostname),
                ("fqdn", &i.fqdn),
                ("kernel_version", &i.kernel_version),
                ("content_hash", &i.content_hash),
                ("machine_id", &i.machine_id),
            ] {
                text(&format!("inventory.{f}"), s)?;
            }
            count("inventory.disks", i.disks.len(), MAX_LIST)?;
            count("inventory.interfaces", i.interfaces.len(), MAX_LIST)?;
            for n in &i.interfaces {
                count(
                    "inventory.interfaces.addresses",
                    n.addresses.len(),
                    MAX_LIST,
                )?;
            }
            if let Some(b) = i.boot_time_ms {
                timestamp("inventory.boot_time_ms", b, l)?;
            }
            if i.content_hash.is_empty() {
                return reject("missing_hash", "inventory.content_hash is empty");
            }
            Ok(())
        }
        Some(Body::Software(s)) => {
            count("software.packages", s.packages.len(), MAX_PACKAGES)?;
            if s.content_hash.is_empty() {
                return reject("missing_hash", "software.content_hash is empty");
            }
            for p in &s.packages {
                if p.name.is_empty() {
                    return reject("missing_name", "a software package has no name");
                }
                text("software.packages.name", &p.name)?;
                text("software.packages.version", &p.version)?;
            }
            Ok(())
        }
        Some(Body::Patches(p)) => {
            count("patches.updates", p.updates.len(), MAX_UPDATES)?;
            if p.pending_security_count > p.pending_count {
                return reject(
                    "inconsistent_counts",
                    format!(
                        "pending_security_count {} exceeds pending_count {}",
                        p.pending_security_count, p.pending_count
                    ),
                );
            }
            if p.pending_count as usize > MAX_UPDATES {
                return reject(
                    "absurd_count",
                    format!("pending_count {} (at most {MAX_UPDATES})", p.pending_count),
                );
            }
            for (f, t) in [
                ("oldest_security_since_ms", p.oldest_security_since_ms),
                ("last_refresh_ms", p.last_refresh_ms),
                ("last_install_ms", p.last_install_ms),
            ] {
                if let Some(t) = t {
                    timestamp(&format!("patches.{f}"), t, l)?;
                }
            }
            Ok(())
        }
        Some(Body::Health(h)) => {
            ratio("health.cpu_usage_ratio", h.cpu_usage_ratio)?;
            for (f, v) in [("load1", h.load1), ("load5", h.load5), ("load15", h.load15)] {
                non_negative(&format!("health.{f}"), v)?;
            }
            used_within("health.memory", h.memory_used_bytes, h.memory_total_bytes)?;
            used_within("health.swap", h.swap_used_bytes, h.swap_total_bytes)?;
            count("health.filesystems", h.filesystems.len(), MAX_LIST)?;
            for fs in &h.filesystems {
                text("health.filesystems.mount_point", &fs.mount_point)?;
                used_within(
                    &format!("health.filesystems[{}]", fs.mount_point),
                    fs.used_bytes,
                    fs.total_bytes,
                )?;
            }
            count("health.failed_services", h.failed_services.len(), MAX_LIST)?;
            count(
                "health.watched_services",
                h.watched_services.len(),
                MAX_LIST,
            )?;
            count(
                "health.watched_processes",
                h.watched_processes.len(),
                MAX_LIST,
            )?;
            Ok(())
        }
        Some(Body::Facts(f)) => {
            if f.content_hash.is_empty() {
                return reject("missing_hash", "facts.content_hash is empty");
            }
            for (name, v) in [
                ("content_hash", &f.content_hash),
                ("auto_updates_detail", &f.auto_updates_detail),
                ("disk_encryption_detail", &f.disk_encryption_detail),
                ("firewall_detail", &f.firewall_detail),
                ("screen_lock_detail", &f.screen_lock_detail),
                ("antivirus_product", &f.antivirus_product),
                ("ssh_permit_root_login", &f.ssh_permit_root_login),
                ("time_source", &f.time_source),
            ] {
                text(&format!("facts.{name}"), v)?;
            }
            for (name, list) in [
                ("local_admins", &f.local_admins),
                ("running_services", &f.running_services),
            ] {
                let values = list.as_ref().map(|l| l.values.as_slice()).unwrap_or(&[]);
                count(&format!("facts.{name}"), values.len(), MAX_LIST)?;
                for v in values {
                    text(&format!("facts.{name}"), v)?;
                }
            }
            Ok(())
        }
        Some(Body::Unchanged(s)) => {
            if !["inventory", "software", "facts"].contains(&s.section.as_str()) {
                return reject(
                    "unknown_section",
                    format!(
                        "unchanged.section {:?} (inventory, software or facts)",
                        s.section
                    ),
                );
            }
            if s.content_hash.is_empty() || s.content_hash.len() > 128 {
                return reject(
                    "missing_hash",
                    "unchanged.content_hash is empty or too long",
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_proto::v1::{
        FilesystemUsage, Health, Inventory, PatchLevel, ProbeError, SectionRef, SoftwareList,
    };

    const NOW: i64 = 1_795_000_000_000;
    const L: Limits = Limits {
        now_ms: NOW,
        max_future_skew_ms: 300_000,
    };

    fn rep(body: Body) -> Report {
        Report {
            seq: 1,
            collected_at_ms: NOW,
            errors: vec![],
            body: Some(body),
        }
    }

    fn reason(r: Report) -> &'static str {
        validate(&r, &L).unwrap_err().reason
    }

    #[test]
    fn good_reports_pass() {
        validate(
            &rep(Body::Health(Health {
                cpu_usage_ratio: 0.5,
                memory_total_bytes: 10,
                memory_used_bytes: 5,
                ..Default::default()
            })),
            &L,
        )
        .unwrap();
        validate(
            &rep(Body::Unchanged(SectionRef {
                section: "software".into(),
                content_hash: "ab".into(),
            })),
            &L,
        )
        .unwrap();
        let errors_only = Report {
            seq: 2,
            collected_at_ms: NOW,
            errors: vec![ProbeError {
                probe: "patches".into(),
                message: "apt-get missing".into(),
            }],
            body: None,
        };
        validate(&errors_only, &L).unwrap();
    }

    #[test]
    fn timestamps_far_in_the_future_or_past() {
        let mut r = rep(Body::Health(Health::default()));
        r.collected_at_ms = NOW + 3_600_000;
        assert_eq!(reason(r.clone()), "timestamp_in_future");
        r.collected_at_ms = NOW + 60_000;
        validate(&r, &L).unwrap();
        r.collected_at_ms = 5;
        assert_eq!(reason(r), "timestamp_too_old");
    }

    #[test]
    fn impossible_values() {
        assert_eq!(
            reason(rep(Body::Health(Health {
                cpu_usage_ratio: 7.0,
                ..Default::default()
            }))),
            "value_out_of_range"
        );
        assert_eq!(
            reason(rep(Body::Health(Health {
                load1: -1.0,
                ..Default::default()
            }))),
            "value_out_of_range"
        );
        assert_eq!(
            reason(rep(Body::Health(Health {
                cpu_usage_ratio: f64::NAN,
                ..Default::default()
            }))),
            "value_out_of_range"
        );
        assert_eq!(
            reason(rep(Body::Health(Health {
                filesystems: vec![FilesystemUsage {
                    total_bytes: 1,
                    used_bytes: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }))),
            "inconsistent_sizes"
        );
        assert_eq!(
            reason(rep(Body::Patches(PatchLevel {
                pending_count: 1,
                pending_security_count: 2,
                ..Default::default()
            }))),
            "inconsistent_counts"
        );
        assert_eq!(
            reason(rep(Body::Patches(PatchLevel {
                pending_count: 4_000_000_000,
                pending_security_count: 0,
                ..Default::default()
            }))),
            "absurd_count"
        );
    }

    #[test]
    fn structural_problems() {
        assert_eq!(
            reason(rep(Body::Inventory(Inventory {
                content_hash: "h".into(),
                ..Default::default()
            }))),
            "missing_hostname"
        );
        assert_eq!(
            reason(rep(Body::Inventory(Inventory {
                content_hash: "h".into(),
                hostname: "x".repeat(5000),
                ..Default::default()
            }))),
            "field_too_long"
        );
        assert_eq!(
            reason(rep(Body::Software(SoftwareList::default()))),
            "missing_hash"
        );
        assert_eq!(
            reason(rep(Body::Unchanged(SectionRef {
                section: "patches".into(),
                content_hash: "a".into()
            }))),
            "unknown_section"
        );
        assert_eq!(
            reason(Report {
                seq: 1,
                collected_at_ms: NOW,
                errors: vec![],
                body: None
            }),
            "empty_report"
        );
        assert_eq!(
            reason(Report {
                seq: 0,
                ..rep(Body::Health(Health::default()))
            }),
            "missing_seq"
        );
    }
}
