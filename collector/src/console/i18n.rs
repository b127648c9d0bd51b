//! The console's and the SLA report's languages: one Project Fluent file per language in
//! `collector/locales/` (embedded at build time; a translator adds `sv.ftl` and nothing
//! else), English the fallback for a message a language lacks. Fluent picks plural forms;
//! the number separators, date patterns and month names are messages of each file, so
//! every format a person reads comes from the language's own file.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use intl_memoizer::concurrent::IntlLangMemoizer;
use intl_memoizer::Memoizable;
use jiff::tz::TimeZone;
use tilsyn_collector_core::sla::render;
use unic_langid::LanguageIdentifier;

include!(concat!(env!("OUT_DIR"), "/locales.rs"));

/// The language every other falls back to, and the default.
pub const FALLBACK: &str = "en";

struct Locale {
    code: &'static str,
    id: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
    sep: Separators,
}

/// A language's number separators, from its `number-decimal` and `number-group` messages.
#[derive(Debug, Clone, PartialEq)]
struct Separators {
    decimal: String,
    group: String,
}

impl Memoizable for Separators {
    type Args = ();
    type Error = ();
    fn construct(lang: LanguageIdentifier, _: ()) -> Result<Self, ()> {
        Ok(locales()
            .iter()
            .find(|l| l.id == lang)
            .map(|l| l.sep.clone())
            .unwrap_or(Separators {
                decimal: ".".into(),
                group: ",".into(),
            }))
    }
}

/// Numbers inside messages (counts) with the language's separators.
fn fluent_number(v: &FluentValue, m: &IntlLangMemoizer) -> Option<String> {
    let FluentValue::Number(n) = v else {
        return None;
    };
    let decimals = n.options.minimum_fraction_digits.unwrap_or(0);
    m.with_try_get::<Separators, _, _>((), |s| group(n.value, decimals, s))
        .ok()
}

fn group(v: f64, decimals: usize, s: &Separators) -> String {
    let text = format!("{:.decimals$}", v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut o = String::with_capacity(text.len() + 4);
    if v < 0.0 && v.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        o.push('-');
    }
    let digits = int.len();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (digits - i) % 3 == 0 {
            o.push_str(&s.group);
        }
        o.push(c);
    }
    if !frac.is_empty() {
        o.push_str(&s.decimal);
        o.push_str(frac);
    }
    o
}

fn locales() -> &'static [Locale] {
    static ALL: OnceLock<Vec<Locale>> = OnceLock::new();
    ALL.get_or_init(|| {
        LOCALES
            .iter()
            .map(|(code, src)| {
                let id: LanguageIdentifier = code
                    .parse()
                    .unwrap_or_else(|e| panic!("locales/{code}.ftl: not a language code: {e}"));
                let res = FluentResource::try_new(src.to_string())
                    .unwrap_or_else(|(_, e)| panic!("locales/{code}.ftl does not parse: {e:?}"));
                let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
                // HTML and left-to-right languages: no Unicode isolation marks.
                bundle.set_use_isolating(false);
                bundle.set_formatter(Some(fluent_number));
                if let Err(e) = bundle.add_resource(res) {
                    panic!("locales/{code}.ftl: {e:?}");
                }
                let msg =
                    |k: &str, d: &str| plain(&bundle, k, None).unwrap_or_else(|| d.to_string());
                let sep = Separators {
                    decimal: msg("number-decimal", "."),
                    group: msg("number-group", ",").replace("{\" \"}", " "),
                };
                Locale {
                    code,
                    id,
                    bundle,
                    sep,
                }
            })
            .collect()
    })
}

fn plain(b: &FluentBundle<FluentResource>, id: &str, args: Option<&FluentArgs>) -> Option<String> {
    let (id, attr) = match id.split_once('.') {
        Some((m, a)) => (m, Some(a)),
        None => (id, None),
    };
    let msg = b.get_message(id)?;
    let pattern = match attr {
        Some(a) => msg.get_attribute(a)?.value(),
        None => msg.value()?,
    };
    let mut errors = vec![];
    let s = b.format_pattern(pattern, args, &mut errors);
    errors.is_empty().then(|| s.into_owned())
}

