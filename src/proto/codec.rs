//! The protobuf codec of every generated service (`codec_path` in `build.rs`): prost's encoder,
//! and a decoder that answers a message that is not valid protobuf (invalid UTF-8 in a string,
//! a truncated length, a bad varint, a wrong wire type, nesting past prost's recursion limit of
//! 100) with `INVALID_ARGUMENT` naming the field, instead of tonic-prost's `INTERNAL`: the
//! caller sent it, so the caller must change it.
//!
//! The generated clients share the codec, so in this crate's own clients (tests, the load tool)
//! an undecodable answer is `INVALID_ARGUMENT` too.

use std::marker::PhantomData;

use prost::{DecodeError, Message};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use crate::error::ApiError;

/// What prost's `DecodeError` text starts with.
const DECODE_ERROR_PREFIX: &str = "failed to decode Protobuf message: ";
/// Most field names kept in a reported path (a Struct nested 100 deep has 200).
const MAX_PATH_FIELDS: usize = 8;
/// Longest reported description of what is wrong, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Encodes `T` with prost and decodes `U` with [`decode_request`].
#[derive(Debug)]
pub struct ProtoCodec<T, U> {
    /// The message types.
    types: PhantomData<fn(T) -> U>,
}

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        Self { types: PhantomData }
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProtoDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProtoDecoder { types: PhantomData }
    }
}

/// Decodes `U` with [`decode_request`].
#[derive(Debug)]
pub struct ProtoDecoder<U> {
    /// The message type.
    types: PhantomData<fn() -> U>,
}

impl<U: Message + Default> Decoder for ProtoDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        decode_request(src).map(Some)
    }
}

/// Decodes one message, answering bytes that are not a valid `U` with `INVALID_ARGUMENT`.
///
/// # Errors
///
/// Fails with [`malformed`]'s status when prost cannot decode the bytes.
pub fn decode_request<U: Message + Default>(src: &mut DecodeBuf<'_>) -> Result<U, Status> {
    U::decode(src).map_err(|error| malformed(&error))
}

/// Returns the status of a message that does not decode: `INVALID_ARGUMENT` with reason
/// `INVALID_REQUEST` and, when prost knows where decoding stopped, a `BadRequest` violation
/// naming that field.
pub fn malformed(error: &DecodeError) -> Status {
    let (field, description) = locate(error);
    Status::from(ApiError::Malformed { field, description })
}

/// Splits prost's error text (`Inner.field: Outer.field: description`, innermost first) into the
/// field path, outermost first and at most [`MAX_PATH_FIELDS`] long (`None` when decoding
/// failed outside any field), and the description.
fn locate(error: &DecodeError) -> (Option<String>, String) {
    let text = error.to_string();
    let mut rest = text.strip_prefix(DECODE_ERROR_PREFIX).unwrap_or(&text);
    let mut fields = Vec::new();
    while let Some((location, tail)) = rest.split_once(": ") {
        let Some(field) = location_field(location) else {
            break;
        };
        fields.push(field);
        rest = tail;
    }
    fields.reverse();
    let elided = fields.len() > MAX_PATH_FIELDS;
    fields.truncate(MAX_PATH_FIELDS);
    let mut path = fields.join(".");
    if elided {
        path.push_str("...");
    }
    let description = rest.chars().take(MAX_DESCRIPTION_CHARS).collect();
    ((!path.is_empty()).then_some(path), description)
}

/// Returns the field of one `Message.field` location of prost's error stack (raw identifiers
/// such as `r#type` without their `r#`), or `None` when `location` is not one.
fn location_field(location: &str) -> Option<&str> {
    let (message, field) = location.split_once('.')?;
    let field = field.strip_prefix("r#").unwrap_or(field);
    let is_identifier = |name: &str| {
        name.chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    };
    (is_identifier(message) && is_identifier(field)).then_some(field)
}

#[cfg(test)]
mod tests;
