//! `/etc/os-release` (freedesktop.org os-release(5)): the OS of every modern Linux.

use std::collections::HashMap;
use std::path::Path;

use tilsyn_proto::v1::OsInfo;

use super::{cmd, PlatformError};

/// Reads `/etc/os-release`, falling back to `/usr/lib/os-release` as the spec says.
pub fn read() -> Result<OsInfo, PlatformError> {
    let primary = Path::new("/etc/os-release");
    let text = match cmd::read(primary) {
        Ok(t) => t,
        Err(PlatformError::NotFound(_)) => cmd::read(Path::new("/usr/lib/os-release"))?,
        Err(e) => return Err(e),
    };
    Ok(parse(&text))
}

/// Parses os-release text: `KEY=value` lines, values optionally quoted with shell escapes.
pub fn parse(text: &str) -> OsInfo {
    let mut kv = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        kv.insert(k.trim().to_string(), unquote(v.trim()));
    }
    let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
    // Rolling/testing releases have no VERSION_ID; the codename is the best version then.
    let version = match get("VERSION_ID") {
        v if !v.is_empty() => v,
        _ => get("VERSION_CODENAME"),
    };
    OsInfo {
        family: "linux".into(),
        name: get("NAME"),
        version,
        build: get("VERSION"),
        id: get("ID"),
        id_like: get("ID_LIKE")
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        pretty_name: get("PRETTY_NAME"),
    }
}

fn unquote(v: &str) -> String {
    let inner = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_12() {
        let os = parse(include_str!(
            "../../tests/fixtures/linux/os-release-debian12"
        ));
        assert_eq!(os.family, "linux");
        assert_eq!(os.id, "debian");
        assert_eq!(os.version, "12");
        assert_eq!(os.name, "Debian GNU/Linux");
        assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
        assert!(os.id_like.is_empty());
    }

    #[test]
    fn ubuntu_rhel_sles() {
        let u = parse(include_str!(
            "../../tests/fixtures/linux/os-release-ubuntu2404"
        ));
        assert_eq!((u.id.as_str(), u.version.as_str()), ("ubuntu", "24.04"));
        assert_eq!(u.id_like, vec!["debian"]);
        assert_eq!(u.build, "24.04.1 LTS (Noble Numbat)");
        let r = parse(include_str!("../../tests/fixtures/linux/os-release-rhel94"));
        assert_eq!((r.id.as_str(), r.version.as_str()), ("rhel", "9.4"));
        assert_eq!(r.id_like, vec!["fedora"]);
        let s = parse(include_str!("../../tests/fixtures/linux/os-release-sles15"));
        assert_eq!((s.id.as_str(), s.version.as_str()), ("sles", "15.5"));
    }

    #[test]
    fn testing_release_uses_the_codename() {
        let t = parse(include_str!(
            "../../tests/fixtures/linux/os-release-debian-testing"
        ));
        assert_eq!(t.version, "trixie");
    }

    #[test]
    fn escapes_and_garbage() {
        let os = parse("NAME=\"My \\\"OS\\\"\"\nnot a pair\n# comment\nID=x\n");
        assert_eq!(os.name, "My \"OS\"");
        assert_eq!(os.id, "x");
    }
}
