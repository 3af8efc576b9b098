//! Where a profile value came from: which source (file or `--set`), and where in it.
//!
//! Profiles are layered (extends, `-f`, `--set`), so a value's span alone is not enough
//! to point at it: the span must be paired with the source it was parsed from. The
//! [`Sourced`] wrapper does that without threading a source id through serde: while a
//! layer is deserialized, [`with_source`] sets the id in a thread-local that
//! `Sourced::deserialize` reads.

use std::cell::Cell;
use std::ops::Range;

use serde::{Deserialize, Deserializer};

use crate::error::{Diagnostic, Location};

/// Index of a source in a [`SourceMap`].
pub type SourceId = usize;

/// One parsed text: a profile file or a synthetic `--set` document.
#[derive(Debug, Clone)]
pub struct Source {
    /// What users see in messages: the path as given, or `--set KEY=VALUE`.
    pub name: String,
    pub text: String,
}

/// All sources of one profile load, so errors can be mapped to `name:line:col`.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    sources: Vec<Source>,
}

impl SourceMap {
    pub fn add(&mut self, name: String, text: String) -> SourceId {
        self.sources.push(Source { name, text });
        self.sources.len() - 1
    }

    pub fn get(&self, id: SourceId) -> &Source {
        &self.sources[id]
    }

    /// A diagnostic pointing at `value`, naming its dotted key.
    pub fn diag<T>(&self, value: &Sourced<T>, message: impl Into<String>) -> Diagnostic {
        let text = &self.sources[value.source].text;
        Diagnostic::new(message)
            .at(self.locate(value.source, value.span.start))
            .key(key_path_at(text, value.span.start))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn locate(&self, id: SourceId, offset: usize) -> Location {
        let src = &self.sources[id];
        let offset = offset.min(src.text.len());
        let before = &src.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            source: src.name.clone(),
            line,
            column,
        }
    }
}

thread_local! {
    static CURRENT: Cell<SourceId> = const { Cell::new(usize::MAX) };
}

/// Runs `f` (a deserialization of source `id`) so that every [`Sourced`] it builds
/// records `id`.
pub fn with_source<R>(id: SourceId, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.with(|c| c.replace(id));
    let out = f();
    CURRENT.with(|c| c.set(prev));
    out
}

/// A value with the source and byte span it was read from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: SourceId,
    pub span: Range<usize>,
}

impl<T> Sourced<T> {
    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Sourced<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sourced<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(d)?;
        let span = spanned.span();
        Ok(Sourced {
            value: spanned.into_inner(),
            source: CURRENT.with(Cell::get),
            span,
        })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Sourced<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

/// The dotted key path (`service[1].upstream`) of the innermost key or value
/// covering `offset` in a TOML text; used to name the key in parse errors, which
/// only carry a span.
pub fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let (root, _) = toml::de::DeTable::parse_recoverable(text);
    let mut path = String::new();
    walk_table(root.get_ref(), offset, &mut path);
    (!path.is_empty()).then_some(path)
}

fn walk_table(table: &toml::de::DeTable<'_>, offset: usize, path: &mut String) -> bool {
    for (key, value) in table.iter() {
        let key_hit = key.span().contains(&offset);
        let value_hit = value.span().contains(&offset) || deep_contains(value.get_ref(), offset);
        if key_hit || value_hit {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key.get_ref());
            if !key_hit {
                walk_value(value.get_ref(), offset, path);
            }
            return true;
        }
    }
    false
}

fn walk_value(value: &toml::de::DeValue<'_>, offset: usize, path: &mut String) {
    match value {
        toml::de::DeValue::Table(t) => {
            walk_table(t, offset, path);
        }
        toml::de::DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.span().contains(&offset) || deep_contains(item.get_ref(), offset) {
                    path.push_str(&format!("[{i}]"));
                    walk_value(item.get_ref(), offset, path);
                    return;
                }
            }
        }
        _ => {}
    }
}

/// Tables opened by a `[header]` do not span their body, so look at the children.
fn deep_contains(value: &toml::de::DeValue<'_>, offset: usize) -> bool {
    match value {
        toml::de::DeValue::Table(t) => t.iter().any(|(k, v)| {
            k.span().contains(&offset)
                || v.span().contains(&offset)
                || deep_contains(v.get_ref(), offset)
        }),
        toml::de::DeValue::Array(items) => items
            .iter()
            .any(|v| v.span().contains(&offset) || deep_contains(v.get_ref(), offset)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let mut m = SourceMap::default();
        let id = m.add("p.toml".into(), "a = 1\nbé = 2\n".into());
        assert_eq!(m.locate(id, 0).to_string(), "p.toml:1:1");
        let off = "a = 1\nbé = ".len();
        assert_eq!(m.locate(id, off).to_string(), "p.toml:2:6");
    }

    #[test]
    fn names_nested_keys() {
        let text = "name = \"x\"\n[[service]]\nname = \"a\"\n[[service]]\nname = \"b\"\nupstrem = \"a\"\n[istio]\nmtls = 3\n";
        let at = |needle: &str| key_path_at(text, text.find(needle).unwrap());
        assert_eq!(at("upstrem").as_deref(), Some("service[1].upstrem"));
        assert_eq!(at("3").as_deref(), Some("istio.mtls"));
        assert_eq!(at("\"x\"").as_deref(), Some("name"));
    }
}
