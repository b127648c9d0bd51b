//! Charts as inline SVG, made on the server: no script, no library, printable. Every text
//! in them is escaped here (they are inserted into the templates as markup).

use std::fmt::Write as _;

use super::i18n::Tr;

/// Writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Text safe in SVG/HTML content and quoted attributes; control characters dropped.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => o.push(c),
        }
    }
    o
}

fn label_fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// How a bar is judged: its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Met,
    Missed,
    Neutral,
}

impl Judged {
    fn fill(self) -> &'static str {
        match self {
            Judged::Met => "#2e7d32",
            Judged::Missed => "#c62828",
            Judged::Neutral => "#607d8b",
        }
    }
}

/// One bar of a chart; values and targets in percent.
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    /// The row's own target marker.
    pub target: Option<f64>,
    pub judged: Judged,
    /// Right of the plot: the value and its status.
    pub value_text: String,
    /// The tooltip.
    pub title: String,
    /// In place of the bar when there is no value.
    pub no_data_text: String,
}

/// A horizontal bar chart from `lo` % to 100 %, gridlines every `step` %, a marker per row
/// at its target and, when given, a dashed one across all rows at `common` (value, label).
pub fn bar_chart(
    tr: &Tr,
    bars: &[Bar],
    lo: f64,
    step: f64,
    common: Option<(f64, String)>,
    aria: &str,
) -> String {
    const W: f64 = 700.0;
    const X0: f64 = 190.0;
    const X1: f64 = 540.0;
    const ROW: f64 = 22.0;
    const BAR: f64 = 14.0;
    let top = if common.is_some() { 22.0 } else { 8.0 };
    let bottom = top + ROW * bars.len() as f64;
    let h = bottom + 24.0;
    let x = |p: f64| X0 + ((p - lo) / (100.0 - lo)).clamp(0.0, 1.0) * (X1 - X0);
    let mut o = String::new();
    w!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(aria)
    );
    let mut t = (lo / step).ceil() * step;
    while t <= 100.0 + 1e-9 {
        let xt = x(t);
        w!(
            o,
            "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{bottom:.1}\" stroke=\"#d0d0d0\" stroke-width=\"1\"/>\n",
            top - 4.0
        );
        w!(
            o,
            "<text x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            bottom + 15.0,
            esc(&tr.pct_target(t / 100.0, 0))
        );
        t += step;
    }
    w!(
        o,
        "<line x1=\"{X0}\" y1=\"{:.1}\" x2=\"{X0}\" y2=\"{bottom:.1}\" stroke=\"#555\" stroke-width=\"1\"/>\n",
        top - 4.0
    );
    for (i, b) in bars.iter().enumerate() {
        let y = top + ROW * i as f64;
        let yb = y + (ROW - BAR) / 2.0;
        let ty = y + ROW / 2.0 + 4.0;
        w!(o, "<g><title>{}</title>\n", esc(&b.title));
        w!(
            o,
            "<text x=\"{:.1}\" y=\"{ty:.1}\" text-anchor=\"end\">{}</text>\n",
            X0 - 8.0,
            esc(&label_fit(&b.label, 30))
        );
        match b.value.filter(|v| v.is_finite()) {
            Some(v) => {
                let wv = (x(v) - X0).max(1.5);
                w!(
                    o,
                    "<rect x=\"{X0}\" y=\"{yb:.1}\" width=\"{wv:.1}\" height=\"{BAR}\" fill=\"{}\"/>\n",
                    b.judged.fill()
                );
                let weight = if b.judged == Judged::Missed {
                    " font-weight=\"bold\""
                } else {
                    ""
                };
                w!(
                    o,
                    "<text x=\"{:.1}\" y=\"{ty:.1}\"{weight}>{}</text>\n",
                    X1 + 10.0,
                    esc(&b.value_text)
                );
            }
            None => w!(
                o,
                "<text x=\"{:.1}\" y=\"{ty:.1}\" font-style=\"italic\" fill=\"#595959\">{}</text>\n",
                X0 + 6.0,
                esc(&b.no_data_text)
            ),
        }
        if let Some(tg) = b.target.filter(|t| t.is_finite() && b.value.is_some()) {
            let xt = x(tg);
            w!(
                o,
                "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{:.1}\" stroke=\"#111\" stroke-width=\"2.5\"/>\n",
                yb - 3.0,
                yb + BAR + 3.0
            );
        }
        o.push_str("</g>\n");
    }
    if let Some((tg, label)) = common.filter(|(t, _)| t.is_finite()) {
        let xt = x(tg);
        w!(
            o,
            "<line x1=\"{xt:.1}\" y1=\"{:.1}\" x2=\"{xt:.1}\" y2=\"{bottom:.1}\" stroke=\"#111\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\n",
            top - 6.0
        );
        w!(
            o,
            "<text x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            top - 9.0,
            esc(&label)
        );
    }
    o.push_str("</svg>\n");
    o
}

