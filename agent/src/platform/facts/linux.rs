//! Security facts on Linux: each fact's *obtain* function runs a command (with a time
//! limit, through [`cmd`]) or reads a file, and hands the text to a pure `parse_*`
//! function tested on fixtures under `agent/tests/fixtures/facts/linux/`.
//!
//! | fact | source |
//! | --- | --- |
//! | auto updates | `apt-config dump` + `/usr/bin/unattended-upgrade`; `systemctl is-enabled dnf-automatic*.timer` + `/etc/dnf/automatic.conf` |
//! | disk encryption | `lsblk -J` (is `/` on a dm-crypt device?) |
//! | firewall | `ufw status`, `firewall-cmd --state`, `nft list ruleset`, `iptables -S INPUT` |
//! | screen lock | GNOME dconf system databases (`/etc/dconf/profile/user`, `/etc/dconf/db/*.d/`) |
//! | anti-malware | `mdatp health`; ClamAV's `clamonacc` process and `daily.cvd`/`.cld` header |
//! | SSH server | `sshd -T`, else `/etc/ssh/sshd_config` with its `Include`s |
//! | administrators | `/etc/group` (sudo, wheel, admin) + uid 0 in `/etc/passwd` |
//! | time sync | `timedatectl show`, `chronyc tracking`, `timedatectl show-timesync` |
//! | Secure Boot | the `SecureBoot` EFI variable in efivarfs |
//! | running services | `systemctl list-units --type=service --state=running` |

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tilsyn_proto::v1::Facts;

use super::super::{cmd, systemd, PlatformError};
use super::{first_line, some, Antivirus, Finding, FsIncludes, Readings, SshdSettings};

/// Everything here is a local query; none should take long.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Reads every Linux fact concurrently; see [`super::collect`].
pub async fn collect() -> (Facts, Vec<String>) {
    let (auto, disk, firewall, antivirus, ssh, time, services) = tokio::join!(
        read_auto_updates(),
        read_disk_encryption(),
        read_firewall(),
        read_antivirus(),
        read_ssh(),
        read_time(),
        read_running_services(),
    );
    let mut r = Readings {
        auto_updates: auto,
        disk_encryption: some(disk),
        firewall: some(firewall),
        screen_lock: read_screen_lock(),
        antivirus,
        local_admins: some(read_local_admins()),
        time: some(time),
        secure_boot: read_secure_boot(),
        running_services: some(services),
        ..Default::default()
    };
    r.set_ssh(ssh);
    r.into_facts()
}

// --- automatic updates ----------------------------------------------------------------------

const APT_CONFIG: &str = "apt-config dump";
const UNATTENDED_UPGRADE: &str = "/usr/bin/unattended-upgrade";
const DNF_AUTOMATIC_CONF: &str = "/etc/dnf/automatic.conf";

/// Debian/Ubuntu (apt) or RHEL/Fedora (dnf-automatic). SUSE has no single switch to read
/// (YaST online update, transactional-update, a cron job…), so nothing is concluded there.
pub async fn read_auto_updates() -> Result<Option<Finding<bool>>, PlatformError> {
    if cmd::on_path("apt-config") {
        let dump = parse_apt_config_dump(&cmd::run_ok("apt-config", &["dump"], TIMEOUT).await?)?;
        return Ok(Some(apt_auto_updates(
            &dump,
            Path::new(UNATTENDED_UPGRADE).exists(),
        )));
    }
    if cmd::on_path("dnf") {
        let install_timer = unit_file_state("dnf-automatic-install.timer").await?;
        let timer = unit_file_state("dnf-automatic.timer").await?;
        let apply = match cmd::read(Path::new(DNF_AUTOMATIC_CONF)) {
            Ok(t) => Some(parse_dnf_automatic_apply_updates(&t)?),
            Err(PlatformError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        return Ok(Some(dnf_auto_updates(&install_timer, &timer, apply)));
    }
    Ok(None)
}

/// Parses `apt-config dump`: one `Key "value";` per line, list items as `Key:: "value";`.
/// Returns the scalar settings (list items are not needed here).
pub fn parse_apt_config_dump(text: &str) -> Result<HashMap<String, String>, PlatformError> {
    let mut out = HashMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, rest)) = line.split_once(' ') else {
            return Err(PlatformError::parse(
                APT_CONFIG,
                format!("expected 'Key \"value\";', got {line:?}"),
            ));
        };
        let value = rest
            .trim()
            .strip_suffix(';')
            .and_then(|v| v.trim().strip_prefix('"'))
            .and_then(|v| v.strip_suffix('"'))
            .ok_or_else(|| {
                PlatformError::parse(
                    APT_CONFIG,
                    format!("expected 'Key \"value\";', got {line:?}"),
                )
            })?;
        if !key.ends_with("::") {
            out.insert(key.to_string(), value.to_string());
        }
    }
    if out.is_empty() {
        return Err(PlatformError::parse(
            APT_CONFIG,
            "no settings in the output",
        ));
    }
    Ok(out)
}

/// Unattended upgrades run when the package is installed and apt's daily job both
/// refreshes the lists (`APT::Periodic::Update-Package-Lists`) and runs it
/// (`APT::Periodic::Unattended-Upgrade`): an interval in days, or `always`; `0` or unset is
/// off (apt.systemd.daily treats unset as 0). Without list refreshes it would only ever
/// install what was known at the last manual `apt update`.
pub fn apt_auto_updates(dump: &HashMap<String, String>, installed: bool) -> Finding<bool> {
    if !installed {
        return Finding::new(false, "unattended-upgrades is not installed");
    }
    let setting = |k: &str| dump.get(k).map(String::as_str).unwrap_or("");
    let on = |v: &str| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no"
        )
    };
    let uu = setting("APT::Periodic::Unattended-Upgrade");
    let lists = setting("APT::Periodic::Update-Package-Lists");
    let describe = |k: &str, v: &str| {
        if v.is_empty() {
            format!("{k} is not set")
        } else {
            format!("{k} \"{v}\"")
        }
    };
    let detail = format!(
        "unattended-upgrades installed, {}, {}",
        describe("APT::Periodic::Unattended-Upgrade", uu),
        describe("APT::Periodic::Update-Package-Lists", lists)
    );
    Finding::new(on(uu) && on(lists), detail)
}

/// `systemctl is-enabled UNIT`: the state on stdout (`enabled`, `disabled`, `static`,
/// `masked`, …); a unit that does not exist is reported on stderr (wording differs between
/// the offline and the D-Bus path) or, on newer systemd, as `not-found`. The exit status
/// is non-zero for anything but enabled, so only the text counts.
async fn unit_file_state(unit: &str) -> Result<String, PlatformError> {
    let out = cmd::run("systemctl", &["is-enabled", unit], TIMEOUT).await?;
    parse_is_enabled(&out.stdout, &out.stderr)
}

pub fn parse_is_enabled(stdout: &str, stderr: &str) -> Result<String, PlatformError> {
    if let Some(state) = stdout.lines().map(str::trim).find(|l| !l.is_empty()) {
        return Ok(state.to_string());
    }
    let e = stderr.to_ascii_lowercase();
    if e.contains("no such file") || e.contains("not found") || e.contains("does not exist") {
        return Ok("not-found".into());
    }
    Err(PlatformError::parse(
        "systemctl is-enabled",
        format!("no state printed; stderr: {:?}", first_line(stderr)),
    ))
}

/// `apply_updates` in `[commands]` of dnf-automatic's configuration (default `no`; dnf
/// reads `1/yes/true/on` as true).
pub fn parse_dnf_automatic_apply_updates(text: &str) -> Result<bool, PlatformError> {
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.trim().to_ascii_lowercase();
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(PlatformError::parse(
                DNF_AUTOMATIC_CONF,
                format!("expected 'key = value', got {line:?}"),
            ));
        };
        if section == "commands" && k.trim().eq_ignore_ascii_case("apply_updates") {
            return Ok(matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "yes" | "true" | "on"
            ));
        }
    }
    Ok(false)
}

/// dnf-automatic installs updates when `dnf-automatic-install.timer` is enabled (it forces
/// `apply_updates`), or when `dnf-automatic.timer` is enabled and the configuration says
/// `apply_updates = yes`. `apply_updates` is `None` when dnf-automatic is not installed.
pub fn dnf_auto_updates(install_timer: &str, timer: &str, apply: Option<bool>) -> Finding<bool> {
    let enabled = |s: &str| s == "enabled" || s == "enabled-runtime";
    if enabled(install_timer) {
        return Finding::new(true, "dnf-automatic-install.timer is enabled");
    }
    match (enabled(timer), apply) {
        (true, Some(true)) => Finding::new(
            true,
            "dnf-automatic.timer is enabled with apply_updates = yes",
        ),
        (true, _) => Finding::new(
            false,
            "dnf-automatic.timer is enabled but apply_updates is not yes (download/notify only)",
        ),
        (false, None) => Finding::new(false, "dnf-automatic is not installed"),
        (false, Some(_)) => Finding::new(
            false,
            format!(
                "dnf-automatic is installed but no timer is enabled (dnf-automatic.timer {timer}, dnf-automatic-install.timer {install_timer})"
            ),
        ),
    }
}

// --- disk encryption ------------------------------------------------------------------------

const LSBLK: &str = "lsblk";

/// Whether `/` sits on a dm-crypt device. `MOUNTPOINTS` (util-linux 2.37+) lists every
/// mount of a device, which matters for btrfs subvolumes where `MOUNTPOINT` shows only one
/// of them; older lsblk rejects that column, so it is asked for `MOUNTPOINT` instead.
pub async fn read_disk_encryption() -> Result<Finding<bool>, PlatformError> {
    let json = match cmd::run_ok(
        "lsblk",
        &["-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINTS"],
        TIMEOUT,
    )
    .await
    {
        Ok(j) => j,
        Err(PlatformError::Failed { .. }) => {
            cmd::run_ok(
                "lsblk",
                &["-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINT"],
                TIMEOUT,
            )
            .await?
        }
        Err(e) => return Err(e),
    };
    root_encryption(&parse_lsblk_json(&json)?)
}

