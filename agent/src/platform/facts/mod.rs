//! Security and configuration facts (disk encryption, firewall, screen lock, anti-malware,
//! SSH server settings, administrators, time sync, Secure Boot, running services) that the
//! organisation's standards are checked against.
//!
//! As everywhere in `platform` (DESIGN.md §4), each fact has a small *obtain* half (run a
//! command through [`cmd`](super::cmd) or read a file) and a *pure parser* from that text
//! to a value, unit-tested on fixtures under `agent/tests/fixtures/facts/`. All of it
//! compiles on every OS; [`collect`] only picks which OS's collection runs.
//!
//! Each fact is read on its own: one that cannot be read stays unset in [`Facts`] and its
//! reason goes into the returned errors, the others carry on. A component that is simply
//! not installed is not an error: it is a fact (no sshd → `ssh_server_installed = false`)
//! or, when nothing can be concluded from its absence, the field stays unset silently.
//!
//! The OpenSSH server configuration is read the same way on all three OSes, so its parsers
//! live here.

use std::path::{Path, PathBuf};

use tilsyn_proto::v1::{Facts, StringList};

use super::PlatformError;

pub mod linux;
pub mod macos;
pub mod windows;

/// Reads every fact this OS offers. Each fact is read independently: one that cannot be
/// read stays unset and its reason goes into the returned errors ("firewall: …"), the rest
/// carry on. A component that simply is not installed (no ufw, no sshd) is not an error: it
/// is a fact (e.g. ssh_server_installed = false) or leaves the field unset silently when
/// nothing can be concluded.
///
/// `content_hash` is left empty: the probe computes it over the encoded message.
pub async fn collect() -> (Facts, Vec<String>) {
    // Windows: `platform::winsource::read_facts`, which the facts probe calls (the API
    // readers build on this module's mappers, so they are not called from here).
    if cfg!(target_os = "linux") {
        linux::collect().await
    } else if cfg!(target_os = "macos") {
        macos::collect().await
    } else {
        let e = PlatformError::Unsupported(format!(
            "security facts are read on Linux, Windows and macOS, not on {}",
            std::env::consts::OS
        ));
        (Facts::default(), vec![format!("facts: {e}")])
    }
}

/// What a source concluded about one fact, and in words what it saw (the `*_detail`
/// fields), so a failed check can be explained without logging in to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<T> {
    pub value: T,
    pub detail: String,
}

impl<T> Finding<T> {
    pub fn new(value: T, detail: impl Into<String>) -> Self {
        Finding {
            value,
            detail: detail.into(),
        }
    }
}

/// The anti-malware product found and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Antivirus {
    pub product: String,
    pub realtime: bool,
    pub signature_age_days: Option<u32>,
}

/// The errors of one collection, each prefixed with the fact it belongs to.
#[derive(Debug, Default)]
struct Errors(Vec<String>);

impl Errors {
    /// The value of a successful read; a failed one is recorded as "`fact`: reason".
    pub fn take<T>(&mut self, fact: &str, r: Result<T, PlatformError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(format!("{fact}: {e}"));
                None
            }
        }
    }

    /// Like [`take`](Self::take) for reads whose "nothing to conclude" is `Ok(None)`.
    pub fn take_opt<T>(&mut self, fact: &str, r: Result<Option<T>, PlatformError>) -> Option<T> {
        self.take(fact, r).flatten()
    }
}

/// One fact as read: `Ok(None)` when nothing can be concluded (the field stays unset
/// without an error).
pub type Reading<T> = Result<Option<T>, PlatformError>;

/// A read that always concludes something, as a [`Reading`].
pub fn some<T>(r: Result<T, PlatformError>) -> Reading<T> {
    r.map(Some)
}

/// What one OS read, fact by fact. Every OS fills this its own way;
/// [`Readings::into_facts`] turns it into the report section the same way for all.
pub struct Readings {
    pub auto_updates: Reading<Finding<bool>>,
    pub disk_encryption: Reading<Finding<bool>>,
    pub firewall: Reading<Finding<bool>>,
    pub screen_lock: Reading<Finding<u32>>,
    pub antivirus: Reading<Antivirus>,
    pub local_admins: Reading<Vec<String>>,
    pub time: Reading<Finding<bool>>,
    pub secure_boot: Reading<bool>,
    /// Whether an SSH server is installed; [`Self::ssh`] holds its settings when it is.
    pub ssh_installed: Reading<bool>,
    pub ssh: Reading<SshdSettings>,
    pub running_services: Reading<Vec<String>>,
}

