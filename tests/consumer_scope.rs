//! A token limited to some accounts may use a named consumer only when the consumer reads
//! nothing but those accounts: the consumer's stored filters are checked, not only the accounts
//! the request names.

mod support;

use std::collections::HashMap;

use support::{TestGateway, metadata_of, reason_of, with_token};
use tonic::Code;
use wazzup_gateway::Config;
use wazzup_gateway::proto::pb;
use wazzup_gateway::proto::pb::subscribe_request::Start;

/// Two sandbox accounts, an unlimited token and one limited to `main`.
fn scoped_config(data_dir: &std::path::Path) -> Config {
    let text = format!(
        "[storage]\ndata_dir = {data_dir:?}\n\n\
         [[accounts]]\nname = \"main\"\ndialect = \"sandbox\"\ndefault = true\n\n\
         [[accounts]]\nname = \"other\"\ndialect = \"sandbox\"\n\n\
         [[auth.tokens]]\nname = \"admin\"\ntoken_env = \"ADMIN_TOKEN\"\n\n\
         [[auth.tokens]]\nname = \"main-only\"\ntoken_env = \"MAIN_TOKEN\"\naccounts = [\"main\"]\n"
    );
    let env = HashMap::from([
        ("ADMIN_TOKEN".to_owned(), "admin-secret".to_owned()),
        ("MAIN_TOKEN".to_owned(), "main-secret".to_owned()),
    ]);
    Config::from_toml_str(&text, &env).expect("valid test configuration")
}

/// Subscribes as `token` to the consumer `name` of `main` reading `accounts` (empty: the
/// consumer's own filters), from the oldest event.
async fn join(
    gateway: &TestGateway,
    token: &str,
    name: &str,
    accounts: &[&str],
) -> Result<tonic::Streaming<pb::SubscribeResponse>, tonic::Status> {
    let request = pb::SubscribeRequest {
        account: "main".to_owned(),
        consumer: name.to_owned(),
        accounts: accounts
            .iter()
            .map(|account| (*account).to_owned())
            .collect(),
        start: Some(Start::Earliest(true)),
        ..Default::default()
    };
    gateway
        .events()
        .await
        .subscribe(with_token(request, token))
        .await
        .map(tonic::Response::into_inner)
}

/// Asserts a refusal for reading an account outside the token's scope.
fn assert_out_of_scope(status: &tonic::Status) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(reason_of(status).0, "PERMISSION_DENIED");
    let metadata = metadata_of(status);
    assert_eq!(metadata["consumer"], "shared");
    assert_eq!(metadata["account"], "main");
}

/// Starts a gateway where the admin token created consumer `shared` of `main` reading both
/// accounts.
async fn gateway_with_shared_consumer(dir: &tempfile::TempDir) -> TestGateway {
    let gateway = TestGateway::start(scoped_config(dir.path())).await;
    let created = join(&gateway, "admin-secret", "shared", &["main", "other"]).await;
    drop(created.expect("the admin token may create a consumer reading both accounts"));
    gateway
}

#[tokio::test]
async fn a_scoped_token_cannot_resume_a_consumer_reading_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_shared_consumer(&dir).await;

    let status = join(&gateway, "main-secret", "shared", &[])
        .await
        .expect_err("the consumer reads account other");

    assert_out_of_scope(&status);
    gateway.stop().await;
}

#[tokio::test]
async fn a_scoped_token_cannot_ack_get_or_delete_a_consumer_reading_another_account() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_shared_consumer(&dir).await;
    let mut events = gateway.events().await;

    let ack = events
        .ack(with_token(
            pb::AckRequest {
                account: "main".to_owned(),
                consumer: "shared".to_owned(),
                cursors: vec![1],
            },
            "main-secret",
        ))
        .await
        .expect_err("ack refused");
    let get = events
        .get_consumer(with_token(
            pb::GetConsumerRequest {
                account: "main".to_owned(),
                name: "shared".to_owned(),
            },
            "main-secret",
        ))
        .await
        .expect_err("get refused");
    let delete = events
        .delete_consumer(with_token(
            pb::DeleteConsumerRequest {
                account: "main".to_owned(),
                name: "shared".to_owned(),
            },
            "main-secret",
        ))
        .await
        .expect_err("delete refused");

    for status in [&ack, &get, &delete] {
        assert_out_of_scope(status);
    }
    let still_there = events
        .get_consumer(with_token(
            pb::GetConsumerRequest {
                account: "main".to_owned(),
                name: "shared".to_owned(),
            },
            "admin-secret",
        ))
        .await
        .expect("the refused delete left the consumer in place");
    assert_eq!(
        still_there
            .into_inner()
            .consumer
            .unwrap()
            .filters
            .unwrap()
            .accounts,
        ["main", "other"]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_scoped_token_lists_and_uses_only_consumers_within_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = gateway_with_shared_consumer(&dir).await;
    let own = join(&gateway, "main-secret", "own", &[]).await;
    drop(own.expect("a consumer of main alone is within the token's scope"));
    let mut events = gateway.events().await;

    let listed = |token: &'static str| {
        let mut events = events.clone();
        async move {
            let request = pb::ListConsumersRequest {
                account: "main".to_owned(),
            };
            let consumers = events
                .list_consumers(with_token(request, token))
                .await
                .expect("list")
                .into_inner()
                .consumers;
            consumers
                .into_iter()
                .map(|consumer| consumer.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("main-secret").await, ["own"]);
    assert_eq!(listed("admin-secret").await, ["own", "shared"]);
    let own = events
        .get_consumer(with_token(
            pb::GetConsumerRequest {
                account: "main".to_owned(),
                name: "own".to_owned(),
            },
            "main-secret",
        ))
        .await
        .expect("own consumer");
    assert_eq!(
        own.into_inner().consumer.unwrap().filters.unwrap().accounts,
        ["main"]
    );
    gateway.stop().await;
}
