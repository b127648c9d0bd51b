//! Version ordering for compliance rules: is the installed version of a package older than,
//! the same as, or newer than the version a rule names?
//!
//! Every package manager orders versions its own way, and borrowing the wrong order gives
//! false findings or, worse, misses real ones: `1.0~rc1` is *older* than `1.0` for dpkg and
//! rpm, though plain string comparison and semver both say otherwise; `1.10` is newer than
//! `1.9`; `1:0.5` (epoch 1) is newer than `2.0`. So each version is compared with the
//! algorithm of the tool that installed it, chosen by [`Scheme::for_source`]:
//!
//! - [`Scheme::Deb`]: dpkg's algorithm, the same answers as `dpkg --compare-versions`.
//! - [`Scheme::Rpm`]: rpm's `rpmvercmp` (rpm 4.18) applied to epoch, version and release.
//! - [`Scheme::Generic`]: everything else (Windows uninstall entries, macOS bundles and
//!   receipts, OS versions): `rpmvercmp`'s segment rules on the whole string, except that
//!   trailing zero components don't count (`12` == `12.0`).
//!
//! [`compare`] answers for any pair of strings and never panics: installed versions come from
//! the machines and can't be rejected. Runs of digits are compared as numbers of any length
//! (leading zeros stripped, the longer run is larger, equal lengths compare digit by digit),
//! never parsed into an integer, so 30-digit date stamps or build ids can't overflow.
//!
//! [`valid`] is for versions written by hand in rule files: a typo there should fail when
//! the rules load, not give a rule that silently never matches.
//!
//! # Is it a total order?
//!
//! For [`Scheme::Deb`] and [`Scheme::Generic`], yes: sorting with [`compare`] is safe. For
//! [`Scheme::Rpm`] a release is compared only when *both* sides have one, as rpm does when it
//! matches a dependency: a rule saying `>= 3.0.7` is met by `3.0.7-16.el9`. That makes `1.0`
//! equal to both `1.0-1` and `1.0-2`, which differ from each other, so it is a total order
//! only on values that all have a release (as installed rpm versions do) or all lack one.
//! Don't sort a list that mixes the two with it: `sort_by` may panic on a comparator that
//! isn't a total order.

use std::cmp::Ordering;

/// Which ordering a version follows: the one of the package manager that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian packages (`dpkg`, `apt`): `[epoch:]upstream[-revision]`, dpkg's order.
    Deb,
    /// RPM packages (`rpm`, `dnf`, `yum`, `zypper`): `[epoch:]version[-release]`,
    /// `rpmvercmp`'s order.
    Rpm,
    /// Anything else: Windows registry entries (`10.0.22631.3447`, `23H2`), macOS apps and
    /// receipts (`14.4.1`), browsers (`124.0.6367.91`), OS versions (`12`, `22.04`).
    Generic,
}

impl Scheme {
    /// The scheme for a package `source` as the agent reports it (`dpkg`, `rpm`,
    /// `windows-registry`, `macos-app`, `pkgutil`, ...); OS versions and every unknown
    /// source get [`Scheme::Generic`]. ASCII case and surrounding whitespace are ignored.
    pub fn for_source(package_source: &str) -> Scheme {
        let source = package_source.trim();
        let is = |name: &str| source.eq_ignore_ascii_case(name);
        if is("dpkg") || is("apt") {
            Scheme::Deb
        } else if is("rpm") || is("dnf") || is("yum") || is("zypper") {
            Scheme::Rpm
        } else {
            Scheme::Generic
        }
    }
}

/// Orders version `a` against version `b` under `scheme` (`Less`: `a` is older).
///
/// Total over all strings: a version the package manager itself would reject still gets an
/// answer (see each scheme for how). Use [`valid`] to reject bad versions in rule files.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Ordering {
    match scheme {
        Scheme::Deb => deb_compare(a, b),
        Scheme::Rpm => rpm_compare(a, b),
        Scheme::Generic => generic_compare(a, b),
    }
}

/// Checks a version written in a rule file: `Err` says what is wrong with it.
///
/// All schemes: not empty, no whitespace, no control characters.
///
/// [`Scheme::Deb`] follows dpkg's parser (what it rejects, this rejects; what it only warns
/// about, this rejects too, except an upstream version starting with a letter):
/// - an epoch, if there is a `:`, is a decimal number up to 2^31-1 and is followed by
///   something;
/// - the upstream version (before the last `-`) is not empty, starts with a digit or a
///   letter (Debian policy wants a digit; dpkg only warns) and has only `A-Za-z0-9.+~-:`;
/// - the revision (after the last `-`), if there is a `-`, is not empty and has only
///   `A-Za-z0-9.+~`.
///
/// [`Scheme::Rpm`] follows what `rpmbuild` allows in the Epoch, Version and Release tags:
/// - an epoch, if there is a `:`, is a decimal number that fits in 32 bits, and there is
///   only that one `:`;
/// - at most one `-` (neither version nor release may contain one), with a non-empty version
///   before it and a non-empty release after it;
/// - version and release have only ASCII letters, digits and `._+~^`.
///
/// [`Scheme::Generic`]: nothing more; any other text compares somehow.
pub fn valid(scheme: Scheme, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("version is empty".to_string());
    }
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "version {v:?} contains whitespace or a control character ({c:?})"
        ));
    }
    match scheme {
        Scheme::Deb => valid_deb(v),
        Scheme::Rpm => valid_rpm(v),
        Scheme::Generic => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Numbers

/// Compares two runs of ASCII digits as the numbers they spell, whatever their length:
/// leading zeros don't count, then the longer run is the larger number, then digit order
/// decides. Both dpkg and rpm compare digit runs this way (neither parses them into an
/// integer), and so does this module everywhere, epochs included.
fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip_leading_zeros(a), strip_leading_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn strip_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

// ---------------------------------------------------------------------------------------
// Deb: dpkg (lib/dpkg/parsehelp.c parseversion, lib/dpkg/version.c verrevcmp)

/// A Debian version split as dpkg's `parseversion` does.
struct DebParts<'a> {
    /// The digits before the first `:`, or empty (= 0) when there is no epoch.
    epoch: &'a [u8],
    upstream: &'a [u8],
    /// After the last `-`; empty when there is none (dpkg's default, which equals `0`).
    revision: &'a [u8],
}

