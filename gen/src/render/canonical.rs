//! Every document a template renders is parsed back and written in the one
//! canonical form the chain's typed objects are written in, so the output is
//! valid YAML whatever a template did and identical input gives identical bytes.

use serde::Deserialize;
use serde_norway::Value;

use super::yaml;
use crate::model::applyset;

/// Header of every written file.
pub const HEADER: &str =
    "# Rendered by meshgen: edit the profile and render again, not this file.\n";

/// One canonical document, its group and kind as an ApplySet names them
/// (`Kind` for the core group, else `Kind.group`), and the ApplySet it is a
/// member of.
#[derive(Debug)]
pub struct Document {
    pub yaml: String,
    pub group_kind: String,
    pub part_of: Option<String>,
}

/// Splits a rendered multi-document stream into canonical documents; empty
/// documents (from `{% if %}`-ed out parts) are dropped.
pub fn documents(rendered: &str) -> Result<Vec<Document>, String> {
    let mut out = Vec::new();
    for de in serde_norway::Deserializer::from_str(rendered) {
        let value = Value::deserialize(de).map_err(|e| describe(&e, rendered))?;
        match &value {
            Value::Null => continue,
            Value::Mapping(m) => {
                for key in ["apiVersion", "kind", "metadata"] {
                    if !m.contains_key(key) {
                        return Err(format!("a document has no `{key}`"));
                    }
                }
            }
            _ => return Err("a document is not a mapping".to_owned()),
        }
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let group = text(&value["apiVersion"])
            .rsplit_once('/')
            .map(|(g, _)| g.to_owned());
        let kind = text(&value["kind"]);
        let part_of = value["metadata"]["labels"][applyset::PART_OF_LABEL]
            .as_str()
            .map(str::to_owned);
        out.push(Document {
            yaml: yaml::to_string(&value).map_err(|e| e.to_string())?,
            group_kind: group.map_or(kind.clone(), |g| format!("{kind}.{g}")),
            part_of,
        });
    }
    Ok(out)
}

fn describe(e: &serde_norway::Error, rendered: &str) -> String {
    match e.location() {
        Some(loc) => {
            let line = rendered
                .lines()
                .nth(loc.line().saturating_sub(1))
                .unwrap_or("");
            format!(
                "rendered YAML is invalid at output line {}, column {}: {e}\n  | {line}",
                loc.line(),
                loc.column()
            )
        }
        None => format!("rendered YAML is invalid: {e}"),
    }
}

/// One file: the header, then the documents separated by `---`.
pub fn file(docs: &[Document]) -> String {
    file_of(docs.iter().map(|d| d.yaml.as_str()))
}

/// [`file`] of documents already in canonical YAML.
pub fn file_of<S: AsRef<str>>(docs: impl IntoIterator<Item = S>) -> String {
    let mut s = String::from(HEADER);
    for d in docs {
        s.push_str("---\n");
        s.push_str(d.as_ref());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_drops_empty_documents() {
        let docs = documents("---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"X\", \"metadata\": {\"name\": \"a\"}}\n---\n").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].yaml,
            "apiVersion: v1\nkind: X\nmetadata:\n  name: a\n"
        );
        assert_eq!(docs[0].group_kind, "X");
    }

    #[test]
    fn keeps_strings_that_look_like_other_types() {
        let docs =
            documents("apiVersion: v1\nkind: X\nmetadata: {\"a\": \"true\", \"b\": \"80\"}\n")
                .unwrap();
        let yaml = &docs[0].yaml;
        assert!(
            yaml.contains("a: 'true'") || yaml.contains("a: \"true\""),
            "{yaml}"
        );
    }

    #[test]
    fn reports_invalid_yaml_with_its_line() {
        let err = documents("apiVersion: v1\nkind: [\n").unwrap_err();
        assert!(err.contains("output line"), "{err}");
    }
}
