//! Central agent settings per department and class, and host classification — pure
//! functions over the config.

use tilsyn_proto::v1::{AgentSettings, Inventory};

use crate::config::{AgentSettingsConfig, Classification, SettingsConfig};
use tilsyn_collector_core::text::glob;

/// The settings for a host of `department` and `class`: defaults, then every matching
/// override in order. The revision is a hash of the result, so agents notice any change.
pub fn resolve(cfg: &SettingsConfig, department: &str, class: &str) -> AgentSettings {
    let mut s: AgentSettingsConfig = cfg.defaults.clone();
    for o in &cfg.overrides {
        let m = &o.matches;
        if m.department.as_deref().is_some_and(|d| d != department)
            || m.class.as_deref().is_some_and(|c| c != class)
        {
            continue;
        }
        if let Some(d) = o.health_interval {
            s.health_interval = d;
        }
        if let Some(d) = o.inventory_interval {
            s.inventory_interval = d;
        }
        if let Some(d) = o.software_interval {
            s.software_interval = d;
        }
        if let Some(d) = o.patch_interval {
            s.patch_interval = d;
        }
        if let Some(d) = o.facts_interval {
            s.facts_interval = d;
        }
        if let Some(v) = &o.watched_services {
            s.watched_services = v.clone();
        }
        if let Some(v) = &o.watched_processes {
            s.watched_processes = v.clone();
        }
        if let Some(v) = &o.disabled_probes {
            s.disabled_probes = v.clone();
        }
    }
    let secs = |d: tilsyn_proto::duration::HumanDuration| d.as_secs().min(u32::MAX as u64) as u32;
    let mut out = AgentSettings {
        revision: String::new(),
        department: department.to_string(),
        class: class.to_string(),
        health_interval_seconds: secs(s.health_interval),
        inventory_interval_seconds: secs(s.inventory_interval),
        software_interval_seconds: secs(s.software_interval),
        patch_interval_seconds: secs(s.patch_interval),
        facts_interval_seconds: secs(s.facts_interval),
        watched_services: s.watched_services,
        watched_processes: s.watched_processes,
        disabled_probes: s.disabled_probes,
    };
    let bytes = serde_json::to_vec(&out).expect("settings serialize");
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    out.revision = hex::encode(&digest.as_ref()[..8]);
    out
}

/// The class for a host: the first rule its inventory matches, else the default.
pub fn classify(c: &Classification, inv: &Inventory) -> String {
    let os = inv.os.clone().unwrap_or_default();
    let model = inv
        .hardware
        .as_ref()
        .map(|h| h.model.as_str())
        .unwrap_or("");
    for r in &c.rules {
        let ok = |pat: &Option<String>, value: &str| pat.as_deref().is_none_or(|p| glob(p, value));
        if ok(&r.hostname, &inv.hostname)
            && ok(&r.os_family, &os.family)
            && ok(&r.os_name, &os.name)
            && ok(&r.hardware_model, model)
        {
            return r.class.clone();
        }
    }
    c.default_class.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClassRule, SettingsMatch, SettingsOverride};
    use tilsyn_proto::duration::HumanDuration;
    use tilsyn_proto::v1::OsInfo;

    #[test]
    fn overrides_apply_in_order_and_change_the_revision() {
        let mut cfg = SettingsConfig::default();
        let base = resolve(&cfg, "social", "server");
        assert_eq!(base.health_interval_seconds, 60);
        cfg.overrides.push(SettingsOverride {
            matches: SettingsMatch {
                department: None,
                class: Some("server".into()),
            },
            health_interval: Some(HumanDuration::secs(30)),
            inventory_interval: None,
            software_interval: None,
            patch_interval: None,
            facts_interval: None,
            watched_services: Some(vec!["sshd.service".into()]),
            watched_processes: None,
            disabled_probes: None,
        });
        cfg.overrides.push(SettingsOverride {
            matches: SettingsMatch {
                department: Some("schools".into()),
                class: None,
            },
            health_interval: Some(HumanDuration::secs(120)),
            inventory_interval: None,
            software_interval: None,
            patch_interval: None,
            facts_interval: None,
            watched_services: None,
            watched_processes: None,
            disabled_probes: None,
        });
        let srv = resolve(&cfg, "social", "server");
        assert_eq!(srv.health_interval_seconds, 30);
        assert_eq!(srv.watched_services, vec!["sshd.service"]);
        assert_ne!(srv.revision, base.revision);
        assert_eq!(
            resolve(&cfg, "schools", "server").health_interval_seconds,
            120
        );
        assert_eq!(
            resolve(&cfg, "social", "workstation"),
            resolve(&SettingsConfig::default(), "social", "workstation"),
            "hosts no override matches keep the defaults"
        );
    }

    #[test]
    fn classification_first_match_wins() {
        let c = Classification {
            default_class: "workstation".into(),
            rules: vec![
                ClassRule {
                    class: "server".into(),
                    hostname: None,
                    os_family: None,
                    os_name: Some("*server*".into()),
                    hardware_model: None,
                },
                ClassRule {
                    class: "server".into(),
                    hostname: Some("srv-*".into()),
                    os_family: Some("linux".into()),
                    os_name: None,
                    hardware_model: None,
                },
            ],
        };
        let inv = |host: &str, fam: &str, name: &str| Inventory {
            hostname: host.into(),
            os: Some(OsInfo {
                family: fam.into(),
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            classify(
                &c,
                &inv("dc01", "windows", "Microsoft Windows Server 2022 Standard")
            ),
            "server"
        );
        assert_eq!(
            classify(&c, &inv("srv-db1", "linux", "Debian GNU/Linux")),
            "server"
        );
        assert_eq!(
            classify(&c, &inv("srv-db1", "windows", "Microsoft Windows 11 Pro")),
            "workstation"
        );
    }
}
