//! The gRPC contract of one hop of the chain (`chain.v1`), generated at build
//! time from `proto/chain.proto`.

/// Generated messages, client and server for `chain.v1`.
pub mod v1 {
    tonic::include_proto!("chain.v1");
}

/// The encoded `FileDescriptorSet` of `chain.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/chain_descriptor.bin"));

pub use v1::{CallRequest, Reply, Upstream, upstream::Answer};
