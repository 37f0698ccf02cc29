//! The `matrixha` CLI as a library: planning, checking and generating a deployment's inventory.

pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod exit_codes;
pub mod hosts;
pub mod init;
pub mod inventory;
pub mod inventory_vars;
pub mod ipplan;
pub mod manifest;
pub mod mdad;
pub mod net;
pub mod role_defaults;
pub mod scale;
pub mod secrets;
pub mod typed;
pub mod yamlout;
