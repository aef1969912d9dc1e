//! Strong entity tags from the content, and `If-None-Match` matching.
//!
//! The tag is the 64-bit FNV-1a hash of the exact bytes served, so identical content
//! always has the same tag on every replica, and any change gives a new one.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// The `ETag` header value for `body`: a quoted 16-digit lowercase hex hash.
pub fn etag_for(body: &[u8]) -> String {
    format!("\"{:016x}\"", fnv1a64(body))
}

/// Whether an `If-None-Match` header value matches `etag` (so the answer is 304).
///
/// RFC 9110 §13.1.2: `*` matches any current representation, the value may be a list,
/// and the comparison is weak, so `W/"x"` matches `"x"`.
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    let wanted = opaque_tag(etag);
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || (!wanted.is_empty() && opaque_tag(candidate) == wanted)
    })
}

/// The quoted part of a tag, without a weak prefix; empty for a malformed tag.
fn opaque_tag(tag: &str) -> &str {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    if tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"') {
        tag
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn tags_are_quoted_and_follow_the_content() {
        let tag = etag_for(b"{\"a\":1}");
        assert_eq!(tag.len(), 18);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, etag_for(b"{\"a\":1}"));
        assert_ne!(tag, etag_for(b"{\"a\":2}"));
        assert_eq!(etag_for(b""), "\"cbf29ce484222325\"");
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        let tag = "\"0123456789abcdef\"";
        assert!(if_none_match_matches(tag, tag));
        assert!(if_none_match_matches("W/\"0123456789abcdef\"", tag));
        assert!(if_none_match_matches(
            "\"other\", \"0123456789abcdef\"",
            tag
        ));
        assert!(if_none_match_matches("*", tag));
        assert!(!if_none_match_matches("\"other\"", tag));
        assert!(!if_none_match_matches("0123456789abcdef", tag));
        assert!(!if_none_match_matches("", tag));
        assert!(!if_none_match_matches("\"", tag));
    }
}
