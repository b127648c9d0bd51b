//! Host facts: the typed values standards are checked against.
//!
//! [`FACTS`] is the registry: every fact's name, type, meaning and how it is read on each
//! OS. Standards may only name facts listed here, with operators that suit the type;
//! `configs/standards/README.md` documents the same table (a test keeps the two in step).
//! [`HostFacts::build`] derives the values from the sections a host reported.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tilsyn_proto::v1::{Facts, Inventory, PatchLevel, SoftwareList};

use super::version::Scheme;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactType {
    Bool,
    Integer,
    Number,
    String,
    Version,
    /// A list of strings (accounts, services).
    List,
}

impl FactType {
    /// The type's name with its article, as error messages use it.
    pub fn name(self) -> &'static str {
        match self {
            FactType::Bool => "a boolean",
            FactType::Integer => "an integer",
            FactType::Number => "a number",
            FactType::String => "a string",
            FactType::Version => "a version",
            FactType::List => "a list of strings",
        }
    }
}

/// One fact of the registry.
pub struct FactDef {
    pub name: &'static str,
    pub ty: FactType,
    pub doc: &'static str,
    pub linux: &'static str,
    pub windows: &'static str,
    pub macos: &'static str,
}

macro_rules! facts {
    ($( $name:literal $ty:ident $doc:literal, $linux:literal, $windows:literal, $macos:literal; )*) => {
        /// Every fact a standard can check, in registry order ([`FactId`] indexes this).
        pub const FACTS: &[FactDef] = &[$(FactDef {
            name: $name, ty: FactType::$ty, doc: $doc, linux: $linux, windows: $windows, macos: $macos,
        }),*];
    };
}

