//! Portcullis watch: the hours after a deployment. For each deployment an environment's
//! settings watch, it runs the probe's exposure expectations against the service and compares
//! its metrics and logs since the deployment with the version before's over the same length of
//! time just before it (the verify crate's canary judge), at every interval of the window. Each
//! result is recorded through the firewall as a fact of the running digest (so a failed check
//! counts in later decisions), and in the watch's own audit entries (which replicas share and
//! a restart reads back). A failure ends the watch, tells the server (which notifies), and
//! calls the rollback webhook when one is configured.
//!
//! It does the IO the firewall must not (probing, Prometheus, log files and commands, the
//! webhook); it must not write audit entries itself (the firewall's `watch` module does) or
//! decide anything (policies read the facts it records).

pub mod checks;
pub mod config;
pub mod rollback;
pub mod runner;
pub mod window_logs;

pub use config::{Watch, WatchConfigError, WatchSetting, Watches};
pub use runner::{Ended, OnEnd, Runner};