/// One block device of `lsblk -J`, with the devices stacked on it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockDevice {
    pub name: String,
    /// disk, part, crypt, lvm, raid1, loop, rom, …
    pub kind: String,
    pub fstype: String,
    pub mountpoints: Vec<String>,
    pub children: Vec<BlockDevice>,
}

/// Parses `lsblk -J` output (`blockdevices`, nested `children`). Values may be strings or
/// null; the mount column is `mountpoint` (a string) or `mountpoints` (an array with
/// `null` for an unmounted device), whichever was asked for.
pub fn parse_lsblk_json(text: &str) -> Result<Vec<BlockDevice>, PlatformError> {
    let v: Value = serde_json::from_str(text.trim())
        .map_err(|e| PlatformError::parse(LSBLK, format!("invalid JSON: {e}")))?;
    let devs = v
        .get("blockdevices")
        .and_then(Value::as_array)
        .ok_or_else(|| PlatformError::parse(LSBLK, "no blockdevices array"))?;
    devs.iter().map(block_device).collect()
}

fn block_device(v: &Value) -> Result<BlockDevice, PlatformError> {
    if !v.is_object() {
        return Err(PlatformError::parse(
            LSBLK,
            "a block device is not an object",
        ));
    }
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut mountpoints: Vec<String> = match v.get("mountpoints") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    };
    if let Some(m) = v.get("mountpoint").and_then(Value::as_str) {
        mountpoints.push(m.to_string());
    }
    let children = match v.get("children") {
        Some(Value::Array(a)) => a.iter().map(block_device).collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(BlockDevice {
        name: s("name"),
        kind: s("type"),
        fstype: s("fstype"),
        mountpoints,
        children,
    })
}

/// Finds the device mounted at `/` and looks for a `crypt` device between it and the
/// disk (LUKS or plain dm-crypt, under or over LVM and RAID). The detail names the crypt
/// device and the format of the device below it (`crypto_LUKS`).
pub fn root_encryption(devs: &[BlockDevice]) -> Result<Finding<bool>, PlatformError> {
    fn find<'a>(devs: &'a [BlockDevice], path: &mut Vec<&'a BlockDevice>) -> bool {
        for d in devs {
            path.push(d);
            if d.mountpoints.iter().any(|m| m == "/") || find(&d.children, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    if !find(devs, &mut path) {
        return Err(PlatformError::Unsupported(
            "no block device is mounted at / (overlay, ZFS or network root?), so its encryption cannot be read from lsblk".into(),
        ));
    }
    let root = path[path.len() - 1];
    match path.iter().rposition(|d| d.kind == "crypt") {
        Some(i) => {
            let below = if i > 0 {
                path[i - 1].fstype.as_str()
            } else {
                ""
            };
            let format = if below.is_empty() { "dm-crypt" } else { below };
            Ok(Finding::new(
                true,
                format!("/ on crypt device {} ({format})", path[i].name),
            ))
        }
        None => {
            let chain: Vec<&str> = path.iter().rev().map(|d| d.name.as_str()).collect();
            Ok(Finding::new(
                false,
                format!(
                    "/ on {} {} ({}), no dm-crypt layer below it: {}",
                    root.kind,
                    root.name,
                    if root.fstype.is_empty() {
                        "unknown fs"
                    } else {
                        &root.fstype
                    },
                    chain.join(" on ")
                ),
            ))
        }
    }
}

// --- firewall -------------------------------------------------------------------------------

/// What one firewall tool said: `None` when the tool is not installed, else whether it
/// filters incoming traffic and how.
pub type ToolVerdict = Result<Option<(bool, String)>, PlatformError>;

/// Asks every firewall front end and the kernel rule sets; see [`firewall_verdict`].
pub async fn read_firewall() -> Result<Finding<bool>, PlatformError> {
    let ufw = async {
        if !cmd::on_path("ufw") {
            return Ok(None);
        }
        let active = parse_ufw_status(&cmd::run_ok("ufw", &["status"], TIMEOUT).await?)?;
        Ok(Some((
            active,
            format!("ufw {}", if active { "active" } else { "inactive" }),
        )))
    };
    let firewalld = async {
        if !cmd::on_path("firewall-cmd") {
            return Ok(None);
        }
        // Exit status 252 means "not running"; the text says the same.
        let out = cmd::run("firewall-cmd", &["--state"], TIMEOUT).await?;
        let running = parse_firewalld_state(&out.stdout, &out.stderr)?;
        Ok(Some((
            running,
            format!(
                "firewalld {}",
                if running { "running" } else { "not running" }
            ),
        )))
    };
    let nft = async {
        if !cmd::on_path("nft") {
            return Ok(None);
        }
        let text = cmd::run_ok("nft", &["list", "ruleset"], TIMEOUT).await?;
        Ok(Some(nft_input_filtering(&parse_nft_ruleset(&text)?)))
    };
    let iptables = async {
        if !cmd::on_path("iptables") {
            return Ok(None);
        }
        let text = cmd::run_ok("iptables", &["-S", "INPUT"], TIMEOUT).await?;
        Ok(Some(parse_iptables_input(&text)?))
    };
    let (a, b, c, d) = tokio::join!(ufw, firewalld, nft, iptables);
    firewall_verdict(vec![
        ("ufw", a),
        ("firewalld", b),
        ("nftables", c),
        ("iptables", d),
    ])
}

/// Combines the tools' answers: any tool that filters incoming traffic makes the firewall
/// enabled (whatever the others could not read); otherwise a tool that failed (typically
/// "must be root") leaves the fact unknown; no tool at all means nothing can filter, so
/// the firewall is off.
pub fn firewall_verdict(tools: Vec<(&str, ToolVerdict)>) -> Result<Finding<bool>, PlatformError> {
    let mut seen = Vec::new();
    let mut failed = Vec::new();
    for (name, v) in tools {
        match v {
            Ok(Some((true, detail))) => return Ok(Finding::new(true, detail)),
            Ok(Some((false, detail))) => seen.push(detail),
            Ok(None) => {}
            Err(e) => failed.push((name, e)),
        }
    }
    // One failure keeps its own kind (permission denied, timeout…); several are listed.
    if failed.len() == 1 {
        return Err(failed.pop().expect("one failure").1);
    }
    if !failed.is_empty() {
        let why: Vec<String> = failed.iter().map(|(n, e)| format!("{n}: {e}")).collect();
        return Err(PlatformError::Failed {
            command: "firewall tools".into(),
            status: None,
            stderr: why.join("; "),
        });
    }
    if seen.is_empty() {
        return Ok(Finding::new(
            false,
            "no firewall tool installed (ufw, firewalld, nftables, iptables)",
        ));
    }
    Ok(Finding::new(false, seen.join("; ")))
}

/// `ufw status`: `Status: active` or `Status: inactive` first.
pub fn parse_ufw_status(text: &str) -> Result<bool, PlatformError> {
    for line in text.lines() {
        if let Some(s) = line.trim().strip_prefix("Status:") {
            return match s.trim() {
                "active" => Ok(true),
                "inactive" => Ok(false),
                other => Err(PlatformError::parse(
                    "ufw status",
                    format!("unknown status {other:?}"),
                )),
            };
        }
    }
    Err(PlatformError::parse(
        "ufw status",
        format!("no 'Status:' line; got {:?}", first_line(text)),
    ))
}

/// `firewall-cmd --state`: `running` or `not running` (on stdout, or stderr for the
/// latter on some versions).
pub fn parse_firewalld_state(stdout: &str, stderr: &str) -> Result<bool, PlatformError> {
    match first_line(stdout).as_str() {
        "running" => Ok(true),
        "not running" => Ok(false),
        "" if first_line(stderr) == "not running" => Ok(false),
        other => Err(PlatformError::parse(
            "firewall-cmd --state",
            format!(
                "expected 'running' or 'not running', got {:?}",
                if other.is_empty() {
                    first_line(stderr)
                } else {
                    other.to_string()
                }
            ),
        )),
    }
}

/// One chain of an nftables rule set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NftChain {
    pub family: String,
    pub table: String,
    pub name: String,
    /// The hook of a base chain (`input`, `forward`, …); empty for a regular chain.
    pub hook: String,
    /// `accept` or `drop` for a base chain.
    pub policy: String,
    pub rules: Vec<String>,
}

/// Parses `nft list ruleset` into its chains. Sets, maps, flowtables and other table
/// objects are skipped; a rule may span lines (long anonymous sets) and is joined.
pub fn parse_nft_ruleset(text: &str) -> Result<Vec<NftChain>, PlatformError> {
    const NFT: &str = "nft list ruleset";
    let mut chains = Vec::new();
    let (mut family, mut table) = (String::new(), String::new());
    let mut chain: Option<NftChain> = None;
    // Depth of braces: 1 inside a table, 2 inside a chain or other table object.
    let mut depth = 0i32;
    let mut other_block = false;
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        match depth {
            0 => {
                let mut w = line.split_whitespace();
                if w.next() != Some("table") || opens != 1 {
                    return Err(PlatformError::parse(
                        NFT,
                        format!("line {}: expected 'table … {{', got {line:?}", n + 1),
                    ));
                }
                let words: Vec<&str> = w.filter(|x| *x != "{").collect();
                (family, table) = match words.as_slice() {
                    [name] => ("ip".to_string(), name.to_string()),
                    [fam, name, ..] => (fam.to_string(), name.to_string()),
                    [] => {
                        return Err(PlatformError::parse(
                            NFT,
                            format!("line {}: table without a name", n + 1),
                        ))
                    }
                };
            }
            1 => {
                if line == "}" {
                    depth -= 1;
                    continue;
                }
                if let Some(rest) = line.strip_prefix("chain ") {
                    chain = Some(NftChain {
                        family: family.clone(),
                        table: table.clone(),
                        name: rest
                            .split('{')
                            .next()
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                        ..Default::default()
                    });
                    other_block = false;
                } else {
                    other_block = true;
                }
            }
            _ if other_block => {}
            _ => {
                if depth == 2 && line == "}" && pending.is_empty() {
                    chains.extend(chain.take());
                } else if let Some(c) = chain.as_mut() {
                    pending.push_str(line);
                    pending.push(' ');
                    // A rule is complete once its braces balance.
                    if depth + opens - closes == 2 {
                        let rule = std::mem::take(&mut pending);
                        let rule = rule.trim();
                        if rule.starts_with("type ") && rule.contains(" hook ") {
                            for stmt in rule.split(';') {
                                let w: Vec<&str> = stmt.split_whitespace().collect();
                                if let Some(i) = w.iter().position(|x| *x == "hook") {
                                    c.hook = w.get(i + 1).unwrap_or(&"").to_string();
                                }
                                if w.first() == Some(&"policy") {
                                    c.policy = w.get(1).unwrap_or(&"").to_string();
                                }
                            }
                        } else {
                            c.rules.push(rule.to_string());
                        }
                    }
                }
            }
        }
        depth += opens - closes;
        if depth < 0 {
            return Err(PlatformError::parse(
                NFT,
                format!("line {}: unbalanced '}}'", n + 1),
            ));
        }
    }
    if depth != 0 {
        return Err(PlatformError::parse(
            NFT,
            "unbalanced braces at end of output",
        ));
    }
    Ok(chains)
}

