//! The local session file: who this terminal is logged in as, so later commands need no
//! password. Written with mode 0600 because the tokens in it are credentials.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Session {
    pub device: Option<String>,
    pub world: Option<String>,
    pub account_token: Option<String>,
    pub session_token: Option<String>,
}

pub fn default_path() -> PathBuf {
    if let Ok(p) = std::env::var("LUKSEUN_SESSION") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    Path::new(&home).join(".lukseun-session.json")
}

impl Session {
    /// A missing or unreadable file is an empty session: the user logs in again.
    pub fn load(path: &Path) -> Session {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Session::default();
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let field = |k: &str| v[k].as_str().map(str::to_string);
        Session {
            device: field("device"),
            world: field("world"),
            account_token: field("account_token"),
            session_token: field("session_token"),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = json!({
            "device": self.device,
            "world": self.world,
            "account_token": self.account_token,
            "session_token": self.session_token,
        })
        .to_string();
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn saves_privately_and_loads_back() {
        let dir = std::env::temp_dir().join(format!("lukseun-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.json");
        let s = Session {
            device: Some("d1".into()),
            world: Some("s0".into()),
            account_token: Some("a".into()),
            session_token: None,
        };
        s.save(&path).unwrap();
        assert_eq!(Session::load(&path), s);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(Session::load(&dir.join("missing")), Session::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
