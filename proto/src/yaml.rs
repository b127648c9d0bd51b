//! Loading YAML config files so that every error names the file and the line.
//!
//! Syntax and type errors come from serde_yaml with line and column (deserialization stops
//! at the first one). Semantic checks then collect *all* their issues, each with a path
//! such as `departments[1].tokens`; [`locate`] maps such a path back to a line of the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending value, e.g. `departments[0].id` (may be empty).
    pub path: String,
    pub message: String,
}

/// All problems found in one config file.
#[derive(Debug, Clone)]
pub struct ConfigErrors {
    pub file: PathBuf,
    pub issues: Vec<Issue>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(
            f,
            "{}: {n} error{} in config",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for i in &self.issues {
            write!(f, "  {}", self.file.display())?;
            if let Some(l) = i.line {
                write!(f, ":{l}")?;
                if let Some(c) = i.column {
                    write!(f, ":{c}")?;
                }
            }
            if i.path.is_empty() {
                writeln!(f, ": {}", i.message)?;
            } else {
                writeln!(f, ": {}: {}", i.path, i.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects semantic issues by path while validating a parsed config.
#[derive(Debug, Default)]
pub struct Issues(Vec<(String, String)>);

impl Issues {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push((path.into(), message.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The issues as `path: message`, one each (for an API answer, which has no file).
    pub fn messages(&self) -> Vec<String> {
        self.0.iter().map(|(p, m)| format!("{p}: {m}")).collect()
    }
    /// How many issues so far (to tell whether a check added any).
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Turns the collected issues into errors with lines looked up in `text`.
    pub fn into_result(self, file: &Path, text: &str) -> Result<(), ConfigErrors> {
        if self.0.is_empty() {
            return Ok(());
        }
        let issues = self
            .0
            .into_iter()
            .map(|(path, message)| Issue {
                line: locate(text, &path),
                column: None,
                message,
                path,
            })
            .collect();
        Err(ConfigErrors {
            file: file.to_path_buf(),
            issues,
        })
    }
}

/// Reads and parses a YAML file; a syntax or type error comes back with line and column.
pub fn load<T: serde::de::DeserializeOwned>(file: &Path) -> Result<(T, String), ConfigErrors> {
    let text = read(file)?;
    let value = parse(file, &text)?;
    Ok((value, text))
}

/// The file's text, or an error naming it.
pub fn read(file: &Path) -> Result<String, ConfigErrors> {
    crate::files::read_small(file, crate::files::MAX_CONFIG_BYTES).map_err(|e| ConfigErrors {
        file: file.to_path_buf(),
        issues: vec![Issue {
            line: None,
            column: None,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        }],
    })
}

/// Parses YAML text that came from `file` (used for errors only).
pub fn parse<T: serde::de::DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigErrors> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e.location();
        ConfigErrors {
            file: file.to_path_buf(),
            issues: vec![Issue {
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                path: String::new(),
                message: e.to_string(),
            }],
        }
    })
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Seg::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(n) = rest[1..close].parse() {
                out.push(Seg::Index(n));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// The tokens that open a line: `- ` markers and a `key:` (with their columns).
fn line_tokens(line: &str) -> (Vec<usize>, Option<(usize, &str)>) {
    let mut dashes = Vec::new();
    let mut col = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    while rest == "-" || rest.starts_with("- ") {
        dashes.push(col);
        let after = &rest[1..];
        let skipped = after.len() - after.trim_start().len();
        col += 1 + skipped;
        rest = after.trim_start();
    }
    let key = rest
        .find(':')
        .filter(|&i| {
            let k = &rest[..i];
            !k.is_empty() && !k.starts_with('#') && !k.contains(' ') || k.starts_with('"')
        })
        .map(|i| (col, rest[..i].trim_matches(|c| c == '"' || c == '\'')));
    (dashes, key)
}

fn first_col(line: &str) -> Option<usize> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        None
    } else {
        Some(line.len() - t.len())
    }
}

/// `(path, message)` problems of `file` (whose text is `text`) as `file:line: path:
/// message` lines, for documents checked after parsing.
pub fn with_lines(file: &Path, text: &str, errs: Vec<(String, String)>) -> Vec<String> {
    errs.into_iter()
        .map(|(path, msg)| match locate(text, &path) {
            Some(line) => format!("{}:{line}: {path}: {msg}", file.display()),
            None => format!("{}: {path}: {msg}", file.display()),
        })
        .collect()
}

/// Finds the 1-based line of a dotted path (`a.b[2].c`) in block-style YAML. Returns the
/// deepest line it could reach, or `None` when not even the first key is found.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut start, mut end, mut parent): (usize, usize, isize) = (0, lines.len(), -1);
    let mut found = None;
    for seg in segments(path) {
        match seg {
            Seg::Key(k) => {
                let hit = (start..end).find_map(|i| {
                    let (_, key) = line_tokens(lines[i]);
                    key.filter(|(c, name)| *c as isize > parent && *name == k)
                        .map(|(c, _)| (i, c))
                });
                let Some((i, c)) = hit else { break };
                found = Some(i + 1);
                let block_end = (i + 1..end)
                    .find(|&j| match first_col(lines[j]) {
                        Some(fc) => {
                            let (dashes, _) = line_tokens(lines[j]);
                            fc < c || (fc == c && dashes.first() != Some(&c))
                        }
                        None => false,
                    })
                    .unwrap_or(end);
                start = i + 1;
                end = block_end;
                parent = c as isize - 1;
            }
            Seg::Index(n) => {
                let items: Vec<(usize, usize)> = (start..end)
                    .filter_map(|i| {
                        let (dashes, _) = line_tokens(lines[i]);
                        dashes.first().map(|&c| (i, c))
                    })
                    .collect();
                let Some(&(_, c0)) = items.first() else { break };
                let mine: Vec<usize> = items
                    .iter()
                    .filter(|(_, c)| *c == c0)
                    .map(|(i, _)| *i)
                    .collect();
                let Some(&i) = mine.get(n) else { break };
                found = Some(i + 1);
                start = i;
                end = mine.get(n + 1).copied().unwrap_or(end);
                parent = c0 as isize;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
grpc:
  listen: 127.0.0.1:7443
departments:
  - id: social
    name: Social Services
    tokens:
      - abc
  - id: schools
    tokens:
    - def
    - ghi
settings:
  defaults:
    health_interval: 60s
";

    #[test]
    fn locates_keys_and_list_items() {
        assert_eq!(locate(DOC, "grpc.listen"), Some(2));
        assert_eq!(locate(DOC, "departments[0].id"), Some(4));
        assert_eq!(locate(DOC, "departments[1].id"), Some(8));
        assert_eq!(locate(DOC, "departments[1].tokens[1]"), Some(11));
        assert_eq!(locate(DOC, "departments[0].tokens[0]"), Some(7));
        assert_eq!(locate(DOC, "settings.defaults.health_interval"), Some(14));
    }

    #[test]
    fn falls_back_to_the_deepest_known_line() {
        assert_eq!(locate(DOC, "departments[1].missing"), Some(8));
        assert_eq!(locate(DOC, "nowhere"), None);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct C {
            a: u32,
        }
        let err = parse::<C>(Path::new("x.yaml"), "a: 1\nb: 2\n").unwrap_err();
        assert_eq!(err.issues[0].line, Some(2));
        assert!(err.to_string().contains("x.yaml:2:"), "{err}");
    }
}
