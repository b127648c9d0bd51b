//! Small text rules shared by the whole collector: globs in selectors, ids in config
//! files, one-line renderings for titles and tables.

/// Case-insensitive glob: `*` any run of characters, `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    glob_with(pattern, text, true)
}

/// [`glob`] with the choice of folding case; matches without allocating (it runs on hot
/// paths: waivers per failing rule, maintenance windows per condition).
pub fn glob_with(pattern: &str, text: &str, fold_case: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // (pattern index after the last '*', text index that '*' is tried up to)
    let mut star: Option<(usize, usize)> = None;
    loop {
        let tc = text[t..].chars().next();
        if let Some(pc) = pattern[p..].chars().next() {
            if pc == '*' {
                p += 1;
                star = Some((p, t));
                continue;
            }
            let same = |tc: &char| {
                pc == '?' || pc == *tc || (fold_case && pc.to_lowercase().eq(tc.to_lowercase()))
            };
            if let Some(tc) = tc.filter(same) {
                p += pc.len_utf8();
                t += tc.len_utf8();
                continue;
            }
        } else if tc.is_none() {
            return true;
        }
        // Mismatch: let the last '*' swallow one more character.
        let Some((sp, st)) = star else { return false };
        let Some(c) = text[st..].chars().next() else {
            return false;
        };
        let nt = st + c.len_utf8();
        star = Some((sp, nt));
        p = sp;
        t = nt;
    }
}

/// An id in a config file (department, class, desk name): 1–64 of `a-z`, `0-9`, `-`, `_`.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// An instant (ms since the epoch) in RFC 3339, UTC (empty when out of range).
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// An elapsed time for people: "45 s", "12 min", "3.5 h", "2.0 days".
pub fn elapsed(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{:.1} h", s as f64 / 3600.0),
        _ => format!("{:.1} days", s as f64 / 86400.0),
    }
}

/// `s` as one trimmed line of at most `max` characters: control characters (newlines,
/// tabs) become spaces, and a cut text ends in `…`. For ticket titles and table cells.
pub fn one_line(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("srv-*", "SRV-db01"));
        assert!(glob("*server*", "Microsoft Windows Server 2022"));
        assert!(glob("ws-??", "ws-01"));
        assert!(!glob("ws-??", "ws-001"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbx"));
    }
}
