//! SUSE (SLES, openSUSE Leap/Tumbleweed) pending updates from zypper's cached metadata.
//!
//! Both listings run with `--no-refresh` (never touch the network; the OS's own refresh
//! timer or the admin does that) and `--xmlout`, whose format is stable across versions:
//!
//! - `zypper --no-refresh --non-interactive --xmlout list-patches` — the needed patches
//!   (SUSE's advisories), each an `<update kind="patch" …>` element with `category`
//!   (security, recommended, optional, …), `severity`, `status`, a `<source alias=…/>`
//!   and `<issue-date time_t=… text=…/>`. When a patch for the package manager itself is
//!   pending, zypper lists it alone under `<update-list>` and the rest under
//!   `<blocked-update-list>`; both are read.
//! - `zypper --no-refresh --non-interactive --xmlout list-updates` — package updates,
//!   `<update kind="package" name edition edition-old arch>`.
//! - `zypper needs-rebooting` — exit 102 when an update flagged the system for a reboot
//!   (it checks `/run/reboot-needed`, which is also checked directly on older zyppers).
//!
//! zypper cannot say which packages a patch contains without one more query per patch, so
//! the pending list is: every needed, non-optional patch (security by its category, dated
//! by its issue date), plus package updates from repositories that ship no patches at all
//! (third-party repositories, Tumbleweed). Package updates from patch-bearing repositories
//! are the contents of those patches and are not counted twice.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use tilsyn_proto::v1::{PatchLevel, PendingUpdate};

use super::xml::{attr, xml_events, XmlEvent};
use super::{cmd, rpm, PlatformError};

/// zypper loads every repository's solv cache; allow more than the default on slow disks.
const ZYPPER_TIMEOUT: Duration = Duration::from_secs(90);

const LIST_PATCHES: &str = "zypper list-patches";
const LIST_UPDATES: &str = "zypper list-updates";

/// zypper exit codes that still come with a complete listing: OK, updates needed,
/// security updates needed, reboot needed, restart needed, repositories skipped.
const OK_EXIT_CODES: &[i32] = &[0, 100, 101, 102, 103, 106];

/// Whether zypper is on this machine.
pub fn present() -> bool {
    cmd::on_path("zypper")
}

/// Reads needed patches and package updates, the last metadata refresh and install, and
/// whether a reboot is needed.
pub async fn read_patches() -> Result<PatchLevel, PlatformError> {
    let patches = run_listing("list-patches").await?;
    let patches = parse_updates_xml(LIST_PATCHES, &patches)?;
    let packages = run_listing("list-updates").await?;
    let packages = parse_updates_xml(LIST_UPDATES, &packages)?;

    let reboot = match cmd::run("zypper", &["needs-rebooting"], cmd::DEFAULT_TIMEOUT).await {
        Ok(o) => parse_needs_rebooting(o.status),
        Err(_) => None,
    }
    .unwrap_or_else(|| {
        Path::new("/run/reboot-needed").exists() || Path::new("/var/run/reboot-needed").exists()
    });
    // zypper rewrites each repository's raw-cache cookie when it checks the metadata.
    let last_refresh_ms = cmd::newest_mtime_ms(
        Path::new("/var/cache/zypp/raw"),
        &["cookie", "repomd.xml"],
        3,
    );
    let last_install_ms = rpm::read_last_install_ms().await.ok().flatten();
    Ok(build_patch_level(
        &patches,
        &packages,
        last_refresh_ms,
        last_install_ms,
        reboot,
    ))
}

async fn run_listing(command: &str) -> Result<String, PlatformError> {
    let args = ["--no-refresh", "--non-interactive", "--xmlout", command];
    let out = cmd::run("zypper", &args, ZYPPER_TIMEOUT).await?;
    if out.status.is_some_and(|s| OK_EXIT_CODES.contains(&s)) {
        return Ok(out.stdout);
    }
    // In XML mode zypper reports errors (e.g. "System management is locked by the
    // application with pid …") as <message type="error"> on stdout.
    let mut why = xml_error_messages(&out.stdout).join("; ");
    if why.is_empty() {
        why = out.stderr.trim().to_string();
    }
    Err(PlatformError::Failed {
        command: format!("zypper {}", args.join(" ")),
        status: out.status,
        stderr: why.chars().take(400).collect(),
    })
}