/// Whether a rule drops or rejects everything that reaches it: its only statements are a
/// counter, a comment or a log before `drop`/`reject` (firewalld's closing
/// `reject with icmpx admin-prohibited`, a hand-written `counter drop`).
fn is_catch_all_drop(rule: &str) -> bool {
    let mut w = rule.split_whitespace().peekable();
    while let Some(word) = w.next() {
        match word {
            "counter" => {
                // "counter packets 12 bytes 3456"
                while matches!(w.peek(), Some(&"packets") | Some(&"bytes")) {
                    w.next();
                    w.next();
                }
            }
            "log" => {
                while let Some(next) = w.peek() {
                    if matches!(*next, "drop" | "reject") {
                        break;
                    }
                    w.next();
                }
            }
            "comment" => {
                w.next();
            }
            "drop" | "reject" => return true,
            _ => return false,
        }
    }
    false
}

/// Whether incoming traffic is filtered: an `input` hook chain (ip, ip6 or inet) has
/// policy drop, or reaches — itself or through `jump`/`goto` — a rule that drops or
/// rejects everything left. Chains that only forward (Docker, libvirt) do not count.
pub fn nft_input_filtering(chains: &[NftChain]) -> (bool, String) {
    let by_name: HashMap<(&str, &str, &str), &NftChain> = chains
        .iter()
        .map(|c| ((c.family.as_str(), c.table.as_str(), c.name.as_str()), c))
        .collect();
    let inputs: Vec<&NftChain> = chains
        .iter()
        .filter(|c| c.hook == "input" && matches!(c.family.as_str(), "ip" | "ip6" | "inet"))
        .collect();
    for c in &inputs {
        let here = format!("nftables: chain {} {} {}", c.family, c.table, c.name);
        if c.policy == "drop" {
            return (true, format!("{here} has policy drop"));
        }
        let mut seen = HashSet::new();
        let mut todo = vec![*c];
        while let Some(ch) = todo.pop() {
            if !seen.insert(ch.name.as_str()) {
                continue;
            }
            for r in &ch.rules {
                if is_catch_all_drop(r) {
                    let place = if ch.name == c.name {
                        String::new()
                    } else {
                        format!(" (in chain {})", ch.name)
                    };
                    return (true, format!("{here} drops what reaches {r:?}{place}"));
                }
                let w: Vec<&str> = r.split_whitespace().collect();
                for pair in w.windows(2) {
                    if matches!(pair[0], "jump" | "goto") {
                        if let Some(t) =
                            by_name.get(&(ch.family.as_str(), ch.table.as_str(), pair[1]))
                        {
                            todo.push(t);
                        }
                    }
                }
            }
        }
    }
    if inputs.is_empty() {
        (false, "nftables: no input chain".into())
    } else {
        (
            false,
            "nftables: input chains accept by default and drop nothing in general".into(),
        )
    }
}

/// `iptables -S INPUT` (legacy rules that nftables does not show): policy `DROP`, or a
/// last rule that drops or rejects everything (`-A INPUT -j REJECT --reject-with …`).
pub fn parse_iptables_input(text: &str) -> Result<(bool, String), PlatformError> {
    const IPT: &str = "iptables -S INPUT";
    let mut policy = None;
    let mut last_rule = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["-P", "INPUT", p, ..] => policy = Some(p.to_string()),
            ["-A", "INPUT", rest @ ..] => last_rule = Some(rest.to_vec()),
            ["-N", ..] => {}
            _ => {
                return Err(PlatformError::parse(
                    IPT,
                    format!("unexpected line {line:?}"),
                ))
            }
        }
    }
    let Some(policy) = policy else {
        return Err(PlatformError::parse(
            IPT,
            format!("no '-P INPUT' policy line; got {:?}", first_line(text)),
        ));
    };
    if policy == "DROP" {
        return Ok((true, "iptables: INPUT policy DROP".into()));
    }
    if let Some(r) = &last_rule {
        // Only a jump target, optionally with a comment or reject type: unconditional.
        let mut i = 0;
        let mut target = None;
        while i < r.len() {
            match r[i] {
                "-j" => {
                    target = r.get(i + 1).copied();
                    i += 2;
                }
                "-m" if r.get(i + 1) == Some(&"comment") => {
                    i += 3;
                }
                "--comment" | "--reject-with" => i += 2,
                _ => {
                    target = None;
                    break;
                }
            }
        }
        if let Some(t @ ("DROP" | "REJECT")) = target {
            return Ok((true, format!("iptables: INPUT ends in -j {t}")));
        }
    }
    Ok((
        false,
        format!("iptables: INPUT policy {policy}, no final DROP/REJECT"),
    ))
}

// --- screen lock ----------------------------------------------------------------------------

const DCONF_PROFILES: [&str; 2] = ["/etc/dconf/profile/user", "/usr/share/dconf/profile/user"];
const DCONF_DB: &str = "/etc/dconf/db";

/// GNOME's lock policy from the system dconf databases the user profile stacks (the
/// per-user database is binary and per person; the system databases are the policy an
/// administrator sets, and their locks say whether users can change it). No profile or no
/// lock settings in it: no desktop policy (a server), nothing to conclude.
pub fn read_screen_lock() -> Result<Option<Finding<u32>>, PlatformError> {
    let profile = DCONF_PROFILES
        .iter()
        .find_map(|p| cmd::read(Path::new(p)).ok());
    let Some(profile) = profile else {
        return Ok(None);
    };
    let mut dbs = Vec::new();
    for name in parse_dconf_profile(&profile) {
        let dir = Path::new(DCONF_DB).join(format!("{name}.d"));
        let files = read_dir_files(&dir)?;
        let locks = read_dir_files(&dir.join("locks"))?;
        dbs.push(DconfDb::from_keyfiles(&name, &files, &locks)?);
    }
    screen_lock_from_dconf(&dbs)
}

/// Regular, non-hidden files of a directory as (name, text), sorted by name; a missing
/// directory has none.
fn read_dir_files(dir: &Path) -> Result<Vec<(String, String)>, PlatformError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PlatformError::from_io(dir, e)),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.path().is_file() {
            continue;
        }
        out.push((name, cmd::read(&e.path())?));
    }
    out.sort();
    Ok(out)
}

/// The system databases a dconf profile stacks, highest priority first
/// (`system-db:local`, `system-db:site`, …); the user database is not a system policy.
pub fn parse_dconf_profile(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("system-db:"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// One compiled-from-keyfiles system database.
#[derive(Debug, Clone, Default)]
pub struct DconfDb {
    pub name: String,
    /// `/org/gnome/desktop/session/idle-delay` → `uint32 900`.
    pub values: HashMap<String, String>,
    pub locks: HashSet<String>,
}

impl DconfDb {
    /// Builds a database as `dconf update` does: keyfiles in name order where a later
    /// file wins over an earlier one; lock files list one key path per line.
    pub fn from_keyfiles(
        name: &str,
        keyfiles: &[(String, String)],
        lockfiles: &[(String, String)],
    ) -> Result<Self, PlatformError> {
        let mut db = DconfDb {
            name: name.to_string(),
            ..Default::default()
        };
        let mut sorted: Vec<&(String, String)> = keyfiles.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (file, text) in sorted {
            for (path, value) in parse_dconf_keyfile(text)
                .map_err(|e| PlatformError::parse(&format!("dconf keyfile {name}.d/{file}"), e))?
            {
                db.values.insert(path, value);
            }
        }
        for (_, text) in lockfiles {
            db.locks.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with('/'))
                    .map(String::from),
            );
        }
        Ok(db)
    }
}

/// Parses a dconf keyfile (GKeyFile syntax: `[org/gnome/desktop/session]` groups,
/// `key=value` with GVariant text values, `#` comments) into (`/group/key`, value) pairs.
pub fn parse_dconf_keyfile(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut group: Option<String> = None;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(g) = line.strip_prefix('[').and_then(|g| g.strip_suffix(']')) {
            group = Some(g.trim().trim_matches('/').to_string());
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!(
                "line {}: expected 'key=value', got {line:?}",
                n + 1
            ));
        };
        let Some(g) = &group else {
            return Err(format!("line {}: key outside of a [group]", n + 1));
        };
        out.push((format!("/{g}/{}", k.trim()), v.trim().to_string()));
    }
    Ok(out)
}

