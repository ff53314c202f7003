//! What can go wrong before any deviation can be judged.

/// Errors of the probe: a bad expectations file or targets that cannot be probed. Deviations
/// are not errors; they are in the [`crate::Report`].
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}: cannot read the expectations file: {1}")]
    Read(String, #[source] std::io::Error),
    #[error("{file}: {location}: {message}")]
    Invalid {
        file: String,
        /// `line:column (field path)`, or the field path.
        location: String,
        message: String,
    },
    #[error("target {target}: cannot resolve {address}: {message}")]
    Resolve {
        target: String,
        address: String,
        message: String,
    },
    /// No scanned port answered at all (neither open nor closed): the host is down, unroutable,
    /// or drops everything, and nothing can be judged (a target that is meant to drop every
    /// port is indistinguishable from one that is gone).
    #[error("target {target}: {address} is unreachable: none of {ports} ports answered")]
    Unreachable {
        target: String,
        address: String,
        ports: usize,
    },
    #[error("{0}: not a declared target, refused")]
    Undeclared(String),
    #[error("{file}: CA bundle {bundle}: {message}")]
    CaBundle {
        file: String,
        bundle: String,
        message: String,
    },
    #[error("cannot start the probe: {0}")]
    Runtime(String),
}
