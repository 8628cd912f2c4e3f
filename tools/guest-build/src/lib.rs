//! Compiles guest component crates of this workspace for `wasm32-wasip2`
//! from a build script, so that `cargo build` and `cargo test` need no
//! separate step.
//!
//! Guests go to `guests/` under the target directory (not `OUT_DIR`) so
//! their incremental state is shared by every crate that asks for them and
//! survives rebuilds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `packages` (workspace package names) in the `guest` profile and
/// returns the path of each one's `.wasm`, in order. Tells cargo to rerun
/// the calling build script when the WIT, the SDK or any guest changes.
///
/// Panics with a hint when the build fails: a build script has no better
/// way to report.
pub fn build(packages: &[&str]) -> Vec<PathBuf> {
    let root = workspace_root();
    // A relative CARGO_TARGET_DIR is taken from the workspace root, where
    // the nested cargo runs.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"))
        .join("guests");
    for watched in ["wit", "sdk/src", "components", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir);
    for package in packages {
        command.args(["-p", package]);
    }
    // Flags cargo set for the calling build script target the host, not
    // wasm, and clippy's wrapper would make guests differ between
    // `cargo clippy` and `cargo test` (they are linted natively as
    // workspace members instead).
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the guest components");
    assert!(
        status.success(),
        "building the guest components {packages:?} failed\n\
         hint: is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`"
    );

    packages
        .iter()
        .map(|package| {
            let file = format!("{}.wasm", package.replace('-', "_"));
            let path = target_dir.join("wasm32-wasip2").join("guest").join(file);
            assert!(path.exists(), "{} was not built", path.display());
            path
        })
        .collect()
}

/// The directory holding the workspace's `Cargo.lock`, found upwards from
/// the calling crate.
fn workspace_root() -> PathBuf {
    let start = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("run from a build script"));
    let mut dir: &Path = &start;
    loop {
        if dir.join("Cargo.lock").exists() {
            return dir.to_path_buf();
        }
        dir = dir.parent().expect("a Cargo.lock above the crate");
    }
}
