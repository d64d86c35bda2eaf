//! A small tmpfs to run a gateway's data directory on, that a test can fill to the last byte and
//! free again: the full disk of the fault tests. Mounting needs root (or CAP_SYS_ADMIN); where it
//! is impossible, [`SmallDisk::mount`] prints why and the test returns early.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs, unmounted when dropped.
pub(crate) struct SmallDisk {
    /// The mount point.
    directory: tempfile::TempDir,
    /// The file that takes up the free space.
    filler: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it, e.g. `32m`), or prints why it
    /// cannot and returns `None`.
    pub(crate) fn mount(size: &str) -> Option<Self> {
        let directory = tempfile::tempdir().expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(directory.path())
            .output();
        match mounted {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                eprintln!(
                    "skipped: cannot mount a tmpfs ({}): {stderr}",
                    output.status
                );
                return None;
            }
            Err(error) => {
                eprintln!("skipped: cannot run mount: {error}");
                return None;
            }
        }
        let filler = directory.path().join("filler");
        Some(Self { directory, filler })
    }

    /// The mount point: the data directory.
    pub(crate) fn path(&self) -> &Path {
        self.directory.path()
    }

    /// Takes up every free byte with a filler file.
    pub(crate) fn fill(&self) {
        let mut file = std::fs::File::create(&self.filler).expect("filler file");
        for chunk in [64 * 1024, 4096, 1] {
            let bytes = vec![0_u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
    }

    /// Deletes the filler file.
    pub(crate) fn free(&self) {
        std::fs::remove_file(&self.filler).expect("filler removed");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.directory.path())
            .status();
    }
}