impl Default for Readings {
    fn default() -> Self {
        Readings {
            auto_updates: Ok(None),
            disk_encryption: Ok(None),
            firewall: Ok(None),
            screen_lock: Ok(None),
            antivirus: Ok(None),
            local_admins: Ok(None),
            time: Ok(None),
            secure_boot: Ok(None),
            ssh_installed: Ok(None),
            ssh: Ok(None),
            running_services: Ok(None),
        }
    }
}

impl Readings {
    /// The SSH server as the Unix readers report it: `None` = not installed.
    pub fn set_ssh(&mut self, r: Result<Option<SshdSettings>, PlatformError>) {
        match r {
            Ok(s) => {
                self.ssh_installed = Ok(Some(s.is_some()));
                self.ssh = Ok(s);
            }
            Err(e) => self.ssh = Err(e),
        }
    }

    /// The facts section and the errors, each prefixed with its fact ("firewall: …").
    pub fn into_facts(self) -> (Facts, Vec<String>) {
        let mut e = Errors::default();
        let mut f = Facts::default();
        if let Some(x) = e.take_opt("auto_updates", self.auto_updates) {
            (f.auto_updates_enabled, f.auto_updates_detail) = (Some(x.value), x.detail);
        }
        if let Some(x) = e.take_opt("disk_encryption", self.disk_encryption) {
            (f.disk_encrypted, f.disk_encryption_detail) = (Some(x.value), x.detail);
        }
        if let Some(x) = e.take_opt("firewall", self.firewall) {
            (f.firewall_enabled, f.firewall_detail) = (Some(x.value), x.detail);
        }
        if let Some(x) = e.take_opt("screen_lock", self.screen_lock) {
            (f.screen_lock_timeout_seconds, f.screen_lock_detail) = (Some(x.value), x.detail);
        }
        if let Some(av) = e.take_opt("antivirus", self.antivirus) {
            f.antivirus_realtime = Some(av.realtime);
            f.antivirus_product = av.product;
            f.antivirus_signature_age_days = av.signature_age_days;
        }
        f.local_admins = e
            .take_opt("local_admins", self.local_admins)
            .map(|values| StringList { values });
        if let Some(x) = e.take_opt("time", self.time) {
            (f.time_synchronized, f.time_source) = (Some(x.value), x.detail);
        }
        f.secure_boot = e.take_opt("secure_boot", self.secure_boot);
        f.ssh_server_installed = e.take_opt("ssh", self.ssh_installed);
        if let Some(s) = e.take_opt("ssh", self.ssh) {
            f.ssh_permit_root_login = s.permit_root_login;
            f.ssh_password_authentication = Some(s.password_authentication);
        }
        f.running_services = e
            .take_opt("running_services", self.running_services)
            .map(|values| StringList { values });
        (f, e.0)
    }
}

// --- OpenSSH server -------------------------------------------------------------------------

const SSHD_T: &str = "sshd -T";
const SSHD_CONFIG: &str = "sshd_config";

/// The effective sshd settings the standards look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdSettings {
    /// yes, no, prohibit-password or forced-commands-only.
    pub permit_root_login: String,
    pub password_authentication: bool,
}

/// OpenSSH's compiled-in defaults (since 7.0), which apply when the configuration does not
/// set a keyword.
impl Default for SshdSettings {
    fn default() -> Self {
        SshdSettings {
            permit_root_login: "prohibit-password".into(),
            password_authentication: true,
        }
    }
}

/// `without-password` is the pre-7.0 spelling of `prohibit-password`; `sshd -T` still
/// prints it on some versions (it is first in sshd's value table), so both read the same.
fn normalise_permit_root_login(v: &str) -> Option<String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Some("yes".into()),
        "no" => Some("no".into()),
        "prohibit-password" | "without-password" => Some("prohibit-password".into()),
        "forced-commands-only" => Some("forced-commands-only".into()),
        _ => None,
    }
}

