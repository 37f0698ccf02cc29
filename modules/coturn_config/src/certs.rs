//! The TLS certificate and key coturn will load: readable by its user, parseable, and a matching pair.

use matrixha_module::ModuleError;
use rustls::crypto::ring::default_provider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What the check found that does not stop the run.
#[derive(Debug, Default)]
pub struct CertCheck {
    pub warnings: Vec<String>,
}

pub fn load_certs(param: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, ModuleError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ModuleError::param(
            param,
            format!("cannot read {path}: {e}"),
            "put the certificate in place before configuring coturn",
        )
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            ModuleError::param(
                param,
                format!("{path} is not valid PEM: {e}"),
                "give a PEM file with the certificate first, then its chain",
            )
        })?;
    if certs.is_empty() {
        return Err(ModuleError::param(
            param,
            format!("{path} holds no CERTIFICATE block"),
            "give a PEM file with the certificate first, then its chain (fullchain.pem)",
        ));
    }
    Ok(certs)
}

/// Checks cert and key the way coturn will use them, before the config points at them.
pub fn check(
    cert: &str,
    pkey: &str,
    server_name: &str,
    service_user: &str,
) -> Result<CertCheck, ModuleError> {
    let mut out = CertCheck::default();
    let certs = load_certs("cert", cert)?;
    let key_bytes = std::fs::read(pkey).map_err(|e| {
        ModuleError::param(
            "pkey",
            format!("cannot read {pkey}: {e}"),
            "put the private key in place before configuring coturn",
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|_| {
        ModuleError::param(
            "pkey",
            format!("{pkey} holds no PEM private key"),
            "give the key as PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM",
        )
    })?;
    let provider = default_provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|e| {
        ModuleError::param(
            "pkey",
            format!("{pkey} is not a usable key: {e}"),
            "use an RSA, ECDSA P-256/P-384 or Ed25519 key",
        )
    })?;
    let pair = CertifiedKey::new(certs.clone(), signing);
    match pair.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(ModuleError::param(
                "pkey",
                format!("{pkey} does not belong to the certificate in {cert}"),
                "give the key the certificate was issued for (compare `openssl x509 -pubkey` and `openssl pkey -pubout`)",
            ))
        }
        Err(rustls::Error::InconsistentKeys(_)) => out.warnings.push(format!("could not compare {pkey} with {cert}; coturn will tell at start")),
        Err(e) => return Err(ModuleError::param("cert", format!("{cert}: {e}"), "give a valid X.509 certificate")),
    }
    if let Ok(ee) = webpki::EndEntityCert::try_from(&certs[0]) {
        if let Ok(name) = ServerName::try_from(server_name) {
            if ee.verify_is_valid_for_subject_name(&name).is_err() {
                out.warnings.push(format!(
                    "the certificate in {cert} does not name {server_name}: turns: clients will reject it (001 §4: turns: URIs must match the certificate)"
                ));
            }
        }
    }
    if !service_user.is_empty() {
        for (param, path) in [("cert", cert), ("pkey", pkey)] {
            readable_by(Path::new(path), service_user).map_err(|why| {
                ModuleError::param(
                    param,
                    format!("{path} is not readable by {service_user}: {why}"),
                    format!(
                        "e.g. group {service_user} and mode 0640 on the key, or set service_user"
                    ),
                )
            })?;
        }
    }
    Ok(out)
}

/// Unix permission check for `user` on `path` and every directory above it.
pub fn readable_by(path: &Path, user: &str) -> Result<(), String> {
    use nix::unistd::{getgrouplist, User};
    let u = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("user {user} does not exist"))?;
    if u.uid.is_root() {
        return Ok(());
    }
    let name = std::ffi::CString::new(user).map_err(|_| "bad user name".to_owned())?;
    let groups: Vec<u32> = getgrouplist(&name, u.gid)
        .map(|g| g.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_else(|_| vec![u.gid.as_raw()]);
    let allows = |m: &std::fs::Metadata, bit: u32| -> bool {
        let mode = m.mode();
        if m.uid() == u.uid.as_raw() {
            mode & (bit << 6) != 0
        } else if groups.contains(&m.gid()) {
            mode & (bit << 3) != 0
        } else {
            mode & bit != 0
        }
    };
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !allows(&meta, 0o4) {
        return Err(format!(
            "owner {} group {} mode {:04o}",
            meta.uid(),
            meta.gid(),
            meta.mode() & 0o7777
        ));
    }
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        let m = std::fs::metadata(dir).map_err(|e| e.to_string())?;
        if !allows(&m, 0o1) {
            return Err(format!(
                "directory {} (mode {:04o}) cannot be entered",
                dir.display(),
                m.mode() & 0o7777
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_only_root_may_read_is_refused_for_nobody() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let key = dir.path().join("k.pem");
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let why = readable_by(&key, "nobody").unwrap_err();
        assert!(why.contains("mode 0600"), "{why}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(readable_by(&key, "nobody"), Ok(()));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(readable_by(&key, "nobody")
            .unwrap_err()
            .contains("cannot be entered"));
        assert!(readable_by(&key, "no-such-user-matrixha").is_err());
    }
}
