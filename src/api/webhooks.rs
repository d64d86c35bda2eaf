//! `WebhookService`: the account's upstream webhook subscription (for operators).

use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::model::{FieldViolation, ValidationError, WebhookSettings};
use crate::proto::pb;

use super::{ApiContext, call_context};

/// Serves `wazzup_gateway.v1.WebhookService`.
#[derive(Debug)]
pub(crate) struct WebhooksApi {
    /// Shared adapter state.
    context: ApiContext,
}

impl WebhooksApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl pb::webhook_service_server::WebhookService for WebhooksApi {
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn get_webhook_settings(
        &self,
        request: Request<pb::GetWebhookSettingsRequest>,
    ) -> Result<Response<pb::GetWebhookSettingsResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let settings = account
            .get_webhook_settings(call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetWebhookSettingsResponse {
            settings: Some(settings.into()),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn update_webhook_settings(
        &self,
        request: Request<pb::UpdateWebhookSettingsRequest>,
    ) -> Result<Response<pb::UpdateWebhookSettingsResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let settings = required_settings(request.get_ref().settings.clone())?;
        let applied = account
            .update_webhook_settings(&settings, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::UpdateWebhookSettingsResponse {
            settings: Some(applied.into()),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn register_webhooks(
        &self,
        request: Request<pb::RegisterWebhooksRequest>,
    ) -> Result<Response<pb::RegisterWebhooksResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let applied = account
            .register_webhooks(call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::RegisterWebhooksResponse {
            settings: Some(applied.into()),
        }))
    }
}

/// Returns the settings of an update, which must be present.
fn required_settings(settings: Option<pb::WebhookSettings>) -> Result<WebhookSettings, ApiError> {
    let Some(settings) = settings else {
        return Err(ApiError::InvalidRequest(ValidationError(vec![
            FieldViolation {
                field: "settings".to_owned(),
                description: "is missing; the new webhook settings are required".to_owned(),
            },
        ])));
    };
    Ok(settings.into())
}
