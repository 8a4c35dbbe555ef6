//! polc: a policy compiler for Calico and Kubernetes network policy.
//!
//! Data flows one way: files → [`frontend`] → [`ir`] → analyses ([`lint`]) → backends.
//! See `ARCHITECTURE.md` for the invariants each layer keeps.

pub mod analysis;
pub mod backend;
pub mod cli;
pub mod codes;
pub mod diag;
pub mod frontend;
pub mod ir;
pub mod lint;
pub mod output_marker;
pub mod review;
pub mod selector;
pub mod semantics;
pub mod severity;
pub mod source;
pub mod testgen;
