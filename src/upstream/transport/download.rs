//! Downloads of export files: a plain GET of the link the upstream gave, streamed chunk by chunk
//! so a file of any size passes through bounded memory. The link itself is a credential (signed
//! or unguessable), so it is never logged nor put into errors.

use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::upstream::UpstreamError;

/// Longest wait for the connection to the file's host.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while the file streams (no overall bound: a large file takes its time).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The chunks of a file being downloaded.
pub(crate) type FileChunks = BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>;

/// The HTTP client that fetches export files, shared by every account.
#[derive(Clone, Debug)]
pub(crate) struct Downloads {
    /// The pooled client.
    client: reqwest::Client,
}

impl Downloads {
    /// Builds the client.
    ///
    /// # Errors
    ///
    /// Fails when TLS cannot be set up.
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        // rustls needs a process-wide crypto provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("wazzup-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    /// Starts downloading the file of export `export_id` at `url` and returns its chunks.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ExportDownloadFailed`] when the link is not a URL, cannot be
    /// reached, or answers anything but a success.
    pub(crate) async fn open(
        &self,
        export_id: &str,
        url: &str,
    ) -> Result<FileChunks, UpstreamError> {
        let failed = |detail: String| UpstreamError::ExportDownloadFailed {
            export_id: export_id.to_owned(),
            detail,
        };
        let url = reqwest::Url::parse(url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| failed("the link is not an http(s) URL".to_owned()))?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|error| failed(describe(&error)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!(
                "the link answered HTTP {}",
                status.as_u16()
            )));
        }
        Ok(response.bytes_stream().boxed())
    }
}

/// Describes a transfer failure without the URL reqwest would print.
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "the transfer broke"
    };
    what.to_owned()
}
