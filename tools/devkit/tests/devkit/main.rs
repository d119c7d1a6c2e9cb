//! devkit's integration tests, in one binary (as zero-to-production's
//! `tests/api/main.rs`): the helpers are shared by modules, not by binaries,
//! so none is dead in any of them.

mod emulators;
mod helpers;
mod process;
mod template;
