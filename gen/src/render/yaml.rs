//! A YAML writer for Kubernetes manifests: any `Serialize` value, block style,
//! in one pass into a string.
//!
//! Why not serde_norway's emitter: it takes 80 ms for the 6,000 documents of a
//! 1,000-service chain (most of a render), and it quotes only what YAML 1.2
//! misreads, while kubectl and many tools read YAML 1.1, where `no`, `on`,
//! `0777` or `1:20` are not strings. This writer quotes every string that
//! YAML 1.1 or 1.2 would read as anything else, and writes multi-line strings
//! (configuration files, dashboards) as literal blocks so they stay readable.

use std::fmt::{self, Display, Write};

use serde::Serialize;
use serde::ser::{self, Impossible};

/// One YAML document (without the `---` line) of `value`, which must serialize
/// as a mapping or a sequence of plain data (no bytes, no non-string keys
/// other than integers).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = String::with_capacity(1024);
    write(&mut out, value)?;
    Ok(out)
}

/// [`to_string`], appended to `out`.
pub fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result {
    value.serialize(&mut Writer { out, at: At::Top })
}

#[derive(Debug)]
pub struct Error(String);

/// What writing a document gives.
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Where the next value is written, and the column its children start at.
#[derive(Clone, Copy)]
enum At {
    /// The start of the document.
    Top,
    /// After `key:` (the key at column `child - 2`).
    Key { child: usize },
    /// After `- ` (its content at column `child`).
    Dash { child: usize },
}

struct Writer<'o> {
    out: &'o mut String,
    at: At,
}

impl<'o> Writer<'o> {
    fn indent(&mut self, column: usize) {
        self.out.extend(std::iter::repeat_n(' ', column));
    }