fn parse_yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Parses `sshd -T`: the effective global configuration, one `keyword value` per line with
/// keywords in lower case. Both keywords are always printed, so a missing one means the
/// text is not `sshd -T` output.
pub fn parse_sshd_t(text: &str) -> Result<SshdSettings, PlatformError> {
    let mut root = None;
    let mut password = None;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(k), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        match k.to_ascii_lowercase().as_str() {
            "permitrootlogin" => {
                root = Some(normalise_permit_root_login(v).ok_or_else(|| {
                    PlatformError::parse(SSHD_T, format!("unknown permitrootlogin value {v:?}"))
                })?)
            }
            "passwordauthentication" => {
                password = Some(parse_yes_no(v).ok_or_else(|| {
                    PlatformError::parse(
                        SSHD_T,
                        format!("unknown passwordauthentication value {v:?}"),
                    )
                })?)
            }
            _ => {}
        }
    }
    match (root, password) {
        (Some(permit_root_login), Some(password_authentication)) => Ok(SshdSettings {
            permit_root_login,
            password_authentication,
        }),
        _ => Err(PlatformError::parse(
            SSHD_T,
            format!(
                "no permitrootlogin/passwordauthentication lines; got {:?}",
                first_line(text)
            ),
        )),
    }
}

/// Where a relative `Include` is looked up, and how files are found: the real file system
/// in production, a map of fixtures in tests.
pub trait IncludeResolver {
    /// The texts of the files matching one `Include` argument, in glob(3) order (sorted).
    /// No match is not an error, as in sshd.
    fn resolve(&mut self, pattern: &str) -> Result<Vec<String>, PlatformError>;
}

/// Resolves `Include` patterns on the local file system; relative patterns are relative to
/// `base` (`/etc/ssh`, `C:\ProgramData\ssh`). Wildcards (`*`, `?`) are supported in the
/// file name, which is where distributions put them (`sshd_config.d/*.conf`).
pub struct FsIncludes {
    pub base: PathBuf,
}

impl IncludeResolver for FsIncludes {
    fn resolve(&mut self, pattern: &str) -> Result<Vec<String>, PlatformError> {
        let p = Path::new(pattern);
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        };
        let name = full
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
        if !name.contains(['*', '?']) {
            return match std::fs::read(&full) {
                Ok(b) => Ok(vec![String::from_utf8_lossy(&b).into_owned()]),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(PlatformError::from_io(&full, e)),
            };
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PlatformError::from_io(&dir, e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| glob_match(&name, n))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| super::cmd::read(&dir.join(n)))
            .collect()
    }
}

/// Shell-style match of one path component: `*` any run, `?` one character; as in glob(3)
/// a leading dot is only matched by a pattern that starts with one.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// sshd refuses Include chains deeper than this; so do we (and it stops loops).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses `sshd_config` the way sshd reads it when `sshd -T` cannot run (not root, no
/// host keys, no privilege separation directory in a container): keywords are
/// case-insensitive and may be followed by whitespace or `=`; for each keyword the *first*
/// value wins; `Include` files are read in place (relative to the resolver's base);
/// settings inside `Match` blocks only apply to some connections and are skipped until
/// `Match all` (a `Match` in an included file ends with that file). Keywords not set keep
/// OpenSSH's defaults.
pub fn parse_sshd_config(
    text: &str,
    includes: &mut dyn IncludeResolver,
) -> Result<SshdSettings, PlatformError> {
    let mut root = None;
    let mut password = None;
    walk_sshd_config(text, includes, 0, false, &mut |k, v| {
        match k {
            "permitrootlogin" if root.is_none() => {
                root = Some(normalise_permit_root_login(v).ok_or_else(|| {
                    PlatformError::parse(
                        SSHD_CONFIG,
                        format!("unknown PermitRootLogin value {v:?}"),
                    )
                })?)
            }
            "passwordauthentication" if password.is_none() => {
                password = Some(parse_yes_no(v).ok_or_else(|| {
                    PlatformError::parse(
                        SSHD_CONFIG,
                        format!("unknown PasswordAuthentication value {v:?}"),
                    )
                })?)
            }
            _ => {}
        }
        Ok(())
    })?;
    let d = SshdSettings::default();
    Ok(SshdSettings {
        permit_root_login: root.unwrap_or(d.permit_root_login),
        password_authentication: password.unwrap_or(d.password_authentication),
    })
}

type Setting<'a> = dyn FnMut(&str, &str) -> Result<(), PlatformError> + 'a;