/// The language codes there are files for, sorted.
pub fn languages() -> Vec<&'static str> {
    locales().iter().map(|l| l.code).collect()
}

/// The language for an `Accept-Language` header (`None` when it names none we have).
pub fn negotiate(accept_language: &str) -> Option<&'static str> {
    let requested = fluent_langneg::accepted_languages::parse(accept_language);
    let available: Vec<&LanguageIdentifier> = locales().iter().map(|l| &l.id).collect();
    let got = fluent_langneg::negotiate_languages(
        &requested,
        &available,
        None,
        fluent_langneg::NegotiationStrategy::Lookup,
    );
    let id: &LanguageIdentifier = got.first()?;
    locales().iter().find(|l| &l.id == id).map(|l| l.code)
}

/// A known language code.
pub fn known(code: &str) -> Option<&'static str> {
    locales().iter().find(|l| l.code == code).map(|l| l.code)
}

/// Texts, numbers and dates in one language and time zone.
#[derive(Clone)]
pub struct Tr {
    idx: usize,
    fallback: usize,
    pub tz: TimeZone,
}

impl std::fmt::Debug for Tr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tr({})", self.lang())
    }
}

impl Tr {
    /// `code` must be one of [`languages`]; an unknown one is the fallback.
    pub fn new(code: &str, tz: TimeZone) -> Tr {
        let find = |c: &str| locales().iter().position(|l| l.code == c);
        let fallback = find(FALLBACK).unwrap_or(0);
        Tr {
            idx: find(code).unwrap_or(fallback),
            fallback,
            tz,
        }
    }

