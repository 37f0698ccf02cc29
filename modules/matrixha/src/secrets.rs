//! Every secret the stack needs, drawn from the OS random source and written as an Ansible Vault file (seed 004 §2).

use crate::error::{CliError, Result};
use crate::inventory::VAULT_HEADER;
use base64::Engine;
use sha1::{Digest, Sha1};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 40 characters from [A-Za-z0-9]: about 238 bits.
    Password,
    /// Keepalived's VRRPv2 PASS authentication keeps only 8 characters.
    Vrrp,
    /// An identifier that is not secret on its own (user name, API key id).
    Ident(&'static str),
    /// `user:{SHA}…` line for Traefik's basic auth, derived from another secret.
    Htpasswd {
        user: &'static str,
        from: &'static str,
    },
}

pub struct Spec {
    pub name: &'static str,
    pub component: &'static str,
    pub kind: Kind,
}

const fn s(name: &'static str, component: &'static str, kind: Kind) -> Spec {
    Spec {
        name,
        component,
        kind,
    }
}

/// The vault variables; role variables and MDAD variables reference them by name.
pub const SECRETS: &[Spec] = &[
    s(
        "vault_patroni_superuser_password",
        "PostgreSQL superuser (postgres)",
        Kind::Password,
    ),
    s(
        "vault_patroni_replication_password",
        "PostgreSQL replication role",
        Kind::Password,
    ),
    s(
        "vault_patroni_restapi_password",
        "Patroni REST API",
        Kind::Password,
    ),
    s(
        "vault_patroni_synapse_db_password",
        "PostgreSQL role of Synapse",
        Kind::Password,
    ),
    s(
        "vault_pgbouncer_admin_password",
        "PgBouncer admin console",
        Kind::Password,
    ),
    s(
        "vault_front_vip_vrrp_auth_pass",
        "VRRP of the front VIP",
        Kind::Vrrp,
    ),
    s(
        "vault_db_vip_vrrp_auth_pass",
        "VRRP of the DB writer VIP",
        Kind::Vrrp,
    ),
    s(
        "vault_s3_vip_vrrp_auth_pass",
        "VRRP of the S3 VIP",
        Kind::Vrrp,
    ),
    s(
        "vault_object_store_root_user",
        "object store root user",
        Kind::Ident("admin"),
    ),
    s(
        "vault_object_store_root_password",
        "object store root password",
        Kind::Password,
    ),
    s(
        "vault_object_store_synapse_access_key",
        "object store key of Synapse",
        Kind::Ident("synapse"),
    ),
    s(
        "vault_object_store_synapse_secret_key",
        "object store secret of Synapse",
        Kind::Password,
    ),
    s(
        "vault_coturn_static_auth_secret",
        "TURN shared secret (coturn and Synapse)",
        Kind::Password,
    ),
    s(
        "vault_livekit_api_key",
        "LiveKit API key",
        Kind::Ident("API"),
    ),
    s(
        "vault_livekit_api_secret",
        "LiveKit API secret",
        Kind::Password,
    ),
    s(
        "vault_livekit_redis_password",
        "Redis of the LiveKit mesh",
        Kind::Password,
    ),
    s(
        "vault_synapse_registration_shared_secret",
        "Synapse registration shared secret",
        Kind::Password,
    ),
    s(
        "vault_synapse_macaroon_secret_key",
        "Synapse macaroon secret key",
        Kind::Password,
    ),
    s(
        "vault_synapse_form_secret",
        "Synapse form secret",
        Kind::Password,
    ),
    s(
        "vault_matrix_homeserver_generic_secret_key",
        "MDAD generic secret (derives other keys)",
        Kind::Password,
    ),
    s(
        "vault_grafana_admin_password",
        "Grafana admin",
        Kind::Password,
    ),
    s(
        "vault_metrics_basic_auth_password",
        "metrics basic auth (Prometheus scraping)",
        Kind::Password,
    ),
    s(
        "vault_metrics_basic_auth_htpasswd",
        "metrics basic auth, htpasswd line for Traefik",
        Kind::Htpasswd {
            user: "prometheus",
            from: "vault_metrics_basic_auth_password",
        },
    ),
];

