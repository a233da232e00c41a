//! The RFC 4716 (`---- BEGIN SSH2 PUBLIC KEY ----`) form, as `ssh-keygen -e` writes it.

use super::blob::validate_blob;
use super::{decode_key_data, extra_lines_error, malformed, KeyError, ParsedKey, RFC4716_END};

/// Converts an RFC 4716 block (as written by `ssh-keygen -e`) and validates the key inside.
pub(super) fn parse_rfc4716(text: &str) -> Result<ParsedKey, KeyError> {
    let mut lines = text.lines().map(str::trim).skip(1);
    let mut headers: Vec<String> = Vec::new();
    let mut continued = false;
    let mut body = String::new();
    let mut ended = false;
    for line in lines.by_ref() {
        if line == RFC4716_END {
            ended = true;
            break;
        }
        let (content, continues) = match line.strip_suffix('\\') {
            Some(content) => (content, true),
            None => (line, false),
        };
        if continued {
            if let Some(header) = headers.last_mut() {
                header.push_str(content);
            }
        } else if body.is_empty() && line.contains(':') {
            // Base64 never contains ':', so this line is a header.
            headers.push(content.to_owned());
        } else {
            body.push_str(line);
            continue;
        }
        continued = continues;
    }
    if !ended {
        return Err(malformed(
            "the SSH2 block has no \"---- END SSH2 PUBLIC KEY ----\" line",
        ));
    }
    let rest: Vec<&str> = lines.filter(|line| !line.is_empty()).collect();
    if !rest.is_empty() {
        return Err(extra_lines_error(&rest.join("\n")));
    }
    if body.is_empty() {
        return Err(malformed("the SSH2 block contains no key data"));
    }
    let blob = decode_key_data(&body)?;
    let comment = headers
        .iter()
        .filter_map(|header| header.split_once(':'))
        .find(|(tag, _)| tag.trim().eq_ignore_ascii_case("Comment"))
        .map(|(_, value)| unquote(value.trim()))
        .unwrap_or_default();
    validate_blob(&blob, comment)
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}
