//! A small XML scanner: enough for flat, machine-written XML (zypper's `--xmlout`, macOS
//! property lists), so no XML crate is needed.

/// One piece of an XML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlEvent<'a> {
    /// `<name a="v" …>`, or `<name … />` when `empty`.
    Start {
        name: &'a str,
        attrs: Vec<(&'a str, String)>,
        empty: bool,
    },
    End(&'a str),
    /// Character data between tags, entities decoded.
    Text(String),
}

/// The value of attribute `key`, or empty.
pub fn attr(attrs: &[(&str, String)], key: &str) -> String {
    attrs
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Splits `text` into tags and text. Skips the XML declaration, comments, DOCTYPE and
/// processing instructions; CDATA becomes text. Attribute values may hold any character
/// but their quote (including `>`), and `&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;` are
/// decoded. Fails on a tag that does not close or an attribute without a quoted value.
pub fn xml_events(text: &str) -> Result<Vec<XmlEvent<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    let offset = |r: &str| text.len() - r.len();
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut out, rest);
            break;
        };
        push_text(&mut out, &rest[..lt]);
        rest = &rest[lt..];
        let skip_past = |r: &str, end: &str| -> Result<usize, String> {
            r.find(end)
                .map(|i| i + end.len())
                .ok_or_else(|| format!("unterminated markup at byte {}", offset(r)))
        };
        if rest.starts_with("<?") {
            rest = &rest[skip_past(rest, "?>")?..];
        } else if rest.starts_with("<!--") {
            rest = &rest[skip_past(rest, "-->")?..];
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body
                .find("]]>")
                .ok_or_else(|| format!("unterminated CDATA at byte {}", offset(rest)))?;
            out.push(XmlEvent::Text(body[..end].to_string()));
            rest = &body[end + 3..];
        } else if rest.starts_with("<!") {
            rest = &rest[skip_past(rest, ">")?..];
        } else if let Some(body) = rest.strip_prefix("</") {
            let end = body
                .find('>')
                .ok_or_else(|| format!("unterminated end tag at byte {}", offset(rest)))?;
            out.push(XmlEvent::End(body[..end].trim()));
            rest = &body[end + 1..];
        } else {
            let (ev, r) =
                start_tag(&rest[1..]).map_err(|e| format!("{e} at byte {}", offset(rest)))?;
            out.push(ev);
            rest = r;
        }
    }
    Ok(out)
}

fn push_text<'a>(out: &mut Vec<XmlEvent<'a>>, raw: &str) {
    if !raw.is_empty() {
        out.push(XmlEvent::Text(unescape(raw)));
    }
}

/// Parses a start tag after its `<`; returns the event and the text after its `>`.
fn start_tag(s: &str) -> Result<(XmlEvent<'_>, &str), String> {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .ok_or("unterminated tag")?;
    let name = &s[..name_end];
    if name.is_empty() {
        return Err("tag without a name".into());
    }
    let mut rest = &s[name_end..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/>") {
            return Ok((
                XmlEvent::Start {
                    name,
                    attrs,
                    empty: true,
                },
                r,
            ));
        }
        if let Some(r) = rest.strip_prefix('>') {
            return Ok((
                XmlEvent::Start {
                    name,
                    attrs,
                    empty: false,
                },
                r,
            ));
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace() || c == '>' || c == '/')
            .ok_or("unterminated tag")?;
        let key = &rest[..key_end];
        if key.is_empty() {
            return Err(format!("unexpected character in <{name}>"));
        }
        rest = rest[key_end..].trim_start();
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("attribute {key} of <{name}> has no value"))?
            .trim_start();
        let quote = rest
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("attribute {key} of <{name}> is not quoted"))?;
        let body = &rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| format!("attribute {key} of <{name}> is not closed"))?;
        attrs.push((key, unescape(&body[..end])));
        rest = &body[end + 1..];
    }
}

/// Decodes XML's predefined entities and character references; anything else is kept.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|i| *i <= 10).and_then(|semi| {
            let ent = &rest[1..semi];
            let ch = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => ent
                    .strip_prefix("#x")
                    .or_else(|| ent.strip_prefix("#X"))
                    .map(|h| u32::from_str_radix(h, 16))
                    .or_else(|| ent.strip_prefix('#').map(|d| d.parse::<u32>()))
                    .and_then(|r| r.ok())
                    .and_then(char::from_u32),
            }?;
            Some((ch, semi))
        });
        match decoded {
            Some((ch, semi)) => {
                out.push(ch);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
