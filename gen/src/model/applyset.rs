//! The chain as one ApplySet (KEP-3659, `kubectl apply --prune --applyset`):
//! its parent object, and the id every member carries, so that an upgrade
//! removes what a new render dropped. The shared objects in `istio-system`
//! (the addons, `part-of: meshgen-addons`) serve every profile of a cluster
//! and are never members.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::Model;

/// The parent: a ConfigMap in the chain's namespace, which kubectl creates
/// and keeps up to date (`--applyset=configmaps/meshgen-applyset`).
pub const PARENT_KIND: &str = "ConfigMap";
pub const PARENT_RESOURCE: &str = "configmaps";
pub const PARENT_NAME: &str = "meshgen-applyset";
/// The tool that manages the set: kubectl refuses a parent whose tooling
/// annotation names another tool (it compares the name only).
pub const TOOLING: &str = "kubectl/v1.33.0";

/// Labels and annotations of the KEP.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
pub const KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// The KEP's id of the set whose parent is `name` of `kind` (API `group`, ""
/// for the core group) in `namespace`: `applyset-` + unpadded base64url of
/// the SHA-256 of `name.namespace.kind.group` + `-v1`.
pub fn id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}"));
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    format!("applyset-{b64}-v1")
}

impl Model {
    /// The id of the chain's ApplySet.
    pub fn applyset_id(&self) -> String {
        id(PARENT_NAME, &self.namespace, PARENT_KIND, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_the_keps() {
        // kubectl's own test (pkg/cmd/apply/apply_test.go): Secret my-set in test.
        assert_eq!(
            id("my-set", "test", "Secret", ""),
            "applyset-0eFHV8ySqp7XoShsGvyWFQD3s96yqwHmzc4e0HR1dsY-v1"
        );
        let ours = id(PARENT_NAME, "istio101", PARENT_KIND, "");
        assert!(ours.starts_with("applyset-") && ours.ends_with("-v1"));
        // A label value: at most 63 characters, URL-safe alphabet.
        assert!(ours.len() <= 63, "{ours}");
        assert!(
            ours.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        );
        assert_ne!(ours, id(PARENT_NAME, "istio101-grpc", PARENT_KIND, ""));
    }
}