/// Shortest acceptable length per kind (004 §2.10: at least 24 characters in
/// production, pg_auth's one constant for it).
pub fn min_len(kind: Kind) -> usize {
    match kind {
        Kind::Password => pg_auth::MIN_PASSWORD_LEN,
        Kind::Vrrp => 8,
        Kind::Ident(_) | Kind::Htpasswd { .. } => 0,
    }
}

pub fn spec(name: &str) -> Option<&'static Spec> {
    SECRETS.iter().find(|s| s.name == name)
}

/// Uniform characters from the OS random source (getrandom(2) through the `getrandom` crate).
fn random_alnum(n: usize) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        getrandom::getrandom(&mut buf).map_err(|e| {
            CliError::new(
                format!("the OS random source failed: {e}"),
                "run on Linux 3.17 or later (getrandom(2))",
            )
        })?;
        for b in buf {
            // 62 * 4 = 248: reject the top 8 values so every character is equally likely.
            if b < 248 && out.len() < n {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// Traefik accepts `{SHA}` htpasswd entries; with a 40-character random
/// password an unsalted SHA-1 is not guessable, and unlike bcrypt it is
/// the same on every run (no needless change in MDAD's files).
pub fn htpasswd_sha(user: &str, password: &str) -> String {
    let digest = Sha1::digest(password.as_bytes());
    format!(
        "{user}:{{SHA}}{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Fresh values for every secret, in `SECRETS` order.
pub fn generate() -> Result<Vec<(&'static str, String)>> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for sp in SECRETS {
        let v = match sp.kind {
            Kind::Password => random_alnum(40)?,
            Kind::Vrrp => random_alnum(8)?,
            Kind::Ident(prefix) => format!("{prefix}{}", random_alnum(16)?),
            Kind::Htpasswd { user, from } => {
                let pw = out
                    .iter()
                    .find(|(n, _)| *n == from)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                htpasswd_sha(user, &pw)
            }
        };
        out.push((sp.name, v));
    }
    Ok(out)
}

pub fn render(values: &[(&'static str, String)]) -> String {
    let mut doc = crate::yamlout::Doc::new(&[
        "Secrets of the matrixha stack, generated by `matrixha secrets` from the OS random source.",
        "Every component has its own value; role and MDAD variables reference these names.",
        "Keep this file encrypted (ansible-vault edit/view); never commit it in clear.",
    ]);
    for (name, v) in values {
        let comp = spec(name).map(|s| s.component).unwrap_or("");
        doc.set_c(comp, name, v.clone());
    }
    doc.render()
}

/// `ansible-vault` from the option, the project's .venv, or PATH.
pub fn find_ansible_vault(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let venv = PathBuf::from(".venv/bin/ansible-vault");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("ansible-vault"))
            .find(|p| p.is_file())
    })
}

pub struct Options<'a> {
    pub out: &'a Path,
    pub plaintext: bool,
    pub force: bool,
    pub ansible_vault: Option<&'a Path>,
    pub vault_password_file: Option<&'a Path>,
    pub vault_id: Option<&'a str>,
}

/// Writes the secrets file; returns the names written (never the values).
///
/// Encrypted output never touches the disk in clear: the YAML goes to
/// `ansible-vault encrypt --output - -` on stdin, and only the ciphertext it
/// answers on stdout is written (0600, next to the target, then renamed).
pub fn write(o: &Options<'_>) -> Result<Vec<&'static str>> {
    if o.out.exists() && !o.force {
        return Err(CliError::new(
            format!("{} exists", o.out.display()),
            "new secrets would lock the running stack out of its own services; pass --force to replace it on purpose, or choose another --out",
        ));
    }
    let vault = if o.plaintext {
        None
    } else {
        Some(find_ansible_vault(o.ansible_vault).ok_or_else(|| {
            CliError::new(
                "ansible-vault not found (option, .venv/bin, PATH)",
                "install ansible-core (scripts/venv.sh) or pass --ansible-vault PATH; --plaintext writes the file unencrypted",
            )
        })?)
    };
    let values = generate()?;
    let text = render(&values);
    let content = match vault {
        Some(vault) => encrypt(&vault, o, text.as_bytes())?,
        None => text.into_bytes(),
    };
    let dir = o
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display()), ""))?;
    // Written 0600 next to the target, then renamed: a reader never sees half a file.
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        o.out
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("vault"),
        std::process::id()
    ));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| CliError::new(format!("cannot create {}: {e}", tmp.display()), ""))?;
        if let Err(e) = f.write_all(&content).and_then(|_| f.sync_all()) {
            let _ = std::fs::remove_file(&tmp);
            return Err(CliError::new(
                format!("cannot write {}: {e}", tmp.display()),
                "",
            ));
        }
    }
    std::fs::rename(&tmp, o.out).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::new(
            format!("cannot move the file to {}: {e}", o.out.display()),
            "",
        )
    })?;
    Ok(values.iter().map(|(n, _)| *n).collect())
}