    /// A scalar already spelled for YAML.
    fn scalar(&mut self, text: &str) {
        if let At::Key { .. } = self.at {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn number(&mut self, n: impl Display) {
        if let At::Key { .. } = self.at {
            self.out.push(' ');
        }
        let _ = writeln!(self.out, "{n}");
    }

    fn string(&mut self, s: &str) {
        let child = match self.at {
            At::Top => 0,
            At::Key { child } | At::Dash { child } => child,
        };
        if let Some(block) = literal_block(s) {
            if let At::Key { .. } = self.at {
                self.out.push(' ');
            }
            self.out.push_str(block.header);
            self.out.push('\n');
            for line in block.lines.split('\n') {
                if !line.is_empty() {
                    self.indent(child);
                    self.out.push_str(line);
                }
                self.out.push('\n');
            }
        } else {
            if let At::Key { .. } = self.at {
                self.out.push(' ');
            }
            quote(s, self.out);
            self.out.push('\n');
        }
    }

    fn collection(&mut self, kind: Kind) -> Collection<'_, 'o> {
        // Block sequences under a key start at the key's column, as kubectl
        // and serde_norway write them.
        let column = match (self.at, kind) {
            (At::Top, _) => 0,
            (At::Key { child }, Kind::Seq) => child - 2,
            (At::Key { child } | At::Dash { child }, _) => child,
        };
        Collection {
            start: self.at,
            column,
            count: 0,
            kind,
            w: self,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Seq,
    Map,
}

/// A sequence or mapping being written: `column` is where its dashes or keys go.
struct Collection<'w, 'o> {
    w: &'w mut Writer<'o>,
    start: At,
    column: usize,
    count: usize,
    kind: Kind,
}

impl Collection<'_, '_> {
    /// Writes what comes before an item: a line break and the indentation,
    /// except for the first item after a dash, which shares its line.
    fn begin_item(&mut self) {
        match (self.count, self.start) {
            (0, At::Top | At::Dash { .. }) => {}
            (0, At::Key { .. }) => {
                self.w.out.push('\n');
                self.w.indent(self.column);
            }
            _ => self.w.indent(self.column),
        }
        self.count += 1;
    }

    fn seq_item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.begin_item();
        self.w.out.push_str("- ");
        self.w.at = At::Dash {
            child: self.column + 2,
        };
        value.serialize(&mut *self.w)
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.begin_item();
        key.serialize(KeyWriter(self.w.out))?;
        self.after_key();
        Ok(())
    }

    /// A struct's field name: a Rust identifier or a serde rename of one,
    /// plain whatever the YAML reader (and checked so in tests).
    fn field(&mut self, name: &'static str) {
        debug_assert!(is_plain(name), "{name}");
        self.begin_item();
        self.w.out.push_str(name);
        self.after_key();
    }

    fn after_key(&mut self) {
        self.w.out.push(':');
        self.w.at = At::Key {
            child: self.column + 2,
        };
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.w)
    }

    fn end(self) -> Result<(), Error> {
        if self.count == 0 {
            self.w.at = self.start;
            self.w
                .scalar(if self.kind == Kind::Seq { "[]" } else { "{}" });
        }
        Ok(())
    }
}

/// `|` or `|-` and the text, for strings that read best as a literal block.
struct Block<'s> {
    header: &'static str,
    lines: &'s str,
}

fn literal_block(s: &str) -> Option<Block<'_>> {
    if !s.contains('\n') {
        return None;
    }
    let (header, lines) = match s.strip_suffix('\n') {
        Some(rest) => ("|", rest),
        None => ("|-", s),
    };
    // Leading spaces would need an indentation indicator, trailing blank lines
    // a keep indicator, and a literal block cannot hold control characters or
    // lines ending in spaces that a reader may strip: quote those instead.
    let plain_lines = !lines.is_empty()
        && !lines.starts_with([' ', '\n'])
        && !lines.ends_with('\n')
        && lines
            .split('\n')
            .all(|l| !l.ends_with([' ', '\t']) && !l.starts_with('\t'))
        && lines
            .chars()
            .all(|c| c == '\n' || c == '\t' || !needs_escape(c));
    plain_lines.then_some(Block { header, lines })
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Writes `s` plain when every YAML 1.1 and 1.2 reader takes it for this
/// string, else quoted.
fn quote(s: &str, out: &mut String) {
    if is_plain(s) {
        out.push_str(s);
    } else if s.chars().any(needs_escape) {
        // Double quotes: the only style that can escape characters.
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if needs_escape(c) => {
                    let _ = write!(out, "\\u{:04X}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    } else {
        out.push('\'');
        for c in s.chars() {
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        out.push('\'');
    }
}

fn is_plain(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    let indicator = b"-?:,[]{}#&*!|>'\"%@`".contains(&first);
    // `-x` and `--flag` are plain; `- x`, `-1` and `-.5` are not.
    let dash_word = first == b'-'
        && b.get(1)
            .is_some_and(|c| *c == b'-' || c.is_ascii_alphabetic());
    if (indicator && !dash_word) || first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    // One pass over the bytes (this runs for every string of a render): no
    // `: ` or ` #`, which start a mapping value or a comment, no control
    // character or tab.
    let mut prev = 0;
    for &c in b {
        if (prev == b':' && c == b' ') || (prev == b' ' && c == b'#') || c < b' ' || c == 0x7f {
            return false;
        }
        prev = c;
    }
    (s.is_ascii() || !s.chars().any(needs_escape)) && !looks_like_other_type(b)
}

/// Null, booleans and numbers as YAML 1.1 (kubectl's reader) or 1.2 spell them,
/// with YAML 1.1's sexagesimal numbers, timestamps and merge key; a string
/// made only of digits and number punctuation is taken for one of these.
fn looks_like_other_type(b: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"~", b"null", b"y", b"yes", b"n", b"no", b"true", b"false", b"on", b"off", b"<<", b"=",
        b".inf", b"-.inf", b"+.inf", b".nan",
    ];
    if b.len() <= 5 && WORDS.iter().any(|w| w.eq_ignore_ascii_case(b)) {
        return true;
    }
    let unsigned = match b {
        [b'-' | b'+', rest @ ..] => rest,
        _ => b,
    };
    let numeric_start = unsigned
        .first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.');
    numeric_start
        && b.iter()
            .all(|c| c.is_ascii_hexdigit() || b"xXoO_.:+-tTzZ ".contains(c))
}

/// The eight integer methods of a serializer, each `$body` with `$this`
/// (the serializer) and `$v` (the integer) bound.
macro_rules! integers {
    ($this:ident, $v:ident => $body:block) => {
        integers!(@ $this, $v, $body, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
            serialize_u64: u64);
    };
    (@ $this:ident, $v:ident, $body:block, $($method:ident: $t:ty),*) => {$(
        fn $method(self, $v: $t) -> Result<(), Error> {
            let $this = self;
            $body
        }
    )*};
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Collection<'w, 'o>;
    type SerializeTuple = Collection<'w, 'o>;
    type SerializeTupleStruct = Collection<'w, 'o>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Collection<'w, 'o>;
    type SerializeStruct = Collection<'w, 'o>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" });
        Ok(())
    }
    integers!(w, v => {
        w.number(v);
        Ok(())
    });
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        let text = if v.is_nan() {
            ".nan".to_owned()
        } else if v.is_infinite() {
            if v > 0.0 { ".inf" } else { "-.inf" }.to_owned()
        } else {
            // Positional digits with a decimal point: `1e-5` has no point and
            // is a string to a YAML 1.1 reader (kubectl's), `0.00001` is a float.
            let digits = v.to_string();
            if digits.contains('.') {
                digits
            } else {
                digits + ".0"
            }
        };
        self.scalar(&text);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error("bytes have no YAML form here".to_owned()))
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.scalar("null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut map = self.collection(Kind::Map);
        map.key(variant)?;
        map.value(value)?;
        map.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Collection<'w, 'o>, Error> {
        Ok(self.collection(Kind::Seq))
    }
    fn serialize_tuple(self, _: usize) -> Result<Collection<'w, 'o>, Error> {
        Ok(self.collection(Kind::Seq))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Collection<'w, 'o>, Error> {
        Ok(self.collection(Kind::Seq))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error(format!(
            "{name}: tuple variants have no YAML form here"
        )))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Collection<'w, 'o>, Error> {
        Ok(self.collection(Kind::Map))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Collection<'w, 'o>, Error> {
        Ok(self.collection(Kind::Map))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error(format!(
            "{name}: struct variants have no YAML form here"
        )))
    }
}

/// Sequences, tuples and tuple structs are all block sequences.
macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Collection<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.seq_item(value)
            }
            fn end(self) -> Result<(), Error> {
                Collection::end(self)
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        Collection::end(self)
    }
}

impl ser::SerializeStruct for Collection<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key);
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        Collection::end(self)
    }
}

