//! Verification (docs/protocol.md §2): the pipeline that runs the steps in order
//! (`pipeline`), its configuration document (`config`), its errors (`error`) and what a
//! successful verification tells the service (`caller`).

pub mod caller;
pub mod config;
pub mod error;
pub mod pipeline;