const IDLE_DELAY: &str = "/org/gnome/desktop/session/idle-delay";
const LOCK_ENABLED: &str = "/org/gnome/desktop/screensaver/lock-enabled";
const LOCK_DELAY: &str = "/org/gnome/desktop/screensaver/lock-delay";

/// A key's value the way dconf resolves it for a user: the lowest-priority database that
/// locks the key decides where reading starts; from there the first database that sets it
/// wins. Returns the value and whether it is locked.
fn dconf_lookup<'a>(dbs: &'a [DconfDb], key: &str) -> Option<(&'a str, &'a str, bool)> {
    let lock = dbs.iter().rposition(|d| d.locks.contains(key));
    let start = lock.unwrap_or(0);
    dbs[start..]
        .iter()
        .find_map(|d| d.values.get(key).map(|v| (v.as_str(), d.name.as_str())))
        .map(|(v, db)| (v, db, lock.is_some()))
}

/// A GVariant number as dconf keyfiles write it: `uint32 900`, `900`, `@u 900`.
pub fn parse_gvariant_u32(v: &str) -> Option<u32> {
    v.split_whitespace().last()?.parse().ok()
}

/// The GNOME screen-lock timeout set by policy: the session goes idle after `idle-delay`
/// seconds (0 = never) and the screen locks `lock-delay` seconds later when `lock-enabled`
/// is not false. Keys the policy leaves unset take GNOME's defaults (300 s, 0 s, true).
/// `None` when the policy sets none of the three keys.
pub fn screen_lock_from_dconf(dbs: &[DconfDb]) -> Result<Option<Finding<u32>>, PlatformError> {
    let idle = dconf_lookup(dbs, IDLE_DELAY);
    let enabled = dconf_lookup(dbs, LOCK_ENABLED);
    let delay = dconf_lookup(dbs, LOCK_DELAY);
    if idle.is_none() && enabled.is_none() && delay.is_none() {
        return Ok(None);
    }
    let bad = |key: &str, v: &str| {
        PlatformError::parse("dconf", format!("{key} has unreadable value {v:?}"))
    };
    let describe = |key: &str, found: Option<(&str, &str, bool)>, default: &str| match found {
        Some((v, db, locked)) => format!(
            "{} {v} ({db}{})",
            key.rsplit('/').next().unwrap_or(key),
            if locked { ", locked" } else { ", not locked" }
        ),
        None => format!(
            "{} {default} (GNOME default)",
            key.rsplit('/').next().unwrap_or(key)
        ),
    };
    let idle_s = match idle {
        Some((v, _, _)) => parse_gvariant_u32(v).ok_or_else(|| bad(IDLE_DELAY, v))?,
        None => 300,
    };
    let lock_on = match enabled {
        Some((v, _, _)) => match v.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(bad(LOCK_ENABLED, v)),
        },
        None => true,
    };
    let delay_s = match delay {
        Some((v, _, _)) => parse_gvariant_u32(v).ok_or_else(|| bad(LOCK_DELAY, v))?,
        None => 0,
    };
    let timeout = if !lock_on || idle_s == 0 {
        0
    } else {
        idle_s.saturating_add(delay_s)
    };
    let detail = format!(
        "GNOME dconf policy: {}, {}, {}",
        describe(IDLE_DELAY, idle, "uint32 300"),
        describe(LOCK_ENABLED, enabled, "true"),
        describe(LOCK_DELAY, delay, "uint32 0")
    );
    Ok(Some(Finding::new(timeout, detail)))
}

// --- anti-malware ---------------------------------------------------------------------------

const CLAMAV_BINARIES: [&str; 5] = [
    "/usr/sbin/clamd",
    "/usr/bin/clamscan",
    "/usr/bin/clamdscan",
    "/usr/sbin/clamonacc",
    "/usr/bin/clamonacc",
];
const CLAMAV_DB: &str = "/var/lib/clamav";

/// Microsoft Defender for Endpoint (`mdatp health`) first, then ClamAV: on-access scanning
/// is the `clamonacc` daemon, which is either running or not (with or without systemd).
/// Neither installed: nothing to conclude.
pub async fn read_antivirus() -> Result<Option<Antivirus>, PlatformError> {
    let mut mdatp = None;
    if cmd::on_path("mdatp") {
        let h = parse_mdatp_health(&cmd::run_ok("mdatp", &["health"], TIMEOUT).await?)?;
        if h.realtime {
            return Ok(Some(h));
        }
        mdatp = Some(h);
    }
    if CLAMAV_BINARIES.iter().any(|p| Path::new(p).exists()) {
        let realtime = running_processes().iter().any(|p| p == "clamonacc");
        let now = now_secs();
        let age = ["daily.cld", "daily.cvd"]
            .iter()
            .filter_map(|f| std::fs::read(Path::new(CLAMAV_DB).join(f)).ok())
            .filter_map(|b| parse_cvd_build_time(&b).ok())
            .max()
            .map(|t| ((now - t).max(0) / 86_400) as u32);
        let clam = Antivirus {
            product: "ClamAV".into(),
            realtime,
            signature_age_days: age,
        };
        if realtime || mdatp.is_none() {
            return Ok(Some(clam));
        }
    }
    Ok(mdatp)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Names (`comm`) of the running processes, from /proc.
fn running_processes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim().to_string())
        .collect()
}

/// Parses `mdatp health` (`key : value` lines; strings quoted; settings enforced by policy
/// carry a ` [managed]` suffix). Real-time protection is on when
/// `real_time_protection_enabled` is true and Defender is not in passive mode; the
/// signature age comes from `definitions_updated_minutes_ago`.
pub fn parse_mdatp_health(text: &str) -> Result<Antivirus, PlatformError> {
    const MDATP: &str = "mdatp health";
    let mut fields = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(" : ").or_else(|| line.split_once(':')) {
            let v = v.trim();
            let v = v.strip_suffix("[managed]").unwrap_or(v).trim();
            fields.insert(k.trim().to_string(), v.trim_matches('"').to_string());
        }
    }
    let Some(rt) = fields.get("real_time_protection_enabled") else {
        return Err(PlatformError::parse(
            MDATP,
            format!(
                "no real_time_protection_enabled field; got {:?}",
                first_line(text)
            ),
        ));
    };
    let rt = match rt.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(PlatformError::parse(
                MDATP,
                format!("real_time_protection_enabled is {other:?}"),
            ))
        }
    };
    let passive = fields
        .get("passive_mode_enabled")
        .is_some_and(|v| v == "true");
    let version = fields.get("app_version").cloned().unwrap_or_default();
    Ok(Antivirus {
        product: format!("Microsoft Defender for Endpoint {version}")
            .trim()
            .to_string(),
        realtime: rt && !passive,
        signature_age_days: fields
            .get("definitions_updated_minutes_ago")
            .and_then(|m| m.parse::<u64>().ok())
            .map(|m| (m / (60 * 24)) as u32),
    })
}

/// The build time (seconds since the epoch) in the 512-byte header of a ClamAV database
/// (`daily.cvd`/`daily.cld`): `ClamAV-VDB:<built>:<version>:<sigs>:<level>:<md5>:<dsig>:
/// <builder>:<stime>` padded with spaces; `stime` is the last field.
pub fn parse_cvd_build_time(bytes: &[u8]) -> Result<i64, PlatformError> {
    const CVD: &str = "ClamAV database header";
    let header = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
    if !header.starts_with("ClamAV-VDB:") {
        return Err(PlatformError::parse(CVD, "does not start with ClamAV-VDB:"));
    }
    let stime = header
        .trim_end_matches(['\0', ' ', '\n'])
        .rsplit(':')
        .next()
        .unwrap_or("");
    stime
        .trim()
        .parse()
        .map_err(|_| PlatformError::parse(CVD, format!("build time {stime:?} is not a number")))
}

// --- SSH server -----------------------------------------------------------------------------

const SSHD: &str = "/usr/sbin/sshd";
const SSH_DIR: &str = "/etc/ssh";

/// `None` when there is no sshd binary (no SSH server installed). Otherwise the effective
/// settings from `sshd -T`, or from the configuration files when `sshd -T` cannot run.
pub async fn read_ssh() -> Result<Option<SshdSettings>, PlatformError> {
    let sshd = if Path::new(SSHD).exists() {
        SSHD.to_string()
    } else if cmd::on_path("sshd") {
        "sshd".to_string()
    } else {
        return Ok(None);
    };
    read_sshd_settings(&sshd, Path::new(SSH_DIR))
        .await
        .map(Some)
}

/// Shared with macOS, whose OpenSSH is the same.
pub async fn read_sshd_settings(sshd: &str, dir: &Path) -> Result<SshdSettings, PlatformError> {
    if let Ok(out) = cmd::run_ok(sshd, &["-T"], TIMEOUT).await {
        if let Ok(s) = super::parse_sshd_t(&out) {
            return Ok(s);
        }
    }
    let main = cmd::read(&dir.join("sshd_config"))?;
    super::parse_sshd_config(
        &main,
        &mut FsIncludes {
            base: PathBuf::from(dir),
        },
    )
}

// --- administrators -------------------------------------------------------------------------

/// Groups whose members may become root through sudo (Debian/Ubuntu `sudo`, RHEL/SUSE
/// `wheel`, old Ubuntu `admin`).
pub const ADMIN_GROUPS: [&str; 3] = ["sudo", "wheel", "admin"];

