//! The reference point of the send benchmark: a bare tonic → reqwest pass-through. It serves
//! `MessageService.SendMessage` by POSTing the v3 send body to the mock and answering its
//! `messageId`, with nothing else (no auth, validation, rate limit, idempotency, metrics or
//! tracing), so the benchmark can show what the gateway's own work costs on top of the two hops.

use std::net::SocketAddr;

use tonic::{Request, Response, Status};
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::message_service_server::{MessageService, MessageServiceServer};

use crate::{API_KEY, REQUEST_TIMEOUT};

/// Forwards sends to one upstream.
#[derive(Debug)]
struct PassThrough {
    client: reqwest::Client,
    url: String,
}

#[tonic::async_trait]
impl MessageService for PassThrough {
    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        let send = request.into_inner();
        let chat_id = send.recipient.map(|recipient| recipient.chat_id);
        let text = match send.content {
            Some(pb::send_message_request::Content::Text(text)) => text,
            _ => return Err(Status::invalid_argument("only text sends pass through")),
        };
        let body = serde_json::json!({
            "channelId": send.channel_id,
            "chatType": "whatsapp",
            "chatId": chat_id,
            "text": text,
        });
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        let answer: serde_json::Value = response
            .json()
            .await
            .map_err(|error| Status::internal(error.to_string()))?;
        Ok(Response::new(pb::SendMessageResponse {
            message_id: answer["messageId"].as_str().unwrap_or_default().to_owned(),
            chat_id: answer["chatId"].as_str().unwrap_or_default().to_owned(),
            ..Default::default()
        }))
    }

    async fn batch_send_messages(
        &self,
        _request: Request<pb::BatchSendMessagesRequest>,
    ) -> Result<Response<pb::BatchSendMessagesResponse>, Status> {
        Err(Status::unimplemented("the pass-through only sends"))
    }

    async fn edit_message(
        &self,
        _request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::EditMessageResponse>, Status> {
        Err(Status::unimplemented("the pass-through only sends"))
    }

    async fn delete_message(
        &self,
        _request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::DeleteMessageResponse>, Status> {
        Err(Status::unimplemented("the pass-through only sends"))
    }
}

/// Serves the pass-through on `listen`, forwarding to the mock at `upstream` (its base URL).
pub(crate) async fn serve(listen: SocketAddr, upstream: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let service = PassThrough {
        client,
        url: format!("{}/v3/message", upstream.trim_end_matches('/')),
    };
    println!("listening on {listen}");
    tonic::transport::Server::builder()
        .add_service(MessageServiceServer::new(service))
        .serve(listen)
        .await
        .map_err(|error| error.to_string())
}
