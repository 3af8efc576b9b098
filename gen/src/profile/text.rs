//! What a profile's bytes must be before TOML reads them: UTF-8 text without a
//! NUL byte ([`decode`]), nested at most [`MAX_DEPTH`] deep ([`check_depth`]). Each refusal points at the byte
//! (`file:line:col`), which the TOML reader cannot do for these: it reads text,
//! not bytes, and its recursion limit has no position.

use super::source::key_path_at;
use crate::error::{Diagnostic, Location};

/// Keys, tables and arrays within each other. A profile needs 6
/// (`service[0].routing.weights.prod`); the TOML reader gives up, without a
/// position, somewhere near 80.
pub const MAX_DEPTH: usize = 32;

/// `bytes` of the source `name` as text, or why they are not a profile.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    // UTF-32's marks first: the little-endian one starts like UTF-16's.
    for (mark, encoding) in [
        (&[0xff, 0xfe, 0, 0][..], "UTF-32LE"),
        (&[0, 0, 0xfe, 0xff][..], "UTF-32BE"),
    ] {
        if bytes.starts_with(mark) {
            return Err(at(name, &bytes, 0).message(format!(
                "this is UTF-32 text (it starts with a UTF-32 byte order mark); profiles are \
                 UTF-8: {}",
                convert(encoding)
            )));
        }
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(at(name, &bytes, 0).message(format!(
            "this is UTF-16 text (it starts with a UTF-16 byte order mark); profiles are UTF-8: {}",
            convert("UTF-16")
        )));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let byte = bytes[offset];
            return Err(at(name, &bytes, offset).message(format!(
                "byte 0x{byte:02X} is not UTF-8; profiles are UTF-8 text (a Latin-1 or Windows-1252 file? {})",
                convert("LATIN1")
            )));
        }
    };
    if let Some(offset) = text.find('\0') {
        let nuls = text.bytes().filter(|&b| b == 0).count();
        let why = if nuls * 4 >= text.len() * 3 {
            format!(
                "a NUL byte: this looks like UTF-32 text; profiles are UTF-8: {}",
                convert(if offset % 4 == 0 {
                    "UTF-32BE"
                } else {
                    "UTF-32LE"
                })
            )
        } else if nuls * 4 >= text.len() {
            // ASCII in UTF-16: the NUL is the high byte, first or second.
            let encoding = if offset % 2 == 0 {
                "UTF-16BE"
            } else {
                "UTF-16LE"
            };
            format!(
                "a NUL byte: this looks like UTF-16 text without a byte order mark; profiles are UTF-8: {}",
                convert(encoding)
            )
        } else {
            "a NUL byte cannot be in a profile".to_owned()
        };
        return Err(at(name, text.as_bytes(), offset).message(why));
    }
    Ok(text)
}

/// Refuses a source nested deeper than [`MAX_DEPTH`], before the TOML reader
/// sees it.
pub fn check_depth(name: &str, text: &str) -> Result<(), Diagnostic> {
    match too_deep(text) {
        None => Ok(()),
        Some(offset) => Err(at(name, text.as_bytes(), offset).message(format!(
            "nested deeper than {MAX_DEPTH} levels (dotted keys, tables and arrays within each other); a profile needs a handful"
        ))),
    }
}

/// How to make a profile of text in `encoding`.
fn convert(encoding: &str) -> String {
    format!("convert it, e.g. `iconv -f {encoding} -t UTF-8`")
}

/// A diagnostic at byte `offset` of `bytes` (the bytes before it are UTF-8),
/// naming the key there when the TOML reader can find one.
fn at(name: &str, bytes: &[u8], offset: usize) -> Located {
    let text = String::from_utf8_lossy(bytes);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    // A key holding the bad byte is named up to its parent: the rest is unreadable.
    let key = too_deep(&text)
        .is_none()
        .then(|| key_path_at(&text, offset))
        .flatten()
        .and_then(|k| match k.find(char::REPLACEMENT_CHARACTER) {
            None => Some(k),
            Some(i) => k[..i].rsplit_once('.').map(|(parent, _)| parent.to_owned()),
        });
    Located {
        location: Location {
            source: name.to_owned(),
            line,
            column,
        },
        key,
    }
}

