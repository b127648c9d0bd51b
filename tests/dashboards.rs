//! The provisioned Grafana dashboards (`packaging/grafana/dashboards/*.json`) against what
//! the collector and the Prometheus rules really export.
//!
//! For every dashboard: the `datasource` and `department` variables exist and every panel and
//! target queries `${datasource}`; panel ids are unique and the dashboard has a uid of its own.
//! Every PromQL expression (panel targets, also inside collapsed rows, and query variables),
//! with the Grafana variables substituted, must parse with `promtool` (Debian's `prometheus`
//! package; `.ci/run` installs it). Every metric an expression uses must be exported: `tilsyn_…`
//! names listed in `configs/metrics.md`, `tilsyn:…` names recorded in
//! `packaging/prometheus/*.yml`, plus `up`. Label matchers and `by (…)` groupings may only use
//! labels the metric has, and a query on a metric with a label that the dashboard has a
//! variable for (department, service, standard, instance) must filter on it, so that choosing
//! a department narrows every panel that can be narrowed.
//!
//! The test collects every problem and fails once with the whole list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

/// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS: [&str; 2] = ["job", "instance"];

/// Aggregation operators (`sum by (x) (…)` is not a selector named `sum`) whose result has
/// only the grouping's labels.
const DROP_LABELS: [&str; 10] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "quantile",
];

/// Aggregation operators that keep each series' own labels.
const KEEP_LABELS: [&str; 4] = ["topk", "bottomk", "limitk", "limit_ratio"];

/// Identifiers that are operators or literals, never metric names.
const KEYWORDS: [&str; 8] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn datasource_ref() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

// ------------------------------------------------------------------------------------------
// What is exported

#[derive(Debug)]
struct Metric {
    histogram: bool,
    labels: BTreeSet<String>,
}

/// The table in `configs/metrics.md`: backticked name, type, comma-separated labels.
fn metrics_reference(problems: &mut Vec<String>) -> BTreeMap<String, Metric> {
    let path = repo().join("configs/metrics.md");
    let mut metrics = BTreeMap::new();
    for line in read(&path).lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let Some(name) = cells[1].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            continue;
        };
        let labels = match cells[3] {
            "" | "—" | "-" => BTreeSet::new(),
            list => list
                .split(',')
                .map(|l| l.trim().trim_matches('`').to_string())
                .collect(),
        };
        metrics.insert(
            name.to_string(),
            Metric {
                histogram: cells[2] == "histogram",
                labels,
            },
        );
    }
    if metrics.is_empty() {
        problems.push(format!(
            "{}: found no metric table (rows like | `tilsyn_x` | gauge | labels | meaning |)",
            path.display()
        ));
    }
    metrics
}

#[derive(Debug)]
struct Rule {
    /// `tilsyn.rules.yml › record tilsyn:x` or `… › alert X`.
    location: String,
    record: Option<String>,
    expr: String,
    extra_labels: BTreeSet<String>,
}

