//! `extra`: Parquet without loss. Firehose's format conversion writes only
//! the Glue table's columns, and fails a record whose value does not convert
//! to its column's type. With `COLUMNS` set (the template sets it in Parquet
//! mode, to the table's columns), this last stage moves every top-level
//! member that would be lost or would fail into one JSON string, `extra`,
//! with its key and value text byte for byte:
//!
//! * a member whose (lowercased) key is not a column;
//! * a member whose value does not convert to its column's type
//!   ([`crate::schema::Type::accepts`]);
//! * members whose keys name the same column in one record (duplicates, or
//!   spellings that differ in case): the SerDe would keep only one.
//!
//! Our own fields are written by the stages and never moved; an input member
//! that carries one of their names is replaced as usual, except `extra`
//! itself, which moves into `extra` under its own key. Without `COLUMNS` the
//! stage is not in the pipeline at all.

use super::{
    Edit, Enricher, Example, Expected, Facts, Field, Fields, JsonType, Presence, Record, Stage,
};
use crate::reason::DropReason;
use crate::schema::{column_of, Type};
use crate::settings::{ConfigError, Env, Variable};
use std::sync::Arc;

/// `COLUMNS=bundled`: the column list of the template the binary was built
/// with.
pub const BUNDLED: &str = "bundled";

/// The field's name, and the key a moved input `extra` member keeps.
pub const EXTRA: &str = "extra";

