//! The shape of a mail key (a Maildir file name without its flags:
//! `<secs>.M<micros>P<pid>Q<counter>.<host>`). The mail service makes and checks keys;
//! the worker checks a client's key the same way before asking for it, so a key that
//! cannot name a mail is answered "no such mail" without a call.

/// Longest host part of a key.
pub const MAX_HOST_LEN: usize = 64;

/// `^[A-Za-z0-9][A-Za-z0-9_.-]{0,max_len-1}$` without `..`: a name that can never leave its
/// directory (no `/`, no NUL, no leading dot).
pub fn is_safe_name(name: &str, max_len: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max_len
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !name.contains("..")
}

/// Whether `key` has the shape of a mail key.
pub fn is_key(key: &str) -> bool {
    fn digits(text: &str, max: usize) -> bool {
        !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_digit())
    }
    let Some((secs, rest)) = key.split_once(".M") else {
        return false;
    };
    let Some((micros, rest)) = rest.split_once('P') else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once('Q') else {
        return false;
    };
    let Some((counter, host)) = rest.split_once('.') else {
        return false;
    };
    digits(secs, 20)
        && digits(micros, 6)
        && digits(pid, 10)
        && digits(counter, 20)
        && is_safe_name(host, MAX_HOST_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_maildir_shape() {
        assert!(is_key("1796085292.M658793P4465Q3.vm"));
        assert!(is_key("1.M2P3Q4.h"));
        for bad in [
            "",
            "x",
            "0:0:0",
            "1.M2P3Q4.",
            "1.M2P3Q4.h/..",
            "1.M1234567P3Q4.h",
            "a.M2P3Q4.h",
            "1.M2P3Q4..h",
            "1.M2P3Q4.-h",
            "1.M2P3Q4.h\n",
        ] {
            assert!(!is_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn safe_names_stay_in_their_directory() {
        assert!(is_safe_name("s0", 64));
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a..b",
            "a\0b",
            &"a".repeat(65),
        ] {
            assert!(!is_safe_name(bad, 64), "{bad:?}");
        }
    }
}
