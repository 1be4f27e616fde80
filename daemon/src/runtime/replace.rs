//! Replacing a small file atomically, for the state file and the status
//! file: readers see the old content or the new, never half a file or
//! none. No fsync: both files must outlive a daemon, not the machine.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to a temporary file beside `path` and puts it in place.
///
/// By exchanging it with the old file (`renameat2` `RENAME_EXCHANGE`) and
/// removing the old one, not by renaming over it: ext4 treats a rename
/// over an existing file as "replace via rename" and starts writing the
/// new file's data out there and then (`auto_da_alloc`) — 0.4 ms median,
/// 1.2 ms p90 on this machine's disk against 0.08 ms for the exchange, and
/// block I/O competing with whatever runs next. The first write, and file
/// systems without the exchange, use a plain rename. A temporary file
/// left half-written (a full disk) is removed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    let cwd = nix::fcntl::AT_FDCWD;
    match nix::fcntl::renameat2(cwd, &tmp, cwd, path, nix::fcntl::RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => std::fs::remove_file(&tmp),
        Err(_) => std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state");
        replace_file(&path, b"first").unwrap(); // no file yet: a plain rename
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let before = std::fs::File::open(&path).unwrap(); // a reader of the old file
        replace_file(&path, b"second, longer").unwrap(); // exchanged with the old one
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        assert_eq!(std::io::read_to_string(before).unwrap(), "first", "an open reader keeps what it opened");
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["state"], "the temporary file is gone");
    }
}
