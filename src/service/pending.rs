//! The upstream of a configured dialect that has no client yet.

use crate::config::Dialect;
use crate::upstream::Upstream;

/// The upstream of a dialect whose client is not part of this build yet: every operation answers
/// [`UpstreamError::Unsupported`] naming the dialect, so callers get `UNIMPLEMENTED`, not silence.
#[derive(Debug)]
pub(super) struct PendingDialect {
    /// The configured dialect.
    pub(super) dialect: Dialect,
}

#[async_trait::async_trait]
impl Upstream for PendingDialect {
    fn dialect(&self) -> Dialect {
        self.dialect
    }
}