pub fn read_local_admins() -> Result<Vec<String>, PlatformError> {
    let groups = parse_group(&cmd::read(Path::new("/etc/group"))?)?;
    let users = parse_passwd(&cmd::read(Path::new("/etc/passwd"))?)?;
    Ok(local_admins(&groups, &users))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Skips blank lines, comments and NIS compat entries (`+`, `-`), which name no local
/// account.
fn db_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, l)| (n, l.trim_end_matches('\r')))
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('+') && !t.starts_with('-')
        })
}

/// Parses `/etc/group` (`name:x:gid:member,member`).
pub fn parse_group(text: &str) -> Result<Vec<GroupEntry>, PlatformError> {
    db_lines(text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(':').collect();
            let gid = f.get(2).and_then(|g| g.trim().parse().ok());
            match (f.len(), gid) {
                (4, Some(gid)) => Ok(GroupEntry {
                    name: f[0].to_string(),
                    gid,
                    members: f[3]
                        .split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(String::from)
                        .collect(),
                }),
                _ => Err(PlatformError::parse(
                    "/etc/group",
                    format!(
                        "line {}: expected name:password:gid:members, got {l:?}",
                        n + 1
                    ),
                )),
            }
        })
        .collect()
}

/// Parses `/etc/passwd` (`name:x:uid:gid:gecos:home:shell`).
pub fn parse_passwd(text: &str) -> Result<Vec<PasswdEntry>, PlatformError> {
    db_lines(text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(':').collect();
            let num = |i: usize| f.get(i).and_then(|v| v.trim().parse().ok());
            match (f.len(), num(2), num(3)) {
                (7, Some(uid), Some(gid)) => Ok(PasswdEntry {
                    name: f[0].to_string(),
                    uid,
                    gid,
                }),
                _ => Err(PlatformError::parse(
                    "/etc/passwd",
                    format!(
                        "line {}: expected 7 fields with numeric uid and gid, got {l:?}",
                        n + 1
                    ),
                )),
            }
        })
        .collect()
}

/// Accounts with root rights: members of the admin groups — listed in `/etc/group`, or
/// having the group as their primary group in `/etc/passwd` — and every uid 0 account.
/// Sorted, without duplicates.
pub fn local_admins(groups: &[GroupEntry], users: &[PasswdEntry]) -> Vec<String> {
    let admin_groups: Vec<&GroupEntry> = groups
        .iter()
        .filter(|g| ADMIN_GROUPS.contains(&g.name.as_str()))
        .collect();
    let mut out: Vec<String> = admin_groups
        .iter()
        .flat_map(|g| g.members.iter().cloned())
        .chain(
            users
                .iter()
                .filter(|u| u.uid == 0 || admin_groups.iter().any(|g| g.gid == u.gid))
                .map(|u| u.name.clone()),
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

// --- time synchronisation -------------------------------------------------------------------

/// `timedatectl show` (systemd-timedated: whether the clock is synchronised, by whatever
/// NTP service), with the source from `chronyc tracking` or systemd-timesyncd; without
/// systemd, `chronyc tracking` alone. The source is carried in the finding's detail.
pub async fn read_time() -> Result<Finding<bool>, PlatformError> {
    let mut problems = Vec::new();
    let timedated = if systemd::booted() && cmd::on_path("timedatectl") {
        match cmd::run_ok("timedatectl", &["show"], TIMEOUT).await {
            Ok(t) => Some(parse_timedatectl_show(&t)?),
            Err(e) => {
                problems.push(format!("timedatectl: {e}"));
                None
            }
        }
    } else {
        problems.push("systemd is not running (no timedatectl status)".to_string());
        None
    };
    let chrony = if cmd::on_path("chronyc") {
        match cmd::run("chronyc", &["tracking"], TIMEOUT).await {
            Ok(out) if out.status == Some(0) => Some(parse_chronyc_tracking(&out.stdout)?),
            Ok(out) => {
                problems.push(chronyc_failure(&out));
                None
            }
            Err(e) => {
                problems.push(format!("chronyc: {e}"));
                None
            }
        }
    } else {
        problems.push("chronyc is not installed".to_string());
        None
    };
    let timesyncd = match (&timedated, &chrony) {
        (Some(t), None) if t.ntp == Some(true) => {
            cmd::run_ok("timedatectl", &["show-timesync"], TIMEOUT)
                .await
                .ok()
                .and_then(|t| parse_timesync_server(&t))
        }
        _ => None,
    };
    time_finding(timedated.as_ref(), chrony.as_ref(), timesyncd.as_deref()).ok_or_else(|| {
        PlatformError::Unsupported(format!(
            "no time service could be queried: {}",
            problems.join("; ")
        ))
    })
}

/// What `timedatectl show` says about NTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedateStatus {
    /// Whether an NTP service is enabled (`NTP=yes`); absent when timedated knows none.
    pub ntp: Option<bool>,
    pub synchronized: bool,
}

/// Parses `timedatectl show` (`Key=value` lines; `NTPSynchronized` is always there).
pub fn parse_timedatectl_show(text: &str) -> Result<TimedateStatus, PlatformError> {
    let kv: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let Some(synced) = kv.get("NTPSynchronized") else {
        return Err(PlatformError::parse(
            "timedatectl show",
            format!("no NTPSynchronized= line; got {:?}", first_line(text)),
        ));
    };
    Ok(TimedateStatus {
        ntp: kv.get("NTP").map(|v| *v == "yes"),
        synchronized: *synced == "yes",
    })
}

/// Why `chronyc tracking` gave nothing, in words. chronyc prints its own errors on
/// *stdout* with a non-zero exit (`506 Cannot talk to daemon` when chronyd is not
/// running), so stdout is used when stderr is empty.
pub fn chronyc_failure(out: &cmd::Output) -> String {
    let why = match first_line(&out.stderr) {
        e if e.is_empty() => first_line(&out.stdout),
        e => e,
    };
    let status = out
        .status
        .map_or_else(|| "a signal".to_string(), |s| format!("status {s}"));
    format!("chronyc: \"chronyc tracking\" exited with {status}: {why}")
}

/// What `chronyc tracking` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChronyTracking {
    /// The server's name (or address) chrony follows; empty when it follows none.
    pub reference: String,
    pub synchronized: bool,
    /// chronyd serves its own clock (`local` directive, reference ID 7F7F0101) because it
    /// has no usable time source.
    pub local_reference: bool,
}

/// chrony's reference ID for its `local` reference mode (127.127.1.1, "LOCL" in chrony's
/// own source): the daemon appears synchronised to its NTP clients with `Leap status :
/// Normal` although it follows no time source.
const CHRONY_LOCAL_REFID: &str = "7F7F0101";

/// Parses `chronyc tracking`: `Reference ID    : C0A80001 (ntp.example.com)` and
/// `Leap status     : Normal`. Synchronised means a reference that is neither zero nor the
/// local reference, and a leap status other than "Not synchronised".
pub fn parse_chronyc_tracking(text: &str) -> Result<ChronyTracking, PlatformError> {
    const CHRONYC: &str = "chronyc tracking";
    let mut reference = None;
    let mut leap = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "Reference ID" => {
                let v = v.trim();
                let (id, name) = match v.split_once('(') {
                    Some((id, rest)) => (id.trim(), rest.trim_end_matches(')').trim()),
                    None => (v, ""),
                };
                // A server's name is shown in parentheses, a reference clock's refid
                // (GPS, PPS) or nothing for the local reference.
                let local = id.eq_ignore_ascii_case(CHRONY_LOCAL_REFID);
                let none = local || id.chars().all(|c| c == '0');
                reference = Some((
                    none,
                    local,
                    if none {
                        ""
                    } else if name.is_empty() {
                        id
                    } else {
                        name
                    }
                    .to_string(),
                ));
            }
            "Leap status" => leap = Some(v.trim().to_string()),
            _ => {}
        }
    }
    match (reference, leap) {
        (Some((none, local_reference, reference)), Some(leap)) => Ok(ChronyTracking {
            synchronized: !none && leap != "Not synchronised",
            reference,
            local_reference,
        }),
        _ => Err(PlatformError::parse(
            CHRONYC,
            format!(
                "no Reference ID/Leap status lines; got {:?}",
                first_line(text)
            ),
        )),
    }
}

/// The server systemd-timesyncd uses, from `timedatectl show-timesync` (`ServerName=`,
/// else `ServerAddress=`).
pub fn parse_timesync_server(text: &str) -> Option<String> {
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    get("ServerName").or_else(|| get("ServerAddress"))
}

/// Synchronised and from where: timedated's verdict when available (it covers whichever
/// NTP service runs), else chrony's; the source names chrony's server, or
/// systemd-timesyncd's. `None` when neither could be asked.
pub fn time_finding(
    timedated: Option<&TimedateStatus>,
    chrony: Option<&ChronyTracking>,
    timesyncd_server: Option<&str>,
) -> Option<Finding<bool>> {
    let source = match (chrony, timedated) {
        (Some(c), _) if !c.reference.is_empty() => format!("chrony: {}", c.reference),
        (Some(c), _) if c.local_reference => {
            "chrony (local reference mode: serves its own clock, no time source)".to_string()
        }
        (Some(_), _) => "chrony (no reference)".to_string(),
        (None, Some(t)) if t.ntp == Some(true) => match timesyncd_server {
            Some(s) => format!("systemd-timesyncd: {s}"),
            None => "systemd-timesyncd".to_string(),
        },
        (None, Some(_)) => "no NTP service enabled".to_string(),
        (None, None) => return None,
    };
    let synced = match (timedated, chrony) {
        (Some(t), _) => t.synchronized,
        (None, Some(c)) => c.synchronized,
        (None, None) => return None,
    };
    Some(Finding::new(synced, source))
}

// --- Secure Boot ----------------------------------------------------------------------------

