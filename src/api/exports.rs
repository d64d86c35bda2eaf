//! `ExportService`: message history exports. Part of the contract; the implementation arrives with
//! the partner (tech v2) dialect, so every RPC answers `UNIMPLEMENTED` naming what is missing.

use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use crate::error::ApiError;
use crate::proto::pb;

/// What every export RPC is waiting for.
const MISSING: &str =
    "the wazzup_tech (partner API v2) dialect, which is the one with message exports";

/// Serves `wazzup_gateway.v1.ExportService`.
#[derive(Debug)]
pub struct ExportsApi;

#[tonic::async_trait]
impl pb::export_service_server::ExportService for ExportsApi {
    type WatchMessageExportStream =
        BoxStream<'static, Result<pb::WatchMessageExportResponse, Status>>;
    type ReadMessageExportStream =
        BoxStream<'static, Result<pb::ReadMessageExportResponse, Status>>;

    async fn create_message_export(
        &self,
        _request: Request<pb::CreateMessageExportRequest>,
    ) -> Result<Response<pb::CreateMessageExportResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "ExportService.CreateMessageExport",
            missing: MISSING,
        }
        .into())
    }

    async fn get_message_export(
        &self,
        _request: Request<pb::GetMessageExportRequest>,
    ) -> Result<Response<pb::GetMessageExportResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "ExportService.GetMessageExport",
            missing: MISSING,
        }
        .into())
    }

    async fn watch_message_export(
        &self,
        _request: Request<pb::WatchMessageExportRequest>,
    ) -> Result<Response<Self::WatchMessageExportStream>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "ExportService.WatchMessageExport",
            missing: MISSING,
        }
        .into())
    }

    async fn read_message_export(
        &self,
        _request: Request<pb::ReadMessageExportRequest>,
    ) -> Result<Response<Self::ReadMessageExportStream>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "ExportService.ReadMessageExport",
            missing: MISSING,
        }
        .into())
    }
}