/// Splits like dpkg: surrounding whitespace is dropped; the epoch ends at the *first* `:`
/// and the revision starts after the *last* `-` (so `0:1:2-3-4` has upstream `1:2-3`).
/// Where dpkg would refuse the epoch (not a number: `a:1`, `-1:0`, `:1`) the whole string is
/// taken as the upstream version with epoch 0, so the comparison still answers.
fn deb_split(v: &str) -> DebParts<'_> {
    let v = v.trim_ascii().as_bytes();
    let (epoch, rest) = match v.iter().position(|&c| c == b':') {
        Some(i) if i > 0 && v[..i].iter().all(u8::is_ascii_digit) => (&v[..i], &v[i + 1..]),
        _ => (&v[..0], v),
    };
    let (upstream, revision) = match rest.iter().rposition(|&c| c == b'-') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    DebParts {
        epoch,
        upstream,
        revision,
    }
}

/// dpkg's `dpkg_version_compare`: epoch as a number, then upstream, then revision, each with
/// [`verrevcmp`]. A missing revision is the empty string, so `1.0` == `1.0-0` == `1.0-`.
fn deb_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (deb_split(a), deb_split(b));
    cmp_digits(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// dpkg's `order()`: the weight of one character of a non-digit run; `None` is the end of
/// the string. `~` sorts before everything, even the end (so `1.0~rc1` < `1.0`); then the end
/// and digits (a digit ends a non-digit run); then letters, in ASCII order; then every other
/// character, in byte order.
///
/// dpkg reads the byte as a C `char`, which is signed on amd64 and i386, so a byte >= 0x80
/// is a negative number there and weighs `(byte - 256) + 256`, its unsigned value: after the
/// letters (65..=122) but before ASCII punctuation (byte + 256). That is reproduced here
/// (checked against dpkg on amd64); dpkg flags such versions as invalid anyway.
fn deb_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision): alternately a run of non-digits,
/// compared character by character with [`deb_order`], and a run of digits, compared as a
/// number ([`cmp_digits`]; an empty run counts as 0).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (deb_order(a.get(i).copied()), deb_order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            // Equal weights here are never 0 (one side is a non-digit, whose weight isn't 0),
            // so neither index steps past the end.
            i += 1;
            j += 1;
        }
        let ord = cmp_digits(digit_run(a, &mut i), digit_run(b, &mut j));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// The run of ASCII digits starting at `*at` (possibly empty); moves `*at` past it.
fn digit_run<'a>(s: &'a [u8], at: &mut usize) -> &'a [u8] {
    let start = (*at).min(s.len());
    let len = s[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    *at = start + len;
    &s[start..start + len]
}

fn valid_deb(v: &str) -> Result<(), String> {
    let rest = match v.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() {
                return Err(format!("version {v:?}: the epoch before ':' is empty"));
            }
            if !epoch.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "version {v:?}: epoch {epoch:?} is not a non-negative decimal number"
                ));
            }
            // dpkg stores the epoch in an int and refuses anything larger.
            if epoch.parse::<i32>().is_err() {
                return Err(format!("version {v:?}: epoch {epoch:?} is too big"));
            }
            if rest.is_empty() {
                return Err(format!("version {v:?}: nothing after the epoch's ':'"));
            }
            rest
        }
        None => v,
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    if upstream.is_empty() {
        return Err(format!("version {v:?}: the upstream version is empty"));
    }
    if !upstream.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "version {v:?}: the upstream version {upstream:?} must start with a digit (or a letter)"
        ));
    }
    if let Some(c) = upstream
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(c)))
    {
        return Err(format!(
            "version {v:?}: {c:?} is not allowed in an upstream version (A-Za-z0-9.+~-:)"
        ));
    }
    if let Some(revision) = revision {
        if revision.is_empty() {
            return Err(format!("version {v:?}: the revision after '-' is empty"));
        }
        if let Some(c) = revision
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || ".+~".contains(c)))
        {
            return Err(format!(
                "version {v:?}: {c:?} is not allowed in a Debian revision (A-Za-z0-9.+~)"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Rpm: rpm (rpmio/rpmver.c parseEVR and rpmverOverlap, rpmvercmp)

/// An EVR split as rpm's `parseEVR` does.
struct RpmParts<'a> {
    /// The digits before a `:` that follows them directly; empty (= 0) when there is none.
    epoch: &'a [u8],
    version: &'a [u8],
    /// After the last `-`, if there is one.
    release: Option<&'a [u8]>,
}

/// Splits like rpm: the epoch is the leading digits if a `:` follows them (`:1.0` has epoch
/// 0; in `a:1.0` the `:` is just a separator inside the version), the release is what
/// follows the last `-`.
/// Whether an rpm version has a release (`3.0.7-16.el9`; `3.0.7` has none): the rpm order
/// is total on versions that all have one or all lack one (see the module docs).
pub fn rpm_has_release(v: &str) -> bool {
    rpm_split(v).release.is_some_and(|r| !r.is_empty())
}

fn rpm_split(v: &str) -> RpmParts<'_> {
    let v = v.as_bytes();
    let digits = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let (epoch, rest) = if v.get(digits) == Some(&b':') {
        (&v[..digits], &v[digits + 1..])
    } else {
        (&v[..0], v)
    };
    let (version, release) = match rest.iter().rposition(|&c| c == b'-') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    RpmParts {
        epoch,
        version,
        release,
    }
}

/// Epoch as a number (missing = 0), then [`rpmvercmp`] on the versions, then on the releases
/// only if both have a non-empty one, as rpm does when it matches a dependency: a rule naming
/// `3.0.7` means any release of it (see the module docs for what that does to sorting).
fn rpm_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (rpm_split(a), rpm_split(b));
    cmp_digits(a.epoch, b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| match (a.release, b.release) {
            (Some(ra), Some(rb)) if !ra.is_empty() && !rb.is_empty() => rpmvercmp(ra, rb),
            _ => Ordering::Equal,
        })
}

/// rpm's `rpmvercmp`: both strings are cut into segments ([`Segments`]) and compared
/// segment by segment ([`cmp_segments`]).
fn rpmvercmp(a: &[u8], b: &[u8]) -> Ordering {
    cmp_segments(Segments::new(a), Segments::new(b))
}

