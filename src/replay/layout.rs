//! The S3 layouts of `template.yaml`, so that replay writes exactly what the
//! deployed delivery stream would.
//!
//! The template keeps one `Mappings` entry per layout, each with `Prefix` and
//! `ErrorOutputPrefix`; a parameter's `Default` names the layout a deploy
//! uses. Only those few scalars are needed, so this reads them with a small
//! indentation-aware scan instead of a YAML library: CloudFormation's short
//! tags (`!Ref`, `!Sub`, `!FindInMap`) trip general-purpose YAML parsers, and
//! the CLI would carry a parser for three strings.

/// One layout: where delivered and failed records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub name: String,
    pub prefix: String,
    pub error_prefix: String,
}

/// Every layout of a template, and the name of the default one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layouts {
    pub default: String,
    pub layouts: Vec<Layout>,
}

impl Layouts {
    pub fn get(&self, name: &str) -> Option<&Layout> {
        self.layouts.iter().find(|l| l.name == name)
    }
    pub fn default_layout(&self) -> &Layout {
        self.get(&self.default)
            .expect("from_template checks that the default exists")
    }
    pub fn names(&self) -> Vec<&str> {
        self.layouts.iter().map(|l| l.name.as_str()).collect()
    }
}

struct Line<'a> {
    indent: usize,
    key: &'a str,
    value: &'a str,
}

/// `key: value` lines with their indentation; comments, blanks, list items
/// and the contents of block scalars (`>-`, `|`) are skipped.
fn lines(yaml: &str) -> Vec<Line<'_>> {
    let mut out: Vec<Line> = Vec::new();
    let mut block_above: Option<usize> = None;
    for raw in yaml.lines() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match block_above {
            Some(key_indent) if indent > key_indent => continue,
            _ => block_above = None,
        }
        if trimmed.starts_with('-') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        if key.contains(' ') && !key.starts_with(['"', '\'']) {
            continue;
        }
        // `key:value` with no space is not a mapping entry.
        let after = &trimmed[key.len() + 1..];
        if !after.is_empty() && !after.starts_with([' ', '\t']) {
            continue;
        }
        let value = value.trim();
        if value.starts_with(['>', '|']) {
            block_above = Some(indent);
        }
        out.push(Line {
            indent,
            key: key.trim_matches(['"', '\'']),
            value,
        });
    }
    out
}

/// A YAML scalar as written on one line: plain (comment stripped), single-
/// or double-quoted.
fn scalar(v: &str) -> Result<String, String> {
    if let Some(inner) = v.strip_prefix('\'') {
        return single_quoted(inner).ok_or_else(|| format!("unterminated quote in {v}"));
    }
    if v.starts_with('"') {
        let end = double_quoted_end(v).ok_or_else(|| format!("unterminated quote in {v}"))?;
        return serde_json::from_str::<String>(&v[..=end])
            .map_err(|e| format!("unsupported escape in {v}: {e}"));
    }
    let plain = match v.find(" #") {
        Some(i) => &v[..i],
        None => v,
    };
    Ok(plain.trim().to_owned())
}

/// The body of a single-quoted scalar (`''` is a quote), given the text
/// after the opening quote.
fn single_quoted(inner: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn double_quoted_end(v: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in v.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// The entries of a top-level section (`Mappings`, `Parameters`).
fn section<'l, 'a>(lines: &'l [Line<'a>], name: &str) -> &'l [Line<'a>] {
    let Some(start) = lines.iter().position(|l| l.indent == 0 && l.key == name) else {
        return &[];
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.indent == 0)
        .map_or(lines.len(), |i| start + 1 + i);
    &lines[start + 1..end]
}

/// The `Default` of a template parameter, e.g. `ProcessorBufferSizeMB`.
pub fn parameter_default(yaml: &str, parameter: &str) -> Option<String> {
    let lines = lines(yaml);
    let params = section(&lines, "Parameters");
    let at = params
        .iter()
        .position(|l| l.key == parameter && l.value.is_empty())?;
    let indent = params[at].indent;
    params[at + 1..]
        .iter()
        .take_while(|l| l.indent > indent)
        .find(|l| l.key == "Default" && l.indent > indent)
        .and_then(|l| scalar(l.value).ok())
}

