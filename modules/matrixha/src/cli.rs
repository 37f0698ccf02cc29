//! Command-line options; the doc comments are the help text.

use crate::scale::Scale;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Plan, check and operate a high-availability Matrix deployment (matrixha.stack).
#[derive(Parser, Debug)]
#[command(name = "matrixha", version, about)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write an inventory (hosts + group_vars) for a scale, a domain and an IP plan.
    Init {
        /// Scale profile: node counts, sizes and worker counts.
        #[arg(long, value_enum)]
        scale: Scale,
        /// Matrix server name, e.g. chat.z3r0d3v.com (overrides the plan's domain).
        #[arg(long)]
        domain: Option<String>,
        /// IP plan (YAML); see inventories/examples/seed-ip-plan.yml.
        #[arg(long)]
        ip_plan: PathBuf,
        /// Directory to write the inventory to.
        #[arg(long, default_value = "inventory")]
        out: PathBuf,
        /// Overwrite the generated files of an existing inventory.
        #[arg(long)]
        force: bool,
        /// text: list the files written; json: the derived values.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Check an inventory; exit 0 only when nothing is wrong (warnings do not fail).
    Check {
        /// Inventory directory (or its hosts.yml).
        #[arg(short, long)]
        inventory: PathBuf,
        /// A complete MDAD vars.yml to check as well (default: INVENTORY/mdad-vars.yml when present).
        #[arg(long)]
        mdad_vars: Option<PathBuf>,
        /// MDAD manifest instead of the built-in reference/mdad-variables.json.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Decrypts vault files so their secrets are checked.
        #[arg(long)]
        vault_password_file: Option<PathBuf>,
        /// ansible-vault to use (default: .venv/bin/ansible-vault, then PATH).
        #[arg(long)]
        ansible_vault: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Generate every secret of the stack into an Ansible Vault file; never prints them.
    Secrets {
        /// File to write, e.g. inventory/group_vars/all/vault.yml.
        #[arg(long)]
        out: PathBuf,
        /// Write the file unencrypted (when ansible-vault is not available).
        #[arg(long)]
        plaintext: bool,
        /// Replace an existing file (the running stack keeps the old secrets!).
        #[arg(long)]
        force: bool,
        /// Password file for ansible-vault encrypt.
        #[arg(long)]
        vault_password_file: Option<PathBuf>,
        /// Vault id to encrypt with, as ansible-vault takes it (label@prompt, label@FILE).
        #[arg(long)]
        vault_id: Option<String>,
        /// ansible-vault to use (default: .venv/bin/ansible-vault, then PATH).
        #[arg(long)]
        ansible_vault: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print the servers' /etc/hosts and the clients' DNS records.
    Hosts {
        #[arg(short, long)]
        inventory: PathBuf,
        /// Only /etc/hosts, or only the DNS zone.
        #[arg(long, value_enum)]
        only: Option<HostsPart>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write MDAD's vars.yml for the Synapse host, validated against the manifest.
    MdadVars {
        #[arg(short, long)]
        inventory: PathBuf,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostsPart {
    EtcHosts,
    Zone,
}
