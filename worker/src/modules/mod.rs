//! Game functions, one file or folder per feature, plus the shared `common` helpers and
//! the `enums` the client shares.

pub mod account;
pub mod achievement;
pub mod armor;
pub mod chat;
pub mod check_in;
pub mod common;
pub mod config_readers;
pub mod daily;
pub mod dark_market;
pub mod elements;
pub mod energy;
pub mod enums;
pub mod factory;
pub mod family;
pub mod friend;
pub mod item;
pub mod mail;
pub mod mall;
pub mod names;
pub mod package;
pub mod player;
pub mod progress;
pub mod role;
pub mod science;
pub mod skill;
pub mod stage;
pub mod summon;
pub mod task;
pub mod vip;
pub mod weapon;
