//! Profiles: the TOML format ([`schema`]), where values came from ([`source`]) and
//! how layers are read and merged ([`layers`]).

mod layers;
pub(crate) mod schema;
pub(crate) mod source;
mod text;

pub use layers::{Layers, Loaded, load};
