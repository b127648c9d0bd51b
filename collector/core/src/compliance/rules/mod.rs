//! Rule types: one file each, each with a `compile` from YAML (all checking done there) and
//! an `eval` on a host's facts. To add a rule type, add its file here and its keys to
//! [`super::check::Check::compile`].

pub mod compare;
pub mod software;