    /// The language code (`<html lang>`).
    pub fn lang(&self) -> &'static str {
        locales()[self.idx].code
    }

    fn get(&self, id: &str, args: Option<&FluentArgs>) -> String {
        let l = locales();
        plain(&l[self.idx].bundle, id, args)
            .or_else(|| plain(&l[self.fallback].bundle, id, args))
            .unwrap_or_else(|| id.to_string())
    }

    /// A message without arguments (`id` or `id.attribute`).
    pub fn t(&self, id: &str) -> String {
        self.get(id, None)
    }

    /// A message with arguments: strings, or numbers (for plurals and counts).
    pub fn ta(&self, id: &str, args: &[(&str, Arg)]) -> String {
        let mut a = FluentArgs::new();
        for (k, v) in args {
            match v {
                Arg::S(s) => a.set(*k, FluentValue::from(s.clone())),
                Arg::N(n) => a.set(*k, FluentValue::from(*n)),
            }
        }
        self.get(id, Some(&a))
    }

    /// A message with string arguments given as (name, value) pairs.
    fn strs(&self, id: &str, pairs: &[(&str, &str)]) -> String {
        let args: Vec<(&str, Arg)> = pairs.iter().map(|(k, v)| (*k, Arg::from(*v))).collect();
        self.ta(id, &args)
    }

    /// A message with one string argument (for templates).
    pub fn a1(&self, id: &str, k: &str, v: impl AsRef<str>) -> String {
        self.strs(id, &[(k, v.as_ref())])
    }

    pub fn a2(
        &self,
        id: &str,
        k1: &str,
        v1: impl AsRef<str>,
        k2: &str,
        v2: impl AsRef<str>,
    ) -> String {
        self.strs(id, &[(k1, v1.as_ref()), (k2, v2.as_ref())])
    }

    #[allow(clippy::too_many_arguments)]
    pub fn a3(
        &self,
        id: &str,
        k1: &str,
        v1: impl AsRef<str>,
        k2: &str,
        v2: impl AsRef<str>,
        k3: &str,
        v3: impl AsRef<str>,
    ) -> String {
        self.strs(
            id,
            &[(k1, v1.as_ref()), (k2, v2.as_ref()), (k3, v3.as_ref())],
        )
    }

    /// A count, e.g. `tr.n("hosts-count", 3)` for `{ $n -> [one] … *[other] … }`.
    pub fn n(&self, id: &str, n: impl Whole) -> String {
        self.ta(id, &[("n", Arg::N(n.whole() as f64))])
    }

    /// A number with `decimals` decimals and the language's separators.
    pub fn num(&self, v: impl std::borrow::Borrow<f64>, decimals: usize) -> String {
        group(*v.borrow(), decimals, &locales()[self.idx].sep)
    }

    /// An integer with grouping.
    pub fn int(&self, v: impl Whole) -> String {
        self.num(v.whole() as f64, 0)
    }

    /// An optional integer, "–" for none.
    pub fn int_opt(&self, v: impl MaybeWhole) -> String {
        v.maybe().map_or_else(|| "–".into(), |v| self.int(v))
    }

    /// A measured share as a percentage, truncated (a figure just short of its target
    /// never shows as the target), "no data" for none.
    pub fn pct(&self, share: impl std::borrow::Borrow<Option<f64>>, decimals: usize) -> String {
        match *share.borrow() {
            Some(s) if s.is_finite() => {
                let v = render::percent_truncated(s, decimals);
                self.ta("percent", &[("value", Arg::S(self.num(v, decimals)))])
            }
            _ => self.t("no-data"),
        }
    }

    /// A target share as a percentage with at least `min_decimals`, more if it needs them.
    pub fn pct_target(&self, share: f64, min_decimals: usize) -> String {
        let d = render::target_decimals(share, min_decimals);
        self.ta("percent", &[("value", Arg::S(self.num(share * 100.0, d)))])
    }

    fn parts(&self, ms: i64) -> Option<jiff::civil::DateTime> {
        jiff::Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| self.tz.to_datetime(t))
    }

    fn date_args(&self, d: jiff::civil::DateTime) -> Vec<(&'static str, Arg)> {
        vec![
            ("day", Arg::S(d.day().to_string())),
            ("dd", Arg::S(format!("{:02}", d.day()))),
            ("mm", Arg::S(format!("{:02}", d.month()))),
            ("year", Arg::S(d.year().to_string())),
            ("month", Arg::S(self.t(&format!("month-{}", d.month())))),
            ("time", Arg::S(format!("{:02}:{:02}", d.hour(), d.minute()))),
        ]
    }

    /// An instant in tables: `03.12.2026 14:05` / `2026-12-03 14:05` (`date-time-short`).
    pub fn when(&self, ms: impl Whole) -> String {
        let ms = ms.whole();
        match self.parts(ms) {
            Some(d) => self.ta("date-time-short", &self.date_args(d)),
            None => ms.to_string(),
        }
    }

    pub fn when_opt(&self, ms: impl MaybeWhole) -> String {
        ms.maybe().map_or_else(|| "–".into(), |m| self.when(m))
    }

    /// A day in prose: `3. december 2026` / `3 December 2026` (`date-long`).
    pub fn date(&self, ms: i64) -> String {
        match self.parts(ms) {
            Some(d) => self.ta("date-long", &self.date_args(d)),
            None => ms.to_string(),
        }
    }

    /// A month `YYYY-MM` in prose: `november 2026` / `November 2026`.
    pub fn month(&self, label: &str) -> String {
        let Some((y, m)) = label.split_once('-') else {
            return label.to_string();
        };
        match m.parse::<u8>() {
            Ok(m @ 1..=12) => self.ta(
                "month-year",
                &[
                    ("month", Arg::S(self.t(&format!("month-{m}")))),
                    ("year", Arg::S(y.to_string())),
                ],
            ),
            _ => label.to_string(),
        }
    }

    /// A span of time: `2 d 3 h`, `45 min`, `12 s`.
    pub fn span(&self, ms: impl Whole) -> String {
        let s = ms.whole().max(0) / 1000;
        let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
        let part = |id: &str, n: i64| self.n(id, n);
        match (d, h, m) {
            (0, 0, 0) => part("span-seconds", s),
            (0, 0, m) => part("span-minutes", m),
            (0, h, 0) => part("span-hours", h),
            (0, h, m) => format!("{} {}", part("span-hours", h), part("span-minutes", m)),
            (d, 0, _) => part("span-days", d),
            (d, h, _) => format!("{} {}", part("span-days", d), part("span-hours", h)),
        }
    }

    /// How long ago: `3 days ago`.
    pub fn ago(&self, ms: impl Whole, now_ms: impl Whole) -> String {
        self.ta(
            "ago",
            &[("span", Arg::S(self.span(now_ms.whole() - ms.whole())))],
        )
    }
}