/// The clear text through `ansible-vault encrypt` on stdin; its stdout is the ciphertext.
fn encrypt(vault: &Path, o: &Options<'_>, clear: &[u8]) -> Result<Vec<u8>> {
    let mut cmd = Command::new(vault);
    cmd.arg("encrypt");
    if let Some(p) = o.vault_password_file {
        cmd.arg("--vault-password-file").arg(p);
    }
    if let Some(id) = o.vault_id {
        // label@source, e.g. prod@prompt (asked on the terminal, not on stdin) or
        // prod@/path/to/password-file.
        cmd.arg("--vault-id").arg(id);
    }
    cmd.args(["--output", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().map_err(|e| {
        CliError::new(
            format!("cannot run {}: {e}", vault.display()),
            "pass --ansible-vault PATH",
        )
    })?;
    // ansible-vault reads all of stdin before it writes: writing first cannot deadlock.
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(clear))
        .unwrap_or(Ok(()));
    let out = child
        .wait_with_output()
        .map_err(|e| CliError::new(format!("{} did not finish: {e}", vault.display()), ""))?;
    if !out.status.success() || fed.is_err() {
        return Err(CliError::new(
            format!("{} encrypt failed ({})", vault.display(), out.status),
            "pass --vault-password-file FILE (or set ANSIBLE_VAULT_PASSWORD_FILE)",
        ));
    }
    if !out.stdout.starts_with(VAULT_HEADER.as_bytes()) {
        return Err(CliError::new(
            format!(
                "{} encrypt answered something that is not an Ansible Vault file",
                vault.display()
            ),
            "pass --ansible-vault PATH to a working ansible-vault (ansible-core 2.10 or later)",
        ));
    }
    Ok(out.stdout)
}

/// Decrypts a vault file with ansible-vault view (for `check`).
pub fn decrypt(vault: &Path, password_file: Option<&Path>, file: &Path) -> Result<String> {
    let mut cmd = Command::new(vault);
    cmd.arg("view");
    if let Some(p) = password_file {
        cmd.arg("--vault-password-file").arg(p);
    }
    cmd.arg(file);
    let out = cmd.output().map_err(|e| {
        CliError::new(
            format!("cannot run {}: {e}", vault.display()),
            "pass --ansible-vault PATH",
        )
    })?;
    if !out.status.success() {
        return Err(CliError::new(
            format!("cannot decrypt {}", file.display()),
            "pass the right --vault-password-file",
        ));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| CliError::new(format!("{} is not UTF-8", file.display()), ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_and_long_enough() {
        let v = generate().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for (n, val) in &v {
            assert!(seen.insert(val.clone()), "{n} repeats another value");
            let k = spec(n).unwrap().kind;
            assert!(val.len() >= min_len(k), "{n}");
        }
        assert_eq!(v.len(), SECRETS.len());
    }

    #[test]
    fn htpasswd_line_matches_known_sha1() {
        // printf password | sha1sum | xxd -r -p | base64
        assert_eq!(
            htpasswd_sha("u", "password"),
            "u:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        );
    }
}