/// The rules in `packaging/prometheus/*.yml` (and `.yaml`). Err says why there are no
/// recording rules.
fn prometheus_rules(dir: &Path) -> Result<Vec<Rule>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: {e}; the dashboards use recording rules (tilsyn:…) that must be defined \
             there (tilsyn.rules.yml)",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for file in &files {
        let doc: serde_yaml::Value = match serde_yaml::from_str(&read(file)) {
            Ok(doc) => doc,
            Err(e) => {
                errors.push(format!("{}: not YAML: {e}", file.display()));
                continue;
            }
        };
        let groups = doc.get("groups").and_then(|g| g.as_sequence());
        for group in groups.into_iter().flatten() {
            let list = group.get("rules").and_then(|r| r.as_sequence());
            for rule in list.into_iter().flatten() {
                let record = rule.get("record").and_then(|r| r.as_str());
                let alert = rule.get("alert").and_then(|r| r.as_str());
                let Some(expr) = rule.get("expr").and_then(|e| e.as_str()) else {
                    continue;
                };
                let file_name = file.file_name().unwrap_or_default().to_string_lossy();
                let location = match (record, alert) {
                    (Some(r), _) => format!("{file_name} › record {r}"),
                    (None, Some(a)) => format!("{file_name} › alert {a}"),
                    (None, None) => format!("{file_name} › a rule without record or alert"),
                };
                let extra_labels = rule
                    .get("labels")
                    .and_then(|l| l.as_mapping())
                    .map(|m| {
                        m.keys()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                rules.push(Rule {
                    location,
                    record: record.map(str::to_string),
                    expr: expr.to_string(),
                    extra_labels,
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    if !rules.iter().any(|r| r.record.is_some()) {
        return Err(format!(
            "{}: no recording rules in {} file(s); the dashboards use recording rules \
             (tilsyn:…) that must be defined there (tilsyn.rules.yml)",
            dir.display(),
            files.len()
        ));
    }
    Ok(rules)
}

struct Catalogue {
    metrics: BTreeMap<String, Metric>,
    /// The Prometheus rules, or why there are no recording rules.
    rules: Result<Vec<Rule>, String>,
    /// Recorded name → its labels, when they could be worked out from the rule.
    records: BTreeMap<String, Option<BTreeSet<String>>>,
    /// The fleet-wide gauges (configs/metrics.md).
    fleet: BTreeSet<String>,
}

impl Catalogue {
    fn load(problems: &mut Vec<String>) -> Catalogue {
        let metrics = metrics_reference(problems);
        let rules = prometheus_rules(&repo().join("packaging/prometheus"));
        let mut records = BTreeMap::new();
        for r in rules.iter().flatten() {
            if let Some(record) = &r.record {
                let labels =
                    record_labels(record, rules.as_deref().unwrap_or_default(), &metrics, 0);
                records.insert(record.clone(), labels);
            }
        }
        Catalogue {
            metrics,
            rules,
            records,
            fleet: tilsyn_e2e::fleet_wide_metrics(),
        }
    }

    /// The labels a series named `name` can carry (None: exported, labels unknown), or why
    /// the name is not exported.
    fn labels(&self, name: &str) -> Result<Option<BTreeSet<String>>, String> {
        labels_of(name, &self.metrics, |record| match &self.rules {
            Ok(_) => match self.records.get(record) {
                Some(labels) => Ok(labels.clone()),
                None => Err(format!(
                    "`{record}` is not recorded by any rule in packaging/prometheus/*.yml"
                )),
            },
            // Reported once, with every recorded name the dashboards use.
            Err(_) => Ok(None),
        })
    }
}

fn labels_of(
    name: &str,
    metrics: &BTreeMap<String, Metric>,
    record: impl Fn(&str) -> Result<Option<BTreeSet<String>>, String>,
) -> Result<Option<BTreeSet<String>>, String> {
    let with_target = |labels: &BTreeSet<String>| {
        let mut l = labels.clone();
        l.extend(TARGET_LABELS.iter().map(|s| s.to_string()));
        l
    };
    if name == "up" {
        return Ok(Some(with_target(&BTreeSet::new())));
    }
    if name.starts_with("tilsyn:") {
        return record(name);
    }
    if !name.starts_with("tilsyn_") {
        return Err(format!(
            "`{name}` is not a metric the collector exports (only tilsyn_…, tilsyn:… and up)"
        ));
    }
    if let Some(m) = metrics.get(name) {
        if m.histogram {
            return Err(format!(
                "`{name}` is a histogram: query `{name}_bucket`, `_sum` or `_count`"
            ));
        }
        return Ok(Some(with_target(&m.labels)));
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(m) = metrics.get(base).filter(|m| m.histogram) {
                let mut labels = with_target(&m.labels);
                if suffix == "_bucket" {
                    labels.insert("le".to_string());
                }
                return Ok(Some(labels));
            }
        }
    }
    Err(format!(
        "`{name}` is not in configs/metrics.md (histograms: the family name plus _bucket, _sum \
         or _count)"
    ))
}

/// The labels of a recorded series, worked out from its rule: the labels of the outermost
/// `by (…)` groupings, plus those of selectors outside any aggregation, plus the rule's own
/// `labels:`. None when a part cannot be resolved (then labels are not checked for it).
fn record_labels(
    record: &str,
    rules: &[Rule],
    metrics: &BTreeMap<String, Metric>,
    depth: usize,
) -> Option<BTreeSet<String>> {
    if depth > 8 {
        return None;
    }
    let rule = rules.iter().find(|r| r.record.as_deref() == Some(record))?;
    let analysis = analyze(&rule.expr).ok()?;
    let resolve = |name: &str| {
        labels_of(name, metrics, |r| {
            Ok(record_labels(r, rules, metrics, depth + 1))
        })
        .ok()
        .flatten()
    };
    let inside = |pos: usize, g: &Grouping| pos > g.body.0 && pos < g.body.1;
    let outer: Vec<&Grouping> = analysis
        .groupings
        .iter()
        .filter(|g| {
            !analysis
                .groupings
                .iter()
                .any(|o| !std::ptr::eq(*g, o) && inside(g.body.0, o))
        })
        .collect();
    let mut labels = rule.extra_labels.clone();
    for g in &outer {
        if g.without {
            for s in analysis.selectors.iter().filter(|s| inside(s.pos, g)) {
                labels.extend(resolve(&s.name)?);
            }
            for l in &g.labels {
                labels.remove(l);
            }
        } else {
            labels.extend(g.labels.iter().cloned());
        }
    }
    for s in &analysis.selectors {
        if !outer.iter().any(|g| inside(s.pos, g)) {
            labels.extend(resolve(&s.name)?);
        }
    }
    Some(labels)
}

// ------------------------------------------------------------------------------------------
// A small PromQL reader: enough to find selectors, their matchers and groupings. promtool
// decides whether an expression is valid.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num,
    Op(String),
    Open(char),
    Close(char),
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if matches!(c, '"' | '\'' | '`') {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".to_string()),
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some('\\') if c != '`' => {
                        if let Some(&n) = chars.get(i + 1) {
                            value.push(n);
                        }
                        i += 2;
                    }
                    Some(&ch) => {
                        value.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(value));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num);
        } else if matches!(c, '(' | '{' | '[') {
            out.push(Tok::Open(c));
            i += 1;
        } else if matches!(c, ')' | '}' | ']') {
            out.push(Tok::Close(c));
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if "=!~<>+-*/%^@:".contains(c) {
            let start = i;
            while i < chars.len() && "=!~<>+-*/%^@:".contains(chars[i]) {
                i += 1;
            }
            out.push(Tok::Op(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Matcher {
    label: String,
    op: String,
    value: String,
}

#[derive(Debug)]
struct Selector {
    name: String,
    matchers: Vec<Matcher>,
    /// Token index of the name.
    pos: usize,
}

#[derive(Debug)]
struct Grouping {
    without: bool,
    labels: Vec<String>,
    /// Token indices of the aggregated expression's parentheses.
    body: (usize, usize),
}

#[derive(Debug, Default)]
struct Analysis {
    selectors: Vec<Selector>,
    groupings: Vec<Grouping>,
    /// label_replace/label_join can create labels no metric has.
    makes_labels: bool,
}

fn analyze(expr: &str) -> Result<Analysis, String> {
    let toks = lex(expr)?;
    let mut partner = vec![usize::MAX; toks.len()];
    let mut stack: Vec<(usize, char)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Open(c) => stack.push((i, *c)),
            Tok::Close(c) => {
                let (o, oc) = stack.pop().ok_or(format!("unbalanced '{c}'"))?;
                if !matches!((oc, c), ('(', ')') | ('{', '}') | ('[', ']')) {
                    return Err(format!("'{oc}' closed by '{c}'"));
                }
                partner[o] = i;
                partner[i] = o;
            }
            _ => {}
        }
    }
    if let Some((_, c)) = stack.pop() {
        return Err(format!("unclosed '{c}'"));
    }

    let mut a = Analysis::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Open('[') => i = partner[i] + 1,
            Tok::Open('{') => {
                // A selector without a name outside the braces: {__name__="…"}.
                let matchers = matchers(&toks, i, partner[i])?;
                if let Some(m) = matchers
                    .iter()
                    .find(|m| m.label == "__name__" && m.op == "=")
                {
                    a.selectors.push(Selector {
                        name: m.value.clone(),
                        matchers: Vec::new(),
                        pos: i,
                    });
                }
                i = partner[i] + 1;
            }
            Tok::Ident(name) => {
                let next = toks.get(i + 1);
                let name = name.as_str();
                if matches!(name, "by" | "without") {
                    if next != Some(&Tok::Open('(')) {
                        return Err(format!("`{name}` without a label list"));
                    }
                    let end = partner[i + 1];
                    let labels = label_list(&toks[i + 2..end])?;
                    let body = if i > 0 && toks[i - 1] == Tok::Close(')') {
                        (partner[i - 1], i - 1)
                    } else if toks.get(end + 1) == Some(&Tok::Open('(')) {
                        (end + 1, partner[end + 1])
                    } else {
                        return Err(format!("`{name} (…)` is not attached to an aggregation"));
                    };
                    a.groupings.push(Grouping {
                        without: name == "without",
                        labels,
                        body,
                    });
                    i = end + 1;
                } else if matches!(name, "on" | "ignoring" | "group_left" | "group_right") {
                    i = if next == Some(&Tok::Open('(')) {
                        partner[i + 1] + 1
                    } else {
                        i + 1
                    };
                } else if next == Some(&Tok::Open('(')) {
                    a.makes_labels |= matches!(name, "label_replace" | "label_join");
                    // `sum(…)` without by/without: every label aggregated away (topk and
                    // its kind keep the series' labels).
                    let close = partner[i + 1];
                    let grouped_after = matches!(toks.get(close + 1), Some(Tok::Ident(w)) if w == "by" || w == "without");
                    if DROP_LABELS.contains(&name) && !grouped_after {
                        a.groupings.push(Grouping {
                            without: false,
                            labels: Vec::new(),
                            body: (i + 1, close),
                        });
                    }
                    i += 1;
                } else if (DROP_LABELS.contains(&name) || KEEP_LABELS.contains(&name))
                    || KEYWORDS.contains(&name.to_ascii_lowercase().as_str())
                {
                    i += 1;
                } else {
                    let (matchers, after) = if next == Some(&Tok::Open('{')) {
                        (matchers(&toks, i + 1, partner[i + 1])?, partner[i + 1] + 1)
                    } else {
                        (Vec::new(), i + 1)
                    };
                    a.selectors.push(Selector {
                        name: name.to_string(),
                        matchers,
                        pos: i,
                    });
                    i = after;
                }
            }
            _ => i += 1,
        }
    }
    Ok(a)
}

fn label_list(toks: &[Tok]) -> Result<Vec<String>, String> {
    let mut labels = Vec::new();
    for t in toks {
        match t {
            Tok::Ident(l) => labels.push(l.clone()),
            Tok::Comma => {}
            other => return Err(format!("unexpected {other:?} in a label list")),
        }
    }
    Ok(labels)
}

fn matchers(toks: &[Tok], open: usize, close: usize) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    let mut j = open + 1;
    while j < close {
        match (&toks[j], toks.get(j + 1), toks.get(j + 2)) {
            (Tok::Ident(label), Some(Tok::Op(op)), Some(Tok::Str(value))) => {
                out.push(Matcher {
                    label: label.clone(),
                    op: op.clone(),
                    value: value.clone(),
                });
                j += 3;
            }
            _ => {
                return Err(format!(
                    "cannot read the label matchers of a selector ({:?})",
                    &toks[j]
                ))
            }
        }
        if j < close {
            if toks[j] != Tok::Comma {
                return Err("label matchers not separated by commas".to_string());
            }
            j += 1;
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Dashboards

/// Replaces Grafana variables: `$name`, `${name}`, `${name:format}`, `[[name]]`.
fn substitute(raw: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let (name, next) = if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let Some(len) = chars[i + 2..].iter().position(|&c| c == '}') else {
                return Err("unclosed ${".to_string());
            };
            let inner: String = chars[i + 2..i + 2 + len].iter().collect();
            let name = inner.split(':').next().unwrap_or_default().to_string();
            (name, i + 3 + len)
        } else if chars[i] == '$' && chars.get(i + 1).is_some_and(|&c| is_name(c)) {
            let len = chars[i + 1..].iter().take_while(|&&c| is_name(c)).count();
            (chars[i + 1..i + 1 + len].iter().collect(), i + 1 + len)
        } else if chars[i] == '[' && chars.get(i + 1) == Some(&'[') {
            let Some(len) = chars[i + 2..].iter().position(|&c| c == ']') else {
                return Err("unclosed [[".to_string());
            };
            let name: String = chars[i + 2..i + 2 + len].iter().collect();
            (name, i + 4 + len)
        } else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        let builtin = match name.as_str() {
            "__rate_interval" | "__interval" => Some("1m".to_string()),
            "__range" => Some("1d".to_string()),
            "__range_s" => Some("86400".to_string()),
            "__range_ms" => Some("86400000".to_string()),
            "__interval_ms" => Some("60000".to_string()),
            _ => None,
        };
        match builtin.or_else(|| value(&name)) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "uses ${name}, which is not a variable of the dashboard"
                ))
            }
        }
        i = next;
    }
    Ok(out)
}

