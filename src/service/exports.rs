//! Message exports beyond the plain calls: reading a finished export's CSV as a stream of rows,
//! and watching an export's state until it is terminal (the `watch` module).

mod watch;

use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use crate::events::log::EventLog;
use crate::exports::csv::{CsvError, DEFAULT_MAX_RECORD_BYTES};
use crate::exports::export_rows;
use crate::model::{ExportRow, MessageExport};
use crate::upstream::transport::describe_download_error;
use crate::upstream::{CallContext, UpstreamError};

use super::account::Account;

use self::watch::Watcher;
pub(crate) use self::watch::{PollPolicy, WatchError};

/// States a watch keeps queued for a slow reader (a watch sends a handful in its life).
const WATCH_QUEUE: usize = 4;

/// The rows of an export file as they are parsed, ending at the first failure.
pub(crate) type ExportRows = BoxStream<'static, Result<ExportRow, UpstreamError>>;

/// The states of one watched export, ending after a terminal state or with the error that
/// ended the watch.
pub(crate) type ExportStates = mpsc::Receiver<Result<MessageExport, WatchError>>;

/// What watching an export needs beyond the account.
#[derive(Clone, Debug)]
pub(crate) struct ExportWatching {
    /// The event log, where `EVENT_TYPE_EXPORT_READY` events arrive.
    pub log: Arc<dyn EventLog>,
    /// Turns true when the gateway drains; open watches then end with
    /// [`WatchError::ShuttingDown`].
    pub draining: tokio::sync::watch::Receiver<bool>,
    /// How often the upstream is asked while no event arrives.
    pub poll: PollPolicy,
}

impl Account {
    /// Checks that the export is finished, starts downloading its CSV and returns its rows as
    /// they are parsed: memory stays at one network chunk and one record, whatever the size.
    ///
    /// # Errors
    ///
    /// Fails as [`get_message_export`](Self::get_message_export), with
    /// [`UpstreamError::ExportNotFinished`] before the export is done, or
    /// [`UpstreamError::ExportDownloadFailed`]. The stream itself ends with
    /// [`UpstreamError::ExportDownloadFailed`] when the transfer breaks and
    /// [`UpstreamError::ExportFileMalformed`] at a row that cannot be read.
    pub(crate) async fn read_message_export(
        &self,
        export_id: &str,
        call: CallContext,
    ) -> Result<(MessageExport, ExportRows), UpstreamError> {
        let export = self.get_message_export(export_id, call).await?;
        if !export.state.is_terminal() {
            return Err(UpstreamError::ExportNotFinished {
                export_id: export.export_id,
                state_raw: export.state_raw,
            });
        }
        let chunks = self.downloads.open(&export.export_id, &export.url).await?;
        let chunks = chunks.map(|chunk| chunk.map_err(|error| describe_download_error(&error)));
        let id = export.export_id.clone();
        let rows = export_rows(chunks, DEFAULT_MAX_RECORD_BYTES).map(move |row| {
            row.map_err(|error| match error {
                CsvError::Source(detail) => UpstreamError::ExportDownloadFailed {
                    export_id: id.clone(),
                    detail,
                },
                malformed => UpstreamError::ExportFileMalformed {
                    export_id: id.clone(),
                    detail: malformed.to_string(),
                },
            })
        });
        Ok((export, rows.boxed()))
    }

    /// Watches the export `export_id`: its state at once, then on every change, until it is
    /// terminal, the receiver is dropped, the upstream fails for good, or the gateway drains.
    pub(crate) fn watch_message_export(
        self: &Arc<Self>,
        export_id: &str,
        call: CallContext,
        watching: &ExportWatching,
    ) -> ExportStates {
        let watcher = Watcher {
            account: self.clone(),
            export_id: export_id.to_owned(),
            call,
            watching: watching.clone(),
        };
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        tokio::spawn(watcher.run(sender));
        receiver
    }
}
