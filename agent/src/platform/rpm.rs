//! Installed packages from the RPM database (RHEL and its rebuilds, Fedora, SUSE).
//!
//! `rpm -qa` with an explicit `--queryformat` reads the database without locking it and
//! without any repository access, so it is cheap and safe to run on every software probe.
//! The same module also answers "when was anything last installed" for dnf/yum and zypper,
//! from each package's `INSTALLTIME` (seconds since the epoch, so free of time zones).

use std::cmp::Ordering;

use tilsyn_proto::v1::Package;

use super::{cmd, PlatformError};

const SOURCE: &str = "rpm -qa";

/// One line per package: name, epoch, version, release, arch, tab-separated. rpm itself
/// expands the `\t` and `\n` escapes; absent tags print as `(none)`.
pub const QUERY_FORMAT: &str = r"%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n";

/// Install time of every package, one per line.
const INSTALLTIME_FORMAT: &str = r"%{INSTALLTIME}\n";

/// Whether the `rpm` command is on this machine.
pub fn present() -> bool {
    cmd::on_path("rpm")
}

/// Installed packages, from `rpm -qa --queryformat '<QUERY_FORMAT>'`.
pub async fn read_software() -> Result<Vec<Package>, PlatformError> {
    let out = cmd::run_ok(
        "rpm",
        &["-qa", "--queryformat", QUERY_FORMAT],
        cmd::DEFAULT_TIMEOUT,
    )
    .await?;
    parse_qa(&out)
}

/// Newest package install time (ms), from `rpm -qa --queryformat '%{INSTALLTIME}\n'`.
/// Used as "last install" by the dnf/yum and zypper patch sources: every update ends up
/// as an rpm transaction, whichever front end ran it.
pub async fn read_last_install_ms() -> Result<Option<i64>, PlatformError> {
    let out = cmd::run_ok(
        "rpm",
        &["-qa", "--queryformat", INSTALLTIME_FORMAT],
        cmd::DEFAULT_TIMEOUT,
    )
    .await?;
    Ok(parse_install_times(&out))
}

/// Parses the output of `rpm -qa --queryformat` with [`QUERY_FORMAT`] into packages sorted
/// by name (then version and arch). The version is `[epoch:]version-release`; an absent
/// (`(none)`) or zero epoch is omitted, as dnf prints it. `gpg-pubkey` entries (imported
/// signing keys) are kept; their arch `(none)` becomes empty.
pub fn parse_qa(text: &str) -> Result<Vec<Package>, PlatformError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 || f[0].is_empty() {
            return Err(PlatformError::parse(
                SOURCE,
                format!(
                    "line {}: expected 5 tab-separated fields (name, epoch, version, release, arch), got {:?}",
                    i + 1,
                    line
                ),
            ));
        }
        out.push(Package {
            name: f[0].to_string(),
            version: format_evr(f[1], f[2], f[3]),
            arch: none_to_empty(f[4]).to_string(),
            source: "rpm".into(),
        });
    }
    out.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| compare_evr(&a.version, &b.version))
            .then_with(|| a.arch.cmp(&b.arch))
    });
    Ok(out)
}

/// Newest of the `INSTALLTIME` values (seconds) in `text`, as ms. Lines that are not a
/// number (e.g. `(none)`) are skipped.
pub fn parse_install_times(text: &str) -> Option<i64> {
    text.lines()
        .filter_map(|l| l.trim().parse::<i64>().ok())
        .filter(|s| *s > 0)
        .max()
        .map(|s| s * 1000)
}

/// `[epoch:]version-release` as rpm and dnf print it.
pub fn format_evr(epoch: &str, version: &str, release: &str) -> String {
    let epoch = none_to_empty(epoch);
    let release = none_to_empty(release);
    let mut s = String::new();
    if !epoch.is_empty() && epoch != "0" {
        s.push_str(epoch);
        s.push(':');
    }
    s.push_str(none_to_empty(version));
    if !release.is_empty() {
        s.push('-');
        s.push_str(release);
    }
    s
}

fn none_to_empty(s: &str) -> &str {
    let s = s.trim();
    if s == "(none)" {
        ""
    } else {
        s
    }
}

/// Compares two `[epoch:]version[-release]` strings the way rpm does (missing epoch = 0).
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| rpmvercmp(ra, rb))
}

fn split_evr(s: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match s.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, s),
    };
    match rest.rsplit_once('-') {
        Some((v, r)) => (epoch, v, r),
        None => (epoch, rest, ""),
    }
}

