use super::*;

const DEFAULTS: StreamDefaults = StreamDefaults {
    max_in_flight: 256,
    ack_wait: Duration::from_secs(30),
    heartbeat_interval: Duration::from_secs(15),
};

fn convert(request: &pb::SubscribeRequest) -> Result<Subscription, Vec<String>> {
    subscription(
        request,
        "main".to_owned(),
        Vec::new(),
        AccountScope::All,
        &DEFAULTS,
        Violations::new(),
    )
    .map_err(|error| {
        error
            .0
            .into_iter()
            .map(|violation| violation.field)
            .collect()
    })
}

fn duration(ms: u64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration::try_from(Duration::from_millis(ms)).unwrap())
}

#[test]
fn an_empty_request_is_an_ephemeral_subscription_from_latest_with_defaults() {
    let converted = convert(&pb::SubscribeRequest::default()).unwrap();

    assert_eq!(converted.consumer, None);
    assert_eq!(converted.start, Start::Latest);
    assert_eq!(converted.filter, EventFilter::default());
    assert_eq!(
        converted.delivery,
        DeliverySettings {
            ack_mode: AckMode::Auto,
            max_in_flight: 256,
            ack_wait: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(15),
        }
    );
}

#[test]
fn every_start_position_converts() {
    use pb::subscribe_request::Start as PbStart;
    let since = prost_types::Timestamp {
        seconds: 12,
        nanos: 345_000_000,
    };
    let table = [
        (PbStart::Latest(true), Start::Latest),
        (PbStart::Earliest(true), Start::Earliest),
        (PbStart::AfterCursor(42), Start::AfterCursor(42)),
        (PbStart::Since(since), Start::Since(12_345)),
    ];
    for (given, expected) in table {
        let request = pb::SubscribeRequest {
            start: Some(given),
            ..Default::default()
        };
        assert_eq!(convert(&request).unwrap().start, expected);
    }
}

#[test]
fn named_explicit_subscriptions_keep_their_settings() {
    let request = pb::SubscribeRequest {
        consumer: "crm.sync-1".to_owned(),
        ack_mode: pb::AckMode::Explicit as i32,
        max_in_flight: 5,
        ack_wait: duration(250),
        heartbeat_interval: duration(1000),
        types: vec![pb::EventType::MessageStatus as i32],
        channel_ids: vec!["ch-2".to_owned(), "ch-1".to_owned()],
        ..Default::default()
    };

    let converted = convert(&request).unwrap();

    assert_eq!(converted.consumer.as_deref(), Some("crm.sync-1"));
    assert_eq!(converted.delivery.ack_mode, AckMode::Explicit);
    assert_eq!(converted.delivery.max_in_flight, 5);
    assert_eq!(converted.delivery.ack_wait, Duration::from_millis(250));
    assert_eq!(converted.filter.types, [EventType::MessageStatus]);
    assert_eq!(converted.filter.channel_ids, ["ch-1", "ch-2"]);
}

#[test]
fn every_invalid_field_is_reported_at_once_with_its_path() {
    let request = pb::SubscribeRequest {
        consumer: "no spaces".to_owned(),
        types: vec![pb::EventType::MessageReceived as i32, 0, 999],
        channel_ids: vec!["ok".to_owned(), " ".to_owned()],
        start: Some(pb::subscribe_request::Start::Since(
            prost_types::Timestamp {
                seconds: 1,
                nanos: -1,
            },
        )),
        ack_mode: 7,
        max_in_flight: 10_001,
        ack_wait: duration(10),
        heartbeat_interval: Some(prost_types::Duration {
            seconds: 7200,
            nanos: 0,
        }),
        ..Default::default()
    };

    let fields = convert(&request).unwrap_err();

    assert_eq!(
        fields,
        [
            "consumer",
            "types[1]",
            "types[2]",
            "channel_ids[1]",
            "since",
            "ack_mode",
            "max_in_flight",
            "ack_wait",
            "heartbeat_interval",
        ]
    );
}

#[test]
fn explicit_acks_need_a_named_consumer() {
    let request = pb::SubscribeRequest {
        ack_mode: pb::AckMode::Explicit as i32,
        ..Default::default()
    };

    assert_eq!(convert(&request).unwrap_err(), ["ack_mode"]);
}

#[test]
fn structs_become_json_with_integral_numbers_kept_integral() {
    let json = serde_json::json!({"id": 42, "name": "Ann", "score": 1.5, "tags": ["a", null], "o": {"b": true}});
    let converted = crate::api::convert::events::json_to_struct(&json).unwrap();

    assert_eq!(struct_to_json(&converted), json);
}

#[test]
fn intervals_are_bounded_exactly_and_must_be_well_formed() {
    let ack_wait = |seconds: i64, nanos: i32| {
        let request = pb::SubscribeRequest {
            consumer: "c".to_owned(),
            ack_mode: pb::AckMode::Explicit as i32,
            ack_wait: Some(prost_types::Duration { seconds, nanos }),
            ..Default::default()
        };
        convert(&request).map(|converted| converted.delivery.ack_wait)
    };
    let refused = || Err(vec!["ack_wait".to_owned()]);
    let table = [
        ((0, 100_000_000), Ok(Duration::from_millis(100))),
        ((0, 99_999_999), refused()),
        ((86_400, 0), Ok(Duration::from_secs(86_400))),
        ((86_400, 1), refused()),
        ((5, 0), Ok(Duration::from_secs(5))),
        ((4, 999_999_999), Ok(Duration::new(4, 999_999_999))),
        // "5 s − 1 ns" written with nanos of the other sign is malformed, not 4.999999999 s.
        ((5, -1), refused()),
        ((1, -900_000_000), refused()),
        ((0, 1_000_000_000), refused()),
        ((-1, 0), refused()),
    ];
    for ((seconds, nanos), expected) in table {
        assert_eq!(ack_wait(seconds, nanos), expected, "{seconds} s {nanos} ns");
    }
}
