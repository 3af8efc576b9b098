//! The `meshgen` command. Rendering lives in the `meshgen` library (pure: no
//! async runtime); this crate adds the command line and the local runner
//! (`up`, `compare`), which start real processes.

pub mod cli;
/// `meshgen up` / `compare`: the Envoy target and a local mesh on 127.0.0.1 (Linux).
pub mod local;
