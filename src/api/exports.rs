//! `ExportService`: message history exports (tech v2 `messages_dump`, and the sandbox's). Create
//! and get are thin adapters over [`Account`](crate::upstream::Account); watching is in
//! `watch`; reading streams the CSV's rows as they are parsed, never holding the file.

mod watch;

use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::events::log::EventLog;
use crate::proto::pb;

use super::convert::exports::export_request;
use super::{ApiContext, call_context};

pub use self::watch::PollPolicy;
use self::watch::Watcher;

/// Messages a watch keeps queued for a slow reader (a watch sends a handful in its life).
const WATCH_QUEUE: usize = 4;

/// What `WatchMessageExport` needs beyond the accounts.
#[derive(Clone, Debug)]
pub struct ExportWatching {
    /// The event log, where `EVENT_TYPE_EXPORT_READY` events arrive.
    pub log: Arc<dyn EventLog>,
    /// Turns true when the gateway drains; open watches then end with UNAVAILABLE.
    pub draining: tokio::sync::watch::Receiver<bool>,
    /// How often the upstream is asked while no event arrives.
    pub poll: PollPolicy,
}

/// Serves `wazzup_gateway.v1.ExportService`.
#[derive(Debug)]
pub struct ExportsApi {
    /// Shared adapter state.
    context: ApiContext,
    /// The event log, the drain signal and the polling policy.
    watching: ExportWatching,
}

impl ExportsApi {
    /// Creates the service.
    pub fn new(context: ApiContext, watching: ExportWatching) -> Self {
        Self { context, watching }
    }
}

#[tonic::async_trait]
impl pb::export_service_server::ExportService for ExportsApi {
    type WatchMessageExportStream =
        BoxStream<'static, Result<pb::WatchMessageExportResponse, Status>>;
    type ReadMessageExportStream =
        BoxStream<'static, Result<pb::ReadMessageExportResponse, Status>>;

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn create_message_export(
        &self,
        request: Request<pb::CreateMessageExportRequest>,
    ) -> Result<Response<pb::CreateMessageExportResponse>, Status> {
        let export = export_request(request.get_ref()).map_err(ApiError::from)?;
        let account = self.context.account(&request, &request.get_ref().account)?;
        let created = account
            .create_message_export(&export, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::CreateMessageExportResponse {
            export: Some(created.into()),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), export_id = %bounded(&request.get_ref().export_id)))]
    async fn get_message_export(
        &self,
        request: Request<pb::GetMessageExportRequest>,
    ) -> Result<Response<pb::GetMessageExportResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let export = account
            .get_message_export(&request.get_ref().export_id, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetMessageExportResponse {
            export: Some(export.into()),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), export_id = %bounded(&request.get_ref().export_id)))]
    async fn watch_message_export(
        &self,
        request: Request<pb::WatchMessageExportRequest>,
    ) -> Result<Response<Self::WatchMessageExportStream>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let watcher = Watcher {
            account,
            export_id: request.get_ref().export_id.clone(),
            call: call_context(&request),
            watching: self.watching.clone(),
        };
        let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
        tokio::spawn(watcher.run(sender));
        Ok(Response::new(ReceiverStream::new(receiver).boxed()))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), export_id = %bounded(&request.get_ref().export_id)))]
    async fn read_message_export(
        &self,
        request: Request<pb::ReadMessageExportRequest>,
    ) -> Result<Response<Self::ReadMessageExportStream>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let (_export, rows) = account
            .read_message_export(&request.get_ref().export_id, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        let responses = rows.map(|row| match row {
            Ok(row) => Ok(pb::ReadMessageExportResponse {
                row: Some(row.into()),
            }),
            Err(error) => {
                tracing::warn!(error = %error, "export read ended early");
                Err(Status::from(ApiError::from(error)))
            }
        });
        Ok(Response::new(responses.boxed()))
    }
}

#[cfg(test)]
mod tests;