const EFI: &str = "/sys/firmware/efi";
const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// Unset without EFI (legacy BIOS, most containers); false on EFI firmware that has no
/// SecureBoot variable (no Secure Boot support).
pub fn read_secure_boot() -> Result<Option<bool>, PlatformError> {
    if !Path::new(EFI).is_dir() {
        return Ok(None);
    }
    match std::fs::read(SECURE_BOOT_VAR) {
        Ok(b) => parse_secure_boot_efivar(&b).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(false)),
        Err(e) => Err(PlatformError::from_io(Path::new(SECURE_BOOT_VAR), e)),
    }
}

/// An efivarfs file is 4 bytes of attributes followed by the data; SecureBoot's data is
/// one byte, 1 when enabled.
pub fn parse_secure_boot_efivar(bytes: &[u8]) -> Result<bool, PlatformError> {
    match bytes {
        [_, _, _, _, 1] => Ok(true),
        [_, _, _, _, 0] => Ok(false),
        _ => Err(PlatformError::parse(
            "SecureBoot EFI variable",
            format!("expected 4 attribute bytes and 0 or 1, got {bytes:02x?}"),
        )),
    }
}

// --- running services -----------------------------------------------------------------------

/// Running systemd services; without systemd there are no units to list, which is
/// reported like the health probe does.
pub async fn read_running_services() -> Result<Vec<String>, PlatformError> {
    if !systemd::booted() {
        return Err(PlatformError::Unsupported(
            "systemd is not running on this host (no /run/systemd/system), so its services cannot be listed".into(),
        ));
    }
    let out = cmd::run_ok(
        "systemctl",
        &[
            "list-units",
            "--type=service",
            "--state=running",
            "--no-legend",
            "--plain",
            "--no-pager",
        ],
        TIMEOUT,
    )
    .await?;
    parse_running_units(&out)
}

