//! The library's error type. Every failure a user can cause names the file, and where it
//! applies the line and column; [`VaeError::is_user_error`] tells the binary which exit code
//! to use (2 for bad input or usage, 1 for other failures).

use std::path::PathBuf;

/// Result alias used across the library.
pub type Result<T, E = VaeError> = std::result::Result<T, E>;

/// Everything that can go wrong in vaetool.
#[derive(Debug, thiserror::Error)]
pub enum VaeError {
    /// An input file could not be opened or read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Malformed or unusable input data (file, line and column are in the message).
    #[error("{0}")]
    Input(String),
    /// A flag value or combination that cannot work.
    #[error("{0}")]
    Usage(String),
    /// A model directory that is missing, incomplete, corrupt or does not fit the data.
    #[error("{0}")]
    Model(String),
    /// Training failed (for example the loss became NaN).
    #[error("{0}")]
    Training(String),
    /// Clustering failed.
    #[error("{0}")]
    Clustering(String),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl VaeError {
    /// True when the user can fix the failure by changing the input or the flags
    /// (exit code 2); false for failures of the run itself (exit code 1).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            VaeError::Read { .. } | VaeError::Input(_) | VaeError::Usage(_) | VaeError::Model(_)
        )
    }
}
