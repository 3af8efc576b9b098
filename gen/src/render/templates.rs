//! The templates: embedded in the binary, each overridable by a file of the same
//! name in `--templates DIR`.

use std::path::Path;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::error::Diagnostic;

/// The templates, embedded: what each renders is in `render::OUTPUTS`.
const EMBEDDED: &[(&str, &str)] = &[
    embed!("install.yaml.j2"),
    embed!("01-jaeger.yaml.j2"),
    embed!("02-prometheus.yaml.j2"),
    embed!("03-grafana.yaml.j2"),
    embed!("04-kiali.yaml.j2"),
    embed!("05-telemetry.yaml.j2"),
    embed!("_dashboard.json.j2"),
];

macro_rules! embed {
    ($name:literal) => {
        ($name, include_str!(concat!("../../templates/", $name)))
    };
}
use embed;

/// Templates of earlier versions, whose objects are now built in code: a
/// kustomize overlay on the output changes them.
const BUILT_IN_CODE: &[&str] = &[
    "00-namespace.yaml.j2",
    "10-security.yaml.j2",
    "20-workloads.yaml.j2",
    "25-destinations.yaml.j2",
    "30-ingress.yaml.j2",
    "40-egress.yaml.j2",
    "50-routing.yaml.j2",
    "_routes.j2",
    "_gateway_routes.j2",
];

/// Builds the template environment; `dir` overrides embedded templates by name.
/// The environment and, for overridden templates, the file each came from.
pub struct Templates {
    pub env: Environment<'static>,
    overrides: Vec<(String, String)>,
}

impl Templates {
    /// How to name a template in messages: its file when overridden.
    pub fn shown(&self, name: &str) -> String {
        self.overrides
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.to_owned(), |(_, p)| p.clone())
    }

    pub fn error(&self, name: &str, e: &minijinja::Error) -> Diagnostic {
        template_error(&self.shown(e.name().unwrap_or(name)), e)
    }
}

pub fn environment(dir: Option<&Path>) -> Result<Templates, Vec<Diagnostic>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("default delimiters are valid");
    env.set_syntax(syntax);
    let mut errors = Vec::new();
    let mut overrides = Vec::new();
    let mut sources: Vec<(String, String)> = EMBEDDED
        .iter()
        .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
        .collect();
    if let Some(dir) = dir {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            vec![
                Diagnostic::new(format!("cannot read templates directory: {e}"))
                    .in_file(shown.clone()),
            ]
        })?;
        let mut names: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".j2") {
                continue;
            }
            if BUILT_IN_CODE.contains(&name) {
                errors.push(
                    Diagnostic::new(format!(
                        "{name}: the chain's objects are no longer templates; change them with \
                         a kustomize overlay on the output (`meshgen render --kustomization`)"
                    ))
                    .in_file(path.display().to_string()),
                );
                continue;
            }
            let known = EMBEDDED.iter().any(|(n, _)| *n == name);
            if !known && !name.starts_with('_') {
                errors.push(
                    Diagnostic::new(format!(
                        "{name} is not a meshgen template (known: {}); name partials _*.j2",
                        EMBEDDED
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .in_file(path.display().to_string()),
                );
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    sources.retain(|(n, _)| n != name);
                    sources.push((name.to_owned(), text));
                    overrides.push((name.to_owned(), path.display().to_string()));
                }
                Err(e) => errors.push(
                    Diagnostic::new(format!("cannot read template: {e}"))
                        .in_file(path.display().to_string()),
                ),
            }
        }
    }
    let t = Templates { env, overrides };
    let mut env = t.env;
    for (name, text) in sources {
        if let Err(e) = env.add_template_owned(name.clone(), text) {
            let shown = t
                .overrides
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(name.clone(), |(_, p)| p.clone());
            errors.push(template_error(&shown, &e));
        }
    }
    if errors.is_empty() {
        Ok(Templates {
            env,
            overrides: t.overrides,
        })
    } else {
        Err(errors)
    }
}

/// `template NAME, line N: what went wrong`.
fn template_error(name: &str, e: &minijinja::Error) -> Diagnostic {
    let at = match e.line() {
        Some(line) => format!("{name}:{line}"),
        None => name.to_owned(),
    };
    let mut msg = e
        .detail()
        .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    Diagnostic::new(msg).in_file(format!("template {at}"))
}
