//! Where the tests find LLST's image files.
//!
//! LLST's images (`DecodeAllMethods.image`, `VMPrimitives.image`) are data
//! that a clone of the repository does not have. Tests that need them ask
//! this crate: the folder is the one named by the environment variable
//! `LST_LLST_IMAGES` (a relative path is taken from the repository's root),
//! else `../shared/llst` beside the repository. When an image is not there,
//! [`read`] says so on one line of stderr and answers `None`, and the test
//! passes without it ([`llst_image!`] does both in one step).
//!
//! This crate only finds files; it must not load or interpret them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that names the folder of LLST's images.
pub const VAR: &str = "LST_LLST_IMAGES";

/// The repository's root (this crate lives in `crates/test-images`).
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder of LLST's images: `$LST_LLST_IMAGES`, else `../shared/llst`
/// beside the repository.
pub fn folder() -> PathBuf {
    match std::env::var_os(VAR) {
        Some(dir) if !dir.is_empty() => repository_root().join(dir),
        _ => repository_root().join("../shared/llst"),
    }
}

/// The path of image `name` if it is there; else says on one line of
/// stderr that the caller runs without it, and answers `None`.
pub fn path(name: &str) -> Option<PathBuf> {
    let path = folder().join(name);
    if path.is_file() {
        Some(path)
    } else {
        // Written to the stderr handle, not with `eprintln!`, so that the
        // test harness does not capture it: a bare clone shows each skip.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: LLST image {name} is not in {} (set {VAR} to the folder that holds it)",
            folder().display()
        );
        None
    }
}

/// The bytes of image `name`, or `None` as [`path`] says. An image that is
/// there but cannot be read is a test failure, not a skip.
pub fn read(name: &str) -> Option<Vec<u8>> {
    let path = path(name)?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())))
}

/// `llst_image!("X.image")`: the image's bytes, or return from the calling
/// test (which then passes) after saying it was skipped.
#[macro_export]
macro_rules! llst_image {
    ($name:expr) => {
        match $crate::read($name) {
            Some(bytes) => bytes,
            None => return,
        }
    };
}

/// `llst_image_path!("X.image")`: like [`llst_image!`], the path instead.
#[macro_export]
macro_rules! llst_image_path {
    ($name:expr) => {
        match $crate::path($name) {
            Some(path) => path,
            None => return,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_image_is_none_not_a_panic() {
        assert_eq!(read("no-such-image-in-any-folder.image"), None);
    }

    #[test]
    fn the_default_folder_is_beside_the_repository() {
        if std::env::var_os(VAR).is_none() {
            assert!(folder().ends_with("../shared/llst"));
        }
    }
}
