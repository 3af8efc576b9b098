//! `meshgen`: one TOML profile in, the whole Istio demo out.
//!
//! Flow, one way: profile layers ([`profile`]) -> checks and decisions
//! ([`validate`]) -> [`model::Model`], where every decision is made once ->
//! targets that only print it (the Kubernetes view and templates, with
//! canonical YAML: [`render`]) -> files, atomically and safely ([`write`]).
//!
//! The library is pure: no async runtime, no RPC stack. What it shares with
//! the hops (their configuration, headers, durations) comes from `contract`.
//! The `meshgen` command and the local runner live in the `meshgen-cli` crate.

pub mod error;
pub mod model;
pub mod profile;
pub mod render;
pub mod validate;
pub mod write;

/// The JSON Schema of profiles (`meshgen schema`).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(profile::schema::Profile);
    let mut value = serde_json::to_value(&schema).expect("schemas serialize");
    drop_null(&mut value);
    serde_json::to_string_pretty(&value).expect("schemas serialize")
}

/// TOML has no null: optional keys are just absent, so `Option` fields must not
/// advertise `null` to editors.
fn drop_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get_mut("anyOf") {
                any.retain(|s| s.get("type").is_none_or(|t| t != "null"));
                if any.len() == 1 {
                    let only = any.remove(0);
                    map.remove("anyOf");
                    if let Value::Object(inner) = only {
                        map.extend(inner);
                    }
                }
            }
            map.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_never_offers_null() {
        let s = super::schema_json();
        assert!(!s.contains("\"null\""), "{s}");
        assert!(s.contains("\"additionalProperties\": false"));
    }
}
