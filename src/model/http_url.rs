//! The one check of what counts as an absolute http(s) URL, shared by request validation
//! (attachment and button URLs, webhook URIs) and the configuration (base URLs).

use url::Url;

/// Parses `raw` as an absolute `http` or `https` URL with a host.
///
/// Stricter than [`Url::parse`] where the parser would quietly repair the text instead of
/// refusing it: whitespace and control characters anywhere (the parser drops or encodes them),
/// backslashes (read as `/`), and an empty authority (`https:///x`, read as host `x`).
pub(crate) fn parse(raw: &str) -> Option<Url> {
    let repaired_by_parser = |ch: char| ch.is_whitespace() || ch.is_control() || ch == '\\';
    if raw.contains(repaired_by_parser) {
        return None;
    }
    let (_, after_scheme) = raw.split_once("://")?;
    if after_scheme.starts_with('/') {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let http = matches!(url.scheme(), "http" | "https");
    (http && url.host().is_some()).then_some(url)
}
