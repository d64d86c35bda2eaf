//! `ExportService`: message history exports (tech v2 `messages_dump`, and the sandbox's). Thin
//! adapters over [`Account`](crate::service::Account): create and get; watching (the service's
//! [`ExportWatching`]) streams the export's states; reading streams the CSV's rows as they are
//! parsed, never holding the file.

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::events::fanout::FanoutError;
use crate::proto::pb;
use crate::service::{ExportWatching, WatchError};

use super::convert::exports::export_request;
use super::{ApiContext, call_context};

/// Serves `wazzup_gateway.v1.ExportService`.
#[derive(Debug)]
pub(crate) struct ExportsApi {
    /// Shared adapter state.
    context: ApiContext,
    /// The event log, the drain signal and the polling policy.
    watching: ExportWatching,
}

impl ExportsApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext, watching: ExportWatching) -> Self {
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
        let states = account.watch_message_export(
            &request.get_ref().export_id,
            call_context(&request),
            &self.watching,
        );
        let responses = ReceiverStream::new(states).map(|state| match state {
            Ok(export) => Ok(pb::WatchMessageExportResponse {
                export: Some(export.into()),
            }),
            Err(error) => Err(Status::from(watch_error(error))),
        });
        Ok(Response::new(responses.boxed()))
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

/// Returns the error a watch ends with: the upstream's failure, or UNAVAILABLE when draining.
fn watch_error(error: WatchError) -> ApiError {
    match error {
        WatchError::Upstream(error) => ApiError::from(error),
        WatchError::ShuttingDown => ApiError::from(FanoutError::ShuttingDown),
    }
}

#[cfg(test)]
mod tests;