/// A segment of an rpm-style version. Everything that is not an ASCII letter, an ASCII
/// digit, `~` or `^` only separates segments and is otherwise ignored (`2.0` == `2_0`,
/// `1.1.α` == `1.1.β`, as in rpm).
#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    /// `~`: sorts before anything, the end of the version included (`1.0~rc1` < `1.0`).
    Tilde,
    /// `^`: sorts after the end of the version but before any other segment
    /// (`1.0` < `1.0^git1` < `1.0.1`).
    Caret,
    /// A maximal run of ASCII letters, compared byte by byte (so case-sensitively).
    Alpha(&'a [u8]),
    /// A maximal run of ASCII digits, compared as a number; newer than any [`Seg::Alpha`].
    Num(&'a [u8]),
}

/// The [`Seg`]ments of a version, left to right.
struct Segments<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Segments<'a> {
    fn new(s: &'a [u8]) -> Self {
        Segments { s, at: 0 }
    }

    /// Moves past the run of bytes matching `pred` starting at `self.at`, returning it.
    fn run(&mut self, pred: fn(&u8) -> bool) -> &'a [u8] {
        let s = self.s;
        let start = self.at;
        let len = s[start..].iter().take_while(|c| pred(c)).count();
        self.at = start + len;
        &s[start..start + len]
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Seg<'a>;

    fn next(&mut self) -> Option<Seg<'a>> {
        self.run(|&c| !(c.is_ascii_alphanumeric() || c == b'~' || c == b'^'));
        let c = *self.s.get(self.at)?;
        Some(match c {
            b'~' => {
                self.at += 1;
                Seg::Tilde
            }
            b'^' => {
                self.at += 1;
                Seg::Caret
            }
            c if c.is_ascii_digit() => Seg::Num(self.run(u8::is_ascii_digit)),
            _ => Seg::Alpha(self.run(u8::is_ascii_alphabetic)),
        })
    }
}

/// `rpmvercmp`'s loop over segments (`None` is the end of a version). It amounts to comparing
/// the sequences lexicographically with `~` < end < `^` < letters < digits, which is why it
/// is a total order.
fn cmp_segments<'a>(
    mut a: impl Iterator<Item = Seg<'a>>,
    mut b: impl Iterator<Item = Seg<'a>>,
) -> Ordering {
    use Ordering::{Equal, Greater, Less};
    loop {
        let ord = match (a.next(), b.next()) {
            (None, None) => return Equal,
            (Some(Seg::Tilde), Some(Seg::Tilde)) | (Some(Seg::Caret), Some(Seg::Caret)) => Equal,
            (Some(Seg::Tilde), _) => Less,
            (_, Some(Seg::Tilde)) => Greater,
            (Some(Seg::Caret), None) => Greater,
            (None, Some(Seg::Caret)) => Less,
            (Some(Seg::Caret), Some(_)) => Less,
            (Some(_), Some(Seg::Caret)) => Greater,
            // Whichever still has segments left is newer (`2.0.1a` > `2.0.1`).
            (None, Some(_)) => Less,
            (Some(_), None) => Greater,
            (Some(Seg::Num(x)), Some(Seg::Num(y))) => cmp_digits(x, y),
            (Some(Seg::Alpha(x)), Some(Seg::Alpha(y))) => x.cmp(y),
            // A number is newer than letters in the same place (`8` > `xyz.4`).
            (Some(Seg::Num(_)), Some(Seg::Alpha(_))) => Greater,
            (Some(Seg::Alpha(_)), Some(Seg::Num(_))) => Less,
        };
        if ord != Equal {
            return ord;
        }
    }
}

