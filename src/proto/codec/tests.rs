use prost::Message as _;
use prost_types::value::Kind;
use tonic::Code;
use tonic_types::StatusExt as _;

use super::*;
use crate::proto::pb;

/// Decodes `bytes` as `M` and returns the status the codec answers with.
fn status_of<M: Message + Default + std::fmt::Debug>(bytes: &[u8]) -> Status {
    let error = M::decode(bytes).expect_err("the bytes are malformed");
    malformed(&error)
}

/// Returns the fields the status's `BadRequest` names.
fn named_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A `google.protobuf.Struct` with `depth` levels of structs inside it.
fn nested_struct(depth: usize) -> prost_types::Struct {
    let mut inner = prost_types::Struct::default();
    for _ in 0..depth {
        let value = prost_types::Value {
            kind: Some(Kind::StructValue(inner)),
        };
        inner = prost_types::Struct {
            fields: [("a".to_owned(), value)].into(),
        };
    }
    inner
}

#[test]
fn every_kind_of_malformed_request_is_invalid_argument_naming_the_field() {
    let eleven_continuation_bytes = [0xff; 11];
    let mut bad_varint = vec![(13 << 3) as u8];
    bad_varint.extend_from_slice(&eleven_continuation_bytes);
    let table: [(&str, Vec<u8>, &[&str], &str); 6] = [
        (
            "invalid UTF-8 in a string",
            vec![0x12, 0x02, 0xff, 0xfe],
            &["channel_id"],
            "UTF-8",
        ),
        (
            "invalid UTF-8 in a nested string",
            vec![0x1a, 0x03, 0x12, 0x01, 0xff],
            &["recipient.chat_id"],
            "UTF-8",
        ),
        (
            "a length past the end",
            vec![0x12, 0x0a, b'a', b'b'],
            &["channel_id"],
            "buffer underflow",
        ),
        ("a bad varint", bad_varint, &["wait_for_outcome"], "varint"),
        (
            "a wrong wire type",
            vec![0x10, 0x01],
            &["channel_id"],
            "wire type",
        ),
        (
            "a bad key outside any field",
            eleven_continuation_bytes.to_vec(),
            &[],
            "varint",
        ),
    ];
    for (case, bytes, fields, words) in table {
        let status = status_of::<pb::SendMessageRequest>(&bytes);
        assert_eq!(status.code(), Code::InvalidArgument, "{case}");
        assert_eq!(named_fields(&status), fields, "{case}");
        assert!(
            status.message().contains(words),
            "{case}: {}",
            status.message()
        );
        let reason = status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone());
        assert_eq!(reason.as_deref(), Some("INVALID_REQUEST"), "{case}");
    }
}

#[test]
fn a_struct_nested_past_the_recursion_limit_is_refused_with_a_short_path() {
    let request = pb::RespondRequest {
        body: Some(nested_struct(101)),
        ..pb::RespondRequest::default()
    };
    let bytes = request.encode_to_vec();

    let status = status_of::<pb::RespondRequest>(&bytes);

    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("recursion limit"),
        "{}",
        status.message()
    );
    let fields = named_fields(&status);
    assert_eq!(fields.len(), 1);
    assert!(fields[0].starts_with("body.fields."), "{fields:?}");
    assert!(fields[0].ends_with("..."), "{fields:?}");
    assert!(fields[0].len() < 100, "{fields:?}");
    assert!(status.message().len() < 300, "{}", status.message());
}

#[test]
fn a_struct_within_the_limit_decodes() {
    let request = pb::RespondRequest {
        body: Some(nested_struct(20)),
        ..pb::RespondRequest::default()
    };

    let decoded = pb::RespondRequest::decode(request.encode_to_vec().as_slice());

    assert_eq!(decoded, Ok(request));
}

#[test]
fn only_message_dot_field_locations_are_fields() {
    let table = [
        ("SendMessageRequest.channel_id", Some("channel_id")),
        ("Template.r#type", Some("type")),
        ("invalid string value", None),
        ("a.b c", None),
        ("1x.field", None),
        ("Message.", None),
    ];
    for (location, expected) in table {
        assert_eq!(location_field(location), expected, "{location}");
    }
}
