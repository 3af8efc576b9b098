//! The canonical form of an output file: a header, then each document after a
//! `---` line, written by [`yaml`]. The chain's typed objects are serialized
//! straight into it; what a template renders is parsed back first, so the
//! output is valid YAML whatever a template did and identical input gives
//! identical bytes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::yaml;

/// Header of every written file.
pub const HEADER: &str =
    "# Rendered by meshgen: edit the profile and render again, not this file.\n";

/// One file's documents, and the kinds of those that belong to the chain's
/// ApplySet (as an ApplySet names them: `Kind` for the core group, else
/// `Kind.group`).
pub struct Stream<'s> {
    pub text: String,
    pub documents: usize,
    pub member_kinds: BTreeSet<String>,
    /// The ApplySet id members carry in their `applyset.kubernetes.io/part-of`.
    set: &'s str,
}

impl<'s> Stream<'s> {
    pub fn new(set: &'s str) -> Self {
        Stream {
            text: String::from(HEADER),
            documents: 0,
            member_kinds: BTreeSet::new(),
            set,
        }
    }

    /// Appends one document of type `api_version`/`kind`; `part_of` is its
    /// ApplySet label.
    pub fn push<T: Serialize + ?Sized>(
        &mut self,
        document: &T,
        api_version: &str,
        kind: &str,
        part_of: Option<&str>,
    ) -> yaml::Result {
        self.text.push_str("---\n");
        yaml::write(&mut self.text, document)?;
        self.documents += 1;
        if part_of == Some(self.set) {
            self.member_kinds
                .insert(match api_version.rsplit_once('/') {
                    Some((group, _)) => format!("{kind}.{group}"),
                    None => kind.to_owned(),
                });
        }
        Ok(())
    }

    /// Appends the documents of a rendered multi-document stream; empty
    /// documents (from `{% if %}`-ed out parts) are dropped.
    pub fn push_rendered(&mut self, rendered: &str) -> Result<(), String> {
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
            let part_of = value["metadata"]["labels"][super::applyset::PART_OF_LABEL].as_str();
            self.push(
                &value,
                &text(&value["apiVersion"]),
                &text(&value["kind"]),
                part_of,
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn describe(e: &serde_norway::Error, rendered: &str) -> String {
    match e.location() {
        Some(loc) => {
            let line = rendered
                .lines()
                .nth(loc.line().saturating_sub(1))
                .unwrap_or("");
            format!(
                "rendered YAML is invalid at output line {}, column {}: {e} (the line: `{line}`)",
                loc.line(),
                loc.column()
            )
        }
        None => format!("rendered YAML is invalid: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> Result<Stream<'static>, String> {
        let mut s = Stream::new("set-1");
        s.push_rendered(text)?;
        Ok(s)
    }

    #[test]
    fn normalizes_and_drops_empty_documents() {
        let s = rendered("---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"X\", \"metadata\": {\"name\": \"a\", \"labels\": {\"applyset.kubernetes.io/part-of\": \"set-1\"}}}\n---\n").unwrap();
        assert_eq!(s.documents, 1);
        assert_eq!(
            s.text,
            format!(
                "{HEADER}---\napiVersion: v1\nkind: X\nmetadata:\n  name: a\n  labels:\n    \
                 applyset.kubernetes.io/part-of: set-1\n"
            )
        );
        assert_eq!(s.member_kinds, BTreeSet::from(["X".to_owned()]));
    }

    #[test]
    fn keeps_strings_that_look_like_other_types() {
        let s =
            rendered("apiVersion: a.b/v1\nkind: X\nmetadata: {\"a\": \"true\", \"b\": \"80\"}\n")
                .unwrap();
        assert!(s.text.contains("a: 'true'\n  b: '80'\n"), "{}", s.text);
        assert!(s.member_kinds.is_empty());
    }

    #[test]
    fn reports_invalid_yaml_with_its_line() {
        let err = rendered("apiVersion: v1\nkind: [\n").err().unwrap();
        assert!(err.contains("output line"), "{err}");
    }
}
