//! Reading the layers of a profile (extends chain, `-f` files, `--set` values) and
//! merging them in order: later layers win.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::schema::{Merge, Profile, Service};
use super::source::{SourceId, SourceMap, Sourced, key_path_at, with_source};
use super::text;
use crate::error::{Diagnostic, printable};

/// What to load: the profile, then `-f` files, then `--set` values, in that order.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    pub profile: PathBuf,
    pub files: Vec<PathBuf>,
    pub sets: Vec<String>,
}

/// The merged profile and the texts its values point into.
#[derive(Debug)]
pub struct Loaded {
    pub(crate) profile: Profile,
    pub(crate) sources: SourceMap,
    /// The file named on the command line (where "missing key" errors point).
    pub(crate) main: SourceId,
}

pub fn load(layers: &Layers) -> Result<Loaded, Vec<Diagnostic>> {
    let mut sources = SourceMap::default();
    let mut parsed = Vec::new();
    let mut main = None;
    for (i, path) in std::iter::once(&layers.profile)
        .chain(&layers.files)
        .enumerate()
    {
        let mut chain = Vec::new();
        let id = load_file(path, None, &mut sources, &mut chain, &mut parsed)?;
        main.get_or_insert(id);
        // A `-f` file's base would be layered over the profile at the file's
        // place: an overlay that shows one key could bring a whole other
        // profile (namespace, mTLS off) with it.
        if i > 0
            && let Some(base) = parsed.last().and_then(|p| p.extends.as_ref())
        {
            let d = Diagnostic::new(
                "`extends` in a -f file would layer its base over the profile; name bases \
                 in the profile, or pass the base as another -f before this file",
            );
            return Err(vec![located(&sources, base, d)]);
        }
    }
    let mut patches = Vec::new();
    for set in &layers.sets {
        match parse_set(set, &mut sources)? {
            Set::Layer(layer) => parsed.push(*layer),
            Set::Service(patch) => patches.push(patch),
        }
    }
    let mut profile = Profile::default();
    for layer in parsed {
        profile.layer(layer);
    }
    for patch in patches {
        patch.apply(&mut profile)?;
    }
    Ok(Loaded {
        profile,
        sources,
        main: main.expect("the profile itself is always loaded"),
    })
}

/// Loads `path` after its `extends` chain (base first) into `out`; `chain` holds the
/// files being loaded, to catch `extends` cycles.
fn load_file(
    path: &Path,
    referrer: Option<(&SourceMap, &Sourced<String>)>,
    sources: &mut SourceMap,
    chain: &mut Vec<PathBuf>,
    out: &mut Vec<Profile>,
) -> Result<SourceId, Vec<Diagnostic>> {
    let shown = path.display().to_string();
    let bytes = read_profile(path).map_err(|e| {
        vec![match referrer {
            Some((sm, at)) => {
                let relative = match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        "; `extends` is relative to the folder of the profile that says it"
                    }
                    _ => "",
                };
                let d = Diagnostic::new(format!("cannot read {shown}: {e}{relative}"));
                located(sm, at, d)
            }
            None => Diagnostic::new(format!("cannot read {shown}: {e}")),
        }]
    })?;
    let text = text::decode(&shown, bytes).map_err(|d| vec![d])?;
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if chain.contains(&canonical) {
        let (sm, at) = referrer.expect("a cycle needs a referrer");
        return Err(vec![located(
            sm,
            at,
            Diagnostic::new(format!("`extends` cycle: {shown} is already being loaded")),
        )]);
    }
    chain.push(canonical);
    let id = sources.add(shown, text);
    let profile: Profile = parse(sources, id)?;
    if let Some(base) = &profile.extends {
        let base_path = path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(base.get());
        // The referrer's source map is needed for locating errors while `sources`
        // is borrowed mutably, so locate with a snapshot (profiles are tiny).
        let snapshot = sources.clone();
        load_file(&base_path, Some((&snapshot, base)), sources, chain, out)?;
    }
    chain.pop();
    out.push(profile);
    Ok(id)
}

/// The largest profile read: a profile is a few hundred lines; anything far
/// larger (`extends = "/dev/zero"`) is a mistake, not a profile.
const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Reads a profile file: a regular file of at most [`MAX_PROFILE_BYTES`].
fn read_profile(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    // Checked before opening: opening a FIFO would wait for a writer.
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!(
                "larger than {} KiB, too large for a profile",
                MAX_PROFILE_BYTES / 1024
            ),
        ));
    }
    Ok(bytes)
}

