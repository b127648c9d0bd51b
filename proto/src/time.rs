//! Dates as ms since the Unix epoch (UTC): in package-manager and OS outputs (agent), and
//! in config files such as waiver expiry dates (collector); and the wall clock both
//! binaries read ([`now_ms`]; the collector's core never calls it: time comes in as a value).

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A timestamp as ms since the epoch: `YYYY-MM-DD`, optionally followed (after `T` or a
/// space) by `HH:MM[:SS[.fff]]` and an offset `Z`, `±HH:MM`, `±HHMM` or `±HH` (possibly
/// after a space). Without an offset the time is taken as UTC. Covers dnf's advisory dates
/// (`2024-03-12 09:23:10`), ISO 8601 from PowerShell and plists, and `defaults read`
/// dates (`2024-04-20 08:15:02 +0000`), dpkg.log lines (`2026-09-22 04:51:30`).
pub fn parse_timestamp_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, rest) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], s[i + 1..].trim_start()),
        None => (s, ""),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    // Years of four digits at most: a longer one (a corrupt file, a hostile tool) would
    // overflow the milliseconds.
    if d.next().is_some()
        || !(1..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let (time, zone) = match rest.find(['Z', 'z', '+', '-', ' ']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (mut hh, mut mm, mut ss, mut ms) = (0i64, 0i64, 0i64, 0i64);
    if !time.is_empty() {
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.split(':');
        hh = t.next()?.parse().ok()?;
        mm = t.next()?.parse().ok()?;
        ss = t.next().map(|v| v.parse().ok()).unwrap_or(Some(0))?;
        if t.next().is_some() || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        if !frac.is_empty() {
            if !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let f = format!("{:0<3}", &frac[..frac.len().min(3)]);
            ms = f.parse().ok()?;
        }
    }
    let offset_s = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let (oh, om) = if digits.len() <= 2 {
                (digits.parse::<i64>().ok()?, 0)
            } else {
                let (h, mi) = digits.split_at(digits.len() - 2);
                (h.parse::<i64>().ok()?, mi.parse::<i64>().ok()?)
            };
            sign * (oh * 3600 + om * 60)
        }
    };
    Some((days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss - offset_s) * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
