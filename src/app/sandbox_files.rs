//! The HTTP route that serves the sandbox's export files, so an export's `url` is a real link:
//! `GET /sandbox/exports/{account}/{export_id}.csv` on the admin listener. 404 for an unknown
//! account, export or an export not done yet. The CSV is written as it is sent.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::service::Accounts;
use crate::upstream::sandbox::csv_chunks;

/// Builds the router serving the export files of the sandbox accounts among `accounts`.
pub(super) fn router(accounts: Arc<Accounts>) -> Router {
    Router::new()
        .route("/sandbox/exports/{account}/{file}", get(export_file))
        .with_state(accounts)
}

/// `GET /sandbox/exports/{account}/{export_id}.csv`.
async fn export_file(
    State(accounts): State<Arc<Accounts>>,
    Path((account, file)): Path<(String, String)>,
) -> Response {
    let contents = file.strip_suffix(".csv").and_then(|export_id| {
        let account = accounts.resolve(&account).ok()?;
        account.as_sandbox()?.export_file(export_id)
    });
    let Some(contents) = contents else {
        return (StatusCode::NOT_FOUND, "no such export file\n").into_response();
    };
    (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        Body::from_stream(csv_chunks(contents)),
    )
        .into_response()
}