/// One `<update>` element of zypper's XML listings (a patch or a package).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZypperUpdate {
    /// patch, package, …
    pub kind: String,
    pub name: String,
    pub edition: String,
    /// Installed edition (package updates only).
    pub edition_old: String,
    pub arch: String,
    /// needed, applied, not-needed, unwanted (patches only).
    pub status: String,
    /// security, recommended, optional, feature, … (patches only).
    pub category: String,
    /// critical, important, moderate, low, unspecified (patches only).
    pub severity: String,
    pub summary: String,
    /// Alias of the repository the update comes from.
    pub repo_alias: String,
    /// The patch's issue date (ms).
    pub issued_ms: Option<i64>,
    /// The patch asks for a reboot (`restart="true"`).
    pub reboot_suggested: bool,
    /// The patch updates the package manager itself (`pkgmanager="true"`).
    pub pkgmanager: bool,
}

/// Parses the `--xmlout` output of `list-patches` or `list-updates` into its `<update>`
/// elements, wherever they sit (`update-list` or `blocked-update-list`). The document must
/// contain `<update-status>`; otherwise zypper's error messages become the error.
pub fn parse_updates_xml(source: &str, text: &str) -> Result<Vec<ZypperUpdate>, PlatformError> {
    let events = xml_events(text).map_err(|e| PlatformError::parse(source, e))?;
    let mut out = Vec::new();
    let mut cur: Option<ZypperUpdate> = None;
    let mut in_summary = false;
    let mut saw_status = false;
    let mut errors = Vec::new();
    let mut in_error = false;

    for ev in events {
        match ev {
            XmlEvent::Start { name, attrs, empty } => match name {
                "update-status" => saw_status = true,
                "update" => {
                    let u = ZypperUpdate {
                        kind: attr(&attrs, "kind"),
                        name: attr(&attrs, "name"),
                        edition: attr(&attrs, "edition"),
                        edition_old: attr(&attrs, "edition-old"),
                        arch: attr(&attrs, "arch"),
                        status: attr(&attrs, "status"),
                        category: attr(&attrs, "category"),
                        severity: attr(&attrs, "severity"),
                        reboot_suggested: attr(&attrs, "restart") == "true",
                        pkgmanager: attr(&attrs, "pkgmanager") == "true",
                        ..Default::default()
                    };
                    if empty {
                        out.push(u);
                    } else {
                        cur = Some(u);
                    }
                }
                "source" => {
                    if let Some(u) = cur.as_mut() {
                        u.repo_alias = attr(&attrs, "alias");
                    }
                }
                "issue-date" => {
                    if let Some(u) = cur.as_mut() {
                        u.issued_ms = attr(&attrs, "time_t")
                            .trim()
                            .parse::<i64>()
                            .ok()
                            .filter(|t| *t > 0)
                            .map(|t| t * 1000);
                    }
                }
                "summary" if !empty => in_summary = cur.is_some(),
                "message" if !empty => in_error = attr(&attrs, "type") == "error",
                _ => {}
            },
            XmlEvent::End(name) => match name {
                "update" => out.extend(cur.take()),
                "summary" => in_summary = false,
                "message" => in_error = false,
                _ => {}
            },
            XmlEvent::Text(t) => {
                if in_summary {
                    if let Some(u) = cur.as_mut() {
                        u.summary.push_str(t.trim());
                    }
                } else if in_error {
                    errors.push(t.trim().to_string());
                }
            }
        }
    }
    if !saw_status {
        let detail = if errors.is_empty() {
            "no <update-status> element; is this zypper --xmlout output?".to_string()
        } else {
            format!("zypper reported: {}", errors.join("; "))
        };
        return Err(PlatformError::parse(source, detail));
    }
    Ok(out)
}