facts! {
    "os.family" String "OS family: linux, windows or macos.", "inventory", "inventory", "inventory";
    "os.id" String "Distribution id (debian, ubuntu, rhel, sles, …); windows; macos.", "os-release ID", "constant", "constant";
    "os.name" String "OS name.", "os-release NAME", "Win32_OperatingSystem Caption", "sw_vers ProductName";
    "os.version" Version "OS version, ordered as a version (12 < 12.5 < 13).", "os-release VERSION_ID", "Win32_OperatingSystem Version (10.0.22631)", "sw_vers ProductVersion";
    "os.build" Version "OS build.", "-", "CurrentBuild.UBR (22631.3447)", "sw_vers BuildVersion";
    "os.kernel" Version "Kernel version.", "uname -r", "OS version", "uname -r";
    "os.arch" String "CPU architecture (x86_64, aarch64).", "uname -m", "inventory", "uname -m";
    "hardware.vendor" String "Hardware vendor.", "DMI sys_vendor", "Win32_ComputerSystem Manufacturer", "Apple";
    "hardware.model" String "Hardware model.", "DMI product_name", "Win32_ComputerSystem Model", "system_profiler model";
    "hardware.memory_bytes" Integer "Installed memory in bytes.", "sysinfo", "sysinfo", "sysinfo";
    "host.uptime_days" Number "Days since the last boot, at evaluation time.", "boot time", "boot time", "boot time";
    "agent.version" Version "Tilsyn agent version.", "agent", "agent", "agent";
    "patch.manager" String "Package manager reporting pending updates (apt, dnf, zypper, windows-update, softwareupdate).", "apt/dnf/yum/zypper", "Windows Update", "softwareupdate";
    "patch.pending_count" Integer "Pending updates.", "apt-get -s dist-upgrade, dnf check-update, zypper list-updates", "Windows Update searcher", "softwareupdate -l";
    "patch.pending_security_count" Integer "Pending security updates.", "security origin / advisories", "MSRC severity / Security Updates category", "softwareupdate -l";
    "patch.security_update_age_days" Number "Days since the oldest pending security update was published (or first seen); 0 when none is pending.", "dnf/zypper advisory dates; apt first seen", "Windows Update LastDeploymentChangeTime", "first seen";
    "patch.reboot_required" Bool "A reboot is needed to finish installing updates.", "/var/run/reboot-required, needs-restarting -r", "RebootRequired registry key", "softwareupdate restart flag";
    "patch.catalogue_age_days" Number "Days since the package lists / update catalogue were last refreshed.", "apt lists mtime, dnf cache", "Windows Update last search", "LastSuccessfulDate";
    "patch.auto_updates_enabled" Bool "Updates are installed automatically.", "unattended-upgrades (APT::Periodic::Unattended-Upgrade), dnf-automatic timer", "WindowsUpdate\\AU policy (NoAutoUpdate, AUOptions)", "com.apple.SoftwareUpdate AutomaticallyInstallMacOSUpdates";
    "disk.encrypted" Bool "The system volume is encrypted.", "LUKS: / on a crypt device (lsblk)", "BitLocker protection on the system drive", "FileVault (fdesetup status)";
    "firewall.enabled" Bool "A host firewall filters incoming traffic.", "ufw, firewalld, nftables or iptables INPUT policy", "every Windows Firewall profile enabled", "application firewall (socketfilterfw)";
    "screen_lock.timeout_seconds" Integer "Seconds of inactivity before the screen locks; 0 = never. Not reported on hosts without a desktop policy.", "GNOME dconf idle-delay + lock-delay", "InactivityTimeoutSecs / secure screen saver", "sysadminctl -screenLock";
    "antivirus.realtime_protection" Bool "Real-time anti-malware protection is on.", "mdatp, ClamAV on-access", "Defender RealTimeProtectionEnabled", "XProtect with Gatekeeper assessments";
    "antivirus.product" String "The anti-malware product.", "mdatp / ClamAV", "Microsoft Defender", "XProtect";
    "antivirus.signature_age_days" Integer "Age of the anti-malware signatures in days.", "ClamAV database mtime", "AntivirusSignatureAge", "-";
    "ssh.server_installed" Bool "An SSH server is installed.", "sshd binary", "sshd service", "Remote Login";
    "ssh.permit_root_login" String "Effective sshd PermitRootLogin (yes, no, prohibit-password, forced-commands-only).", "sshd -T, else sshd_config", "sshd_config", "sshd -T";
    "ssh.password_authentication" Bool "Effective sshd PasswordAuthentication.", "sshd -T, else sshd_config", "sshd_config", "sshd -T";
    "accounts.local_admins" List "Local accounts with administrator rights.", "members of sudo/wheel/admin and uid 0", "Administrators group members", "admin group members";
    "accounts.local_admin_count" Integer "Number of local administrator accounts.", "as above", "as above", "as above";
    "time.synchronized" Bool "The clock is synchronised to a time source.", "timedatectl NTPSynchronized, chronyc tracking", "w32tm /query /status", "systemsetup -getusingnetworktime";
    "time.source" String "The time source.", "timedatectl / chrony", "w32tm source", "network time server";
    "boot.secure_boot" Bool "UEFI Secure Boot is enabled; not reported where it cannot be read.", "SecureBoot EFI variable", "Confirm-SecureBootUEFI", "-";
    "services.running" List "Services running now.", "systemctl list-units --state=running", "Get-Service (Running)", "launchctl list (with a PID)";
}

/// Index of a fact in [`FACTS`].
pub type FactId = usize;

pub fn lookup(name: &str) -> Option<FactId> {
    FACTS.iter().position(|f| f.name == name)
}

/// A fact's value. Strings and lists share their text across hosts ([`Interner`]): a fleet
/// of standardised machines reports the same service names and OS strings many times.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(Arc<str>),
    Version(Arc<str>),
    List(Arc<[Arc<str>]>),
    /// A point in time (ms since the epoch) read as days elapsed at evaluation time.
    DaysSince(i64),
}

