//! `TemplateService`: WABA templates.

use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::model::Violations;
use crate::model::validate::check_required_id;
use crate::proto::pb;

use super::convert::templates::{page_request, page_token};
use super::{ApiContext, call_context};

/// Serves `wazzup_gateway.v1.TemplateService`.
#[derive(Debug)]
pub(crate) struct TemplatesApi {
    /// Shared adapter state.
    context: ApiContext,
}

impl TemplatesApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl pb::template_service_server::TemplateService for TemplatesApi {
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        let page = page_request(request.get_ref()).map_err(ApiError::from)?;
        let account = self.context.account(&request, &request.get_ref().account)?;
        let listed = account
            .list_templates(page, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates: listed.templates.into_iter().map(Into::into).collect(),
            next_page_token: listed.next_offset.map(page_token).unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), template_id = %bounded(&request.get_ref().template_id)))]
    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::GetTemplateResponse>, Status> {
        let mut violations = Violations::new();
        check_required_id(
            "template_id",
            &request.get_ref().template_id,
            &mut violations,
        );
        violations.finish().map_err(ApiError::from)?;
        let account = self.context.account(&request, &request.get_ref().account)?;
        let template = account
            .get_template(&request.get_ref().template_id, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetTemplateResponse {
            template: Some(template.into()),
        }))
    }
}
