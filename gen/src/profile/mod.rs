//! Profiles: the TOML format ([`schema`]), where values came from ([`source`]) and
//! how layers are read and merged ([`layers`]).

pub mod layers;
pub mod schema;
pub mod source;

pub use layers::{Layers, Loaded, load};