impl Value {
    /// The value as a standards author reads it in results and tables.
    pub fn display(&self, now_ms: i64) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Num(n) => fmt_num(*n),
            Value::Str(s) | Value::Version(s) => s.to_string(),
            Value::List(l) => format!("[{}]", l.join(", ")),
            Value::DaysSince(_) => fmt_num(self.number(now_ms).unwrap_or(0.0)),
        }
    }

    pub fn number(&self, now_ms: i64) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Num(n) => Some(*n),
            Value::DaysSince(t) => Some(days_between(*t, now_ms)),
            _ => None,
        }
    }

    fn to_json(&self, now_ms: i64) -> serde_json::Value {
        match self {
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Num(_) | Value::DaysSince(_) => self.number(now_ms).unwrap_or(0.0).into(),
            Value::Str(s) | Value::Version(s) => s.to_string().into(),
            Value::List(l) => l.iter().map(|s| s.to_string()).collect::<Vec<_>>().into(),
        }
    }
}

/// Whole days and tenths between two instants (never negative: a clock ahead counts 0).
fn days_between(from_ms: i64, to_ms: i64) -> f64 {
    let d = (to_ms - from_ms).max(0) as f64 / 86_400_000.0;
    (d * 10.0).floor() / 10.0
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.1}")
    }
}

/// Shares equal strings between hosts.
#[derive(Default)]
pub struct Interner {
    set: std::collections::HashSet<Arc<str>>,
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }
}

/// An installed package, as software rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pkg {
    pub name: Arc<str>,
    pub version: Arc<str>,
    pub scheme: Scheme,
    pub source: Arc<str>,
}

/// Who a host is: what standards' and waivers' selectors match on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostContext {
    pub agent_id: String,
    pub hostname: String,
    pub department: Arc<str>,
    pub class: Arc<str>,
    pub labels: BTreeMap<String, String>,
}

/// Everything a host reported, as facts. `software` holds only the packages some loaded
/// rule asks about (see [`super::standard::SoftwareInterest`]): a full package list per
/// host would not fit in memory for a large fleet.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub ctx: HostContext,
    pub values: Vec<Option<Value>>,
    /// `None`: the host has not reported its software yet.
    pub software: Option<Vec<Pkg>>,
}

/// The sections of one host, as stored.
#[derive(Debug, Clone, Default)]
pub struct HostInputs {
    pub ctx: HostContext,
    pub inventory: Option<Inventory>,
    pub software: Option<SoftwareList>,
    pub patches: Option<PatchLevel>,
    pub facts: Option<Facts>,
}

/// The facts file format of `standards test --facts` and `GET /api/v1/hosts/{id}/facts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsFile {
    #[serde(default)]
    pub host: FactsFileHost,
    /// Fact name → value (booleans, numbers, strings, lists of strings).
    #[serde(default)]
    pub facts: BTreeMap<String, serde_json::Value>,
    /// Installed packages; omitted = not reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<Vec<FactsFilePackage>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsFileHost {
    #[serde(default)]
    pub agent_id: String,
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactsFilePackage {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub source: String,
}

impl HostFacts {
    pub fn get(&self, id: FactId) -> Option<&Value> {
        self.values.get(id).and_then(|v| v.as_ref())
    }

