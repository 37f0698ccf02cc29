//! Writing files the way a config owner must: atomically, with owner and mode, optionally backed up.

use crate::ModuleError;
use nix::unistd::{chown, Group, User};
use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Who owns a file and its mode. `None` keeps what the file has (or the process default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<u32>,
}

/// What a [`write_atomic`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub backup: Option<PathBuf>,
}

/// Reads a file that may not exist yet.
pub fn read_optional(path: &Path) -> Result<Option<String>, ModuleError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModuleError::new(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Parses an octal mode the way Ansible users write it: `"0640"`, `"640"`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let t = text.trim().trim_start_matches("0o");
    u32::from_str_radix(t, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("'{text}' is not an octal file mode such as '0640'"))
}

/// Writes `content` to `path` so that readers see the old file or the new one, never a part:
/// a temporary file in the same directory is written, fsynced, given owner and mode,
/// then renamed over `path`, and the directory is fsynced. On any failure the old
/// file is untouched. With `backup`, the old file is first copied to
/// `path.<unix-time>.bak` with its mode.
pub fn write_atomic(
    path: &Path,
    content: &[u8],
    own: &Ownership,
    backup: bool,
) -> Result<Written, ModuleError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |what: &str, e: &dyn std::fmt::Display| {
        ModuleError::new(format!("cannot {what} {}: {e}", path.display()))
    };
    let uid = match &own.owner {
        Some(name) => Some(lookup_user(name)?),
        None => None,
    };
    let gid = match &own.group {
        Some(name) => Some(lookup_group(name)?),
        None => None,
    };
    let existing = fs::metadata(path).ok();

    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ))
        .tempfile_in(dir)
        .map_err(|e| err("create a temporary file next to", &e))?;
    tmp.write_all(content).map_err(|e| err("write", &e))?;
    tmp.as_file().sync_all().map_err(|e| err("fsync", &e))?;

    // Mode: asked for, else the replaced file's, else 0644 (tempfile creates 0600).
    let mode = own
        .mode
        .or_else(|| existing.as_ref().map(|m| m.permissions().mode() & 0o7777))
        .unwrap_or(0o644);
    fs::set_permissions(tmp.path(), Permissions::from_mode(mode))
        .map_err(|e| err("set the mode of", &e))?;
    let (uid, gid) = {
        use std::os::unix::fs::MetadataExt;
        (
            uid.or_else(|| {
                existing
                    .as_ref()
                    .map(|m| nix::unistd::Uid::from_raw(m.uid()))
            }),
            gid.or_else(|| {
                existing
                    .as_ref()
                    .map(|m| nix::unistd::Gid::from_raw(m.gid()))
            }),
        )
    };
    if uid.is_some() || gid.is_some() {
        chown(tmp.path(), uid, gid).map_err(|e| err("set the owner of", &e))?;
    }

    let backup_path = if backup && existing.is_some() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let b = PathBuf::from(format!("{}.{stamp}.bak", path.display()));
        fs::copy(path, &b).map_err(|e| err("back up", &e))?;
        Some(b)
    } else {
        None
    };

    tmp.persist(path).map_err(|e| err("replace", &e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err("fsync the directory of", &e))?;
    Ok(Written {
        backup: backup_path,
    })
}

fn lookup_user(name: &str) -> Result<nix::unistd::Uid, ModuleError> {
    match User::from_name(name) {
        Ok(Some(u)) => Ok(u.uid),
        _ => Err(ModuleError::param(
            "owner",
            format!("user '{name}' does not exist on this host"),
            "install the package that creates it first, or choose an existing user",
        )),
    }
}

fn lookup_group(name: &str) -> Result<nix::unistd::Gid, ModuleError> {
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid),
        _ => Err(ModuleError::param(
            "group",
            format!("group '{name}' does not exist on this host"),
            "install the package that creates it first, or choose an existing group",
        )),
    }
}

/// The owner, group and mode a file has now, for comparing with an [`Ownership`].
pub fn observed_ownership(path: &Path) -> Option<Ownership> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).ok()?;
    let owner = User::from_uid(nix::unistd::Uid::from_raw(m.uid()))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| m.uid().to_string());
    let group = Group::from_gid(nix::unistd::Gid::from_raw(m.gid()))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| m.gid().to_string());
    Some(Ownership {
        owner: Some(owner),
        group: Some(group),
        mode: Some(m.permissions().mode() & 0o7777),
    })
}

/// True when `want` asks for something `have` does not already have.
pub fn ownership_differs(want: &Ownership, have: Option<&Ownership>) -> bool {
    let Some(have) = have else { return true };
    (want.owner.is_some() && want.owner != have.owner)
        || (want.group.is_some() && want.group != have.group)
        || (want.mode.is_some() && want.mode != have.mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_content_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        let own = Ownership {
            mode: Some(0o600),
            ..Default::default()
        };
        write_atomic(&p, b"x=1\n", &own, false).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "x=1\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        let have = observed_ownership(&p).unwrap();
        assert!(!ownership_differs(&own, Some(&have)));
    }

    #[test]
    fn backup_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        fs::write(&p, "old\n").unwrap();
        let w = write_atomic(&p, b"new\n", &Ownership::default(), true).unwrap();
        let b = w.backup.expect("backup path");
        assert_eq!(fs::read_to_string(b).unwrap(), "old\n");
        assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.conf");
        fs::write(&p, "old\n").unwrap();
        // An unknown owner fails before anything is renamed.
        let own = Ownership {
            owner: Some("no-such-user-matrixha".into()),
            ..Default::default()
        };
        let e = write_atomic(&p, b"new\n", &own, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("owner"));
        assert_eq!(fs::read_to_string(&p).unwrap(), "old\n");
        // A directory cannot be replaced by a file: rename fails, old content stays.
        let d = dir.path().join("sub");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("keep"), "k").unwrap();
        assert!(write_atomic(&d, b"new\n", &Ownership::default(), false).is_err());
        assert_eq!(fs::read_to_string(d.join("keep")).unwrap(), "k");
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn parse_mode_accepts_ansible_forms() {
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("rw").is_err());
    }
}
