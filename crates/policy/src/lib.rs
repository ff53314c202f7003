//! Portcullis policy: the Rego engine (regorus), the built-in policy library
//! (`library/**/*.rego`, each rule a package with `metadata`, a `violation` set and `test_`
//! rules beside it), and the `PolicyInput` contract that every rule reads.
//!
//! It evaluates rules and reports what they say; it must not decide allow/deny (enforcement
//! modes and exceptions are the firewall's), touch the store or use the network.

pub mod bundle;
pub mod deps;
pub mod error;
pub mod gatekeeper;
pub mod input;
pub mod kubernetes;
pub mod metadata;
pub mod parse_cost;
pub mod testing;
pub mod value;

pub use bundle::{
    EvalError, EvalLimits, EvidenceValue, PolicyBundle, PolicySet, PolicySource, RawViolation,
    Rule, RuleError, RuleResult, input_value,
};
pub use error::PolicyError;
pub use input::{INPUT_VERSION, PolicyInput};
pub use metadata::{Action, Category, Controls, DefaultActions, RuleMeta};

/// The regorus version this crate embeds (recorded in decisions).
pub const REGO_ENGINE: &str = "regorus 0.14";