/// rpm's version-segment comparison (`rpmvercmp`): alternating runs of digits and letters
/// are compared pairwise, numbers numerically and above letters; `~` sorts before
/// anything (pre-releases), `^` after the base version but before any further segment.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let skip = |s: &mut &[u8]| {
        while let Some(&c) = s.first() {
            if c.is_ascii_alphanumeric() || c == b'~' || c == b'^' {
                break;
            }
            *s = &s[1..];
        }
    };
    loop {
        skip(&mut a);
        skip(&mut b);
        // Tilde: sorts before everything, even the end of the string.
        match (a.first() == Some(&b'~'), b.first() == Some(&b'~')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // Caret: sorts after the end of the string but before any other segment.
        match (a.first() == Some(&b'^'), b.first() == Some(&b'^')) {
            (true, true) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (true, false) => {
                return if b.is_empty() {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, true) => {
                return if a.is_empty() {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            _ => {}
        }
        if a.is_empty() || b.is_empty() {
            break;
        }
        let numeric = a[0].is_ascii_digit();
        let take = |s: &[u8]| -> usize {
            s.iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (na, nb) = (take(a), take(b));
        let (sa, sb) = (&a[..na], &b[..nb]);
        if sb.is_empty() {
            // Segments of different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if numeric {
            let ta = trim_zeros(sa);
            let tb = trim_zeros(sb);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        a = &a[na..];
        b = &b[nb..];
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b'0').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RHEL9: &str = include_str!("../../tests/fixtures/rpm/rpm-qa-rhel9.txt");

    #[test]
    fn parses_a_rhel9_package_list() {
        let pkgs = parse_qa(RHEL9).unwrap();
        assert!(pkgs.len() >= 30, "{}", pkgs.len());
        assert!(pkgs
            .iter()
            .all(|p| p.source == "rpm" && !p.version.is_empty()));
        assert!(pkgs.windows(2).all(|w| w[0].name <= w[1].name));

        let bash = pkgs.iter().find(|p| p.name == "bash").unwrap();
        assert_eq!(bash.version, "5.1.8-6.el9_1");
        assert_eq!(bash.arch, "x86_64");
        // Epochs are kept when set ...
        let ssl = pkgs.iter().find(|p| p.name == "openssl-libs").unwrap();
        assert_eq!(ssl.version, "1:3.0.7-24.el9");
        // ... and omitted when "(none)".
        let tz = pkgs.iter().find(|p| p.name == "tzdata").unwrap();
        assert_eq!(tz.version, "2023d-1.el9");
        assert_eq!(tz.arch, "noarch");
        // Signing keys have no arch.
        let keys: Vec<_> = pkgs.iter().filter(|p| p.name == "gpg-pubkey").collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| k.arch.is_empty()));
        assert!(keys.iter().any(|k| k.version == "fd431d51-4ae0493b"));
        // Two kernels installed side by side, oldest first.
        let kernels: Vec<_> = pkgs.iter().filter(|p| p.name == "kernel-core").collect();
        assert_eq!(kernels.len(), 2);
        assert_eq!(kernels[1].version, "5.14.0-362.18.1.el9_3");
    }

    #[test]
    fn empty_output_crlf_and_garbage() {
        assert!(parse_qa("").unwrap().is_empty());
        assert!(parse_qa("\n\n").unwrap().is_empty());
        let p = parse_qa("zlib\t(none)\t1.2.11\t40.el9\tx86_64\r\n").unwrap();
        assert_eq!(p[0].arch, "x86_64");
        assert_eq!(p[0].version, "1.2.11-40.el9");
        let err = parse_qa("zlib-1.2.11-40.el9.x86_64\n").unwrap_err();
        assert!(err.to_string().contains("rpm -qa"), "{err}");
    }

    #[test]
    fn epoch_and_release_formatting() {
        assert_eq!(format_evr("(none)", "1.0", "1"), "1.0-1");
        assert_eq!(format_evr("0", "1.0", "1"), "1.0-1");
        assert_eq!(format_evr("2", "4.9", "8.el9"), "2:4.9-8.el9");
        assert_eq!(format_evr("(none)", "1.0", "(none)"), "1.0");
    }

    #[test]
    fn install_times_take_the_newest() {
        assert_eq!(
            parse_install_times("1700000000\n1712916000\n(none)\n1600000000\n"),
            Some(1_712_916_000_000)
        );
        assert_eq!(parse_install_times(""), None);
    }

    #[test]
    fn rpm_version_ordering() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1.10", "1.9", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("2.0", "2a", Greater),
            ("001", "1", Equal),
            ("5.14.0-362.24.1.el9_3", "5.14.0-362.18.1.el9_3", Greater),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
        }
        assert_eq!(compare_evr("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare_evr("3.0.7-25.el9_3", "1:3.0.7-24.el9"), Less);
        assert_eq!(compare_evr("1:3.0.7-25.el9_3", "1:3.0.7-24.el9"), Greater);
    }
}
