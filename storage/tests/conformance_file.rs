//! The store conformance suite (tests/conformance/mod.rs) run against FileStore,
//! each case on a glommio executor, each store in its own directory. `reopen`
//! really closes the store and recovers it from its block files.

#[macro_use]
mod conformance;
mod file_factory;

use file_factory::{on_glommio, FileFactory};

conformance_suite!(FileFactory::new(), on_glommio);