    /// Derives the facts from a host's sections. `keep` says which packages to retain.
    pub fn build(inp: &HostInputs, keep: &dyn Fn(&str) -> bool, it: &mut Interner) -> HostFacts {
        let mut v = Out(vec![None; FACTS.len()]);
        if let Some(inv) = &inp.inventory {
            let os = inv.os.clone().unwrap_or_default();
            let id = match os.family.as_str() {
                "windows" | "macos" => os.family.clone(),
                _ => os.id.clone(),
            };
            v.str(it, "os.family", &os.family);
            if !os.family.is_empty() {
                v.str(it, "os.id", &id);
            }
            v.str(it, "os.name", &os.name);
            v.version(it, "os.version", &os.version);
            // Linux has no OS build: its agents send os-release VERSION ("12 (bookworm)")
            // as display text, which is no version to compare (the fact table says "-").
            if os.family != "linux" {
                v.version(it, "os.build", &os.build);
            }
            v.version(it, "os.kernel", &inv.kernel_version);
            v.str(it, "os.arch", &inv.arch);
            if let Some(h) = &inv.hardware {
                v.str(it, "hardware.vendor", &h.vendor);
                v.str(it, "hardware.model", &h.model);
                if h.memory_bytes > 0 {
                    v.set("hardware.memory_bytes", Value::Int(h.memory_bytes as i64));
                }
            }
            if let Some(b) = inv.boot_time_ms {
                v.set("host.uptime_days", Value::DaysSince(b));
            }
            v.version(it, "agent.version", &inv.agent_version);
        }
        if let Some(p) = &inp.patches {
            v.str(it, "patch.manager", &p.manager);
            v.set("patch.pending_count", Value::Int(p.pending_count as i64));
            v.set(
                "patch.pending_security_count",
                Value::Int(p.pending_security_count as i64),
            );
            match p.oldest_security_since_ms {
                Some(t) => v.set("patch.security_update_age_days", Value::DaysSince(t)),
                // Pending security updates without a date: the age is not known.
                None if p.pending_security_count > 0 => {}
                None => v.set("patch.security_update_age_days", Value::Num(0.0)),
            }
            v.set("patch.reboot_required", Value::Bool(p.reboot_required));
            if let Some(t) = p.last_refresh_ms {
                v.set("patch.catalogue_age_days", Value::DaysSince(t));
            }
        }
        if let Some(f) = &inp.facts {
            for (name, x) in [
                ("patch.auto_updates_enabled", f.auto_updates_enabled),
                ("disk.encrypted", f.disk_encrypted),
                ("firewall.enabled", f.firewall_enabled),
                ("antivirus.realtime_protection", f.antivirus_realtime),
                ("ssh.server_installed", f.ssh_server_installed),
                ("ssh.password_authentication", f.ssh_password_authentication),
                ("time.synchronized", f.time_synchronized),
                ("boot.secure_boot", f.secure_boot),
            ] {
                if let Some(x) = x {
                    v.set(name, Value::Bool(x));
                }
            }
            if let Some(t) = f.screen_lock_timeout_seconds {
                v.set("screen_lock.timeout_seconds", Value::Int(t as i64));
            }
            if let Some(a) = f.antivirus_signature_age_days {
                v.set("antivirus.signature_age_days", Value::Int(a as i64));
            }
            v.str(it, "antivirus.product", &f.antivirus_product);
            v.str(it, "ssh.permit_root_login", &f.ssh_permit_root_login);
            v.str(it, "time.source", &f.time_source);
            if let Some(n) = v.list(it, "accounts.local_admins", &f.local_admins) {
                v.set("accounts.local_admin_count", Value::Int(n as i64));
            }
            v.list(it, "services.running", &f.running_services);
        }
        let software = inp.software.as_ref().map(|sw| {
            sw.packages
                .iter()
                .filter(|p| keep(&p.name))
                .map(|p| Pkg {
                    name: it.get(&p.name),
                    version: it.get(&p.version),
                    scheme: Scheme::for_source(&p.source),
                    source: it.get(&p.source),
                })
                .collect()
        });
        HostFacts {
            ctx: inp.ctx.clone(),
            values: v.0,
            software,
        }
    }

    /// The facts as a facts file (what `standards test --facts` reads).
    pub fn to_file(&self, now_ms: i64) -> FactsFile {
        FactsFile {
            host: FactsFileHost {
                agent_id: self.ctx.agent_id.clone(),
                hostname: self.ctx.hostname.clone(),
                department: self.ctx.department.to_string(),
                class: self.ctx.class.to_string(),
                labels: self.ctx.labels.clone(),
            },
            facts: FACTS
                .iter()
                .zip(&self.values)
                .filter_map(|(d, v)| v.as_ref().map(|v| (d.name.to_string(), v.to_json(now_ms))))
                .collect(),
            software: self.software.as_ref().map(|l| {
                l.iter()
                    .map(|p| FactsFilePackage {
                        name: p.name.to_string(),
                        version: p.version.to_string(),
                        source: p.source.to_string(),
                    })
                    .collect()
            }),
        }
    }

