//! The one reader of `Authorization: Bearer <token>`, shared by gRPC callers
//! ([`crate::api::auth`]) and webhooks ([`crate::events::ingress`]): the scheme in any letter
//! case (RFC 9110 §11.1: authentication schemes are case-insensitive), blanks around the token
//! ignored.

/// Returns the token of an `Authorization` value using the bearer scheme, or `None` for another
/// scheme or an empty token.
pub(crate) fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let scheme_end = value.iter().position(|byte| *byte == b' ')?;
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_read_in_any_letter_case_and_blanks_are_ignored() {
        let table: [(&[u8], Option<&[u8]>); 10] = [
            (b"Bearer s3cret", Some(b"s3cret")),
            (b"bearer s3cret", Some(b"s3cret")),
            (b"BEARER s3cret", Some(b"s3cret")),
            (b"bEaReR  s3cret ", Some(b"s3cret")),
            (b" Bearer s3cret", Some(b"s3cret")),
            (b"Bearer ", None),
            (b"Bearer", None),
            (b"Basic s3cret", None),
            (b"Bearers3cret", None),
            (b"s3cret", None),
        ];
        for (value, expected) in table {
            assert_eq!(
                bearer_token(value),
                expected,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
