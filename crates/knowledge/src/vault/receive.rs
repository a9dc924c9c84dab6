//! Reading an ImportItems request stream whole, with the contract's limits: options first and
//! once, a vault name, file paths relative and clean, at most 10000 files, 4 MiB per file and
//! 256 MiB in all. Any violation is INVALID_ARGUMENT before anything is written.

use pake_api::knowledge::import_items_request::Payload;
use pake_api::knowledge::item::Visibility;
use pake_api::knowledge::{ImportItemsRequest, ImportOptions, VaultFile};
use pake_core::Error;
use tonic::{Status, Streaming};

/// Most files in one call.
pub(crate) const MAX_FILES: usize = 10_000;
/// Most bytes of one file.
pub(crate) const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Most content bytes in one call.
pub(crate) const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;
/// Most bytes of a path.
pub(crate) const MAX_PATH: usize = 1024;
/// Most bytes of a vault name.
pub(crate) const MAX_VAULT_NAME: usize = 256;

/// A whole import request.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The options.
    pub options: ImportOptions,
    /// The files, in the order sent.
    pub files: Vec<VaultFile>,
}

/// Reads the stream to its end, checking every limit as messages arrive.
pub(crate) async fn receive(stream: &mut Streaming<ImportItemsRequest>) -> Result<Upload, Status> {
    let options = match stream.message().await?.and_then(|message| message.payload) {
        Some(Payload::Options(options)) => options,
        _ => {
            return Err(Error::invalid_field(
                "options",
                "the first message must carry the import options",
            )
            .into());
        }
    };
    check_options(&options)?;
    let mut files = Vec::new();
    let mut total = 0_usize;
    while let Some(message) = stream.message().await? {
        let file = match message.payload {
            Some(Payload::File(file)) => file,
            Some(Payload::Options(_)) => {
                return Err(Error::invalid_field("options", "must be sent only once").into());
            }
            None => {
                return Err(Error::invalid_field(
                    "file",
                    "every message after the first carries a file",
                )
                .into());
            }
        };
        if files.len() == MAX_FILES {
            return Err(Error::invalid_field("file", "at most 10000 files in one call").into());
        }
        let field = format!("file[{}]", files.len());
        check_path(&file.path)
            .map_err(|problem| Error::invalid_field(format!("{field}.path"), problem))?;
        if file.content.len() > MAX_FILE_BYTES {
            return Err(Error::invalid_field(
                format!("{field}.content"),
                "must be at most 4194304 bytes",
            )
            .into());
        }
        total += file.content.len();
        if total > MAX_TOTAL_BYTES {
            return Err(Error::invalid_field(
                "file",
                "at most 268435456 content bytes in one call",
            )
            .into());
        }
        files.push(file);
    }
    Ok(Upload { options, files })
}

fn check_options(options: &ImportOptions) -> Result<(), Error> {
    if options.vault_name.trim().is_empty() {
        return Err(Error::invalid_field("options.vault_name", "is required"));
    }
    if options.vault_name.len() > MAX_VAULT_NAME {
        return Err(Error::invalid_field(
            "options.vault_name",
            "must be at most 256 bytes",
        ));
    }
    if Visibility::try_from(options.visibility).is_err() {
        return Err(Error::invalid_field(
            "options.visibility",
            "unknown visibility",
        ));
    }
    Ok(())
}

/// Why `path` is not a clean vault-relative path, if it is not.
pub(crate) fn check_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is required");
    }
    if path.len() > MAX_PATH {
        return Err("must be at most 1024 bytes");
    }
    if path.starts_with('/') {
        return Err("must be relative to the vault root, not absolute");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err("must not contain `\\` or control characters");
    }
    if path.split('/').any(|segment| segment == "..") {
        return Err("must not contain `..` segments");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn paths_must_be_clean_and_relative() {
        assert!(check_path("03-Projects/PAKE.md").is_ok());
        assert!(check_path("Café ☕.md").is_ok());
        for bad in [
            "",
            "/etc/passwd.md",
            "a/../b.md",
            "..",
            "a\\b.md",
            "a\u{7}.md",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_path(&"a".repeat(1025)).is_err());
    }
}
