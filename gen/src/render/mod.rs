//! From a [`Model`] to files: the chain's objects are built as typed values
//! and written once; the addons and install options are templates users may
//! override, whose output is checked and written in the same canonical form.

mod canonical;
mod chain;
mod kube;
mod templates;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use minijinja::value::Serde;

use crate::error::Diagnostic;
use crate::model::{Model, applyset};

/// A file to write, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: String,
    /// Number of YAML documents in it.
    pub documents: usize,
}

/// Where an output file's documents come from.
enum Source {
    Template(&'static str),
    Built(chain::Build),
}

/// Outputs in apply order (file names sort in apply order too).
const OUTPUTS: &[(&str, Source)] = &[
    ("istio/install.yaml", Source::Template("install.yaml.j2")),
    ("00-namespace.yaml", Source::Built(chain::namespace)),
    (
        "addons/01-jaeger.yaml",
        Source::Template("01-jaeger.yaml.j2"),
    ),
    (
        "addons/02-prometheus.yaml",
        Source::Template("02-prometheus.yaml.j2"),
    ),
    (
        "addons/03-grafana.yaml",
        Source::Template("03-grafana.yaml.j2"),
    ),
    ("addons/04-kiali.yaml", Source::Template("04-kiali.yaml.j2")),
    (
        "addons/05-telemetry.yaml",
        Source::Template("05-telemetry.yaml.j2"),
    ),
    ("10-security.yaml", Source::Built(chain::security)),
    ("20-workloads.yaml", Source::Built(chain::workloads)),
    ("25-destinations.yaml", Source::Built(chain::destinations)),
    ("30-ingress.yaml", Source::Built(chain::ingress)),
    ("40-egress.yaml", Source::Built(chain::egress)),
    ("50-routing.yaml", Source::Built(chain::routing)),
];

/// Renders every output; files without documents are not produced.
pub fn render(model: &Model, template_dir: Option<&Path>) -> Result<Vec<File>, Vec<Diagnostic>> {
    let t = templates::environment(template_dir)?;
    let view = kube::view(model);
    let ctx = minijinja::Value::from(Serde(&view.for_templates()));
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let set = model.applyset_id();
    let mut member_kinds = BTreeSet::new();
    for (path, source) in OUTPUTS {
        let mut stream = canonical::Stream::new(&set);
        let written = match source {
            Source::Template(name) => t
                .env
                .get_template(name)
                .and_then(|t| t.render(ctx.clone()))
                .map_err(|e| t.error(name, &e))
                .and_then(|text| {
                    stream.push_rendered(&text).map_err(|e| {
                        Diagnostic::new(e).in_file(format!("template {}", t.shown(name)))
                    })
                }),
            Source::Built(build) => {
                let mut docs = chain::Docs(stream);
                let built = build(&view, &mut docs);
                stream = docs.0;
                built.map_err(|e| Diagnostic::new(format!("cannot write {path}: {e}")))
            }
        };
        match written {
            Err(e) => errors.push(e),
            Ok(()) if stream.documents == 0 => {}
            Ok(()) => {
                member_kinds.append(&mut stream.member_kinds);
                files.push(File {
                    path: (*path).to_owned(),
                    content: stream.text,
                    documents: stream.documents,
                });
            }
        }
    }
    if errors.is_empty() {
        files.push(applyset_parent(model, &member_kinds));
        Ok(files)
    } else {
        Err(errors)
    }
}

/// Where the ApplySet parent is written: beside the applied files, not among
/// them, since kubectl keeps the live parent itself (`--applyset`).
pub const APPLYSET_PARENT: &str = "applyset/parent.yaml";

/// The chain's ApplySet parent as kubectl keeps it for
/// `--applyset=configmaps/meshgen-applyset`: its id, tooling and the kinds of
/// the members this render made (the objects labelled with its id).
fn applyset_parent(model: &Model, kinds: &BTreeSet<String>) -> File {
    let mut labels = kube::chain_labels(model);
    labels.insert(applyset::ID_LABEL, model.applyset_id());
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let annotations: BTreeMap<&str, String> = [
        (applyset::TOOLING_ANNOTATION, applyset::TOOLING.to_owned()),
        (applyset::KINDS_ANNOTATION, kinds.join(",")),
        // Every member is in the parent's namespace or cluster-scoped.
        (applyset::NAMESPACES_ANNOTATION, String::new()),
    ]
    .into();
    let parent = serde_json::json!({
        "apiVersion": "v1",
        "kind": applyset::PARENT_KIND,
        "metadata": {
            "name": applyset::PARENT_NAME,
            "namespace": model.namespace,
            "labels": labels,
            "annotations": annotations,
        },
    });
    let mut stream = canonical::Stream::new("");
    stream
        .push(&parent, "v1", applyset::PARENT_KIND, None)
        .expect("a ConfigMap serializes");
    File {
        path: APPLYSET_PARENT.to_owned(),
        content: stream.text,
        documents: 1,
    }
}

/// The files `kubectl apply` takes, in apply order: all but the IstioOperator
/// in `istio/`, which is for `istioctl`, and the ApplySet parent.
fn applied(files: &[File]) -> impl Iterator<Item = &File> {
    files
        .iter()
        .filter(|f| !f.path.starts_with("istio/") && f.path != APPLYSET_PARENT)
}

/// The name `kubectl apply -k DIR` looks for.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// A `kustomization.yaml` listing the applied files in apply order, so that
/// `kubectl apply -k DIR` works and an overlay can build on DIR. Not written
/// unless asked: `kubectl apply -f DIR` would take it for an object to apply.
pub fn kustomization(files: &[File]) -> File {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Kustomization<'a> {
        api_version: &'static str,
        kind: &'static str,
        resources: Vec<&'a str>,
        sort_options: SortOptions,
    }
    #[derive(serde::Serialize)]
    struct SortOptions {
        order: &'static str,
    }
    let k = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: applied(files).map(|f| f.path.as_str()).collect(),
        // Keep meshgen's apply order (subsets before the routes naming them)
        // instead of kustomize's order by kind.
        sort_options: SortOptions { order: "fifo" },
    };
    let yaml = yaml::to_string(&k).expect("a kustomization serializes");
    File {
        path: KUSTOMIZATION.to_owned(),
        content: format!("{}{yaml}", canonical::HEADER),
        documents: 0,
    }
}

/// One multi-document stream of everything `kubectl apply -f out` applies (the
/// IstioOperator in `istio/` is for `istioctl`, not kubectl, so it is left out).
pub fn stream(files: &[File]) -> String {
    let mut s = String::from(canonical::HEADER);
    for f in applied(files) {
        s.push_str(&format!("# {}\n", f.path));
        s.push_str(
            f.content
                .strip_prefix(canonical::HEADER)
                .unwrap_or(&f.content),
        );
    }
    s
}