/// Writes a mapping key: a string (quoted as a value would be) or an integer.
struct KeyWriter<'o>(&'o mut String);

fn not_a_key() -> Error {
    Error("a mapping key must be a string or an integer".to_owned())
}

macro_rules! refused_keys {
    ($($method:ident($($arg:ty),*)),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<(), Error> {
            Err(not_a_key())
        }
    )*};
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    integers!(k, v => {
        let _ = write!(k.0, "{v}");
        Ok(())
    });
    refused_keys!(
        serialize_bool(bool),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str)
    );

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        quote(v, self.0);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, v: &'static str) -> Result<(), Error> {
        self.serialize_str(v)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(not_a_key())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_a_key())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_a_key())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(not_a_key())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_a_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn yaml(v: &Value) -> String {
        to_string(v).unwrap()
    }

    #[test]
    fn writes_block_style_like_kubectl() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "X",
            "metadata": {"name": "a", "labels": {}},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "m", "port": 9090}],
                     "list": [], "nested": [["a", "b"], []], "f": 1.0, "t": true}
        });
        assert_eq!(
            yaml(&v),
            "apiVersion: v1\nkind: X\nmetadata:\n  labels: {}\n  name: a\nspec:\n  f: 1.0\n  list: []\n  \
             nested:\n  - - a\n    - b\n  - []\n  ports:\n  - name: http\n    port: 80\n  - name: m\n    port: 9090\n  t: true\n"
        );
    }

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        for s in [
            "no",
            "No",
            "ON",
            "y",
            "~",
            "null",
            "true",
            "",
            "80",
            "0777",
            "1:20",
            "0x1F",
            "1e3",
            "1.0",
            "-5",
            ".5",
            "2001-12-14",
            "<<",
            "=",
            ".inf",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#c",
            "- x",
            "*ref",
            "!tag",
            "@x",
            "'q'",
            "\"q\"",
            "{a}",
            "[a]",
            "%x",
            "|",
            ">",
        ] {
            let out = yaml(&json!({ "k": s }));
            assert!(
                out.starts_with("k: '") || out.starts_with("k: \""),
                "{s:?} -> {out}"
            );
        }
        for s in [
            "10m",
            "16Mi",
            "2s",
            "docker.io/a/b:1.0",
            "http://a.b/",
            "--flag=x",
            "-x",
            "a-b",
            "x-dev-user",
        ] {
            assert_eq!(yaml(&json!({ "k": s })), format!("k: {s}\n"));
        }
    }

    /// YAML 1.1 (kubectl) reads a float only with a decimal point and no bare
    /// exponent: `1e-5` would be a string. Every finite float keeps its value.
    #[test]
    fn writes_floats_a_yaml_1_1_reader_takes_for_floats() {
        let yaml11_float = |t: &str| {
            let t = t.strip_prefix('-').unwrap_or(t);
            let (int, frac) = t.split_once('.').expect("a decimal point");
            int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit())
        };
        for v in [
            0.00001,
            1e-300,
            5e-324,
            1e21,
            100.0,
            0.0,
            -0.0,
            -2.5,
            f64::MAX,
            0.1,
        ] {
            let out = yaml(&json!({ "k": v }));
            let text = out.strip_prefix("k: ").unwrap().trim_end();
            assert!(yaml11_float(text), "{v:?} -> {text}");
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v:?}");
        }
    }

    #[test]
    fn writes_multi_line_strings_as_literal_blocks() {
        let out = yaml(&json!({"a": {"cfg": "x: 1\n\ny: [2]\n", "b": "one\ntwo"}}));
        assert_eq!(
            out,
            "a:\n  b: |-\n    one\n    two\n  cfg: |\n    x: 1\n\n    y: [2]\n"
        );
    }

    #[test]
    fn escapes_control_characters() {
        assert_eq!(yaml(&json!({"k": "a\u{1b}b"})), "k: \"a\\u001Bb\"\n");
        assert_eq!(yaml(&json!({"k": " x\ny"})), "k: \" x\\ny\"\n");
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
            "[ -~\n\t]{0,16}".prop_map(Value::from),
            prop::sample::select(vec![
                "no", "on", "1:20", "0o17", "- a", "a:", "x\n", "\n", "\n x", "é"
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z0-9:. -]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// A YAML parser reads back exactly the value written.
        #[test]
        fn reads_back_the_same_value(v in prop::collection::btree_map("[a-z]{1,4}", value(), 0..4)) {
            let v = Value::Object(v.into_iter().collect());
            let text = yaml(&v);
            let back: Value = serde_norway::from_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, v, "{}", text);
        }
    }
}
