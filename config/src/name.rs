//! Config file names: the only names the service will ever turn into a path.
//!
//! A name is `[A-Za-z0-9_-]{1,64}`; the file is `<name>.json` in the config directory.
//! Anything else (`..`, `/`, `%2e`, NUL, a leading dot) is refused before the file
//! system is consulted, so no request can reach outside the directory.

use std::ffi::OsStr;
use std::fmt;

pub const MAX_NAME_LEN: usize = 64;
const EXTENSION: &str = ".json";

/// A validated config name (the file stem, without `.json`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigName(String);

#[derive(Debug, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong(usize),
    /// The first character outside `[A-Za-z0-9_-]`.
    BadCharacter(char),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => write!(f, "config name is empty"),
            NameError::TooLong(n) => {
                write!(
                    f,
                    "config name is {n} characters, the limit is {MAX_NAME_LEN}"
                )
            }
            NameError::BadCharacter(c) => write!(
                f,
                "config name contains {c:?}; only letters, digits, '_' and '-' are allowed"
            ),
        }
    }
}

impl std::error::Error for NameError {}

impl ConfigName {
    /// Parses a name from a request: `player` or `player.json`.
    pub fn parse(raw: &str) -> Result<ConfigName, NameError> {
        let stem = raw.strip_suffix(EXTENSION).unwrap_or(raw);
        if stem.is_empty() {
            return Err(NameError::Empty);
        }
        if let Some(c) = stem.chars().find(|c| !is_name_char(*c)) {
            return Err(NameError::BadCharacter(c));
        }
        if stem.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(stem.len()));
        }
        Ok(ConfigName(stem.to_string()))
    }

    /// The name of a directory entry that the service serves: `<valid name>.json`.
    /// Hidden files, other extensions and odd names are not config files.
    pub fn from_file_name(file_name: &OsStr) -> Option<ConfigName> {
        let stem = file_name.to_str()?.strip_suffix(EXTENSION)?;
        ConfigName::parse(stem).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn file_name(&self) -> String {
        format!("{}{EXTENSION}", self.0)
    }
}

impl fmt::Display for ConfigName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_with_or_without_extension() {
        assert_eq!(ConfigName::parse("player").unwrap().as_str(), "player");
        assert_eq!(ConfigName::parse("player.json").unwrap().as_str(), "player");
        assert_eq!(
            ConfigName::parse("Weapon_2-b").unwrap().as_str(),
            "Weapon_2-b"
        );
        let longest = "a".repeat(MAX_NAME_LEN);
        assert_eq!(ConfigName::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(ConfigName::parse("x").unwrap().file_name(), "x.json");
    }

    #[test]
    fn refuses_traversal_encodings_and_hidden_names() {
        for (raw, err) in [
            ("", NameError::Empty),
            (".json", NameError::Empty),
            ("..", NameError::BadCharacter('.')),
            ("../secret", NameError::BadCharacter('.')),
            ("%2e%2e", NameError::BadCharacter('%')),
            ("%2e%2e%2fsecret", NameError::BadCharacter('%')),
            ("a/b", NameError::BadCharacter('/')),
            ("a\\b", NameError::BadCharacter('\\')),
            ("a\0b", NameError::BadCharacter('\0')),
            (".hidden", NameError::BadCharacter('.')),
            (".hidden.json", NameError::BadCharacter('.')),
            ("a.json.json", NameError::BadCharacter('.')),
            ("player.txt", NameError::BadCharacter('.')),
            ("sp ace", NameError::BadCharacter(' ')),
            ("é", NameError::BadCharacter('é')),
        ] {
            assert_eq!(ConfigName::parse(raw), Err(err), "{raw:?}");
        }
        let too_long = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            ConfigName::parse(&too_long),
            Err(NameError::TooLong(MAX_NAME_LEN + 1))
        );
    }

    #[test]
    fn only_json_files_with_valid_stems_are_config_files() {
        let name = |s: &str| ConfigName::from_file_name(OsStr::new(s));
        assert_eq!(name("items.json").unwrap().as_str(), "items");
        assert_eq!(name("items"), None);
        assert_eq!(name("items.json.bak"), None);
        assert_eq!(name(".items.json"), None);
        assert_eq!(name("..data"), None);
        assert_eq!(name(".json"), None);
        assert_eq!(name("my items.json"), None);
    }

    #[test]
    fn errors_read_as_sentences() {
        let e = ConfigName::parse("../x").unwrap_err().to_string();
        assert!(e.contains("'.'") && e.contains("only letters"), "{e}");
    }
}