/// One line of a [`line_chart`]: shares 0–1 at instants.
pub struct Series {
    pub label: String,
    pub points: Vec<(i64, f64)>,
    pub colour: &'static str,
}

/// Shares (0–100 %) over `from_ms..to_ms`, one line per series, a legend below; hours
/// marked every six in the reader's time zone.
pub fn line_chart(tr: &Tr, series: &[Series], from_ms: i64, to_ms: i64, aria: &str) -> String {
    const W: f64 = 700.0;
    const X0: f64 = 48.0;
    const X1: f64 = 690.0;
    const Y0: f64 = 10.0;
    const Y1: f64 = 170.0;
    let span = (to_ms - from_ms).max(1) as f64;
    let x = |t: i64| X0 + ((t - from_ms) as f64 / span).clamp(0.0, 1.0) * (X1 - X0);
    let y = |v: f64| Y1 - v.clamp(0.0, 1.0) * (Y1 - Y0);
    let h = Y1 + 48.0;
    let mut o = String::new();
    w!(
        o,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\n",
        esc(aria)
    );
    for p in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let yy = y(p);
        w!(
            o,
            "<line x1=\"{X0}\" y1=\"{yy:.1}\" x2=\"{X1}\" y2=\"{yy:.1}\" stroke=\"#d0d0d0\" stroke-width=\"1\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            X0 - 6.0,
            yy + 4.0,
            esc(&tr.pct_target(p, 0))
        );
    }
    // A tick every six hours, labelled with the local time.
    let six = 6 * 3_600_000;
    let mut t = (from_ms / six + 1) * six;
    while t < to_ms {
        let xx = x(t);
        let label = tr.when(t);
        let hhmm = label.rsplit(' ').next().unwrap_or(&label).to_string();
        w!(
            o,
            "<line x1=\"{xx:.1}\" y1=\"{Y0}\" x2=\"{xx:.1}\" y2=\"{Y1}\" stroke=\"#eeeeee\" stroke-width=\"1\"/>\n<text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            Y1 + 15.0,
            esc(&hhmm)
        );
        t += six;
    }
    let mut any = false;
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        any = true;
        let mut d = String::new();
        let mut last: Option<i64> = None;
        for (at, v) in &s.points {
            // A gap of more than 15 minutes breaks the line (the host was silent).
            let cmd = if last.is_none_or(|l| at - l > 15 * 60_000) {
                'M'
            } else {
                'L'
            };
            w!(d, "{cmd}{:.1} {:.1} ", x(*at), y(*v));
            last = Some(*at);
        }
        w!(
            o,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"><title>{}</title></path>\n",
            d.trim_end(),
            s.colour,
            esc(&s.label)
        );
    }
    if !any {
        w!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-style=\"italic\">{}</text>\n",
            (X0 + X1) / 2.0,
            (Y0 + Y1) / 2.0,
            esc(&tr.t("no-data"))
        );
    }
    let mut lx = X0;
    for s in series {
        w!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            Y1 + 30.0,
            s.colour,
            lx + 18.0,
            Y1 + 35.0,
            esc(&s.label)
        );
        lx += 150.0;
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_texts_are_escaped() {
        let tr = Tr::new("en", jiff::tz::TimeZone::UTC);
        let evil = "<script>alert(1)</script>\"'&";
        let svg = bar_chart(
            &tr,
            &[Bar {
                label: evil.into(),
                value: Some(99.0),
                target: Some(99.5),
                judged: Judged::Missed,
                value_text: evil.into(),
                title: evil.into(),
                no_data_text: evil.into(),
            }],
            90.0,
            2.0,
            Some((90.0, evil.into())),
            evil,
        );
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert_eq!(
            esc("<a href='x'>&\"\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        let line = line_chart(
            &tr,
            &[Series {
                label: evil.into(),
                points: vec![(0, 0.5), (60_000, 0.7)],
                colour: "#000",
            }],
            0,
            86_400_000,
            evil,
        );
        assert!(
            !line.contains("<script") && line.contains("<path d=\"M"),
            "{line}"
        );
    }

    #[test]
    fn silence_breaks_the_line() {
        let tr = Tr::new("en", jiff::tz::TimeZone::UTC);
        let svg = line_chart(
            &tr,
            &[Series {
                label: "cpu".into(),
                points: vec![(0, 0.1), (60_000, 0.2), (3_600_000, 0.3)],
                colour: "#000",
            }],
            0,
            86_400_000,
            "x",
        );
        assert_eq!(svg.matches('M').count(), 2, "{svg}");
    }
}
