//! `WebhookService`: the upstream's webhook subscription. Part of the contract; it arrives with the
//! Wazzup v3 dialect, so every RPC answers `UNIMPLEMENTED` naming what is missing.

use tonic::{Request, Response, Status};

use crate::error::ApiError;
use crate::proto::pb;

/// What every webhook-settings RPC is waiting for.
const MISSING: &str = "the wazzup_v3 dialect's GET/PATCH /v3/webhooks client";

/// Serves `wazzup_gateway.v1.WebhookService`.
#[derive(Debug)]
pub struct WebhooksApi;

#[tonic::async_trait]
impl pb::webhook_service_server::WebhookService for WebhooksApi {
    async fn get_webhook_settings(
        &self,
        _request: Request<pb::GetWebhookSettingsRequest>,
    ) -> Result<Response<pb::GetWebhookSettingsResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "WebhookService.GetWebhookSettings",
            missing: MISSING,
        }
        .into())
    }

    async fn update_webhook_settings(
        &self,
        _request: Request<pb::UpdateWebhookSettingsRequest>,
    ) -> Result<Response<pb::UpdateWebhookSettingsResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "WebhookService.UpdateWebhookSettings",
            missing: MISSING,
        }
        .into())
    }

    async fn register_webhooks(
        &self,
        _request: Request<pb::RegisterWebhooksRequest>,
    ) -> Result<Response<pb::RegisterWebhooksResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "WebhookService.RegisterWebhooks",
            missing: MISSING,
        }
        .into())
    }
}
