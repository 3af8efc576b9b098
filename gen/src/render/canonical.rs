//! Every rendered document is parsed back and re-emitted in one canonical form, so
//! the output is valid YAML whatever a template did and identical input gives
//! identical bytes.

use serde::Deserialize;
use serde_norway::Value;

/// Header of every written file.
pub const HEADER: &str =
    "# Rendered by meshgen: edit the profile and render again, not this file.\n";

/// Splits a rendered multi-document stream into canonical documents; empty
/// documents (from `{% if %}`-ed out parts) are dropped.
pub fn documents(rendered: &str) -> Result<Vec<String>, String> {
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
        out.push(serde_norway::to_string(&value).map_err(|e| e.to_string())?);
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
pub fn file(docs: &[String]) -> String {
    let mut s = String::from(HEADER);
    for d in docs {
        s.push_str("---\n");
        s.push_str(d);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_drops_empty_documents() {
        let docs = documents("---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"X\", \"metadata\": {\"name\": \"a\"}}\n---\n").unwrap();
        assert_eq!(
            docs,
            vec!["apiVersion: v1\nkind: X\nmetadata:\n  name: a\n".to_owned()]
        );
    }

    #[test]
    fn keeps_strings_that_look_like_other_types() {
        let docs =
            documents("apiVersion: v1\nkind: X\nmetadata: {\"a\": \"true\", \"b\": \"80\"}\n")
                .unwrap();
        assert!(
            docs[0].contains("a: 'true'") || docs[0].contains("a: \"true\""),
            "{}",
            docs[0]
        );
    }

    #[test]
    fn reports_invalid_yaml_with_its_line() {
        let err = documents("apiVersion: v1\nkind: [\n").unwrap_err();
        assert!(err.contains("output line"), "{err}");
    }
}
