//! Reading a scripts directory into memory: the snapshot a version is built
//! from. Every state of a version (including states built lazily later) runs
//! these bytes, never the disk again, so a version is exactly its hash.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{LoadError, LoadErrorKind};

/// Directories deeper than this are refused (a symlink loop, most likely).
const MAX_DEPTH: usize = 16;

/// One `.lua` file.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// Path inside the directory, `/`-separated: `agent/haoyun.lua`.
    pub rel: String,
    /// How errors and chunk names show it: `scripts/agent/haoyun.lua`.
    pub display: String,
    pub bytes: Vec<u8>,
}

/// A scripts directory, read.
#[derive(Debug)]
pub(crate) struct Sources {
    /// Rule scripts (everything outside `lib/`), in run order (sorted path).
    pub scripts: Vec<SourceFile>,
    /// `lib/` modules by `require` name (`util.phone`).
    pub modules: BTreeMap<String, SourceFile>,
    /// Every `.lua` file's relative path, sorted.
    pub files: Vec<String>,
    /// Hex SHA-256 over every file, see [`content_hash`].
    pub hash: String,
    /// The display prefix, `scripts/` (the directory's own name).
    pub prefix: String,
}

impl Sources {
    pub fn read(dir: &Path) -> Result<Sources, LoadError> {
        let prefix = match dir.file_name().and_then(|n| n.to_str()) {
            Some(name) if !name.is_empty() => format!("{name}/"),
            _ => String::new(),
        };
        let mut found = Vec::new();
        walk(dir, "", 0, &mut found)?;
        found.sort_by(|a, b| a.0.cmp(&b.0));

        let mut sources = Sources {
            scripts: Vec::new(),
            modules: BTreeMap::new(),
            files: found.iter().map(|(rel, _)| rel.clone()).collect(),
            hash: content_hash(
                found
                    .iter()
                    .map(|(rel, bytes)| (rel.as_str(), bytes.as_slice())),
            ),
            prefix,
        };
        for (rel, bytes) in found {
            let file = SourceFile {
                display: format!("{}{rel}", sources.prefix),
                rel,
                bytes,
            };
            match file.rel.strip_prefix("lib/") {
                Some(module) => {
                    // A file whose name `require` cannot spell stays hashed and
                    // listed but is not a module.
                    let name = module.trim_end_matches(".lua").replace('/', ".");
                    if valid_module_name(&name) {
                        sources.modules.insert(name, file);
                    }
                }
                None => sources.scripts.push(file),
            }
        }
        Ok(sources)
    }
}

/// `require` names: `[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*`.
pub(crate) fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// SHA-256 over the files sorted by path; each file contributes its path,
/// a zero byte, its length as 8 little-endian bytes, and its bytes. So a
/// rename, a move between files and an edit all change the hash.
pub(crate) fn content_hash<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (rel, bytes) in files {
        hasher.update(rel.as_bytes());
        hasher.update([0u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(hasher.finalize())
}

fn unreadable(path: &Path, err: impl std::fmt::Display) -> LoadError {
    LoadError::new(
        path.display().to_string(),
        None,
        LoadErrorKind::Unreadable(err.to_string()),
    )
}

/// Collects `(relative path, bytes)` of every `.lua` file under `dir`.
/// Names starting with `.` are skipped: editors keep lock and swap files
/// there (`.#x.lua`), and they must not break a reload.
fn walk(
    dir: &Path,
    rel: &str,
    depth: usize,
    out: &mut Vec<(String, Vec<u8>)>,
) -> Result<(), LoadError> {
    if depth > MAX_DEPTH {
        return Err(unreadable(
            dir,
            format!("more than {MAX_DEPTH} directory levels"),
        ));
    }
    let entries = fs::read_dir(dir).map_err(|e| unreadable(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(unreadable(&path, "the file name is not UTF-8"));
        };
        if name.starts_with('.') {
            continue;
        }
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Follows symlinks, so a linked directory of shared rules works.
        let meta = fs::metadata(&path).map_err(|e| unreadable(&path, e))?;
        if meta.is_dir() {
            walk(&path, &child, depth + 1, out)?;
        } else if meta.is_file() && name.ends_with(".lua") {
            let bytes = fs::read(&path).map_err(|e| unreadable(&path, e))?;
            out.push((child, bytes));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        assert!(valid_module_name("util"));
        assert!(valid_module_name("util.phone_2"));
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "a..b",
            ".a",
            "a.",
            "a/b",
            "a-b",
            "os\0",
        ] {
            assert!(!valid_module_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hash_changes_with_name_and_content() {
        let a = content_hash([("a.lua", b"x" as &[u8])].into_iter());
        let b = content_hash([("b.lua", b"x" as &[u8])].into_iter());
        let c = content_hash([("a.lua", b"y" as &[u8])].into_iter());
        let split = content_hash([("a.lua", b"" as &[u8]), ("ax.lua", b"" as &[u8])].into_iter());
        let joined = content_hash([("a.lua", b"\0ax.lua" as &[u8])].into_iter());
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(split, joined);
        assert_eq!(a.len(), 64);
    }
}
