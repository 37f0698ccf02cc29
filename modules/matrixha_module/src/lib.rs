//! The Ansible binary-module protocol for matrixha modules, and the helpers they share.
//!
//! A module implements [`Module`]; its `main` is one line:
//! `fn main() { matrixha_module::run_module::<CoturnConfig>() }`.

mod args;
mod de;
pub mod file;
#[cfg(feature = "golden")]
pub mod golden;
#[cfg(feature = "http")]
pub mod http;
pub mod lenient;
mod outcome;
mod runner;
mod secret;
pub mod systemd;
pub mod textdiff;
pub mod wait;

pub use args::{from_value, parse_args, Ctx};
pub use outcome::{ModuleError, Outcome};
pub use runner::{run_module, run_with_args};
pub use secret::{disable_scrubber_for_tests, Secret};

use serde::{de::DeserializeOwned, Serialize};

/// One Ansible module: typed parameters in, an [`Outcome`] or a [`ModuleError`] out.
pub trait Module {
    /// The short module name (`coturn_config`), used in messages.
    const NAME: &'static str;
    /// What the task asked for. `Serialize` produces `invocation.module_args`;
    /// [`Secret`] fields serialise masked.
    type Params: DeserializeOwned + Serialize;
    fn run(params: Self::Params, ctx: &Ctx) -> Result<Outcome, ModuleError>;
}
