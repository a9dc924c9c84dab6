//! Secrets generated into the data dir on first start (embedded mode): written to a temporary
//! file with mode 0600 and linked into place without clobbering, so concurrent first starts
//! agree on one value and an existing file is never overwritten.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `dir/name` unless the file exists. Returns whether this call wrote it.
pub fn create_once(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    if path.exists() {
        return Ok(false);
    }
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}"))
        .permissions(private_permissions())
        .tempfile_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    match temp.persist_noclobber(&path) {
        Ok(_) => Ok(true),
        // Another process won the race: its value stands.
        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error.error),
    }
}

#[cfg(unix)]
fn private_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(not(unix))]
fn private_permissions() -> std::fs::Permissions {
    std::fs::metadata(".")
        .map(|m| m.permissions())
        .unwrap_or_else(|_| unreachable!())
}
