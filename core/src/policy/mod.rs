//! Policy (docs/protocol.md §5, step 14): the rules and their evaluation (`rules`), the
//! string patterns they use (`glob`), policy files watched for changes (`watch`) and Pkl
//! policies evaluated to JSON (`pkl`).

pub mod glob;
pub mod pkl;
mod rules;
pub mod watch;

pub use rules::*;