/// What stands for variable `name` when the expression is read for its matchers.
fn sentinel(name: &str) -> String {
    format!("__grafana_var_{name}__")
}

enum Origin {
    /// A panel target: its metrics must be filtered by the dashboard's label variables.
    Panel,
    /// A query variable's `label_values(selector, label)`: `label` must exist on the metric.
    Variable { label: String },
}

struct Query {
    location: String,
    raw: String,
    origin: Origin,
}

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards(problems: &mut Vec<String>) -> Vec<Dashboard> {
    let dir = repo().join("packaging/grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        match serde_json::from_str(&read(&path)) {
            Ok(json) => out.push(Dashboard { file, json }),
            Err(e) => problems.push(format!("{file}: not JSON: {e}")),
        }
    }
    out
}

fn all_panels(panels: &Value, out: &mut Vec<Value>) {
    for p in panels.as_array().into_iter().flatten() {
        out.push(p.clone());
        if let Some(nested) = p.get("panels") {
            all_panels(nested, out);
        }
    }
}

fn panel_name(p: &Value) -> String {
    format!(
        "panel {} {:?}",
        p.get("id")
            .map(Value::to_string)
            .unwrap_or_else(|| "?".into()),
        p.get("title").and_then(Value::as_str).unwrap_or("")
    )
}

