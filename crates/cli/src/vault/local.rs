//! The files of a vault folder as `pake import` sends them: found recursively (folders whose
//! name starts with `.` left out, symbolic links followed to files only), path-sorted, refused
//! here when the server would refuse the whole call for them, and grouped into calls within the
//! contract's limits.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use pake_api::knowledge::import_file_result::Outcome;

const MAX_FILES_PER_CALL: usize = 10_000;
const MAX_BYTES_PER_CALL: u64 = 256 * 1024 * 1024;
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
const MAX_PATH_BYTES: usize = 1024;

/// Lines about files refused before sending (outcome, `path: reason`).
pub(super) type LocalLines = Arc<Mutex<Vec<(Outcome, String)>>>;

/// A file found under the vault folder.
#[derive(Clone, Debug)]
pub(super) struct LocalFile {
    pub(super) path: String,
    pub(super) full: PathBuf,
    pub(super) size: u64,
    pub(super) note: bool,
}

/// Consecutive runs of files within one call's limits.
pub(super) fn batches(files: &[LocalFile]) -> Vec<&[LocalFile]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0_u64);
    for (index, file) in files.iter().enumerate() {
        let size = if file.note { file.size } else { 0 };
        if index > start
            && (index - start == MAX_FILES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)
        {
            batches.push(&files[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    if start < files.len() {
        batches.push(&files[start..]);
    }
    batches
}

pub(super) fn folder_name(dir: &Path) -> anyhow::Result<String> {
    let absolute = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
    absolute
        .file_name()
        .and_then(|name| name.to_str())
        .map(str::to_owned)
        .context("the folder has no name: pass --vault-name")
}

/// The files to send, path-sorted, and the lines of files refused here.
pub(super) fn collect(dir: &Path) -> anyhow::Result<(Vec<LocalFile>, LocalLines)> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let mut files = Vec::new();
    let mut refused = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("{}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("{}", folder.display()))?;
            let full = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                let shown = full.display().to_string();
                refused.push((Outcome::Skipped, format!("{shown}: the name is not UTF-8")));
                continue;
            };
            let path = format!("{prefix}{name}");
            // Follows symbolic links to files, not to folders (no cycles).
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if !name.starts_with('.') {
                    pending.push((full, format!("{path}/")));
                }
                continue;
            }
            let Ok(metadata) = std::fs::metadata(&full) else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let note = name.len() > 3
                && name
                    .get(name.len() - 3..)
                    .is_some_and(|extension| extension.eq_ignore_ascii_case(".md"));
            if path.len() > MAX_PATH_BYTES {
                refused.push((
                    Outcome::Failed,
                    format!("{path}: the path is longer than 1024 bytes"),
                ));
            } else if note && metadata.len() > MAX_FILE_BYTES {
                refused.push((Outcome::Failed, format!("{path}: larger than 4 MiB")));
            } else {
                files.push(LocalFile {
                    path,
                    full,
                    size: metadata.len(),
                    note,
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, Arc::new(Mutex::new(refused))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64, note: bool) -> LocalFile {
        LocalFile {
            path: path.into(),
            full: PathBuf::new(),
            size,
            note,
        }
    }

    #[test]
    fn batches_respect_the_call_limits() {
        let mut files: Vec<LocalFile> = (0..10_001)
            .map(|n| file(&format!("{n}.png"), 9, false))
            .collect();
        assert_eq!(
            batches(&files).iter().map(|b| b.len()).collect::<Vec<_>>(),
            [10_000, 1]
        );
        files = (0..70)
            .map(|n| file(&format!("{n}.md"), 4 * 1024 * 1024, true))
            .collect();
        assert_eq!(
            batches(&files).iter().map(|b| b.len()).collect::<Vec<_>>(),
            [64, 6]
        );
        assert!(batches(&[]).is_empty());
    }
}