fn parse<T: DeserializeOwned>(sources: &SourceMap, id: SourceId) -> Result<T, Vec<Diagnostic>> {
    let text = &sources.get(id).text;
    text::check_depth(&sources.get(id).name, text).map_err(|d| vec![d])?;
    with_source(id, || toml::from_str::<T>(text)).map_err(|e| {
        // serde names Rust types; a profile author thinks in numbers.
        let message = e
            .message()
            .trim_end()
            .replace(
                "expected u32",
                "expected a whole number from 0 to 4294967295",
            )
            .replace("expected u16", "expected a whole number from 0 to 65535")
            .replace("expected f64", "expected a number");
        // `expected struct Mirror`: a table, whatever meshgen calls it.
        let message = match message.find("expected struct ") {
            Some(at) => format!("{}expected a table", &message[..at]),
            None => message,
        };
        let mut message = message.replace("expected a sequence", "expected a list");
        if message.contains("expected a list") && sources.get(id).name.starts_with("--set ") {
            // The shell eats the quotes a TOML list of strings needs.
            message.push_str("; a list on a command line: --set 'KEY=[\"a\", \"b\"]'");
        }
        let mut d = Diagnostic::new(message);
        match e.span() {
            Some(span) => {
                d = d
                    .at(sources.locate(id, span.start))
                    .key(key_path_at(text, span.start));
            }
            None => d = d.in_file(sources.get(id).name.clone()),
        }
        vec![d]
    })
}

/// What one `--set` changes: a layer over the whole profile, or one service.
enum Set {
    Layer(Box<Profile>),
    Service(Box<ServicePatch>),
}

/// `--set service.NAME.KEY=VALUE`: one service of the merged `[[service]]` list,
/// found by name once every layer is merged (a layer replaces the whole list).
struct ServicePatch {
    arg: String,
    name: String,
    patch: Service,
}

impl ServicePatch {
    fn apply(self, profile: &mut Profile) -> Result<(), Vec<Diagnostic>> {
        let services = profile.service.as_mut().map(|s| &mut s.value);
        let target = services
            .into_iter()
            .flatten()
            .find(|s| s.name.value == self.name);
        let Some(target) = target else {
            let known: Vec<&str> = profile
                .service
                .iter()
                .flat_map(|s| &s.value)
                .map(|s| s.name.value.as_str())
                .collect();
            return Err(vec![
                Diagnostic::new(format!(
                    "no service named \"{}\" (known: {})",
                    self.name,
                    known.join(", ")
                ))
                .in_file(self.arg),
            ]);
        };
        // The name stays where the profile wrote it (errors about it point there).
        let name = target.name.clone();
        target.layer(self.patch);
        target.name = name;
        Ok(())
    }
}

/// `--set a.b=value` is parsed as the TOML line `a.b=value`, so values are typed like
/// TOML (`true`, `5`, `"x"`, `["a", "b"]`) and columns match the argument. A value
/// that is not valid TOML (`--set namespace=demo`) is taken as a string.
/// `--set service.NAME.KEY=value` sets KEY of the service named NAME.
fn parse_set(set: &str, sources: &mut SourceMap) -> Result<Set, Vec<Diagnostic>> {
    let arg = format!("--set {}", printable(set));
    // One `--set` is one TOML line: a line break would let the value set other
    // keys (`--set 'name=x\nistio.mtls=false'`).
    if let Some(c) = set.chars().find(|c| c.is_control()) {
        return Err(vec![
            Diagnostic::new(format!(
                "{c:?} is not allowed in --set (one key, one value, one line)"
            ))
            .in_file(arg),
        ]);
    }
    let Some((key, value)) = set.split_once('=') else {
        return Err(vec![
            Diagnostic::new("expected KEY=VALUE, e.g. --set istio.mtls=false").in_file(arg),
        ]);
    };
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    if key.is_empty() || !key.chars().all(bare) || key.split('.').any(str::is_empty) {
        return Err(vec![
            Diagnostic::new(format!(
                "`{key}` is not a dotted key like routing.retries.attempts"
            ))
            .in_file(arg),
        ]);
    }
    // A profile names its base; a base chosen on the command line would be read
    // after the layers it should be under, so it is refused rather than ignored.
    if key == "extends" {
        return Err(vec![
            Diagnostic::new(
                "`extends` is read from profile files only (a profile names its base); \
                 pass the base as PROFILE and layer files over it with -f",
            )
            .in_file(arg),
        ]);
    }
    let line = |key: &str| {
        let typed = format!("{key}={value}");
        if toml::de::DeTable::parse(&typed).is_ok() {
            typed
        } else {
            let quoted: String = toml::Value::String(value.to_owned()).to_string();
            format!("{key}={quoted}")
        }
    };
    let mut parts = key.splitn(3, '.');
    if let (Some("service"), Some(name), Some(field)) = (parts.next(), parts.next(), parts.next()) {
        if field == "name" {
            return Err(vec![
                Diagnostic::new("a service is renamed in its profile, not with --set").in_file(arg),
            ]);
        }
        // Blanks where `service.NAME.` stood keep the columns of the argument.
        let pad = " ".repeat(key.len() - field.len());
        let name_line = format!("name = {}", toml::Value::String(name.to_owned()));
        let id = sources.add(arg.clone(), format!("{pad}{}\n{name_line}", line(field)));
        return Ok(Set::Service(Box::new(ServicePatch {
            arg,
            name: name.to_owned(),
            patch: parse(sources, id)?,
        })));
    }
    let id = sources.add(arg, line(key));
    Ok(Set::Layer(Box::new(parse(sources, id)?)))
}

fn located<T>(sm: &SourceMap, at: &Sourced<T>, d: Diagnostic) -> Diagnostic {
    let text = &sm.get(at.source).text;
    d.at(sm.locate(at.source, at.span.start))
        .key(key_path_at(text, at.span.start))
}