pub const ENRICHER: Enricher = Enricher {
    name: "extra",
    optional: false,
    summary: "with COLUMNS set (Parquet mode), moves members that are not columns, or whose value does not convert to their column's type, into one JSON string",
    fields: &[Field {
        name: EXTRA,
        json_type: JsonType::String,
        athena_type: "string",
        presence: Presence::Omitted,
        description: "only with `COLUMNS` set: a JSON object of the top-level members that are not columns or whose value does not convert to their column's type, keys and values byte for byte; read one with `json_extract_scalar(extra, '$.field')`",
    }],
    variables: &[Variable {
        name: "COLUMNS",
        default: "",
        form: "empty (JSON output), `bundled` (the column list of the `template.yaml` the binary was built from), or the JSON array `firehose-enricher schema` prints, `[{\"name\":\"…\",\"type\":\"…\"},…]`, with `{\"name\":\"extra\",\"type\":\"string\"}` among them",
        meaning: "empty: off, every field stays where it is (JSON output). The template sets it in Parquet mode to `bundled`, the table's columns: members that are not a column, or whose value does not convert to its column's type, move into `extra` (see [Parquet without loss](deploy.md#parquet-without-loss))",
    }],
    examples: &[Example {
        title: "A member that is not a column, and one whose value is not its column's type",
        input: r#"{"url":"https://example.com/","plan":"pro","seats":"many"}"#,
        variables: &[("COLUMNS", r#"[{"name":"url","type":"string"},{"name":"seats","type":"bigint"},{"name":"extra","type":"string"}]"#)],
        output: Expected::Fields(&[
            ("url", Some(r#""https://example.com/""#)),
            ("plan", None),
            ("seats", None),
            ("extra", Some(r#""{\"plan\":\"pro\",\"seats\":\"many\"}""#)),
        ]),
    }],
    build,
};

#[derive(Debug)]
struct Extra {
    /// The columns; `None` when `COLUMNS` is not set.
    columns: Option<Columns>,
}

/// The columns, and their indexes grouped by name length: every member of
/// every record is looked up here, and a name meets at most a few others of
/// its length (a hash per key cost more, measured).
#[derive(Debug)]
struct Columns {
    list: Vec<(String, Type)>,
    by_len: Vec<Vec<usize>>,
}

impl Columns {
    fn new(list: Vec<(String, Type)>) -> Columns {
        let mut by_len: Vec<Vec<usize>> = Vec::new();
        for (i, (name, _)) in list.iter().enumerate() {
            if by_len.len() <= name.len() {
                by_len.resize(name.len() + 1, Vec::new());
            }
            by_len[name.len()].push(i);
        }
        Columns { list, by_len }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.by_len
            .get(name.len())?
            .iter()
            .copied()
            .find(|&i| self.list[i].0 == name)
    }
}

fn build(env: &mut Env<'_>) -> Result<Arc<dyn Stage>, ConfigError> {
    let (name, value) = env.get("COLUMNS");
    if value.trim().is_empty() {
        return Ok(Arc::new(Extra { columns: None }));
    }
    // `bundled`: the template's list, compiled in (the 4 KB environment
    // has no room for it).
    let list = match value.trim() {
        BUNDLED => crate::schema::render::bundled_columns().unwrap_or(""),
        _ => value.as_str(),
    };
    let columns = crate::schema::parse_columns(list)
        .filter(|c| c.iter().any(|(n, t)| n == EXTRA && *t == Type::String))
        .ok_or_else(|| env.error(name, &value))?;
    Ok(Arc::new(Extra {
        columns: Some(Columns::new(columns)),
    }))
}

/// What one member is to this stage.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    /// One of our fields, written by the stages: never moved.
    Ours,
    /// The member of this column.
    Column(usize),
    /// No column's (or an input `extra`): always moved.
    Moved,
    /// Removed by an earlier stage (`DROP_FIELDS`): not in the output at all.
    Gone,
}

impl Stage for Extra {
    fn active(&self) -> bool {
        self.columns.is_some()
    }

    fn run<'a>(
        &self,
        record: &Record<'a>,
        facts: &mut Facts<'a>,
        out: &mut Fields,
    ) -> Result<(), DropReason> {
        let Some(columns) = &self.columns else {
            return Ok(());
        };
        // Each member as the earlier stages left it: the privacy controls
        // remove members or replace their values, and a dropped or hashed
        // value must never reappear in `extra`. `None`: removed.
        let current: Vec<Option<String>> = if facts.edits.is_empty() {
            Vec::new()
        } else {
            (0..record.member_count())
                .map(|i| match facts.edits.iter().rev().find(|(j, _)| *j == i) {
                    Some((_, Edit::Remove)) => None,
                    Some((_, Edit::Replace(text))) => Some(text.clone()),
                    None => Some(record.member_value(i).to_owned()),
                })
                .collect()
        };
        let value = |i: usize| -> Option<&str> {
            if current.is_empty() {
                Some(record.member_value(i))
            } else {
                current[i].as_deref()
            }
        };
        // How many members of this record each column has: with two, the
        // SerDe would keep one, so both move.
        let mut hits = vec![0u8; columns.list.len()];
        let slots: Vec<Slot> = (0..record.member_count())
            .map(|i| {
                if value(i).is_none() {
                    return Slot::Gone;
                }
                let Some(key) = crate::time::json_string(record.member_key(i)) else {
                    return Slot::Moved;
                };
                if key == EXTRA {
                    return Slot::Moved;
                }
                if record.member_is_ours(i) {
                    return Slot::Ours;
                }
                match columns.find(&column_of(&key)) {
                    Some(c) => {
                        hits[c] = hits[c].saturating_add(1);
                        Slot::Column(c)
                    }
                    None => Slot::Moved,
                }
            })
            .collect();
        let mut moved = String::new();
        for (i, slot) in slots.into_iter().enumerate() {
            let Some(text) = value(i) else { continue };
            let stays = match slot {
                Slot::Ours | Slot::Gone => continue,
                Slot::Column(c) => hits[c] == 1 && columns.list[c].1.accepts(text),
                Slot::Moved => false,
            };
            if stays {
                continue;
            }
            moved.push(if moved.is_empty() { '{' } else { ',' });
            moved.push_str(record.member_key(i));
            moved.push(':');
            moved.push_str(text);
            if !record.member_is_ours(i) {
                facts.edits.push((i, Edit::Remove));
            }
        }
        if !moved.is_empty() {
            moved.push('}');
            out.string(EXTRA, &moved);
            facts.moved_to_extra = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::record::{transform, Outcome};
    use crate::Config;

    const COLUMNS: &str = r#"[{"name":"event_time","type":"timestamp"},{"name":"n","type":"bigint"},{"name":"x","type":"double"},{"name":"s","type":"string"},{"name":"ok","type":"boolean"},{"name":"tags","type":"array<string>"},{"name":"ctx","type":"struct<id:bigint>"},{"name":"userid","type":"string"},{"name":"extra","type":"string"}]"#;

    fn config(columns: Option<&str>) -> Config {
        let columns = columns.map(str::to_owned);
        Config::from_lookup(move |v| match v {
            "ENRICHMENTS" => Some("none".into()),
            "COLUMNS" => columns.clone(),
            _ => None,
        })
        .unwrap()
    }

    /// The members before our fields, and `extra`'s text if written.
    fn run(input: &str, config: &Config) -> (String, Option<String>, bool) {
        let t = transform(input.as_bytes(), 1_795_770_902_000, config);
        let Outcome::Ok(enriched) = t.outcome else {
            panic!("{input}: {:?}", t.outcome)
        };
        let line = String::from_utf8(t.data).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        let kept = line[..line.find("\"event_time\":").unwrap()].to_owned();
        let extra = v.get("extra").and_then(|e| e.as_str()).map(str::to_owned);
        (kept, extra, enriched.moved_to_extra)
    }

    #[test]
    fn moves_what_parquet_would_lose_and_nothing_else() {
        type Case = (&'static str, &'static str, Option<&'static str>);
        let cases: &[Case] = &[
            // --- edge cases ---
            ("{}", "{", None),
            (r#"{"n":null}"#, r#"{"n":null,"#, None),
            (r#"{"extra":1}"#, "{", Some(r#"{"extra":1}"#)),
            (r#"{"dt":"x"}"#, "{", Some(r#"{"dt":"x"}"#)),
            // Two members on one column: both move, or one would be lost.
            (r#"{"n":1,"n":2}"#, "{", Some(r#"{"n":1,"n":2}"#)),
            (
                r#"{"userId":"a","userid":"b"}"#,
                "{",
                Some(r#"{"userId":"a","userid":"b"}"#),
            ),
            // Keys and values keep their text: escapes, spacing, number forms.
            (
                r#"{ "unknown\u0041" : [1, 2.50] , "n":1}"#,
                r#"{"n":1,"#,
                Some(r#"{"unknown\u0041":[1, 2.50]}"#),
            ),
            (r#"{"x":1.0e2}"#, r#"{"x":1.0e2,"#, None),
            // Our fields are replaced as always, never moved.
            (r#"{"event_time":"old","n":1}"#, r#"{"n":1,"#, None),
            // --- types that do not convert ---
            (r#"{"n":"7"}"#, "{", Some(r#"{"n":"7"}"#)),
            (r#"{"n":1.5}"#, "{", Some(r#"{"n":1.5}"#)),
            (r#"{"s":{"a":1}}"#, "{", Some(r#"{"s":{"a":1}}"#)),
            (r#"{"ok":"yes"}"#, "{", Some(r#"{"ok":"yes"}"#)),
            (r#"{"tags":["a",{}]}"#, "{", Some(r#"{"tags":["a",{}]}"#)),
            (
                r#"{"ctx":{"id":1,"more":2}}"#,
                "{",
                Some(r#"{"ctx":{"id":1,"more":2}}"#),
            ),
            // --- the plain cases ---
            (
                r#"{"n":1,"s":"a","ok":true,"tags":["t"],"ctx":{"ID":2},"UserId":"u"}"#,
                r#"{"n":1,"s":"a","ok":true,"tags":["t"],"ctx":{"ID":2},"UserId":"u","#,
                None,
            ),
            (
                r#"{"n":1,"other":"z","s":7}"#,
                r#"{"n":1,"s":7,"#,
                Some(r#"{"other":"z"}"#),
            ),
        ];
        let config = config(Some(COLUMNS));
        for (input, kept, extra) in cases {
            let (got_kept, got_extra, moved) = run(input, &config);
            assert_eq!(&got_kept, kept, "{input}");
            assert_eq!(got_extra.as_deref(), *extra, "{input}");
            assert_eq!(moved, extra.is_some(), "{input}");
        }
    }

    /// The privacy controls run before `extra`: a dropped member is gone,
    /// a hashed one moves hashed, and neither original value appears.
    #[test]
    fn privacy_edits_are_what_moves() {
        let config = Config::from_lookup(|v| match v {
            "ENRICHMENTS" => Some("none".into()),
            "COLUMNS" => Some(COLUMNS.into()),
            "DROP_FIELDS" => Some("phone,ctx.secret".into()),
            "HASH_FIELDS" => Some("email".into()),
            "HASH_KEY" => Some("k".repeat(32)),
            _ => None,
        })
        .unwrap();
        let input =
            r#"{"n":1,"email":"ann@example.com","phone":"+44 20 7946 0000","s":"x","other":2}"#;
        let (kept, extra, moved) = run(input, &config);
        let extra = extra.expect("email and other move");
        assert!(moved);
        for secret in ["ann@example.com", "7946"] {
            assert!(
                !kept.contains(secret) && !extra.contains(secret),
                "{secret}: {kept} {extra}"
            );
        }
        let extra: serde_json::Value = serde_json::from_str(&extra).unwrap();
        assert_eq!(extra["other"], 2);
        assert_eq!(
            extra["email"].as_str().map(str::len),
            Some(64),
            "HMAC hex: {extra}"
        );
        assert!(extra.get("phone").is_none(), "{extra}");
        assert_eq!(kept, r#"{"n":1,"s":"x","#);
    }

    #[test]
    fn without_columns_nothing_moves_and_extra_is_not_reserved() {
        let config = config(None);
        assert!(!config.output_fields().contains(&"extra"));
        for input in [r#"{"extra":1}"#, r#"{"unknown":{"a":1}}"#, r#"{"n":"7"}"#] {
            let (kept, extra, moved) = run(input, &config);
            assert_eq!(kept, format!("{},", &input[..input.len() - 1]), "{input}");
            assert_eq!(extra, None);
            assert!(!moved);
        }
        assert!(config_with_columns_reserves_extra());
    }

    fn config_with_columns_reserves_extra() -> bool {
        config(Some(COLUMNS)).output_fields().last() == Some(&"extra")
    }

    #[test]
    fn invalid_columns_name_the_variable() {
        for bad in [
            "x",
            "[]",
            r#"[{"name":"a","type":"string"}]"#,
            r#"[{"name":"extra","type":"bigint"}]"#,
            r#"[{"name":"extra","type":"string"},{"name":"A","type":"string"}]"#,
            r#"[{"name":"extra","type":"string"},{"name":"a","type":"int"}]"#,
        ] {
            let err =
                Config::from_lookup(|v| (v == "COLUMNS").then(|| bad.to_owned())).expect_err(bad);
            assert_eq!(err.variable, "COLUMNS");
            assert!(err.to_string().contains("schema"), "{err}");
        }
        assert!(config(Some(r#"[{"name":"extra","type":"string"}]"#))
            .output_fields()
            .contains(&"extra"));
    }
}
