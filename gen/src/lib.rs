//! `meshgen`: one TOML profile in, the whole Istio demo out.
//!
//! Flow: profile layers ([`profile`]) -> checks and decisions ([`validate`]) ->
//! [`model::Model`] (target-neutral) -> the Kubernetes view and templates, with
//! canonical YAML ([`render`]) -> files, atomically and safely ([`write`]).

pub mod cli;
pub mod error;
pub mod model;
pub mod profile;
pub mod render;
pub mod validate;
pub mod write;

/// The JSON Schema of profiles (`meshgen schema`).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(profile::schema::Profile);
    serde_json::to_string_pretty(&schema).expect("schemas serialize")
}
