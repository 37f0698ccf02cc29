//! Settings resolved once from the options: the manifest, the inventory with its vault files opened.

use crate::error::{CliError, Result};
use crate::inventory::Inventory;
use crate::manifest::Manifest;
use crate::secrets;
use std::path::{Path, PathBuf};

pub fn manifest(path: Option<&Path>) -> Result<Manifest> {
    Manifest::load(path)
}

/// Loads the inventory; vault files are decrypted when a password file is given.
pub fn inventory(
    path: &Path,
    vault_password_file: Option<&Path>,
    ansible_vault: Option<&Path>,
) -> Result<Inventory> {
    if !path.exists() {
        return Err(CliError::new(
            format!("{} does not exist", path.display()),
            "pass the inventory directory written by `matrixha init`",
        ));
    }
    match vault_password_file {
        Some(pw) => {
            let vault: PathBuf = secrets::find_ansible_vault(ansible_vault).ok_or_else(|| {
                CliError::new(
                    "ansible-vault not found",
                    "install ansible-core or pass --ansible-vault PATH",
                )
            })?;
            let dec = move |f: &Path| secrets::decrypt(&vault, Some(pw), f);
            Inventory::load(path, Some(&dec))
        }
        None => Inventory::load(path, None),
    }
}