/// Reads the layouts of a CloudFormation / SAM template.
pub fn from_template(yaml: &str) -> Result<Layouts, String> {
    let lines = lines(yaml);
    let mut layouts: Vec<Layout> = Vec::new();
    let mappings = section(&lines, "Mappings");
    // A layout is a mapping entry that holds a `Prefix`; its name is the key
    // one level up.
    for (i, l) in mappings.iter().enumerate() {
        if l.key != "Prefix" {
            continue;
        }
        let Some(parent) = mappings[..i].iter().rev().find(|p| p.indent < l.indent) else {
            continue;
        };
        let block_end = mappings[i + 1..]
            .iter()
            .position(|s| s.indent < l.indent)
            .map_or(mappings.len(), |k| i + 1 + k);
        let block_start = mappings[..i]
            .iter()
            .rposition(|s| s.indent < l.indent)
            .map_or(0, |k| k + 1);
        let error = mappings[block_start..block_end]
            .iter()
            .find(|s| s.indent == l.indent && s.key == "ErrorOutputPrefix")
            .ok_or_else(|| {
                format!(
                    "layout {:?} has a Prefix but no ErrorOutputPrefix",
                    parent.key
                )
            })?;
        layouts.push(Layout {
            name: parent.key.to_owned(),
            prefix: scalar(l.value)?,
            error_prefix: scalar(error.value)?,
        });
    }
    if layouts.is_empty() {
        return Err("the template has no Mappings entry with Prefix and ErrorOutputPrefix".into());
    }

    // The default layout: the parameter default that names one of them.
    let defaults: Vec<String> = section(&lines, "Parameters")
        .iter()
        .filter(|l| l.key == "Default")
        .filter_map(|l| scalar(l.value).ok())
        .filter(|d| layouts.iter().any(|l| &l.name == d))
        .collect();
    let default = match (defaults.as_slice(), layouts.as_slice()) {
        ([one], _) => one.clone(),
        ([], [only]) => only.name.clone(),
        ([], _) => {
            return Err(format!(
                "no parameter Default names one of the layouts {:?}",
                layouts.iter().map(|l| &l.name).collect::<Vec<_>>()
            ))
        }
        (many, _) => return Err(format!("several parameter Defaults name layouts: {many:?}")),
    };
    Ok(Layouts { default, layouts })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  Prefix: not a key, inside a folded block
Metadata:
  AWS::CloudFormation::Interface:
    ParameterGroups:
      - Label: { default: Layout }
Parameters:
  Layout:
    Type: String
    Default: DateSite   # the usual one
    AllowedValues: [DateSite, Flat]
    Description: |
      Default: Flat is not the default, this is a block scalar
  ProcessorBufferSizeMB:
    Type: Number
    Default: 1
  Name:
    Default: 'it''s'
Mappings:
  Layouts:
    DateSite:
      Prefix: events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/
      ErrorOutputPrefix: "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
      LocationTemplate: events/dt=${dt}/site=${site}/
    Flat:
      ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/'
      Prefix: 'flat/'
Resources:
  Bucket:
    Properties:
      Prefix: errors/
"#;

    #[test]
    fn reads_layouts_and_the_default() {
        let layouts = from_template(TEMPLATE).unwrap();
        assert_eq!(layouts.default, "DateSite");
        assert_eq!(layouts.names(), ["DateSite", "Flat"]);
        assert_eq!(
            layouts.default_layout(),
            &Layout {
                name: "DateSite".into(),
                prefix:
                    "events/dt=!{partitionKeyFromLambda:dt}/site=!{partitionKeyFromLambda:site}/"
                        .into(),
                error_prefix: "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/"
                    .into(),
            }
        );
        assert_eq!(layouts.get("Flat").unwrap().prefix, "flat/");
        assert_eq!(
            layouts.get("Flat").unwrap().error_prefix,
            "errors/!{firehose:error-output-type}/"
        );
    }

    #[test]
    fn reads_parameter_defaults() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("ProcessorBufferSizeMB", Some("1")),
            ("Layout", Some("DateSite")),
            ("Name", Some("it's")),
            ("Missing", None),
            ("Type", None),
        ];
        for (name, want) in cases {
            assert_eq!(
                parameter_default(TEMPLATE, name).as_deref(),
                *want,
                "{name}"
            );
        }
    }

    #[test]
    fn refuses_templates_it_cannot_read() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("Resources: {}\n", "no Mappings entry"),
            ("Mappings:\n  L:\n    A:\n      Prefix: a/\n", "no ErrorOutputPrefix"),
            ("Mappings:\n  L:\n    A:\n      Prefix: a/\n      ErrorOutputPrefix: e/\n    B:\n      Prefix: b/\n      ErrorOutputPrefix: e/\n", "no parameter Default"),
            ("Mappings:\n  L:\n    A:\n      Prefix: 'a/\n      ErrorOutputPrefix: e/\n", "unterminated quote"),
        ];
        for (yaml, want) in cases {
            let got = from_template(yaml);
            assert!(
                matches!(&got, Err(e) if e.contains(want)),
                "{yaml:?}: {got:?}"
            );
        }
    }

    #[test]
    fn a_single_layout_is_the_default() {
        let yaml = "Mappings:\n  L:\n    Only:\n      Prefix: a/\n      ErrorOutputPrefix: e/\n";
        assert_eq!(from_template(yaml).unwrap().default, "Only");
    }
}
