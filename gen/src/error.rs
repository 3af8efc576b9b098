//! Errors users see, and the exit codes they map to.
//!
//! Every string that reaches the terminal from input (a key, a value, a file
//! name, a path, a `--set` argument) goes through [`printable`], once, where it is
//! printed: [`Diagnostic`] and [`Error`] escape every part when displayed, and the
//! command's own notes call it too. A message is one line.

use std::borrow::Cow;
use std::fmt;

/// `text` with every character a terminal would act on escaped as Rust does
/// (`\u{1b}`, `\n`, `\u{202e}`): C0 and C1 controls, DEL, line breaks, and the
/// invisible format characters that reorder or hide text (bidirectional
/// overrides, zero-width characters), then [`shortened`]: input can be a
/// megabyte on one line (a key, a `--set` value, a manifest line). Everything
/// else, quotes and backslashes included, stays as typed, so applying it
/// twice changes nothing.
pub fn printable(text: &str) -> Cow<'_, str> {
    let acts = |c: char| c.escape_debug().nth(1).is_some() && !matches!(c, '"' | '\'' | '\\');
    if !text.chars().any(acts) {
        return shortened(text);
    }
    let escaped: String = text
        .chars()
        .map(|c| match acts(c) {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        })
        .collect();
    Cow::Owned(shortened(&escaped).into_owned())
}

/// A point in a source, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

/// One problem with the input, pointing at where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// `file:line:col`; `None` when the problem is not at one place (e.g. a missing key).
    pub location: Option<Location>,
    /// File (or template) the problem is in when there is no precise location.
    pub file: Option<String>,
    /// Dotted profile key (`service[1].upstream`) or template name.
    pub key: Option<String>,
    pub message: String,
    /// Lines shown under the message, indented (a program's log tail): each
    /// escaped on its own, so none can pass for a line of meshgen's. Boxed:
    /// diagnostics travel in `Result`s, which stay small.
    pub detail: Option<Box<Vec<String>>>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            location: None,
            file: None,
            key: None,
            message: message.into(),
            detail: None,
        }
    }

    /// A message whose first line is the message and whose other lines are
    /// its [`Diagnostic::detail`].
    pub fn with_detail(text: &str) -> Self {
        let mut lines = text.split('\n');
        let mut d = Diagnostic::new(lines.next().unwrap_or_default());
        let detail: Vec<String> = lines.map(str::to_owned).collect();
        d.detail = (!detail.is_empty()).then(|| Box::new(detail));
        d
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn key(mut self, key: Option<String>) -> Self {
        self.key = key;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("error: ")?;
        match (&self.location, &self.file) {
            (Some(loc), _) => write!(f, "{}: ", printable(&loc.to_string()))?,
            (None, Some(file)) => write!(f, "{}: ", printable(file))?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "{}: ", printable(key))?;
        }
        f.write_str(&printable(&self.message))?;
        for line in self.detail.iter().flat_map(|d| d.iter()) {
            write!(f, "\n  {}", printable(line))?;
        }
        Ok(())
    }
}

/// The longest text printed whole: past this, the middle is left out.
pub const MAX_MESSAGE_CHARS: usize = 2048;

/// `message`, or its start and end around a count of what was left out (the
/// result is shorter than [`MAX_MESSAGE_CHARS`], so it is not cut again).
fn shortened(message: &str) -> Cow<'_, str> {
    let count = message.chars().count();
    if count <= MAX_MESSAGE_CHARS {
        return Cow::Borrowed(message);
    }
    let keep = MAX_MESSAGE_CHARS / 2 - 32;
    let head: String = message.chars().take(keep).collect();
    let tail: String = message.chars().skip(count - keep).collect();
    Cow::Owned(format!(
        "{head}[... {} characters left out ...]{tail}",
        count - 2 * keep
    ))
}

/// Everything that stops a command.
#[derive(Debug)]
pub enum Error {
    /// Bad input (profile, template, CLI value): exit 2, nothing written.
    Input(Vec<Diagnostic>),
    /// The output directory could not be written, or holds files meshgen did not write.
    Output(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        2
    }
}

impl From<Vec<Diagnostic>> for Error {
    fn from(v: Vec<Diagnostic>) -> Self {
        Error::Input(v)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(diags) => {
                for (i, d) in diags.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "{d}")?;
                }
                Ok(())
            }
            Error::Output(msg) => write!(f, "error: {}", printable(msg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Diagnostic, MAX_MESSAGE_CHARS, printable, shortened};

    #[test]
    fn detail_lines_are_indented_and_escaped_one_by_one() {
        let d = Diagnostic::with_detail("Envoy exited\nboom \x1b[31m\r\nerror: forged");
        assert_eq!(
            d.to_string(),
            "error: Envoy exited\n  boom \\u{1b}[31m\\r\n  error: forged"
        );
        assert_eq!(
            Diagnostic::with_detail("one line").to_string(),
            "error: one line"
        );
    }

    #[test]
    fn long_messages_keep_their_ends() {
        let short = "x".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(shortened(&short), short);
        let long = format!("start{}end", "é".repeat(100_000));
        let out = shortened(&long);
        assert!(out.starts_with("start") && out.ends_with("end"), "{out}");
        assert!(out.contains("characters left out"), "{out}");
        assert!(out.chars().count() <= MAX_MESSAGE_CHARS);
        assert_eq!(printable(&long), out, "printable shortens");
        assert_eq!(printable(&out), out, "and not twice");
    }

    #[test]
    fn escapes_what_a_terminal_acts_on_and_nothing_else() {
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            printable("x\ny\t\u{7f}\u{85}\u{202e}\u{200b}"),
            "x\\ny\\t\\u{7f}\\u{85}\\u{202e}\\u{200b}"
        );
        assert_eq!(
            printable("\"quoted\" 'x' C:\\dir é ü 名前"),
            "\"quoted\" 'x' C:\\dir é ü 名前"
        );
        for c in ('\0'..='\u{1f}')
            .chain('\u{7f}'..='\u{9f}')
            .chain(['\u{61c}', '\u{200b}', '\u{200e}', '\u{200f}', '\u{feff}'])
            .chain('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
        {
            assert!(printable(&c.to_string()).starts_with('\\'), "{c:?}");
        }
        let once = printable("\u{1b}\u{9b}\n");
        assert_eq!(printable(&once), once);
    }
}