    /// Reads a facts file, checking every fact's name and type; all problems at once.
    pub fn from_file(f: &FactsFile, it: &mut Interner) -> Result<HostFacts, Vec<String>> {
        let mut values: Vec<Option<Value>> = vec![None; FACTS.len()];
        let mut errors = Vec::new();
        for (name, j) in &f.facts {
            let Some(id) = lookup(name) else {
                errors.push(format!("facts.{name}: unknown fact{}", suggest(name)));
                continue;
            };
            let ty = FACTS[id].ty;
            let val = match (ty, j) {
                (FactType::Bool, serde_json::Value::Bool(b)) => Some(Value::Bool(*b)),
                (FactType::Integer, serde_json::Value::Number(n)) => n.as_i64().map(Value::Int),
                (FactType::Number, serde_json::Value::Number(n)) => n.as_f64().map(Value::Num),
                (FactType::String, serde_json::Value::String(s)) => Some(Value::Str(it.get(s))),
                (FactType::Version, serde_json::Value::String(s)) => {
                    Some(Value::Version(it.get(s)))
                }
                (FactType::Version, serde_json::Value::Number(n)) => {
                    Some(Value::Version(it.get(&n.to_string())))
                }
                (FactType::List, serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|x| x.as_str().map(|s| it.get(s)))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Value::List(v.into())),
                _ => None,
            };
            match val {
                Some(v) => values[id] = Some(v),
                None => errors.push(format!("facts.{name}: expected {}, found {j}", ty.name())),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(HostFacts {
            ctx: HostContext {
                agent_id: f.host.agent_id.clone(),
                hostname: f.host.hostname.clone(),
                department: it.get(&f.host.department),
                class: it.get(&f.host.class),
                labels: f.host.labels.clone(),
            },
            values,
            software: f.software.as_ref().map(|l| {
                l.iter()
                    .map(|p| Pkg {
                        name: it.get(&p.name),
                        version: it.get(&p.version),
                        scheme: Scheme::for_source(&p.source),
                        source: it.get(&p.source),
                    })
                    .collect()
            }),
        })
    }
}

/// Facts being derived: empty strings count as not reported.
struct Out(Vec<Option<Value>>);

impl Out {
    fn set(&mut self, name: &str, val: Value) {
        let id = lookup(name).expect("fact in registry");
        debug_assert_eq!(ty_of(&val), FACTS[id].ty, "{name}");
        self.0[id] = Some(val);
    }
    fn str(&mut self, it: &mut Interner, name: &str, x: &str) {
        if !x.trim().is_empty() {
            self.set(name, Value::Str(it.get(x)));
        }
    }
    fn version(&mut self, it: &mut Interner, name: &str, x: &str) {
        if !x.trim().is_empty() {
            self.set(name, Value::Version(it.get(x)));
        }
    }
    fn list(
        &mut self,
        it: &mut Interner,
        name: &str,
        l: &Option<tilsyn_proto::v1::StringList>,
    ) -> Option<usize> {
        let l = l.as_ref()?;
        let mut vals: Vec<Arc<str>> = l.values.iter().map(|x| it.get(x)).collect();
        vals.sort();
        vals.dedup();
        let n = vals.len();
        self.set(name, Value::List(vals.into()));
        Some(n)
    }
}

fn ty_of(v: &Value) -> FactType {
    match v {
        Value::Bool(_) => FactType::Bool,
        Value::Int(_) => FactType::Integer,
        Value::Num(_) | Value::DaysSince(_) => FactType::Number,
        Value::Str(_) => FactType::String,
        Value::Version(_) => FactType::Version,
        Value::List(_) => FactType::List,
    }
}

/// ", did you mean `x`?" for a misspelt fact name, or a pointer to the registry.
pub fn suggest(name: &str) -> String {
    let best = FACTS
        .iter()
        .map(|f| (edit_distance(name, f.name), f.name))
        .min()
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, n)) => format!(" (did you mean `{n}`?)"),
        None => " (see configs/standards/README.md for the list of facts)".into(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilsyn_proto::v1::{OsInfo, Package, StringList};

    #[test]
    fn names_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for f in FACTS {
            assert!(seen.insert(f.name), "duplicate {}", f.name);
            assert!(f.name.contains('.') && f.name == f.name.to_lowercase());
        }
    }

    #[test]
    fn every_fact_is_documented_in_the_standards_readme() {
        let doc = include_str!("../../../../configs/standards/README.md");
        for f in FACTS {
            assert!(
                doc.contains(&format!("`{}`", f.name)),
                "configs/standards/README.md does not document {}",
                f.name
            );
        }
    }

    fn inputs() -> HostInputs {
        HostInputs {
            ctx: HostContext {
                agent_id: "a1".into(),
                hostname: "pc1".into(),
                department: "schools".into(),
                class: "workstation".into(),
                labels: BTreeMap::new(),
            },
            inventory: Some(Inventory {
                os: Some(OsInfo {
                    family: "linux".into(),
                    id: "debian".into(),
                    version: "12".into(),
                    build: "12 (bookworm)".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            software: Some(SoftwareList {
                content_hash: "x".into(),
                packages: vec![
                    Package {
                        name: "openssh-server".into(),
                        version: "1:9.2p1-2".into(),
                        arch: "amd64".into(),
                        source: "dpkg".into(),
                    },
                    Package {
                        name: "bash".into(),
                        version: "5.2".into(),
                        arch: "amd64".into(),
                        source: "dpkg".into(),
                    },
                ],
            }),
            patches: Some(PatchLevel {
                pending_security_count: 1,
                pending_count: 1,
                oldest_security_since_ms: Some(0),
                ..Default::default()
            }),
            facts: Some(Facts {
                firewall_enabled: Some(false),
                local_admins: Some(StringList {
                    values: vec!["root".into(), "alice".into(), "root".into()],
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn facts_are_derived_from_sections() {
        let mut it = Interner::default();
        let f = HostFacts::build(&inputs(), &|n| n.starts_with("openssh"), &mut it);
        assert_eq!(
            f.get(lookup("os.id").unwrap()),
            Some(&Value::Str("debian".into()))
        );
        assert_eq!(
            f.get(lookup("firewall.enabled").unwrap()),
            Some(&Value::Bool(false))
        );
        assert_eq!(
            f.get(lookup("accounts.local_admin_count").unwrap()),
            Some(&Value::Int(2))
        );
        assert_eq!(f.get(lookup("disk.encrypted").unwrap()), None);
        // os-release VERSION is not a build: rules on os.build are unknown on Linux.
        assert_eq!(f.get(lookup("os.build").unwrap()), None);
        let age = f
            .get(lookup("patch.security_update_age_days").unwrap())
            .unwrap();
        assert_eq!(age.number(15 * 86_400_000 + 1), Some(15.0));
        assert_eq!(
            f.software.as_ref().unwrap().len(),
            1,
            "only asked-for packages"
        );
    }

    #[test]
    fn facts_file_round_trips_and_rejects_wrong_types() {
        let mut it = Interner::default();
        let f = HostFacts::build(&inputs(), &|_| true, &mut it);
        let file = f.to_file(86_400_000);
        let text = serde_json::to_string(&file).unwrap();
        let back: FactsFile = serde_json::from_str(&text).unwrap();
        let g = HostFacts::from_file(&back, &mut it).unwrap();
        assert_eq!(
            g.get(lookup("os.version").unwrap()),
            Some(&Value::Version("12".into()))
        );
        assert_eq!(g.software.unwrap().len(), 2);
        let bad: FactsFile = serde_json::from_str(
            r#"{"facts": {"firewall.enabled": "yes", "firewal.enabled": true}}"#,
        )
        .unwrap();
        let e = HostFacts::from_file(&bad, &mut it).unwrap_err();
        assert!(e.iter().any(|e| e.contains("expected a boolean")), "{e:?}");
        assert!(
            e.iter()
                .any(|e| e.contains("did you mean `firewall.enabled`")),
            "{e:?}"
        );
    }
}