fn valid_rpm(v: &str) -> Result<(), String> {
    let rest = match v.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() {
                return Err(format!("version {v:?}: the epoch before ':' is empty"));
            }
            if !epoch.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!(
                    "version {v:?}: epoch {epoch:?} is not a non-negative decimal number"
                ));
            }
            // rpm's Epoch tag is a 32-bit unsigned integer.
            if epoch.parse::<u32>().is_err() {
                return Err(format!("version {v:?}: epoch {epoch:?} is too big"));
            }
            if rest.contains(':') {
                return Err(format!(
                    "version {v:?}: ':' may appear only once, after the epoch"
                ));
            }
            rest
        }
        None => v,
    };
    let (version, release) = match rest.split_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    if version.is_empty() {
        return Err(format!("version {v:?}: the version part is empty"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._+~^".contains(c);
    if let Some(c) = version.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "version {v:?}: {c:?} is not allowed in an rpm version (A-Za-z0-9._+~^)"
        ));
    }
    if let Some(release) = release {
        if release.is_empty() {
            return Err(format!("version {v:?}: the release after '-' is empty"));
        }
        if release.contains('-') {
            return Err(format!(
                "version {v:?}: more than one '-' (neither version nor release may contain one)"
            ));
        }
        if let Some(c) = release.chars().find(|&c| !allowed(c)) {
            return Err(format!(
                "version {v:?}: {c:?} is not allowed in an rpm release (A-Za-z0-9._+~^)"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Generic

/// `rpmvercmp` on the whole string (no epoch or release: a `:` or `-` is just a separator,
/// so `5.15.0-101-generic` > `5.15.0-91-generic`), after dropping insignificant zeros.
///
/// Trailing zero components are insignificant: in each run of numeric segments separated
/// only by punctuation (`10.0.22631.0`, the `14.0` of `14.0~beta`), zeros at the end of the
/// run are dropped, keeping at least its first number. So `12` == `12.0` == `12.0.0` (OS
/// versions written both ways mean the same release) while `14.4.1` > `14.4` and
/// `10.0.22631` > `10.0.19045` as usual, `14.0~beta` < `14` (like `14.0~beta` < `14.0`), and
/// `0` stays `0`. Plain rpm would call `12.0` newer than `12`. Because this only rewrites each
/// version before the (total) `rpmvercmp` order, the result is still a total order.
///
/// Inherited from rpm: letters compare case-sensitively in ASCII order (`23H2` < `24H2`,
/// but `23H2` < `23h2`); a number is newer than letters in the same place (`1.0` > `1.a`);
/// non-ASCII characters only separate segments. No scheme can know that Windows' display
/// version `1809` (YYMM) predates `21H2`: numerically 1809 > 21, so rules spanning both
/// naming eras should name build numbers (`10.0.17763`) instead.
fn generic_compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (generic_segments(a), generic_segments(b));
    cmp_segments(a.into_iter(), b.into_iter())
}

/// The segments of `v` with each numeric run's trailing zeros dropped (see
/// [`generic_compare`]).
fn generic_segments(v: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    // How many numeric segments end `out`: the run still open.
    let mut run = 0;
    for seg in Segments::new(v.as_bytes()) {
        if let Seg::Num(_) = seg {
            run += 1;
        } else {
            drop_trailing_zeros(&mut out, run);
            run = 0;
        }
        out.push(seg);
    }
    drop_trailing_zeros(&mut out, run);
    out
}

/// Pops zero segments off the end of `out`, which ends with a run of `run` numeric segments,
/// keeping the run's first one.
fn drop_trailing_zeros(out: &mut Vec<Seg<'_>>, mut run: usize) {
    while run > 1 && matches!(out.last(), Some(Seg::Num(d)) if strip_leading_zeros(d).is_empty()) {
        out.pop();
        run -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// `(a, b, expected)`: expected is -1, 0 or 1 for `a` older, equal, newer.
    type Case = (&'static str, &'static str, i8);

    fn expected(e: i8) -> Ordering {
        e.cmp(&0)
    }

    /// dpkg: scripts/t/Dpkg_Version.t (every row of its table), lib/dpkg/t/t-version.c
    /// (compare and parse sections), then real-world Debian/Ubuntu versions and long digit
    /// runs. Every row was checked with `dpkg --compare-versions` 1.21.22, except those it
    /// now refuses as bad syntax (an empty revision `0foo-`, an empty upstream `-0.6.5`, an
    /// epoch over INT_MAX): those keep the answer of Dpkg_Version.t and older dpkg.
    const DEB: &[Case] = &[
        // scripts/t/Dpkg_Version.t
        ("1.0-1", "2.0-2", -1),
        ("2.2~rc-4", "2.2-1", -1),
        ("2.2-1", "2.2~rc-4", 1),
        ("1.0000-1", "1.0-1", 0),
        ("1", "0:1", 0),
        ("0", "0:0-0", 0),
        ("2:2.5", "1:7.5", 1),
        ("1:0foo", "0foo", 1),
        ("0:0foo", "0foo", 0),
        ("0foo", "0foo", 0),
        ("0foo-", "0foo", 0),
        ("0foo-", "0foo-0", 0),
        ("0foo", "0fo", 1),
        ("0foo-", "0foo+", -1),
        ("0foo~1", "0foo", -1),
        ("0foo~foo+Bar", "0foo~foo+bar", -1),
        ("0foo~~", "0foo~", -1),
        ("1~", "1", -1),
        (
            "12345+that-really-is-some-ver-0",
            "12345+that-really-is-some-ver-10",
            -1,
        ),
        ("0foo-0", "0foo-01", -1),
        ("0foo.bar", "0foobar", 1),
        ("0foo.bar", "0foo1bar", 1),
        ("0foo.bar", "0foo0bar", 1),
        ("0foo1bar-1", "0foobar-1", -1),
        ("0foo2.0", "0foo2", 1),
        ("0foo2.0.0", "0foo2.10.0", -1),
        ("0foo2.0", "0foo2.0.0", -1),
        ("0foo2.0", "0foo2.10", -1),
        ("0foo2.1", "0foo2.10", -1),
        ("1.09", "1.9", 0),
        ("1.0.8+nmu1", "1.0.8", 1),
        ("3.11", "3.10+nmu1", 1),
        ("0.9j-20080306-4", "0.9i-20070324-2", 1),
        ("1.2.0~b7-1", "1.2.0~b6-1", 1),
        ("1.011-1", "1.06-2", 1),
        ("0.0.9+dfsg1-1", "0.0.8+dfsg1-3", 1),
        ("4.6.99+svn6582-1", "4.6.99+svn6496-1", 1),
        ("53", "52", 1),
        ("0.9.9~pre122-1", "0.9.9~pre111-1", 1),
        ("2:2.3.2-2+lenny2", "2:2.3.2-2", 1),
        ("1:3.8.1-1", "3.8.GA-1", 1),
        ("1.0.1+gpl-1", "1.0.1-2", 1),
        ("1a", "1000a", -1),
        ("-0.6.5", "0.9.1", -1),
        // lib/dpkg/t/t-version.c
        ("0-0", "0-0", 0),
        ("0-00", "00-0", 0),
        ("1:2-3", "1:2-3", 0),
        ("0-0", "1:0-0", -1),
        ("a-0", "b-0", -1),
        ("0-a", "0-b", -1),
        ("1-1", "2-1", -1),
        ("1-1", "1-2", -1),
        ("0:0-", "0", 0),
        ("0:0.0-0.0", "0.0-0.0", 0),
        ("5:1", "5:1-0", 0),
        ("0:0-0-0", "0-0-0", 0),
        ("0:0-0-0-0", "0-0-0-0", 0),
        ("0:0:0-0", "0:0-0", 1),
        ("0:0:0:0-0", "0:0:0-0", 1),
        ("0:0-0:0-0", "0:0:0-0-0", -1),
        ("0:09azAZ.-+~:-0", "0:09azAZ.-+~:-0", 0),
        ("0:0-azAZ09.+~", "0-azAZ09.+", -1),
        ("  \t0:0-1", "0:0-1\t  ", 0),
        // Everyday Debian/Ubuntu versions.
        ("1.0~rc1", "1.0", -1),
        ("1.0~rc1", "1.0~beta2", 1),
        ("1:0.5", "2.0", 1),
        ("1.2-3", "1.2-3~bpo1", 1),
        ("1.2-3~bpo1", "1.2-2", 1),
        ("0.0.0.1", "0.0.0.01", 0),
        ("1.0", "1.0.0", -1),
        ("2.6.32-5-amd64", "2.6.32-5-686", 1),
        ("2.6.32-5-amd64", "2.6.32-48squeeze6", 1),
        ("2.6.32-5", "2.6.32-5-amd64", -1),
        ("1.0+dfsg1-1", "1.0-1", 1),
        ("1.0+dfsg1-1", "1.0.1-1", -1),
        ("1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", -1),
        ("3.0.11-1~deb12u2", "3.0.11-1", -1),
        ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1", 1),
        ("2:8.2.3995-1ubuntu2.15", "2:8.2.3995-1ubuntu2.9", 1),
        ("3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.10", 1),
        ("7.81.0-1ubuntu1.16", "7.81.0-1ubuntu1.4", 1),
        ("1:9.18.24-1", "9.18.28-1", 1),
        ("5.15.0-101.111", "5.15.0-91.101", 1),
        ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
        ("1.0-1ubuntu1", "1.0-1", 1),
        ("1.0-1build1", "1.0-1+b1", -1),
        // Digit runs longer than any integer type.
        (
            "123456789012345678901234567890",
            "123456789012345678901234567891",
            -1,
        ),
        ("1.000000000000000000000000000001", "1.1", 0),
        (
            "1.999999999999999999999999999999",
            "1.1000000000000000000000000000000",
            -1,
        ),
        (
            "1.0-123456789012345678901234567890",
            "1.0-99999999999999999999999999999",
            1,
        ),
        // Epochs past INT_MAX (dpkg refuses them) still compare as numbers.
        (
            "99999999999999999999999999999:1.0",
            "99999999999999999999999999998:9.0",
            1,
        ),
        ("000000000000000000000000000001:1.0", "1:1.0", 0),
    ];

    /// rpm: tests/rpmvercmp.at (every row, the documented "oddities" included), then EVRs
    /// as installed on RHEL/Fedora/SUSE, and long digit runs.
    const RPM: &[Case] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "1.0", 1),
        ("2.0.1", "2.0.1", 0),
        ("2.0", "2.0.1", -1),
        ("2.0.1", "2.0", 1),
        ("2.0.1a", "2.0.1a", 0),
        ("2.0.1a", "2.0.1", 1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p1", 0),
        ("5.5p1", "5.5p2", -1),
        ("5.5p2", "5.5p1", 1),
        ("5.5p10", "5.5p10", 0),
        ("5.5p1", "5.5p10", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("10.1xyz", "10xyz", 1),
        ("xyz10", "xyz10", 0),
        ("xyz10", "xyz10.1", -1),
        ("xyz10.1", "xyz10", 1),
        ("xyz.4", "xyz.4", 0),
        ("xyz.4", "8", -1),
        ("8", "xyz.4", 1),
        ("xyz.4", "2", -1),
        ("2", "xyz.4", 1),
        ("5.5p2", "5.6p1", -1),
        ("5.6p1", "5.5p2", 1),
        ("5.6p1", "6.5p1", -1),
        ("6.5p1", "5.6p1", 1),
        ("6.0.rc1", "6.0", 1),
        ("6.0", "6.0.rc1", -1),
        ("10b2", "10a1", 1),
        ("10a2", "10b2", -1),
        ("1.0aa", "1.0aa", 0),
        ("1.0a", "1.0aa", -1),
        ("1.0aa", "1.0a", 1),
        ("10.0001", "10.0001", 0),
        ("10.0001", "10.1", 0),
        ("10.1", "10.0001", 0),
        ("10.0001", "10.0039", -1),
        ("10.0039", "10.0001", 1),
        ("4.999.9", "5.0", -1),
        ("5.0", "4.999.9", 1),
        ("20101121", "20101121", 0),
        ("20101121", "20101122", -1),
        ("20101122", "20101121", 1),
        ("2_0", "2_0", 0),
        ("2.0", "2_0", 0),
        ("2_0", "2.0", 0),
        ("a", "a", 0),
        ("a+", "a+", 0),
        ("a+", "a_", 0),
        ("a_", "a+", 0),
        ("+a", "+a", 0),
        ("+a", "_a", 0),
        ("_a", "+a", 0),
        ("+_", "+_", 0),
        ("_+", "+_", 0),
        ("_+", "_+", 0),
        ("+", "_", 0),
        ("_", "+", 0),
        ("1.0~rc1", "1.0~rc1", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc2", "1.0~rc1", 1),
        ("1.0~rc1~git123", "1.0~rc1~git123", 0),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~rc1", "1.0~rc1~git123", 1),
        ("1.0^", "1.0^", 0),
        ("1.0^", "1.0", 1),
        ("1.0", "1.0^", -1),
        ("1.0^git1", "1.0^git1", 0),
        ("1.0^git1", "1.0", 1),
        ("1.0", "1.0^git1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git2", "1.0^git1", 1),
        ("1.0^git1", "1.01", -1),
        ("1.01", "1.0^git1", 1),
        ("1.0^20160101", "1.0^20160101", 0),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0.1", "1.0^20160101", 1),
        ("1.0^20160101^git1", "1.0^20160101^git1", 0),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0^20160101^git1", "1.0^20160102", -1),
        ("1.0~rc1^git1", "1.0~rc1^git1", 0),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc1^git1", -1),
        ("1.0^git1~pre", "1.0^git1~pre", 0),
        ("1.0^git1", "1.0^git1~pre", 1),
        ("1.0^git1~pre", "1.0^git1", -1),
        // rpmvercmp.at's "oddities": kept as rpm behaves.
        ("1b.fc17", "1b.fc17", 0),
        ("1b.fc17", "1.fc17", -1),
        ("1.fc17", "1b.fc17", 1),
        ("1g.fc17", "1g.fc17", 0),
        ("1g.fc17", "1.fc17", 1),
        ("1.fc17", "1g.fc17", -1),
        ("1.1.α", "1.1.α", 0),
        ("1.1.α", "1.1.β", 0),
        ("1.1.β", "1.1.α", 0),
        ("1.1.αα", "1.1.α", 0),
        ("1.1.α", "1.1.ββ", 0),
        ("1.1.ββ", "1.1.αα", 0),
        // Epoch, version, release.
        ("1.0", "1.0a", -1),
        ("1:1.0", "2.0", 1),
        ("0:1.0", "1.0", 0),
        (":1.0", "1.0", 0),
        ("1:1.0-1", "1:1.0-1", 0),
        ("2:1.0", "1:9.0", 1),
        ("1:3.0.7-1.el9", "3.0.8-1.el9", 1),
        ("1.0-1.el9", "1.0-2.el9", -1),
        ("1.0-10.el9", "1.0-9.el9", 1),
        ("1.0-1.el9", "1.0.1-1.el9", -1),
        ("4.18.0-513.5.1.el9_3", "4.18.0-513.24.1.el9_3", -1),
        ("4.18.0-513.24.1.el9_3", "4.18.0-477.27.1.el9_2", 1),
        ("5.14.0-362.24.1.el9_3", "5.14.0-362.8.1.el9_3", 1),
        ("3.0.7-16.el9_2", "3.0.7-24.el9", -1),
        ("3.0.7-24.el9", "3.0.7", 0),
        ("3.0.7", "3.0.7-1", 0),
        ("3.0.7", "3.0.8-1", -1),
        ("1.0-", "1.0-5", 0),
        ("2.9.14-150400.5.25.1", "2.9.14-150400.5.3.1", 1),
        ("1.2.3-1.fc40", "1.2.3-1.fc39", 1),
        ("1.0-1.el9", "1.0-1.el9_1", -1),
        ("0.9.8~rc1-1", "0.9.8-1", -1),
        // Digit runs longer than any integer type.
        (
            "1.123456789012345678901234567890",
            "1.123456789012345678901234567891",
            -1,
        ),
        ("1.000000000000000000000000000001", "1.1", 0),
        (
            "99999999999999999999999999999:1.0",
            "99999999999999999999999999998:9.0",
            1,
        ),
        (
            "1.0-123456789012345678901234567890",
            "1.0-99999999999999999999999999999",
            1,
        ),
    ];

    /// Everything else: Windows, macOS, browsers, OS versions; trailing zeros.
    const GENERIC: &[Case] = &[
        // Windows build numbers (UBR after the last dot) and display versions.
        ("10.0.22631.3447", "10.0.22631.3296", 1),
        ("10.0.22631", "10.0.19045", 1),
        ("10.0.19045.4291", "10.0.22000.1", -1),
        ("10.0.22631.3447", "10.0.22631", 1),
        ("10.0.22631.0", "10.0.22631", 0),
        ("10.0.17763.5696", "10.0.20348.2402", -1),
        ("6.3.9600", "10.0.10240", -1),
        ("23H2", "22H2", 1),
        ("24H2", "23H2", 1),
        ("21H2", "22H2", -1),
        ("22H2", "22H2", 0),
        // Known limitation: the older YYMM names compare as numbers, above the YYH# ones
        // (1809 > 21). Rules should use build numbers (10.0.17763) to span both eras.
        ("1809", "21H2", 1),
        // macOS.
        ("14.4.1", "14.4", 1),
        ("14.4", "14.3.9", 1),
        ("14.4.1", "14.3.9", 1),
        ("14.0", "14", 0),
        ("14.0.0", "14", 0),
        ("13.6.6", "14.0", -1),
        ("10.15.7", "11.0", -1),
        ("11.7.10", "11.7.9", 1),
        // Browsers and applications.
        ("124.0.6367.91", "124.0.6367.207", -1),
        ("124.0.6367.91", "125.0.6422.60", -1),
        ("124.0.6367.91", "124.0.6367.91", 0),
        ("124.0.2478.80", "124.0.2478.109", -1),
        ("7.4.2", "7.10.0", -1),
        ("3.12.2150.0", "3.12.2150", 0),
        ("17.0.10+7", "17.0.9+9", 1),
        ("1.10", "1.9", 1),
        ("1.9", "1.10", -1),
        ("2.0", "2.0a", -1),
        // OS versions.
        ("12", "12.0", 0),
        ("12", "11.9", 1),
        ("22.04", "24.04", -1),
        ("22.04", "20.04", 1),
        ("9.4", "9.3", 1),
        ("9.4", "8.10", 1),
        ("9.4", "9.10", -1),
        ("5.15.0-101-generic", "5.15.0-91-generic", 1),
        // Trailing zeros are dropped only at the end of a numeric run.
        ("0", "0.0", 0),
        ("0", "", 1),
        ("1.0.1", "1.0", 1),
        ("1.0.1", "1", 1),
        ("1.0.0.0.0", "1", 0),
        ("1.00", "1", 0),
        ("10", "1.0", 1),
        ("1.0.2", "1.2", -1),
        ("14.0~beta", "14", -1),
        ("14.0~beta", "14.0", -1),
        ("14~beta", "14.0~beta", 0),
        ("1.0^git1", "1^git1", 0),
        ("1.0a", "1a", 0),
        ("1.0a", "1", 1),
        ("1.0.a", "1.0.1", -1),
        ("1a0", "1a", 1),
        // rpm rules otherwise.
        ("1.0~rc1", "1.0", -1),
        ("6.0.rc1", "6.0", 1),
        ("1.0^git1", "1.01", -1),
        ("2_0", "2.0", 0),
        ("v1.2", "1.2", -1),
        // Digit runs longer than any integer type.
        (
            "123456789012345678901234567890",
            "123456789012345678901234567891",
            -1,
        ),
        ("2.000000000000000000000000000001", "2.1", 0),
        (
            "20240101123456789012345678901234",
            "2024010112345678901234567890123",
            1,
        ),
    ];

    fn table(scheme: Scheme) -> &'static [Case] {
        match scheme {
            Scheme::Deb => DEB,
            Scheme::Rpm => RPM,
            Scheme::Generic => GENERIC,
        }
    }

    const SCHEMES: [Scheme; 3] = [Scheme::Deb, Scheme::Rpm, Scheme::Generic];

    fn check_table(scheme: Scheme) {
        let mut failures = Vec::new();
        for &(a, b, e) in table(scheme) {
            let got = compare(scheme, a, b);
            if got != expected(e) {
                failures.push(format!(
                    "{a:?} vs {b:?}: got {got:?}, want {:?}",
                    expected(e)
                ));
            }
        }
        assert!(failures.is_empty(), "{scheme:?}:\n{}", failures.join("\n"));
    }

    #[test]
    fn deb_table() {
        check_table(Scheme::Deb);
    }

    #[test]
    fn rpm_table() {
        check_table(Scheme::Rpm);
    }

    #[test]
    fn generic_table() {
        check_table(Scheme::Generic);
    }

    #[test]
    fn tables_are_large_enough() {
        assert!(DEB.len() >= 40 && RPM.len() >= 40 && GENERIC.len() >= 40);
    }

    /// Every distinct version of a scheme's table.
    fn versions(scheme: Scheme) -> Vec<&'static str> {
        let mut v: Vec<&str> = table(scheme).iter().flat_map(|&(a, b, _)| [a, b]).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn antisymmetric_and_reflexive_over_every_pair_of_every_table() {
        for scheme in SCHEMES {
            for &a in &versions(scheme) {
                assert_eq!(compare(scheme, a, a), Equal, "{scheme:?} {a:?}");
                for &b in &versions(scheme) {
                    assert_eq!(
                        compare(scheme, a, b),
                        compare(scheme, b, a).reverse(),
                        "{scheme:?} {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    /// `n` generated versions built from the characters the schemes treat specially
    /// (epochs, `~`, `^`, `+`, `-`, `.`, letters, runs of digits with leading zeros), by a
    /// fixed-seed generator so a failure reproduces.
    fn generated(n: usize, seed: u64) -> Vec<String> {
        let mut x = seed;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        const PARTS: &[&str] = &[
            "0",
            "1",
            "2",
            "9",
            "10",
            "01",
            "007",
            "99999999999999999999",
            "a",
            "b",
            "rc",
            "Z",
            ".",
            ".",
            "-",
            "~",
            "^",
            "+",
            ":",
            "_",
            "1:",
            "el9",
            "deb12u",
        ];
        let mut out: Vec<String> = (0..n)
            .map(|_| {
                let len = 1 + next(7) as usize;
                (0..len)
                    .map(|_| PARTS[next(PARTS.len() as u64) as usize])
                    .collect()
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// `scheme` is a total order on `v`: reflexive and antisymmetric over every pair; over
    /// every triple `a <= b <= c` implies `a <= c`, and `a == b` implies `a` and `b` compare
    /// alike with everything.
    fn assert_total_order<S: AsRef<str> + std::fmt::Debug>(scheme: Scheme, v: &[S]) {
        let cmp: Vec<Vec<Ordering>> = v
            .iter()
            .map(|a| {
                v.iter()
                    .map(|b| compare(scheme, a.as_ref(), b.as_ref()))
                    .collect()
            })
            .collect();
        let n = v.len();
        for a in 0..n {
            assert_eq!(cmp[a][a], Equal, "{scheme:?} {:?}", v[a]);
            for b in 0..n {
                assert_eq!(
                    cmp[a][b],
                    cmp[b][a].reverse(),
                    "{scheme:?} {:?} {:?}",
                    v[a],
                    v[b]
                );
                for c in 0..n {
                    if cmp[a][b] != Greater && cmp[b][c] != Greater {
                        assert_ne!(
                            cmp[a][c], Greater,
                            "{scheme:?}: {:?} <= {:?} <= {:?}",
                            v[a], v[b], v[c]
                        );
                    }
                    if cmp[a][b] == Equal {
                        assert_eq!(
                            cmp[a][c], cmp[b][c],
                            "{scheme:?}: {:?} == {:?}, vs {:?}",
                            v[a], v[b], v[c]
                        );
                    }
                }
            }
        }
    }

    /// A total order on generated versions (for rpm within each of the two groups on which
    /// it is one: all with a release, all without).
    #[test]
    fn a_total_order_on_generated_versions() {
        for seed in [1, 0x9e37_79b9_7f4a_7c15] {
            let v = generated(160, seed);
            assert_total_order(Scheme::Deb, &v);
            assert_total_order(Scheme::Generic, &v);
            let (with, without): (Vec<String>, Vec<String>) =
                v.iter().cloned().partition(|s| rpm_has_release(s));
            assert_total_order(Scheme::Rpm, &with);
            assert_total_order(Scheme::Rpm, &without);
        }
    }

    /// Deb and Generic are total orders on their tables, so sorting with them is safe.
    #[test]
    fn deb_and_generic_are_transitive_over_their_tables() {
        for scheme in [Scheme::Deb, Scheme::Generic] {
            let v = versions(scheme);
            assert_total_order(scheme, &v);
            // So sorting is safe.
            let mut sorted = v.clone();
            sorted.sort_by(|a, b| compare(scheme, a, b));
            for w in sorted.windows(2) {
                assert_ne!(compare(scheme, w[0], w[1]), Greater);
            }
        }
    }

    /// Rpm is a total order on EVRs that all carry a release; a release-less version matches
    /// every release of itself, which is what rule evaluation wants.
    #[test]
    fn rpm_release_is_compared_only_when_both_have_one() {
        let full = [
            "1.0-1.el9",
            "1.0-2.el9",
            "1.0-10.el9",
            "1:0.9-1",
            "1.0.1-1",
            "1.0~rc1-5",
            "1.0^git1-1",
        ];
        for a in full {
            for b in full {
                for c in full {
                    let (ab, bc) = (compare(Scheme::Rpm, a, b), compare(Scheme::Rpm, b, c));
                    if ab != Greater && bc != Greater {
                        assert_ne!(compare(Scheme::Rpm, a, c), Greater, "{a} {b} {c}");
                    }
                }
            }
        }
        assert_eq!(compare(Scheme::Rpm, "1.0", "1.0-1.el9"), Equal);
        assert_eq!(compare(Scheme::Rpm, "1.0", "1.0-2.el9"), Equal);
        assert_eq!(compare(Scheme::Rpm, "1.0-1.el9", "1.0-2.el9"), Less);
        assert_eq!(compare(Scheme::Rpm, "1.0.1", "1.0-99"), Greater);
        assert_eq!(compare(Scheme::Rpm, "1:1.0", "1.0-99"), Greater);
    }

    #[test]
    fn the_same_strings_differ_by_scheme() {
        // Trailing zeros: equal only for Generic.
        assert_eq!(compare(Scheme::Generic, "12", "12.0"), Equal);
        assert_eq!(compare(Scheme::Rpm, "12", "12.0"), Less);
        assert_eq!(compare(Scheme::Deb, "12", "12.0"), Less);
        // Hyphen: a release for Rpm, a separator for Generic.
        assert_eq!(compare(Scheme::Rpm, "1.0", "1.0-5"), Equal);
        assert_eq!(compare(Scheme::Generic, "1.0", "1.0-5"), Less);
        // Epoch: only Deb and Rpm have one.
        assert_eq!(compare(Scheme::Deb, "1:0.5", "2.0"), Greater);
        assert_eq!(compare(Scheme::Rpm, "1:0.5", "2.0"), Greater);
        assert_eq!(compare(Scheme::Generic, "1:0.5", "2.0"), Less);
        // Punctuation: dpkg orders it, rpm ignores it.
        assert_eq!(compare(Scheme::Deb, "1.0+1", "1.0.1"), Less);
        assert_eq!(compare(Scheme::Rpm, "1.0+1", "1.0.1"), Equal);
        // Letters against the end: dpkg sorts a letter run after the end, as rpm does.
        assert_eq!(compare(Scheme::Deb, "1.0a", "1.0"), Greater);
        assert_eq!(compare(Scheme::Rpm, "1.0a", "1.0"), Greater);
    }

    #[test]
    fn deb_non_ascii_bytes_weigh_as_dpkg_on_amd64() {
        // Checked with dpkg 1.21.22 on amd64: é (0xC3 0xA9) sorts after the letters and the
        // end, before ASCII punctuation.
        assert_eq!(compare(Scheme::Deb, "1é", "1z"), Greater);
        assert_eq!(compare(Scheme::Deb, "1é", "1"), Greater);
        assert_eq!(compare(Scheme::Deb, "1é", "1+"), Less);
        assert_eq!(compare(Scheme::Deb, "1é", "1~"), Greater);
    }

    #[test]
    fn odd_inputs_never_panic() {
        let odd = [
            "",
            " ",
            ":",
            "-",
            ":-",
            "-:",
            "~",
            "^",
            "~~^^",
            "0:",
            ":0",
            "1:-",
            "é",
            "\0",
            "1.0\u{0}1",
            "::::",
            "----",
            "a:b:c-d-e",
            "00000",
            "9999999999999999999999999",
        ];
        for scheme in SCHEMES {
            for a in odd {
                for b in odd {
                    assert_eq!(compare(scheme, a, b), compare(scheme, b, a).reverse());
                }
            }
        }
    }

    #[test]
    fn scheme_for_source() {
        for s in ["dpkg", "apt", "DPKG", " apt "] {
            assert_eq!(Scheme::for_source(s), Scheme::Deb, "{s}");
        }
        for s in ["rpm", "dnf", "yum", "zypper", "RPM"] {
            assert_eq!(Scheme::for_source(s), Scheme::Rpm, "{s}");
        }
        for s in [
            "windows-registry",
            "macos-app",
            "pkgutil",
            "os",
            "",
            "deb",
            "snap",
        ] {
            assert_eq!(Scheme::for_source(s), Scheme::Generic, "{s}");
        }
    }

    #[test]
    fn valid_deb() {
        for v in [
            "1.0",
            "0",
            "1:2.3-4",
            "2:1.0~rc1+dfsg-1ubuntu0.22.04.1",
            "0:09azAZ.-+~:-0",
            "0:0-azAZ09.+~",
            "0:0-0-0",
            "0:0:0-0",
            "1.0-1-2",
            "2147483647:1.0",
            "0:abc3-0",
            "foo5.2",
            "3.0.11-1~deb12u2",
        ] {
            assert_eq!(valid(Scheme::Deb, v), Ok(()), "{v:?}");
        }
        let mut bad: Vec<String> = [
            "",
            "  ",
            "0:",
            "1:",
            ":1.0",
            "0:0 0-1",
            " 1.0",
            "1.0\n",
            "-1:0-1",
            "999999999999999999999999:0-1",
            "2147483648:1.0",
            "a:0-0",
            "A:0-0",
            "10a:5.2",
            "-0",
            "0:-0",
            "1.0-",
            "5.2@3-2",
            "~1.0",
            ".1",
            "1.0-1:2",
            "0:0-0:0",
            "1.0_1",
            "1é",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // t-version.c: each of these in the upstream version and in the revision.
        for c in "!#@$%&/|\\<>()[]{};,_=*^'".chars() {
            bad.push(format!("0:0{c}a-0"));
            bad.push(format!("0:0-0{c}"));
        }
        for v in &bad {
            assert!(valid(Scheme::Deb, v).is_err(), "{v:?} should be invalid");
        }
    }

    #[test]
    fn valid_rpm() {
        for v in [
            "1.0",
            "1:1.0-1.el9",
            "4.18.0-513.24.1.el9_3",
            "1.0^git1",
            "1.0~rc1-0.1",
            "2.9.14-150400.5.25.1",
            "0:1.0",
            "4294967295:1",
            "1.0+git20240101",
        ] {
            assert_eq!(valid(Scheme::Rpm, v), Ok(()), "{v:?}");
        }
        for v in [
            "",
            "1.0 1",
            "1.0\t",
            ":1.0",
            "a:1.0",
            "-1:1.0",
            "4294967296:1.0",
            "1:",
            "1:2:3",
            "1:-2",
            "-1",
            "1.0-",
            "1.0-1-2",
            "1.0/2",
            "1.0-1@el9",
            "1.0,1",
            "%{version}",
            "1.α",
        ] {
            assert!(valid(Scheme::Rpm, v).is_err(), "{v:?} should be invalid");
        }
    }

    #[test]
    fn valid_generic() {
        for v in [
            "10.0.22631.3447",
            "23H2",
            "14.4.1",
            "12",
            "anything_goes!",
            "1:2-3",
            "é",
        ] {
            assert_eq!(valid(Scheme::Generic, v), Ok(()), "{v:?}");
        }
        for v in ["", " ", "14 .4", "\t", "14.4\n", "1\u{0}", "1\u{a0}2"] {
            assert!(
                valid(Scheme::Generic, v).is_err(),
                "{v:?} should be invalid"
            );
        }
    }

    #[test]
    fn valid_errors_say_what_is_wrong() {
        let e = valid(Scheme::Deb, "a:1.0").unwrap_err();
        assert!(e.contains("epoch") && e.contains("a:1.0"), "{e}");
        let e = valid(Scheme::Rpm, "1.0-1-2").unwrap_err();
        assert!(e.contains("'-'"), "{e}");
        assert_eq!(valid(Scheme::Generic, "").unwrap_err(), "version is empty");
    }
}