fn walk_sshd_config(
    text: &str,
    includes: &mut dyn IncludeResolver,
    depth: usize,
    in_match: bool,
    setting: &mut Setting<'_>,
) -> Result<(), PlatformError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(PlatformError::parse(
            SSHD_CONFIG,
            format!("Include nested deeper than {MAX_INCLUDE_DEPTH} levels"),
        ));
    }
    let mut in_match = in_match;
    for (n, line) in text.lines().enumerate() {
        let words = sshd_words(line);
        let Some((keyword, args)) = words.split_first() else {
            continue;
        };
        let keyword = keyword.to_ascii_lowercase();
        match keyword.as_str() {
            "match" => {
                in_match = !(args.len() == 1 && args[0].eq_ignore_ascii_case("all"));
            }
            "include" => {
                if args.is_empty() {
                    return Err(PlatformError::parse(
                        SSHD_CONFIG,
                        format!("line {}: Include without a file", n + 1),
                    ));
                }
                for pattern in args {
                    for inc in includes.resolve(pattern)? {
                        walk_sshd_config(&inc, includes, depth + 1, in_match, setting)?;
                    }
                }
            }
            _ if in_match => {}
            _ => {
                let Some(value) = args.first() else {
                    return Err(PlatformError::parse(
                        SSHD_CONFIG,
                        format!("line {}: {keyword} without a value", n + 1),
                    ));
                };
                setting(&keyword, value)?;
            }
        }
    }
    Ok(())
}

/// Splits one sshd_config line into words: whitespace separates, one `=` may separate the
/// keyword from its arguments, double quotes group, and a word starting with `#` starts a
/// comment.
fn sshd_words(line: &str) -> Vec<String> {
    let line = line.trim();
    // "Keyword=value" and "Keyword = value".
    let line = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(i) => {
            let (k, rest) = line.split_at(i);
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            format!("{k} {rest}")
        }
        None => line.to_string(),
    };
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            '#' if !quoted && !started => break,
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(cur);
    }
    words
}

