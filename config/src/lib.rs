//! The config service: serves the game's JSON config files over HTTP and reloads them
//! when they change on disk.
//!
//! `GET /config/<name>` answers one file, `GET /get_game_manager_config` all of them as
//! one object (`{"<file stem>": <content>, ...}`), both with a strong `ETag` and
//! `If-None-Match` support. See docs/config.md for operation.

#![forbid(unsafe_code)]

pub mod api;
pub mod etag;
pub mod loader;
pub mod name;
pub mod options;
pub mod service;
pub mod snapshot;

pub use options::{Options, SPEC};
pub use service::{ConfigService, StartError};