fn variable_query(v: &Value) -> Option<String> {
    match v.get("query")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("query").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Checks the dashboard's structure and returns its PromQL queries.
fn structure(
    d: &Dashboard,
    uids: &mut BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Vec<Query> {
    let f = &d.file;
    let j = &d.json;
    let mut queries = Vec::new();
    match j.get("uid").and_then(Value::as_str) {
        None | Some("") => problems.push(format!("{f}: no uid")),
        Some(uid) => {
            if uid.len() > 40
                || !uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(format!("{f}: uid {uid:?} is not 1–40 of [A-Za-z0-9-_]"));
            }
            if let Some(other) = uids.insert(uid.to_string(), f.clone()) {
                problems.push(format!("{f}: uid {uid:?} is also the uid of {other}"));
            }
        }
    }
    let tagged = j["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "tilsyn"));
    if !tagged {
        problems.push(format!("{f}: not tagged \"tilsyn\""));
    }

    let vars = j["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let var = |name: &str| vars.iter().find(|v| v["name"] == name);
    match var("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        Some(_) => problems.push(format!(
            "{f}: variable `datasource` must have type \"datasource\" and query \"prometheus\""
        )),
        None => problems.push(format!("{f}: no `datasource` variable")),
    }
    match var("department") {
        Some(v) => {
            let q = variable_query(v).unwrap_or_default();
            if v["type"] != "query" || q.replace(' ', "") != "label_values(tilsyn_hosts,department)"
            {
                problems.push(format!(
                    "{f}: variable `department` must be a query variable \
                     label_values(tilsyn_hosts, department), not {q:?}"
                ));
            }
            if v["multi"] != true || v["includeAll"] != true || v["allValue"] != ".*" {
                problems.push(format!(
                    "{f}: variable `department` must be multi-value with All = \".*\""
                ));
            }
        }
        None => problems.push(format!("{f}: no `department` variable")),
    }
    for v in &vars {
        let name = v["name"].as_str().unwrap_or("?");
        if v["type"] != "query" {
            continue;
        }
        if v.get("datasource") != Some(&datasource_ref()) {
            problems.push(format!(
                "{f}: variable `{name}` does not query ${{datasource}}"
            ));
        }
        let Some(q) = variable_query(v) else {
            problems.push(format!("{f}: variable `{name}` has no query"));
            continue;
        };
        let location = format!("{f} › variable `{name}`");
        let t = q.trim();
        if let Some(inner) = t
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
        {
            match inner.rfind(',') {
                Some(comma) => queries.push(Query {
                    location,
                    raw: inner[..comma].trim().to_string(),
                    origin: Origin::Variable {
                        label: inner[comma + 1..].trim().to_string(),
                    },
                }),
                None => problems.push(format!(
                    "{location}: label_values({inner}) without a metric searches every series; \
                     name the metric"
                )),
            }
        } else if let Some(inner) = t
            .strip_prefix("query_result(")
            .and_then(|r| r.strip_suffix(')'))
        {
            queries.push(Query {
                location,
                raw: inner.to_string(),
                origin: Origin::Panel,
            });
        } else if !(t.starts_with("label_names(") || t.starts_with("metrics(")) {
            queries.push(Query {
                location,
                raw: t.to_string(),
                origin: Origin::Panel,
            });
        }
    }

    let mut panels = Vec::new();
    all_panels(&j["panels"], &mut panels);
    if panels.is_empty() {
        problems.push(format!("{f}: no panels"));
    }
    let mut ids = BTreeSet::new();
    for p in &panels {
        let name = panel_name(p);
        match p.get("id").and_then(Value::as_u64) {
            Some(id) => {
                if !ids.insert(id) {
                    problems.push(format!("{f}: panel id {id} is used twice"));
                }
            }
            None => problems.push(format!("{f} › {name}: no numeric id")),
        }
        let kind = p["type"].as_str().unwrap_or("");
        if kind == "row" {
            if p.get("datasource")
                .is_some_and(|d| !d.is_null() && *d != datasource_ref())
            {
                problems.push(format!(
                    "{f} › {name}: a row's data source must be ${{datasource}}"
                ));
            }
            continue;
        }
        if p.get("datasource") != Some(&datasource_ref()) {
            problems.push(format!(
                "{f} › {name}: data source must be {}, not {}",
                datasource_ref(),
                p.get("datasource").unwrap_or(&Value::Null)
            ));
        }
        if p["description"].as_str().unwrap_or("").trim().is_empty() {
            problems.push(format!("{f} › {name}: no description"));
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() && kind != "text" {
            problems.push(format!("{f} › {name}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in &targets {
            let r = t["refId"].as_str().unwrap_or("?").to_string();
            if !refs.insert(r.clone()) {
                problems.push(format!("{f} › {name}: refId {r} is used twice"));
            }
            if t.get("datasource") != Some(&datasource_ref()) {
                problems.push(format!(
                    "{f} › {name} › target {r}: data source must be ${{datasource}}"
                ));
            }
            match t["expr"].as_str() {
                Some(e) if !e.trim().is_empty() => queries.push(Query {
                    location: format!("{f} › {name} › target {r}"),
                    raw: e.to_string(),
                    origin: Origin::Panel,
                }),
                _ => problems.push(format!("{f} › {name} › target {r}: no expr")),
            }
        }
    }
    queries
}

/// Checks metrics, labels and variable use of one query; returns the expression for promtool.
fn check_query(
    q: &Query,
    variables: &BTreeMap<String, String>,
    catalogue: &Catalogue,
    recorded_used: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Option<String> {
    let at = format!("{}: `{}`", q.location, q.raw);
    let for_promtool = |name: &str| match variables.get(name).map(String::as_str) {
        Some("datasource") | None => None,
        Some("interval") => Some("1h".to_string()),
        Some(_) => Some(".*".to_string()),
    };
    let promql = match substitute(&q.raw, &for_promtool) {
        Ok(p) => p,
        Err(e) => {
            problems.push(format!("{at}: {e}"));
            return None;
        }
    };
    let marked = substitute(&q.raw, &|name: &str| {
        variables.contains_key(name).then(|| sentinel(name))
    })
    .expect("substitutes like the first pass");
    let analysis = match analyze(&marked) {
        Ok(a) => a,
        Err(e) => {
            problems.push(format!("{at}: cannot read the expression: {e}"));
            return Some(promql);
        }
    };
    if analysis.selectors.is_empty() {
        problems.push(format!("{at}: queries no metric"));
    }
    let mut known: Vec<Option<BTreeSet<String>>> = Vec::new();
    for s in &analysis.selectors {
        if s.name.starts_with("tilsyn:") {
            recorded_used.insert(s.name.clone());
        }
        let labels = match catalogue.labels(&s.name) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{at}: {e}"));
                None
            }
        };
        known.push(labels.clone());
        for m in &s.matchers {
            for (var, kind) in variables {
                if kind != "query" || !m.value.contains(&sentinel(var)) {
                    continue;
                }
                if m.label != *var || m.op != "=~" {
                    problems.push(format!(
                        "{at}: ${var} must be used as {var}=~\"${var}\" (found {}{}\"{}\")",
                        m.label, m.op, m.value
                    ));
                }
            }
        }
        let Some(labels) = labels else { continue };
        for m in &s.matchers {
            if m.label != "__name__" && !labels.contains(&m.label) {
                problems.push(format!(
                    "{at}: filters `{}` on label `{}`, which it does not have (labels: {})",
                    s.name,
                    m.label,
                    labels.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        match &q.origin {
            Origin::Panel => {
                for (var, kind) in variables {
                    if kind != "query" || !labels.contains(var) {
                        continue;
                    }
                    let filtered = s
                        .matchers
                        .iter()
                        .any(|m| m.label == *var && m.op == "=~" && m.value == sentinel(var));
                    if !filtered {
                        problems.push(format!(
                            "{at}: `{}` has a `{var}` label but is not filtered by {var}=~\"${var}\"",
                            s.name
                        ));
                    }
                }
            }
            Origin::Variable { label } => {
                if !labels.contains(label) {
                    problems.push(format!("{at}: `{}` has no label `{label}`", s.name));
                }
            }
        }
    }
    // Fleet-wide gauges come from whichever collector leads: a panel aggregates their
    // `instance` away, so a failover does not split its graph in two.
    if matches!(q.origin, Origin::Panel) {
        for s in analysis
            .selectors
            .iter()
            .filter(|s| catalogue.fleet.contains(&s.name))
        {
            let drops_instance = analysis.groupings.iter().any(|g| {
                s.pos > g.body.0
                    && s.pos < g.body.1
                    && (g.without == g.labels.iter().any(|l| l == "instance"))
            });
            if !drops_instance {
                problems.push(format!(
                    "{at}: `{}` is fleet-wide (exported by the leading collector, whichever it is): aggregate `instance` away, e.g. sum by (…) or max without (instance)",
                    s.name
                ));
            }
        }
    }
    if !analysis.makes_labels {
        for g in analysis.groupings.iter().filter(|g| !g.without) {
            let body: Vec<&Option<BTreeSet<String>>> = analysis
                .selectors
                .iter()
                .zip(&known)
                .filter(|(s, _)| s.pos > g.body.0 && s.pos < g.body.1)
                .map(|(_, l)| l)
                .collect();
            if body.is_empty() || body.iter().any(|l| l.is_none()) {
                continue;
            }
            let union: BTreeSet<&String> = body.iter().flat_map(|l| l.iter().flatten()).collect();
            for l in &g.labels {
                if !union.contains(l) {
                    problems.push(format!(
                        "{at}: groups by `{l}`, which none of the aggregated metrics has"
                    ));
                }
            }
        }
    }
    Some(promql)
}

/// Parses every expression with `promtool check rules`, one recording rule per expression.
fn promtool(exprs: &[(String, String, String)], problems: &mut Vec<String>) {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(n, (_, _, promql))| json!({"record": format!("check:q{n}"), "expr": promql}))
        .collect();
    let doc = json!({"groups": [{"name": "grafana-dashboards", "rules": rules}]});
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("dashboards.rules.yml");
    std::fs::write(&file, serde_yaml::to_string(&doc).expect("YAML")).expect("write rules");
    let out = Command::new(tilsyn_e2e::tool("promtool"))
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("running promtool: {e}"));
    if out.status.success() {
        return;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(p) = rest.find("check:q") {
            rest = &rest[p + "check:q".len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<usize>() {
                if n < exprs.len() && found.insert(n) {
                    let (location, raw, promql) = &exprs[n];
                    let reason = line.split_once("check:q").map_or(line, |(_, r)| r);
                    let reason = reason
                        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '"' || c == ':');
                    problems.push(format!(
                        "{location}: promtool cannot parse `{raw}` (as checked: `{promql}`):{reason}"
                    ));
                }
            }
        }
    }
    if found.is_empty() {
        problems.push(format!("promtool check rules failed:\n{text}"));
    }
}

fn provisioning(problems: &mut Vec<String>) {
    let base = repo().join("packaging/grafana/provisioning");
    let load = |rel: &str, problems: &mut Vec<String>| -> Option<serde_yaml::Value> {
        let path = base.join(rel);
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                None
            }
        }
    };
    if let Some(doc) = load("dashboards/tilsyn.yaml", problems) {
        let provider = &doc["providers"][0];
        let ok = doc["apiVersion"].as_u64() == Some(1)
            && provider["type"].as_str() == Some("file")
            && provider["folder"].as_str() == Some("Tilsyn")
            && provider["options"]["path"]
                .as_str()
                .is_some_and(|p| !p.is_empty());
        if !ok {
            problems.push(
                "provisioning/dashboards/tilsyn.yaml: want apiVersion 1 and a file provider with \
                 folder Tilsyn and options.path"
                    .to_string(),
            );
        }
    }
    if let Some(doc) = load("datasources/prometheus.yaml", problems) {
        if doc["apiVersion"].as_u64() != Some(1)
            || doc["datasources"][0]["type"].as_str() != Some("prometheus")
        {
            problems.push(
                "provisioning/datasources/prometheus.yaml: want apiVersion 1 and a prometheus \
                 data source"
                    .to_string(),
            );
        }
    }
}

#[test]
fn dashboards_query_only_what_the_collector_exports() {
    let mut problems = Vec::new();
    let catalogue = Catalogue::load(&mut problems);
    let boards = dashboards(&mut problems);
    assert!(
        !boards.is_empty(),
        "no dashboards in packaging/grafana/dashboards"
    );
    let mut uids = BTreeMap::new();
    let mut exprs = Vec::new();
    let mut recorded_used = BTreeSet::new();
    for d in &boards {
        let variables: BTreeMap<String, String> = d.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| {
                Some((
                    v["name"].as_str()?.to_string(),
                    v["type"].as_str().unwrap_or("").to_string(),
                ))
            })
            .collect();
        for q in structure(d, &mut uids, &mut problems) {
            if let Some(promql) = check_query(
                &q,
                &variables,
                &catalogue,
                &mut recorded_used,
                &mut problems,
            ) {
                exprs.push((q.location.clone(), q.raw.clone(), promql));
            }
        }
    }
    // The rules, too, may only use what the collector exports (promtool checks them in
    // their own test).
    for rule in catalogue.rules.iter().flatten() {
        let q = Query {
            location: rule.location.clone(),
            raw: rule.expr.trim().to_string(),
            origin: Origin::Panel,
        };
        let _ = check_query(
            &q,
            &BTreeMap::new(),
            &catalogue,
            &mut BTreeSet::new(),
            &mut problems,
        );
    }
    if let Err(why) = &catalogue.rules {
        if !recorded_used.is_empty() {
            problems.push(format!(
                "the dashboards use {} but the recording rules cannot be read: {why}",
                recorded_used.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    promtool(&exprs, &mut problems);
    provisioning(&mut problems);

    if !problems.is_empty() {
        let mut msg = format!(
            "{} problem(s) in the Grafana dashboards ({} expressions checked):\n",
            problems.len(),
            exprs.len()
        );
        for (n, p) in problems.iter().enumerate() {
            let _ = writeln!(msg, "{:3}. {p}", n + 1);
        }
        panic!("{msg}");
    }
}

/// The reader above must see through the forms the dashboards use, or the label checks
/// would pass by seeing nothing.
#[test]
fn the_promql_reader_finds_selectors_matchers_and_groupings() {
    let a = analyze(
        r#"histogram_quantile(0.9, sum by (priority, le) (rate(tilsyn_x_bucket{department=~".*", a!="b,c"}[5m])))
           / on (priority) group_left max(tilsyn:y:z) by (priority) - 1e-3 * up{job="j"} offset 5m"#,
    )
    .unwrap();
    let names: Vec<&str> = a.selectors.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["tilsyn_x_bucket", "tilsyn:y:z", "up"]);
    let m = &a.selectors[0].matchers;
    assert_eq!(
        (m[0].label.as_str(), m[0].op.as_str(), m[0].value.as_str()),
        ("department", "=~", ".*")
    );
    assert_eq!((m[1].label.as_str(), m[1].value.as_str()), ("a", "b,c"));
    assert_eq!(a.groupings.len(), 2);
    assert_eq!(a.groupings[0].labels, ["priority", "le"]);
    let inside = |g: &Grouping, s: &Selector| s.pos > g.body.0 && s.pos < g.body.1;
    assert!(inside(&a.groupings[0], &a.selectors[0]));
    assert!(!inside(&a.groupings[0], &a.selectors[1]));
    assert!(inside(&a.groupings[1], &a.selectors[1]));
    // A plain aggregation drops every label; topk keeps the series' own.
    let a = analyze("sum(tilsyn_hosts) + topk(3, tilsyn_incidents_open)").unwrap();
    assert_eq!(a.groupings.len(), 1);
    assert!(a.groupings[0].labels.is_empty() && !a.groupings[0].without);
    assert!(inside(&a.groupings[0], &a.selectors[0]));
    assert!(!inside(&a.groupings[0], &a.selectors[1]));

    let vars = |n: &str| (n == "department").then(|| ".*".to_string());
    assert_eq!(
        substitute(
            r#"x{department=~"$department"}[$__rate_interval] ${department:regex} [[department]]"#,
            &vars
        )
        .unwrap(),
        r#"x{department=~".*"}[1m] .* .*"#
    );
    assert!(substitute("$nope", &vars).is_err());
    assert_eq!(substitute(r#"x{a=~"b$"}"#, &vars).unwrap(), r#"x{a=~"b$"}"#);
}

/// Without the rules file the dashboards' recorded metrics cannot be checked: that must fail,
/// not pass.
#[test]
fn missing_recording_rules_are_an_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let err = prometheus_rules(&dir.path().join("prometheus")).expect_err("no directory");
    assert!(err.contains("tilsyn.rules.yml"), "{err}");
    std::fs::write(dir.path().join("alerts.yml"), "groups: []\n").expect("write");
    let err = prometheus_rules(dir.path()).expect_err("no recording rules");
    assert!(err.contains("no recording rules"), "{err}");
}
