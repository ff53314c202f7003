//! The firewall's clock, as records are timed.

use chrono::{SecondsFormat, Utc};

/// RFC 3339 UTC with milliseconds: how records are timed.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
