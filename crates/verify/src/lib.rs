//! Canary analysis for Portcullis: compares a canary with its baseline, on metrics (a
//! re-implementation of Kayenta's NetflixACAJudge: Mann-Whitney U test, Hodges–Lehmann
//! interval, effect sizes, weighted group scores) and on logs (a Drain-like template miner,
//! counting templates per side), and turns the comparison into verification evidence: a
//! score from 0 to 100, a verdict and the reasons.
//!
//! This crate must not block or allow anything itself: it yields evidence, and policy
//! (`PCL-VERIFY-001`) decides. Parsers of configuration, series and logs never panic on bad
//! input; errors name the file, the format and the place.

pub mod analysis;
pub mod config;
pub mod error;
pub mod evidence;
pub mod html;
pub mod judge;
pub mod logs;
pub mod metrics_formats;
pub mod provider;
pub mod report;
pub mod stats;

pub use error::VerifyError;
