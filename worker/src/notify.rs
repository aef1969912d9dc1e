//! Where verification codes go (being written on another branch).

use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    pub smtp_addr: String,
    pub smtp_from: String,
    pub phone_hook_url: String,
    pub timeout: Duration,
}