/// A whole number of any width, by value or by reference (templates pass fields by
/// reference).
pub trait Whole {
    fn whole(&self) -> i64;
}

macro_rules! whole {
    ($($t:ty),*) => {$(
        impl Whole for $t {
            fn whole(&self) -> i64 {
                *self as i64
            }
        }
    )*};
}
whole!(i64, u64, i32, u32, usize);

impl<T: Whole> Whole for &T {
    fn whole(&self) -> i64 {
        (**self).whole()
    }
}

/// An optional whole number, by value or by reference.
pub trait MaybeWhole {
    fn maybe(&self) -> Option<i64>;
}

impl<T: Whole> MaybeWhole for Option<T> {
    fn maybe(&self) -> Option<i64> {
        self.as_ref().map(Whole::whole)
    }
}

impl<T: MaybeWhole> MaybeWhole for &T {
    fn maybe(&self) -> Option<i64> {
        (**self).maybe()
    }
}

/// An argument of a message.
#[derive(Debug, Clone)]
pub enum Arg {
    S(String),
    N(f64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::S(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::S(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast;

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    /// Every message and attribute id of a locale file.
    fn ids(src: &str) -> std::collections::BTreeSet<String> {
        let res = fluent_syntax::parser::parse(src).expect("parses");
        let mut out = std::collections::BTreeSet::new();
        for e in res.body {
            if let ast::Entry::Message(m) = e {
                out.insert(m.id.name.to_string());
                for a in m.attributes {
                    out.insert(format!("{}.{}", m.id.name, a.id.name));
                }
            }
        }
        out
    }

    #[test]
    fn every_language_has_every_message_of_english_and_no_other() {
        let en = LOCALES
            .iter()
            .find(|(c, _)| *c == FALLBACK)
            .expect("en.ftl");
        let want = ids(en.1);
        assert!(want.len() > 100, "{}", want.len());
        for (code, src) in LOCALES {
            let have = ids(src);
            let missing: Vec<_> = want.difference(&have).collect();
            let extra: Vec<_> = have.difference(&want).collect();
            assert!(missing.is_empty(), "locales/{code}.ftl lacks {missing:?}");
            assert!(extra.is_empty(), "locales/{code}.ftl has unknown {extra:?}");
        }
        assert!(languages().contains(&"da") && languages().contains(&"en"));
    }

    /// The variables a pattern uses, selectors and variants included.
    fn vars(p: &ast::Pattern<&str>, out: &mut std::collections::BTreeSet<String>) {
        fn expr(e: &ast::Expression<&str>, out: &mut std::collections::BTreeSet<String>) {
            match e {
                ast::Expression::Inline(i) => inline(i, out),
                ast::Expression::Select { selector, variants } => {
                    inline(selector, out);
                    for v in variants {
                        vars(&v.value, out);
                    }
                }
            }
        }
        fn inline(i: &ast::InlineExpression<&str>, out: &mut std::collections::BTreeSet<String>) {
            match i {
                ast::InlineExpression::VariableReference { id } => {
                    out.insert(id.name.to_string());
                }
                ast::InlineExpression::Placeable { expression } => expr(expression, out),
                _ => {}
            }
        }
        for el in &p.elements {
            if let ast::PatternElement::Placeable { expression } = el {
                expr(expression, out);
            }
        }
    }

    /// (message or message.attribute) → its variables, for one locale file.
    fn variables(
        src: &str,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        let res = fluent_syntax::parser::parse(src).expect("parses");
        let mut out = std::collections::BTreeMap::new();
        for e in res.body {
            if let ast::Entry::Message(m) = e {
                let mut v = Default::default();
                if let Some(p) = &m.value {
                    vars(p, &mut v);
                }
                out.insert(m.id.name.to_string(), v);
                for a in &m.attributes {
                    let mut v = Default::default();
                    vars(&a.value, &mut v);
                    out.insert(format!("{}.{}", m.id.name, a.id.name), v);
                }
            }
        }
        out
    }

    #[test]
    fn every_message_formats_in_every_language_with_the_variables_english_gives_it() {
        let en = variables(LOCALES.iter().find(|(c, _)| *c == FALLBACK).unwrap().1);
        for (code, src) in LOCALES {
            let idx = locales().iter().position(|l| l.code == *code).unwrap();
            for (id, used) in variables(src) {
                let given = en.get(&id).cloned().unwrap_or_default();
                let unknown: Vec<_> = used.difference(&given).collect();
                assert!(
                    unknown.is_empty(),
                    "locales/{code}.ftl: {id} uses {unknown:?}, which the code does not pass (English uses {given:?})"
                );
                let mut args = FluentArgs::new();
                for v in &given {
                    args.set(v.clone(), FluentValue::from(2));
                }
                assert!(
                    plain(&locales()[idx].bundle, &id, Some(&args)).is_some(),
                    "locales/{code}.ftl: {id} does not format"
                );
            }
        }
    }

    #[test]
    fn danish_formats_numbers_dates_and_plurals_in_danish() {
        let da = Tr::new("da", utc());
        let en = Tr::new("en", utc());
        assert_eq!(da.num(1234567.891, 2), "1.234.567,89");
        assert_eq!(en.num(1234567.891, 2), "1,234,567.89");
        assert_eq!(da.pct(Some(0.998996), 3), "99,899 %");
        assert_eq!(en.pct(Some(0.998996), 3), "99.899 %");
        assert_eq!(da.pct_target(0.9995, 1), "99,95 %");
        // 2026-12-03 14:05 UTC
        let ms = 1_796_306_700_000;
        assert_eq!(da.when(ms), "03.12.2026 14:05");
        assert_eq!(en.when(ms), "2026-12-03 14:05");
        assert_eq!(da.date(ms), "3. december 2026");
        assert_eq!(en.date(ms), "3 December 2026");
        assert_eq!(da.month("2026-11"), "november 2026");
        assert_eq!(en.month("2026-11"), "November 2026");
        assert_eq!(da.n("hosts-count", 1), "1 maskine");
        assert_eq!(da.n("hosts-count", 1200), "1.200 maskiner");
        assert_eq!(en.n("hosts-count", 1), "1 host");
        assert_eq!(en.span(90 * 60_000), "1 h 30 min");
        assert_eq!(da.span(3 * 86_400_000 + 7_200_000), "3 d 2 t");
    }

    #[test]
    fn browser_preferences_pick_the_language() {
        assert_eq!(negotiate("da-DK,da;q=0.9,en;q=0.8"), Some("da"));
        assert_eq!(negotiate("da"), Some("da"));
        assert_eq!(negotiate("en-GB,en;q=0.9"), Some("en"));
        assert_eq!(negotiate("fr-FR"), None);
        assert_eq!(Tr::new("xx", utc()).lang(), "en");
    }
}