/// The text of every `<message type="error">` in zypper's XML output.
pub fn xml_error_messages(text: &str) -> Vec<String> {
    let Ok(events) = xml_events(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut in_error = false;
    for ev in events {
        match ev {
            XmlEvent::Start {
                name: "message",
                attrs,
                empty: false,
            } => {
                in_error = attr(&attrs, "type") == "error";
            }
            XmlEvent::End("message") => in_error = false,
            XmlEvent::Text(t) if in_error => out.push(t.trim().to_string()),
            _ => {}
        }
    }
    out
}

/// `zypper needs-rebooting`: exit 102 → reboot needed, 0 → not; anything else (an older
/// zypper without the command) → no answer.
pub fn parse_needs_rebooting(status: Option<i32>) -> Option<bool> {
    match status {
        Some(102) => Some(true),
        Some(0) => Some(false),
        _ => None,
    }
}

/// Builds the patch level from the two listings (see the module docs for what counts).
/// Optional patches (`optional`, `feature`) are left out, as `zypper patch` leaves them
/// out by default; so are patches not `needed` (applied, or locked by the admin).
pub fn build_patch_level(
    patches: &[ZypperUpdate],
    packages: &[ZypperUpdate],
    last_refresh_ms: Option<i64>,
    last_install_ms: Option<i64>,
    reboot_required: bool,
) -> PatchLevel {
    let patch_repos: HashSet<&str> = patches
        .iter()
        .filter(|p| p.kind == "patch")
        .map(|p| p.repo_alias.as_str())
        .collect();
    let mut updates: Vec<PendingUpdate> = patches
        .iter()
        .filter(|p| p.kind == "patch")
        .filter(|p| p.status.is_empty() || p.status == "needed")
        .filter(|p| !matches!(p.category.as_str(), "optional" | "feature"))
        .map(|p| PendingUpdate {
            name: p.name.clone(),
            current_version: String::new(),
            new_version: p.edition.clone(),
            security: p.category == "security",
            origin: p.repo_alias.clone(),
            since_ms: p.issued_ms,
        })
        .collect();
    updates.extend(
        packages
            .iter()
            .filter(|p| p.kind == "package" && !patch_repos.contains(p.repo_alias.as_str()))
            .map(|p| PendingUpdate {
                name: p.name.clone(),
                current_version: p.edition_old.clone(),
                new_version: p.edition.clone(),
                security: false,
                origin: p.repo_alias.clone(),
                since_ms: None,
            }),
    );
    updates.sort_by(|a, b| a.name.cmp(&b.name));
    super::patch_level(
        "zypper",
        updates,
        last_refresh_ms,
        last_install_ms,
        reboot_required,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCHES: &str = include_str!("../../tests/fixtures/zypper/list-patches-sles15sp5.xml");
    const UPDATES: &str = include_str!("../../tests/fixtures/zypper/list-updates-sles15sp5.xml");
    const STACK: &str =
        include_str!("../../tests/fixtures/zypper/list-patches-updatestack-sles15sp5.xml");

    #[test]
    fn parses_list_patches() {
        let p = parse_updates_xml(LIST_PATCHES, PATCHES).unwrap();
        assert_eq!(p.len(), 6);
        assert!(p.iter().all(|u| u.kind == "patch" && u.status == "needed"));
        let ssl = p
            .iter()
            .find(|u| u.summary == "Security update for openssl-3")
            .unwrap();
        assert_eq!(ssl.name, "SUSE-SLE-Module-Basesystem-15-SP5-2024-1239");
        assert_eq!(ssl.category, "security");
        assert_eq!(ssl.severity, "moderate");
        assert_eq!(ssl.edition, "1");
        assert_eq!(
            ssl.repo_alias,
            "Basesystem_Module_15_SP5_x86_64:SLE-Module-Basesystem15-SP5-Updates"
        );
        // 2024-04-12T10:30:06Z
        assert_eq!(ssl.issued_ms, Some(1_712_917_806_000));
        let kernel = p
            .iter()
            .find(|u| u.summary.contains("Linux Kernel"))
            .unwrap();
        assert!(kernel.reboot_suggested);
        assert_eq!(kernel.severity, "important");
    }

    #[test]
    fn parses_list_updates() {
        let u = parse_updates_xml(LIST_UPDATES, UPDATES).unwrap();
        assert_eq!(u.len(), 12);
        let k = u.iter().find(|u| u.name == "kernel-default").unwrap();
        assert_eq!(k.kind, "package");
        assert_eq!(k.edition, "5.14.21-150500.55.59.1");
        assert_eq!(k.edition_old, "5.14.21-150500.55.52.1");
        assert_eq!(k.arch, "x86_64");
        assert_eq!(k.summary, "The Standard Kernel");
        assert_eq!(k.issued_ms, None);
    }

    #[test]
    fn builds_the_patch_level() {
        let p = parse_updates_xml(LIST_PATCHES, PATCHES).unwrap();
        let u = parse_updates_xml(LIST_UPDATES, UPDATES).unwrap();
        let level = build_patch_level(&p, &u, Some(1), Some(2), true);
        assert_eq!(level.manager, "zypper");
        // 5 non-optional patches + grafana, whose repository has no patches.
        assert_eq!(level.pending_count, 6, "{:#?}", level.updates);
        assert_eq!(level.pending_security_count, 4);
        // Oldest security patch: apache2, 2024-04-03T07:55:02Z.
        assert_eq!(level.oldest_security_since_ms, Some(1_712_130_902_000));
        let g = level.updates.iter().find(|u| u.name == "grafana").unwrap();
        assert_eq!(g.current_version, "10.3.3-1");
        assert_eq!(g.new_version, "10.4.1-1");
        assert_eq!(g.origin, "grafana");
        assert!(!g.security);
        let expat = level
            .updates
            .iter()
            .find(|u| u.name == "SUSE-SLE-Module-Basesystem-15-SP5-2024-1173")
            .unwrap();
        assert!(expat.security);
        assert_eq!(expat.since_ms, Some(1_712_322_521_000));
        assert!(
            !level.updates.iter().any(|u| u.name.ends_with("2024-1013")),
            "optional patch"
        );
        assert!(
            !level.updates.iter().any(|u| u.name == "libopenssl3"),
            "covered by a patch"
        );
        assert!(level.reboot_required);
        assert_eq!(
            (level.last_refresh_ms, level.last_install_ms),
            (Some(1), Some(2))
        );
    }

    #[test]
    fn update_stack_patches_and_blocked_ones_are_all_read() {
        let p = parse_updates_xml(LIST_PATCHES, STACK).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[0].pkgmanager);
        let level = build_patch_level(&p, &[], None, None, false);
        assert_eq!(level.pending_count, 3);
        assert_eq!(level.pending_security_count, 2);
    }

    #[test]
    fn empty_lists_errors_and_garbage() {
        let none = "<?xml version='1.0'?>\n<stream>\n<message type=\"info\">Loading repository data...</message>\n<update-status version=\"0.6\">\n<update-list>\n</update-list>\n</update-status>\n</stream>\n";
        assert!(parse_updates_xml(LIST_PATCHES, none).unwrap().is_empty());
        let locked = "<?xml version='1.0'?>\r\n<stream>\r\n<message type=\"error\">System management is locked by the application with pid 1234 (zypper).\nClose this application before trying again.</message>\r\n</stream>\r\n";
        let err = parse_updates_xml(LIST_PATCHES, locked)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("locked by the application with pid 1234"),
            "{err}"
        );
        assert!(err.contains("zypper list-patches"), "{err}");
        assert_eq!(xml_error_messages(locked).len(), 1);
        assert!(parse_updates_xml(LIST_UPDATES, "").is_err());
        assert!(parse_updates_xml(LIST_UPDATES, "Repository 'x' is invalid.\n").is_err());
        assert!(parse_updates_xml(LIST_UPDATES, "<stream><update kind=\"package\" name=").is_err());
    }

    #[test]
    fn scanner_handles_entities_quotes_and_markup() {
        let t = "<?xml version='1.0'?><!-- c --><stream><update-status><update kind='package' name=\"a&amp;b\" edition=\"1&lt;2 &gt; &#x41;&#66;\" arch=\"x86_64\" edition-old = \"0\"><summary>Tom&apos;s &quot;tool&quot; &unknown; &amp</summary><source url=\"https://h/p?a=1&amp;b=2\" alias=\"r\"/></update><update kind=\"patch\" name=\"p\" status=\"needed\" category=\"security\"/></update-status></stream>";
        let u = parse_updates_xml(LIST_UPDATES, t).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].name, "a&b");
        assert_eq!(u[0].edition, "1<2 > AB");
        assert_eq!(u[0].edition_old, "0");
        assert_eq!(u[0].summary, "Tom's \"tool\" &unknown; &amp");
        assert_eq!(u[0].repo_alias, "r");
        assert_eq!(u[1].category, "security");
        assert!(xml_events("<a b=c>").is_err());
        assert!(xml_events("<a b=\"c>").is_err());
    }

    #[test]
    fn needs_rebooting_exit_codes() {
        assert_eq!(parse_needs_rebooting(Some(102)), Some(true));
        assert_eq!(parse_needs_rebooting(Some(0)), Some(false));
        assert_eq!(parse_needs_rebooting(Some(1)), None);
        assert_eq!(parse_needs_rebooting(None), None);
    }
}
