//! [`Folder`]: a folder opened once, whose files are looked up relative to it. Checking ten thousand
//! files then costs one short path walk each instead of one from `/`.

use std::path::{Path, PathBuf};

/// What `lstat` tells of a file (a link is not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lstat {
    pub is_file: bool,
    pub is_symlink: bool,
    pub size: u64,
    /// Modification time in nanoseconds since 1970.
    pub mtime_ns: i128,
    /// Change time (of the inode: any write, rename or `touch`; it cannot be set back), likewise.
    pub ctime_ns: i128,
    pub inode: u64,
}

impl Lstat {
    #[must_use]
    pub fn of(meta: &std::fs::Metadata) -> Lstat {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        #[cfg(unix)]
        let (inode, ctime_ns) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.ino(),
                i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
            )
        };
        #[cfg(not(unix))]
        let (inode, ctime_ns) = (0, mtime_ns);
        Lstat {
            is_file: meta.is_file(),
            is_symlink: meta.file_type().is_symlink(),
            size: meta.len(),
            mtime_ns,
            ctime_ns,
            inode,
        }
    }
}

/// A folder, opened once (where the system allows; its path otherwise).
pub struct Folder {
    path: PathBuf,
    #[cfg(target_os = "linux")]
    fd: Option<rustix::fd::OwnedFd>,
}

impl Folder {
    #[must_use]
    pub fn open(path: &Path) -> Folder {
        Folder {
            path: path.to_path_buf(),
            #[cfg(target_os = "linux")]
            fd: rustix::fs::open(
                path,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok(),
        }
    }

    /// `lstat` of `rel` (a relative path below this folder).
    ///
    /// # Errors
    /// As the system's `lstat`.
    pub fn lstat(&self, rel: &str) -> std::io::Result<Lstat> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            use rustix::fs::{AtFlags, FileType, statat};
            let st = statat(fd, rel, AtFlags::SYMLINK_NOFOLLOW)?;
            let kind = FileType::from_raw_mode(st.st_mode);
            return Ok(Lstat {
                is_file: kind == FileType::RegularFile,
                is_symlink: kind == FileType::Symlink,
                size: u64::try_from(st.st_size).unwrap_or(0),
                mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
                ctime_ns: i128::from(st.st_ctime) * 1_000_000_000 + i128::from(st.st_ctime_nsec),
                inode: st.st_ino,
            });
        }
        std::fs::symlink_metadata(self.path.join(rel)).map(|m| Lstat::of(&m))
    }

    /// Is `rel` a file (not a link) of `size` bytes?
    #[must_use]
    pub fn has_file(&self, rel: &str, size: u64) -> bool {
        self.lstat(rel)
            .is_ok_and(|st| st.is_file && st.size == size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstat_relative_to_the_folder_is_the_systems() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/f.md"), "hello").unwrap();
        let folder = Folder::open(dir.path());
        let got = folder.lstat("a/f.md").unwrap();
        let want = Lstat::of(&std::fs::symlink_metadata(dir.path().join("a/f.md")).unwrap());
        assert_eq!(got, want);
        assert!(got.is_file && !got.is_symlink && got.size == 5);
        assert!(folder.has_file("a/f.md", 5));
        assert!(!folder.has_file("a/f.md", 4));
        assert!(!folder.has_file("a", 4096), "a folder is not a file");
        assert!(folder.lstat("a/missing.md").is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("f.md", dir.path().join("a/link.md")).unwrap();
            let link = folder.lstat("a/link.md").unwrap();
            assert!(link.is_symlink && !link.is_file, "links are not followed");
            assert!(!folder.has_file("a/link.md", 5));
        }
    }
}