/// The first non-empty line of a text, shortened, for error messages about unexpected
/// output.
pub(crate) fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(160)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/facts");

    /// Include patterns answered from fixture texts.
    pub(crate) struct MapIncludes(pub HashMap<&'static str, Vec<String>>);

    impl IncludeResolver for MapIncludes {
        fn resolve(&mut self, pattern: &str) -> Result<Vec<String>, PlatformError> {
            Ok(self.0.get(pattern).cloned().unwrap_or_default())
        }
    }

    fn fixture(rel: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{rel}")).unwrap()
    }

    #[test]
    fn sshd_t_effective_config() {
        // Recorded: a drop-in setting only PasswordAuthentication no (note sshd's own
        // spelling "permitrootlogin without-password").
        let text = fixture("linux/sshd-T-recorded-debian12-password-no.txt");
        assert!(text.contains("\npermitrootlogin without-password\n"));
        let s = parse_sshd_t(&text).unwrap();
        assert_eq!(s.permit_root_login, "prohibit-password");
        assert!(!s.password_authentication);
        // Upper-case keys and the old spelling read the same.
        let s =
            parse_sshd_t("PermitRootLogin without-password\nPasswordAuthentication yes\n").unwrap();
        assert_eq!(s.permit_root_login, "prohibit-password");
        assert!(s.password_authentication);
        let err = parse_sshd_t("sshd: no hostkeys available -- exiting.\n").unwrap_err();
        assert!(err.to_string().contains("no hostkeys"), "{err}");
        assert!(parse_sshd_t("permitrootlogin maybe\npasswordauthentication yes\n").is_err());
    }

    #[test]
    fn sshd_t_recorded_debian12() {
        // openssh-server 1:9.2p1-2+deb12u10 with its shipped configuration: OpenSSH's
        // compiled-in defaults.
        let s = parse_sshd_t(&fixture("linux/sshd-T-recorded-debian12-default.txt")).unwrap();
        assert_eq!(s, SshdSettings::default());
        assert_eq!(s.permit_root_login, "prohibit-password");
        assert!(s.password_authentication);
        // With /etc/ssh/sshd_config.d/50-test.conf: PermitRootLogin no, PasswordAuthentication no.
        let s = parse_sshd_t(&fixture("linux/sshd-T-recorded-debian12-50-test.txt")).unwrap();
        assert_eq!(s.permit_root_login, "no");
        assert!(!s.password_authentication);
        // In a container without /run/sshd, `sshd -T` exits 255 with only this on stderr;
        // the agent then reads the files.
        let err = parse_sshd_t(&fixture(
            "linux/sshd-T-recorded-debian12-no-privsep-dir.stderr.txt",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Missing privilege separation directory"),
            "{err}"
        );
    }

    /// The fallback reading of the files gives what sshd itself printed for the same files.
    #[test]
    fn sshd_config_recorded_debian12_agrees_with_sshd_t() {
        let main = fixture("linux/sshd_config-recorded-debian12");
        let dropins = |texts: Vec<String>| {
            MapIncludes(HashMap::from([("/etc/ssh/sshd_config.d/*.conf", texts)]))
        };
        let cases = [
            (vec![], "linux/sshd-T-recorded-debian12-default.txt"),
            (
                vec![fixture(
                    "linux/sshd_config.d-50-test-recorded-debian12.conf",
                )],
                "linux/sshd-T-recorded-debian12-50-test.txt",
            ),
            (
                vec!["PasswordAuthentication no\n".to_string()],
                "linux/sshd-T-recorded-debian12-password-no.txt",
            ),
        ];
        for (texts, sshd_t) in cases {
            let from_files = parse_sshd_config(&main, &mut dropins(texts)).unwrap();
            assert_eq!(
                from_files,
                parse_sshd_t(&fixture(sshd_t)).unwrap(),
                "{sshd_t}"
            );
        }
    }

    #[test]
    fn sshd_config_with_includes_first_value_wins() {
        // Debian 12: the drop-in sets PasswordAuthentication no before the main file's
        // commented defaults; Ubuntu cloud images ship exactly this.
        let main = fixture("linux/sshd_config-recorded-debian12");
        let dropin = fixture("linux/sshd_config.d-50-hardening.conf");
        let mut inc = MapIncludes(HashMap::from([(
            "/etc/ssh/sshd_config.d/*.conf",
            vec![dropin],
        )]));
        let s = parse_sshd_config(&main, &mut inc).unwrap();
        assert_eq!(s.permit_root_login, "no");
        assert!(!s.password_authentication);
        // Without the drop-in: the main file sets nothing, so OpenSSH's defaults hold; the
        // Match block at the end does not count.
        let s = parse_sshd_config(&main, &mut MapIncludes(HashMap::new())).unwrap();
        assert_eq!(s, SshdSettings::default());
    }

    #[test]
    fn sshd_config_syntax_variants() {
        let mut none = MapIncludes(HashMap::new());
        let text = "  # comment\nPERMITROOTLOGIN=yes\npasswordauthentication = \"no\" # trailing\nPermitRootLogin no\nMatch User backup\n  PasswordAuthentication yes\nMatch all\n";
        let s = parse_sshd_config(text, &mut none).unwrap();
        assert_eq!(s.permit_root_login, "yes");
        assert!(!s.password_authentication);
        // A Match inside an included file ends with that file.
        let mut inc = MapIncludes(HashMap::from([(
            "extra.conf",
            vec!["Match Address 10.0.0.0/8\nPermitRootLogin yes\n".to_string()],
        )]));
        let s = parse_sshd_config("Include extra.conf\nPermitRootLogin no\n", &mut inc).unwrap();
        assert_eq!(s.permit_root_login, "no");
        assert!(parse_sshd_config("PermitRootLogin perhaps\n", &mut none).is_err());
        assert!(parse_sshd_config("PermitRootLogin\n", &mut none).is_err());
    }

    #[test]
    fn include_loops_are_cut() {
        struct Loop;
        impl IncludeResolver for Loop {
            fn resolve(&mut self, _: &str) -> Result<Vec<String>, PlatformError> {
                Ok(vec!["Include self.conf\n".into()])
            }
        }
        let err = parse_sshd_config("Include self.conf\n", &mut Loop).unwrap_err();
        assert!(err.to_string().contains("deeper"), "{err}");
    }

    #[test]
    fn includes_from_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sshd_config.d")).unwrap();
        for (n, t) in [
            ("10-a.conf", "PasswordAuthentication no\n"),
            (
                "20-b.conf",
                "PasswordAuthentication yes\nPermitRootLogin yes\n",
            ),
            (".hidden.conf", "PermitRootLogin no\n"),
            ("notes.txt", "PermitRootLogin no\n"),
        ] {
            std::fs::write(dir.path().join("sshd_config.d").join(n), t).unwrap();
        }
        let mut fs = FsIncludes {
            base: dir.path().to_path_buf(),
        };
        let s = parse_sshd_config("Include sshd_config.d/*.conf\n", &mut fs).unwrap();
        assert!(!s.password_authentication);
        assert_eq!(s.permit_root_login, "yes");
        assert!(fs.resolve("missing/*.conf").unwrap().is_empty());
        assert!(fs.resolve("nope.conf").unwrap().is_empty());
    }

    #[test]
    fn globbing() {
        assert!(glob_match("*.conf", "50-cloud-init.conf"));
        assert!(!glob_match("*.conf", "50-cloud-init.conf.bak"));
        assert!(glob_match("0?-x", "01-x"));
        assert!(!glob_match("*", ".hidden"));
        assert!(glob_match(".*", ".hidden"));
    }
}