/// Unit names from `systemctl list-units --no-legend --plain` (`UNIT LOAD ACTIVE SUB
/// DESCRIPTION`), without `.service`, sorted.
pub fn parse_running_units(text: &str) -> Result<Vec<String>, PlatformError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(unit) = f.next() else { continue };
        let unit = unit.trim_start_matches('●');
        let unit = if unit.is_empty() {
            f.next().unwrap_or_default()
        } else {
            unit
        };
        let Some(name) = unit.strip_suffix(".service") else {
            return Err(PlatformError::parse(
                "systemctl list-units",
                format!("expected a .service unit, got {line:?}"),
            ));
        };
        out.push(name.to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fx(name: &str) -> String {
        std::fs::read_to_string(format!("{}/linux/{name}", super::super::tests::FIXTURES))
            .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    fn fx_bytes(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/linux/{name}", super::super::tests::FIXTURES)).unwrap()
    }

    #[test]
    fn apt_unattended_upgrades() {
        // Recorded on this Debian 12 container: no APT::Periodic settings at all.
        let dump = parse_apt_config_dump(&fx("apt-config-dump-debian12.txt")).unwrap();
        assert_eq!(
            dump.get("APT::Architecture").map(String::as_str),
            Some("amd64")
        );
        let f = apt_auto_updates(&dump, true);
        assert!(!f.value);
        assert!(
            f.detail.contains("Unattended-Upgrade is not set"),
            "{}",
            f.detail
        );
        assert_eq!(
            apt_auto_updates(&dump, false).detail,
            "unattended-upgrades is not installed"
        );
        // Ubuntu with 20auto-upgrades written by dpkg-reconfigure unattended-upgrades.
        let dump = parse_apt_config_dump(&fx("apt-config-dump-ubuntu2404-auto.txt")).unwrap();
        let f = apt_auto_updates(&dump, true);
        assert!(f.value, "{}", f.detail);
        assert!(f.detail.contains("APT::Periodic::Unattended-Upgrade \"1\""));
        let mut off = dump.clone();
        off.insert("APT::Periodic::Unattended-Upgrade".into(), "0".into());
        assert!(!apt_auto_updates(&off, true).value);
        let mut stale = dump.clone();
        stale.insert("APT::Periodic::Update-Package-Lists".into(), "0".into());
        assert!(!apt_auto_updates(&stale, true).value);
        let mut always = dump;
        always.insert("APT::Periodic::Unattended-Upgrade".into(), "always".into());
        assert!(apt_auto_updates(&always, true).value);
        assert!(parse_apt_config_dump("").is_err());
        assert!(parse_apt_config_dump("E: Syntax error in /etc/apt/apt.conf.d/99x\n").is_err());
    }

    #[test]
    fn apt_unattended_upgrades_recorded_debian12() {
        // unattended-upgrades 2.9.1+nmu3 installed: its postinst writes 20auto-upgrades
        // with both settings "1"; 50unattended-upgrades adds list items with ${…}.
        let dump =
            parse_apt_config_dump(&fx("apt-config-dump-recorded-debian12-auto.txt")).unwrap();
        let f = apt_auto_updates(&dump, true);
        assert!(f.value, "{}", f.detail);
        assert_eq!(
            f.detail,
            "unattended-upgrades installed, APT::Periodic::Unattended-Upgrade \"1\", APT::Periodic::Update-Package-Lists \"1\""
        );
        // The package's own "disabled" variant (/usr/share/unattended-upgrades/
        // 20auto-upgrades-disabled): both "0".
        let dump =
            parse_apt_config_dump(&fx("apt-config-dump-recorded-debian12-auto-disabled.txt"))
                .unwrap();
        let f = apt_auto_updates(&dump, true);
        assert!(!f.value);
        assert!(
            f.detail.contains("APT::Periodic::Unattended-Upgrade \"0\""),
            "{}",
            f.detail
        );
    }

    #[test]
    fn dnf_automatic() {
        let conf = fx("dnf-automatic.conf-rhel9");
        assert!(!parse_dnf_automatic_apply_updates(&conf).unwrap());
        let yes = conf.replace("apply_updates = no", "apply_updates = yes");
        assert!(parse_dnf_automatic_apply_updates(&yes).unwrap());
        assert!(parse_dnf_automatic_apply_updates("[commands]\nnonsense\n").is_err());
        assert!(dnf_auto_updates("enabled", "disabled", Some(false)).value);
        assert!(dnf_auto_updates("disabled", "enabled", Some(true)).value);
        let f = dnf_auto_updates("disabled", "enabled", Some(false));
        assert!(!f.value && f.detail.contains("download/notify only"));
        assert_eq!(
            dnf_auto_updates("not-found", "not-found", None).detail,
            "dnf-automatic is not installed"
        );
        assert!(!dnf_auto_updates("disabled", "disabled", Some(true)).value);
        // systemctl is-enabled: states on stdout, a missing unit on stderr.
        assert_eq!(parse_is_enabled("enabled\n", "").unwrap(), "enabled");
        assert_eq!(
            parse_is_enabled("", &fx("systemctl-is-enabled-missing.txt")).unwrap(),
            "not-found"
        );
        assert!(parse_is_enabled("", "Failed to connect to bus: Host is down\n").is_err());
    }

    #[test]
    fn lsblk_root_on_plain_disk() {
        // Recorded here: the container's root is the VM's virtio disk.
        let devs = parse_lsblk_json(&fx("lsblk-container.json")).unwrap();
        let f = root_encryption(&devs).unwrap();
        assert!(!f.value);
        assert!(f.detail.starts_with("/ on disk vda"), "{}", f.detail);
    }

    #[test]
    fn lsblk_root_on_luks_lvm() {
        let devs = parse_lsblk_json(&fx("lsblk-luks-lvm-ubuntu.json")).unwrap();
        let f = root_encryption(&devs).unwrap();
        assert!(f.value);
        assert_eq!(f.detail, "/ on crypt device nvme0n1p3_crypt (crypto_LUKS)");
        // util-linux 2.37+ MOUNTPOINTS arrays, btrfs subvolumes mounted twice.
        let devs = parse_lsblk_json(&fx("lsblk-mountpoints-fedora-btrfs.json")).unwrap();
        let f = root_encryption(&devs).unwrap();
        assert!(f.value, "{}", f.detail);
        assert!(f.detail.contains("luks-"), "{}", f.detail);
        // Root not on a block device (overlay): an error, not "unencrypted".
        let no_root =
            r#"{"blockdevices":[{"name":"sda","type":"disk","fstype":null,"mountpoint":null}]}"#;
        assert!(root_encryption(&parse_lsblk_json(no_root).unwrap()).is_err());
        assert!(parse_lsblk_json("lsblk: unknown column: MOUNTPOINTS").is_err());
        assert!(parse_lsblk_json("{\"devices\":[]}").is_err());
    }

    #[test]
    fn firewall_front_ends() {
        // Recorded (ufw 0.36.2): the rule table is padded with trailing spaces.
        assert!(parse_ufw_status(&fx("ufw-status-recorded-debian12-active.txt")).unwrap());
        assert!(!parse_ufw_status(&fx("ufw-status-recorded-debian12-inactive.txt")).unwrap());
        assert!(!parse_ufw_status("Status: inactive\n").unwrap());
        // As a user other than root: exit status 1 and this on stderr.
        assert!(parse_ufw_status(&fx("ufw-status-recorded-debian12-nonroot.stderr.txt")).is_err());
        assert!(parse_firewalld_state("running\n", "").unwrap());
        assert!(!parse_firewalld_state("not running\n", "").unwrap());
        assert!(!parse_firewalld_state("", "not running\n").unwrap());
        assert!(parse_firewalld_state("", "Authorization failed.\n").is_err());
    }

    #[test]
    fn nftables_rule_sets() {
        let (on, d) = nft_input_filtering(
            &parse_nft_ruleset(&fx("nft-ruleset-firewalld-rhel9.txt")).unwrap(),
        );
        assert!(on, "{d}");
        assert_eq!(
            d,
            "nftables: chain inet firewalld filter_INPUT drops what reaches \"reject with icmpx admin-prohibited\""
        );
        let (on, d) = nft_input_filtering(
            &parse_nft_ruleset(&fx("nft-ruleset-debian-policy-drop.txt")).unwrap(),
        );
        assert!(on);
        assert!(d.contains("policy drop"), "{d}");
        // Docker alone filters forwarding, not input.
        let chains = parse_nft_ruleset(&fx("nft-ruleset-docker-only.txt")).unwrap();
        assert!(chains.iter().any(|c| c.name == "DOCKER-USER"));
        let (on, d) = nft_input_filtering(&chains);
        assert!(!on, "{d}");
        // A drop only for one port is no firewall; a catch-all in a jumped-to chain is.
        let t = "table inet f {\n\tchain input { # handle 1\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport 23 drop\n\t\tjump base\n\t}\n\tchain base {\n\t\tct state established,related accept\n\t\tcounter packets 3 bytes 180 drop\n\t}\n}\n";
        let (on, d) = nft_input_filtering(&parse_nft_ruleset(t).unwrap());
        assert!(on);
        assert!(
            d.starts_with("nftables: chain inet f input drops") && d.ends_with("(in chain base)"),
            "{d}"
        );
        let t = "table inet f {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 23 drop\n\t}\n}\n";
        assert!(!nft_input_filtering(&parse_nft_ruleset(t).unwrap()).0);
        assert!(parse_nft_ruleset("").unwrap().is_empty());
        assert!(
            parse_nft_ruleset("Error: Could not process rule: Operation not permitted\n").is_err()
        );
        assert!(parse_nft_ruleset("table inet f {\n").is_err());
    }

    #[test]
    fn iptables_input() {
        // Recorded: RHEL's iptables-services default INPUT rules, entered by hand.
        let (on, d) =
            parse_iptables_input(&fx("iptables-S-INPUT-recorded-debian12-reject.txt")).unwrap();
        assert!(on, "{d}");
        assert_eq!(d, "iptables: INPUT ends in -j REJECT");
        assert!(
            parse_iptables_input("-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n")
                .unwrap()
                .0
        );
        let (on, _) =
            parse_iptables_input("-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 23 -j DROP\n")
                .unwrap();
        assert!(!on);
        assert!(!parse_iptables_input("-P INPUT ACCEPT\n").unwrap().0);
        assert!(parse_iptables_input(
            "iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)\n"
        )
        .is_err());
    }

    #[test]
    fn firewall_verdicts_combine() {
        let absent = || -> ToolVerdict { Ok(None) };
        let f = firewall_verdict(vec![("ufw", absent()), ("nftables", absent())]).unwrap();
        assert!(!f.value);
        assert!(f.detail.starts_with("no firewall tool"));
        let f = firewall_verdict(vec![
            ("ufw", Ok(Some((false, "ufw inactive".into())))),
            (
                "nftables",
                Err(PlatformError::PermissionDenied("nft".into())),
            ),
            (
                "iptables",
                Ok(Some((true, "iptables: INPUT policy DROP".into()))),
            ),
        ])
        .unwrap();
        assert!(f.value);
        let err = firewall_verdict(vec![
            ("ufw", Ok(Some((false, "ufw inactive".into())))),
            (
                "nftables",
                Err(PlatformError::PermissionDenied("nft".into())),
            ),
        ])
        .unwrap_err();
        assert!(matches!(err, PlatformError::PermissionDenied(_)), "{err}");
        let err = firewall_verdict(vec![
            (
                "nftables",
                Err(PlatformError::PermissionDenied("nft".into())),
            ),
            (
                "iptables",
                Err(PlatformError::PermissionDenied("iptables".into())),
            ),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("nftables: permission denied"),
            "{err}"
        );
        let f = firewall_verdict(vec![
            ("ufw", Ok(Some((false, "ufw inactive".into())))),
            (
                "nftables",
                Ok(Some((false, "nftables: no input chain".into()))),
            ),
        ])
        .unwrap();
        assert_eq!(f.detail, "ufw inactive; nftables: no input chain");
    }

    #[test]
    fn gnome_screen_lock_policy() {
        let profile = parse_dconf_profile(&fx("dconf-profile-user-rhel9"));
        assert_eq!(profile, ["local", "site", "distro"]);
        let local = DconfDb::from_keyfiles(
            "local",
            &[
                ("00-screensaver".into(), fx("dconf-local.d-00-screensaver")),
                (
                    "10-override".into(),
                    "[org/gnome/desktop/session]\nidle-delay=uint32 600\n".into(),
                ),
            ],
            &[("screensaver".into(), fx("dconf-local.d-locks-screensaver"))],
        )
        .unwrap();
        let f = screen_lock_from_dconf(std::slice::from_ref(&local))
            .unwrap()
            .unwrap();
        // The later file wins: 600 s idle, then 5 s until the lock.
        assert_eq!(f.value, 605);
        assert!(
            f.detail.contains("idle-delay uint32 600 (local, locked)"),
            "{}",
            f.detail
        );
        // A lock in a lower database makes its value win over a higher one.
        let site = DconfDb::from_keyfiles(
            "site",
            &[(
                "policy".into(),
                "[org/gnome/desktop/session]\nidle-delay=uint32 120\n".into(),
            )],
            &[("l".into(), "/org/gnome/desktop/session/idle-delay\n".into())],
        )
        .unwrap();
        assert_eq!(
            screen_lock_from_dconf(&[local, site])
                .unwrap()
                .unwrap()
                .value,
            125
        );
        // Lock disabled or never idle: never locks.
        let off = DconfDb::from_keyfiles(
            "local",
            &[(
                "x".into(),
                "[org/gnome/desktop/screensaver]\nlock-enabled=false\n".into(),
            )],
            &[],
        )
        .unwrap();
        let f = screen_lock_from_dconf(&[off]).unwrap().unwrap();
        assert_eq!(f.value, 0);
        assert!(
            f.detail.contains("idle-delay uint32 300 (GNOME default)"),
            "{}",
            f.detail
        );
        // No policy keys: nothing to conclude.
        let other = DconfDb::from_keyfiles(
            "ibus",
            &[(
                "00-ibus".into(),
                "[desktop/ibus/general]\npreload-engines=['xkb:us::eng']\n".into(),
            )],
            &[],
        )
        .unwrap();
        assert!(screen_lock_from_dconf(&[other]).unwrap().is_none());
        assert!(screen_lock_from_dconf(&[]).unwrap().is_none());
        assert!(parse_dconf_keyfile("idle-delay=1\n").is_err());
        assert!(parse_dconf_keyfile("[a/b]\njunk\n").is_err());
        let bad = DconfDb::from_keyfiles(
            "local",
            &[(
                "x".into(),
                "[org/gnome/desktop/session]\nidle-delay='soon'\n".into(),
            )],
            &[],
        )
        .unwrap();
        assert!(screen_lock_from_dconf(&[bad]).is_err());
    }

    #[test]
    fn defender_for_endpoint_health() {
        let a = parse_mdatp_health(&fx("mdatp-health-101.24.txt")).unwrap();
        assert!(a.realtime);
        assert_eq!(a.product, "Microsoft Defender for Endpoint 101.24052.0002");
        assert_eq!(a.signature_age_days, Some(0));
        let passive = fx("mdatp-health-101.24.txt").replace(
            "passive_mode_enabled                        : false",
            "passive_mode_enabled                        : true",
        );
        assert!(!parse_mdatp_health(&passive).unwrap().realtime);
        assert!(parse_mdatp_health(
            "ATTENTION: No license found. Contact your administrator for help.\n"
        )
        .is_err());
    }

    #[test]
    fn clamav_database_header() {
        let t = parse_cvd_build_time(&fx_bytes("clamav-daily.cld-header.bin")).unwrap();
        assert_eq!(t, 1_715_841_318);
        assert!(parse_cvd_build_time(b"PK\x03\x04").is_err());
        assert!(parse_cvd_build_time(b"ClamAV-VDB:x:y:z").is_err());
    }

    #[test]
    fn admins_from_this_machine_and_a_workstation() {
        // Recorded here: root only (sudo has no members).
        let g = parse_group(&fx("group-debian12-container")).unwrap();
        let p = parse_passwd(&fx("passwd-debian12-container")).unwrap();
        assert_eq!(local_admins(&g, &p), ["root"]);
        let g = parse_group(&fx("group-workstation")).unwrap();
        let p = parse_passwd(&fx("passwd-workstation")).unwrap();
        // sudo members, wheel (primary group of ops), a second uid 0 account "toor".
        assert_eq!(
            local_admins(&g, &p),
            ["alice", "bob", "ops", "root", "toor"]
        );
        assert!(parse_group("sudo:x:27\n").is_err());
        assert!(parse_passwd("root:x:zero:0:root:/root:/bin/bash\n").is_err());
        assert!(parse_group("+::::\n#comment\n\nwheel:x:10:a\n").is_ok());
    }

    #[test]
    fn time_sync_sources() {
        let t = parse_timedatectl_show(&fx("timedatectl-show-ubuntu2404.txt")).unwrap();
        assert_eq!(
            t,
            TimedateStatus {
                ntp: Some(true),
                synchronized: true
            }
        );
        let server = parse_timesync_server(&fx("timedatectl-show-timesync-ubuntu2404.txt"));
        assert_eq!(server.as_deref(), Some("ntp.ubuntu.com"));
        let f = time_finding(Some(&t), None, server.as_deref()).unwrap();
        assert!(f.value);
        assert_eq!(f.detail, "systemd-timesyncd: ntp.ubuntu.com");
        let c = parse_chronyc_tracking(&fx("chronyc-tracking-rhel9.txt")).unwrap();
        assert!(c.synchronized);
        assert_eq!(c.reference, "ntp1.example.net");
        let f = time_finding(None, Some(&c), None).unwrap();
        assert_eq!(
            (f.value, f.detail.as_str()),
            (true, "chrony: ntp1.example.net")
        );
        // Recorded: chronyd -x with Debian's configuration and no network (the pool's
        // name never resolves), as just after a start.
        let c = parse_chronyc_tracking(&fx("chronyc-tracking-recorded-debian12-no-sources.txt"))
            .unwrap();
        assert!(!c.synchronized);
        assert!(!c.local_reference);
        assert_eq!(
            time_finding(None, Some(&c), None).unwrap().detail,
            "chrony (no reference)"
        );
        let off = parse_timedatectl_show("NTP=no\nNTPSynchronized=no\n").unwrap();
        assert_eq!(
            time_finding(Some(&off), None, None).unwrap().detail,
            "no NTP service enabled"
        );
        assert!(time_finding(None, None, None).is_none());
        assert!(parse_timedatectl_show(
            "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
        )
        .is_err());
        assert!(parse_chronyc_tracking("506 Cannot talk to daemon\n").is_err());
    }

    #[test]
    fn nftables_recorded_debian12() {
        // nftables 1.0.6: `nft add table inet filter` and
        // `nft add chain inet filter input { type filter hook input priority 0; policy drop; }`;
        // nft prints the priority by name.
        let text = fx("nft-ruleset-recorded-debian12-policy-drop.txt");
        assert!(text.contains("type filter hook input priority filter; policy drop;"));
        let chains = parse_nft_ruleset(&text).unwrap();
        assert_eq!(
            chains,
            [NftChain {
                family: "inet".into(),
                table: "filter".into(),
                name: "input".into(),
                hook: "input".into(),
                policy: "drop".into(),
                rules: vec![],
            }]
        );
        assert_eq!(
            nft_input_filtering(&chains),
            (
                true,
                "nftables: chain inet filter input has policy drop".to_string()
            )
        );
        // No rule set at all: nft prints nothing and exits 0.
        let chains = parse_nft_ruleset(&fx("nft-ruleset-recorded-debian12-empty.txt")).unwrap();
        assert!(chains.is_empty());
        assert_eq!(
            nft_input_filtering(&chains),
            (false, "nftables: no input chain".to_string())
        );
        // The RHEL rules entered through iptables-nft (Debian's default iptables): nft
        // shows them with counters and the "managed by iptables-nft" warning on stderr.
        let chains =
            parse_nft_ruleset(&fx("nft-ruleset-recorded-debian12-iptables-nft-reject.txt"))
                .unwrap();
        let (on, d) = nft_input_filtering(&chains);
        assert!(on, "{d}");
        assert_eq!(
            d,
            "nftables: chain ip filter INPUT drops what reaches \"counter packets 0 bytes 0 reject with icmp type host-prohibited\""
        );
        // ufw 0.36.2 enabled (with `ufw allow 22/tcp`), through iptables-nft: ip and ip6
        // tables, dozens of chains, rate limits and log prefixes.
        let chains =
            parse_nft_ruleset(&fx("nft-ruleset-recorded-debian12-ufw-active.txt")).unwrap();
        assert!(chains.len() > 50, "{}", chains.len());
        assert!(chains
            .iter()
            .any(|c| c.family == "ip6" && c.name == "ufw6-user-input"));
        assert_eq!(
            nft_input_filtering(&chains),
            (
                true,
                "nftables: chain ip filter INPUT has policy drop".to_string()
            )
        );
        // As a user other than root: exit status 1 and this on stderr.
        assert!(
            parse_nft_ruleset(&fx("nft-ruleset-recorded-debian12-nonroot.stderr.txt")).is_err()
        );
    }

    #[test]
    fn iptables_recorded_debian12() {
        // iptables 1.8.9 (nf_tables) in a fresh network namespace.
        assert_eq!(
            parse_iptables_input(&fx("iptables-S-INPUT-recorded-debian12-empty.txt")).unwrap(),
            (
                false,
                "iptables: INPUT policy ACCEPT, no final DROP/REJECT".to_string()
            )
        );
        // -P INPUT DROP, loopback and established traffic accepted.
        assert_eq!(
            parse_iptables_input(&fx("iptables-S-INPUT-recorded-debian12-policy-drop.txt"))
                .unwrap(),
            (true, "iptables: INPUT policy DROP".to_string())
        );
        // ufw enabled: policy DROP and jumps into ufw's chains.
        assert!(
            parse_iptables_input(&fx("iptables-S-INPUT-recorded-debian12-ufw-active.txt"))
                .unwrap()
                .0
        );
        let err =
            parse_iptables_input(&fx("iptables-S-INPUT-recorded-debian12-nonroot.stderr.txt"))
                .unwrap_err();
        assert!(err.to_string().contains("you must be root"), "{err}");
    }

    /// What the agent concludes on a Debian 12 machine with ufw, nftables and iptables
    /// installed and nothing configured, and with ufw enabled.
    #[test]
    fn firewall_verdict_recorded_debian12() {
        let ufw = |name: &str| {
            let on = parse_ufw_status(&fx(name)).unwrap();
            Ok(Some((
                on,
                format!("ufw {}", if on { "active" } else { "inactive" }),
            )))
        };
        let nft = |name: &str| {
            Ok(Some(nft_input_filtering(
                &parse_nft_ruleset(&fx(name)).unwrap(),
            )))
        };
        let ipt = |name: &str| Ok(Some(parse_iptables_input(&fx(name)).unwrap()));
        let f = firewall_verdict(vec![
            ("ufw", ufw("ufw-status-recorded-debian12-inactive.txt")),
            ("firewalld", Ok(None)),
            ("nftables", nft("nft-ruleset-recorded-debian12-empty.txt")),
            (
                "iptables",
                ipt("iptables-S-INPUT-recorded-debian12-empty.txt"),
            ),
        ])
        .unwrap();
        assert!(!f.value);
        assert_eq!(
            f.detail,
            "ufw inactive; nftables: no input chain; iptables: INPUT policy ACCEPT, no final DROP/REJECT"
        );
        let f = firewall_verdict(vec![
            ("ufw", ufw("ufw-status-recorded-debian12-active.txt")),
            ("firewalld", Ok(None)),
            (
                "nftables",
                nft("nft-ruleset-recorded-debian12-ufw-active.txt"),
            ),
            (
                "iptables",
                ipt("iptables-S-INPUT-recorded-debian12-ufw-active.txt"),
            ),
        ])
        .unwrap();
        assert_eq!((f.value, f.detail.as_str()), (true, "ufw active"));
    }

    #[test]
    fn chrony_recorded_debian12() {
        // chrony 4.3, chronyd -x following a second chronyd on 127.0.0.1.
        let c = parse_chronyc_tracking(&fx("chronyc-tracking-recorded-debian12-localhost.txt"))
            .unwrap();
        assert_eq!(
            c,
            ChronyTracking {
                reference: "localhost".into(),
                synchronized: true,
                local_reference: false,
            }
        );
        let f = time_finding(None, Some(&c), None).unwrap();
        assert_eq!((f.value, f.detail.as_str()), (true, "chrony: localhost"));
        // `local stratum 10` and no source: "Leap status : Normal" under the local
        // reference ID, but the clock follows nothing.
        let c = parse_chronyc_tracking(&fx("chronyc-tracking-recorded-debian12-local-stratum.txt"))
            .unwrap();
        assert!(!c.synchronized);
        assert!(c.local_reference);
        assert_eq!(c.reference, "");
        let f = time_finding(None, Some(&c), None).unwrap();
        assert!(!f.value);
        assert!(
            f.detail.starts_with("chrony (local reference mode"),
            "{}",
            f.detail
        );
        // chronyd not running: exit status 1, and the message on stdout, not stderr.
        let text = fx("chronyc-tracking-recorded-debian12-no-daemon.txt");
        assert!(parse_chronyc_tracking(&text).is_err());
        let out = cmd::Output {
            status: Some(1),
            stdout: text,
            stderr: String::new(),
        };
        assert_eq!(
            chronyc_failure(&out),
            "chronyc: \"chronyc tracking\" exited with status 1: 506 Cannot talk to daemon"
        );
    }

    #[test]
    fn secure_boot_variable() {
        assert!(parse_secure_boot_efivar(&fx_bytes("efivar-SecureBoot-enabled.bin")).unwrap());
        assert!(!parse_secure_boot_efivar(&fx_bytes("efivar-SecureBoot-disabled.bin")).unwrap());
        assert!(parse_secure_boot_efivar(&[6, 0, 0, 0]).is_err());
        assert!(parse_secure_boot_efivar(&[6, 0, 0, 0, 7]).is_err());
    }

    #[test]
    fn running_units() {
        let s = parse_running_units(&fx("systemctl-list-units-running-debian12.txt")).unwrap();
        assert_eq!(s.len(), 14);
        assert!(s.contains(&"ssh".to_string()) && s.contains(&"getty@tty1".to_string()));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(parse_running_units("").unwrap().is_empty());
        assert!(parse_running_units("System has not been booted with systemd\n").is_err());
    }

    /// Reads the real facts of the machine the tests run on. Only what is readable in
    /// any Linux environment (a container included) is asserted.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn collects_this_machine() {
        let (f, errors) = collect().await;
        let admins = f
            .local_admins
            .expect("local_admins from /etc/group and /etc/passwd");
        assert!(admins.values.contains(&"root".to_string()), "{admins:?}");
        assert!(f.ssh_server_installed.is_some(), "errors: {errors:?}");
        assert_eq!(
            f.ssh_server_installed == Some(true),
            !f.ssh_permit_root_login.is_empty()
        );
        assert!(f.content_hash.is_empty());
        assert!(errors.iter().all(|e| e.contains(": ")), "{errors:?}");
        if !systemd::booted() {
            assert!(errors.iter().any(|e| e.starts_with("running_services: ")));
        }
    }
}
