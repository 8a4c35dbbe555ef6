//! Reviewing a change: what `polc diff` compares. `golden.rs` compares rendered
//! artifacts with a checked-in artifact tree; `cells.rs` compares the connectivity
//! matrices of two models cell by cell (the semantic diff); `intent.rs` checks a
//! semantic diff against the flows a change means to alter; `git.rs` reads the
//! manifests of a git revision without a checkout. Nothing here prints: `src/cli/diff`
//! renders the results.

pub mod cells;
pub mod git;
pub mod golden;
pub mod intent;
