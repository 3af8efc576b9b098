//! Errors users see, and the exit codes they map to.

use std::fmt;

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
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            location: None,
            file: None,
            key: None,
            message: message.into(),
        }
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
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(file)) => write!(f, "{file}: ")?,
            (None, None) => {}
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
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
            Error::Output(msg) => write!(f, "error: {msg}"),
        }
    }
}