struct Located {
    location: Location,
    key: Option<String>,
}

impl Located {
    fn message(self, message: String) -> Diagnostic {
        Diagnostic::new(message).at(self.location).key(self.key)
    }
}

/// The byte offset where `text` first nests deeper than [`MAX_DEPTH`], if it does.
///
/// A scan, not a parse: depth is the open `[` and `{` plus the names of the
/// dotted key being read, outside strings and comments. Dots in values (`1.5`)
/// count too, which only ever adds one or two: close enough for a limit far
/// above what a profile uses.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut open, mut dots) = (0usize, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            quote @ (b'"' | b'\'') => {
                i = string_end(bytes, i, quote);
                continue;
            }
            b'[' | b'{' => {
                open += 1;
                dots = 0;
            }
            b']' | b'}' => {
                open = open.saturating_sub(1);
                dots = 0;
            }
            b'.' => dots += 1,
            b'=' | b',' | b'\n' => dots = 0,
            _ => {}
        }
        // The key read last is one level itself.
        if open + dots + 1 > MAX_DEPTH {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The offset just past the string starting at `start` (a `quote`), or the end
/// of the text when it is not closed (the TOML reader says where).
fn string_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let multi = bytes[start..].starts_with(&[quote; 3]);
    let mut i = start + if multi { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\n' if !multi => return i,
            b if b == quote => {
                if !multi {
                    return i + 1;
                }
                if bytes[i..].starts_with(&[quote; 3]) {
                    // `""""` ends with the last three quotes.
                    let mut end = i + 3;
                    while end < bytes.len() && bytes[end] == quote && end < i + 5 {
                        end += 1;
                    }
                    return end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(bytes: &[u8]) -> String {
        decode("p.toml", bytes.to_vec()).unwrap_err().to_string()
    }

    #[test]
    fn points_at_the_first_bad_byte() {
        let e = refused(b"name = \"x\"\nnamespace = \"d\xe9mo\"\n");
        assert!(
            e.starts_with("error: p.toml:2:15: namespace: byte 0xE9"),
            "{e}"
        );
        let e = refused(
            &"name = 1\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<_>>(),
        );
        assert!(
            e.starts_with("error: p.toml:1:2: a NUL byte: this looks like UTF-16"),
            "{e}"
        );
        let e = refused(b"\xff\xfen\x00");
        assert!(
            e.starts_with("error: p.toml:1:1: this is UTF-16 text"),
            "{e}"
        );
    }

    #[test]
    fn measures_nesting_outside_strings_and_comments() {
        let deep = |n: usize| vec!["a"; n].join(".");
        assert_eq!(too_deep(&format!("{} = 1", deep(MAX_DEPTH))), None);
        let text = format!("x = 1\n{} = 1", deep(MAX_DEPTH + 1));
        assert_eq!(too_deep(&text), Some(text.rfind('.').unwrap()));
        assert_eq!(
            too_deep(&format!("a = {}1{}", "[".repeat(31), "]".repeat(31))),
            None
        );
        assert!(too_deep(&format!("a = {}", "[".repeat(32))).is_some());
        assert!(too_deep(&format!("a = {}", "{b = ".repeat(32))).is_some());
        assert!(too_deep(&format!("[{}]", deep(40))).is_some());
        for quiet in [
            format!("a = \"{}\"", ".".repeat(100)),
            format!("a = '{}'", "[".repeat(100)),
            format!("a = \"\"\"\n{}\"\"\"", "{".repeat(100)),
            format!("a = 1 # {}", ".".repeat(100)),
            format!("\"{}\" = 1", deep(100)),
            format!("a = [{}]", "1.5, ".repeat(100)),
        ] {
            assert_eq!(too_deep(&quiet), None, "{quiet}");
        }
    }
}
