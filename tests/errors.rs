//! Status codes and google.rpc details for errors that are not about one RPC's content: accounts,
//! dialects without an operation, RPCs not built yet.

mod support;

use std::collections::HashMap;

use support::*;
use tonic::Code;
use wazzup_gateway::proto::pb;

/// Two sandbox-free accounts of a dialect without templates, neither default.
const TWO_ACCOUNTS: &str = r#"
[[accounts]]
name = "alpha"
dialect = "devino"
api_key_env = "ALPHA_KEY"
devino.senders = ["Alpha"]

[[accounts]]
name = "beta"
dialect = "devino"
api_key_env = "BETA_KEY"
devino.senders = ["Beta"]
"#;

fn two_account_env() -> HashMap<String, String> {
    HashMap::from([
        ("ALPHA_KEY".to_owned(), "a".to_owned()),
        ("BETA_KEY".to_owned(), "b".to_owned()),
    ])
}

#[tokio::test]
async fn an_unknown_account_is_an_invalid_argument_naming_it() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest {
            account: "acme".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status).0, "UNKNOWN_ACCOUNT");
    assert_eq!(
        metadata_of(&status).get("account").map(String::as_str),
        Some("acme")
    );
    assert_eq!(violated_fields(&status), ["account"]);
    gateway.stop().await;
}

#[tokio::test]
async fn without_a_default_account_requests_must_name_one() {
    let gateway = TestGateway::start_with(TWO_ACCOUNTS, &two_account_env()).await;

    let status = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason_of(&status).0, "ACCOUNT_REQUIRED");
    gateway.stop().await;
}

#[tokio::test]
async fn a_dialect_without_the_operation_answers_unimplemented_naming_both() {
    let gateway = TestGateway::start_with(TWO_ACCOUNTS, &two_account_env()).await;

    let status = gateway
        .templates()
        .await
        .list_templates(pb::ListTemplatesRequest {
            account: "alpha".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(reason_of(&status).0, "NOT_IMPLEMENTED");
    let metadata = metadata_of(&status);
    assert_eq!(metadata.get("dialect").map(String::as_str), Some("devino"));
    assert_eq!(
        metadata.get("operation").map(String::as_str),
        Some("listing templates")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn notification_options_are_refused_for_other_dialects() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(WHATSAPP_CHANNEL, "79991112233", "hi");
    send.notify = Some(pb::NotifyOptions {
        callback_data: "x".to_owned(),
        ..Default::default()
    });

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["notify"]);
    gateway.stop().await;
}

#[tokio::test]
async fn operations_a_dialect_lacks_answer_unimplemented_naming_it() {
    let toml = "[[accounts]]\nname = \"main\"\ndialect = \"wazzup_v3\"\ndefault = true\n";
    let env = HashMap::from([("WGW_ACCOUNT_MAIN_API_KEY".to_owned(), "test-key".to_owned())]);
    let gateway = TestGateway::start_with(toml, &env).await;
    let mut exports = pb::export_service_client::ExportServiceClient::new(gateway.channel().await);

    let status = exports
        .get_message_export(pb::GetMessageExportRequest {
            export_id: "e1".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented);
    assert_eq!(reason_of(&status).0, "NOT_IMPLEMENTED");
    let metadata = metadata_of(&status);
    assert_eq!(metadata["dialect"], "wazzup_v3");
    assert_eq!(metadata["operation"], "exporting messages");
    gateway.stop().await;
}
