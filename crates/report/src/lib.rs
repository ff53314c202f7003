//! Portcullis reports: what happened in a time range, for auditors — every decision with its
//! proof points and violations, the exceptions granted and used, the advisories and their
//! impact, coverage of the NIST SP 800-53 rev5 and HIPAA controls the policy library maps to,
//! and the audit chain's verification — rendered as HTML, PDF (headless Chromium), JSON or
//! OSCAL 1.1 (assessment results and a POA&M). [`charts`] draws the SVG charts the reports and
//! the dashboard show.
//!
//! It reads the store and the firewall's records; it must not decide anything or change state.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod charts;
