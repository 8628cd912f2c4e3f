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

/// A component written in another language, built by its own toolchain.
#[derive(Debug, Clone, Copy)]
pub enum Foreign {
    /// `app.py` built with `componentize-py`.
    Python,
    /// `app.js` built with `componentize-js`.
    JavaScript,
}

/// Where `scripts/guest-toolchains` installs componentize-py and
/// componentize-js: `toolchains/` under the target directory.
pub fn toolchains_dir() -> PathBuf {
    target_dir().join("toolchains")
}

/// Builds the component in `dir` (relative to the workspace root) with
/// its language's toolchain into `guests/foreign/NAME.wasm` under the
/// target directory. Returns why it could not be built instead of
/// panicking, so that the tests that need it can fail saying so while
/// the rest of the suite runs.
pub fn build_foreign(language: Foreign, dir: &str, name: &str) -> Result<PathBuf, String> {
    let root = workspace_root();
    let out_dir = target_dir().join("guests").join("foreign");
    std::fs::create_dir_all(&out_dir).map_err(|err| format!("{}: {err}", out_dir.display()))?;
    let out = out_dir.join(format!("{name}.wasm"));
    println!("cargo:rerun-if-changed={}", root.join(dir).display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    let toolchains = toolchains_dir();
    let world = "riposte:component/handling-component";
    let wit = root.join("wit");
    let source = root.join(dir);

    let (tool, mut command) = match language {
        Foreign::Python => {
            let tool = toolchains.join("py/bin/componentize-py");
            let mut command = Command::new(&tool);
            // No __pycache__ in the source folder: it would make cargo
            // rerun this build script every time.
            command
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .current_dir(&source)
                .arg("-d")
                .arg(&wit)
                .args(["-w", world, "componentize", "app", "-o"])
                .arg(&out);
            (tool, command)
        }
        Foreign::JavaScript => {
            let tool = toolchains.join("js/node_modules/.bin/componentize-js");
            let mut command = Command::new(&tool);
            command
                .current_dir(&source)
                .arg("--wit")
                .arg(&wit)
                .args(["-n", world, "-o"])
                .arg(&out)
                .arg("app.js");
            (tool, command)
        }
    };
    if !tool.exists() {
        return Err(format!(
            "{} is not installed; run `./scripts/guest-toolchains` (it installs \
             componentize-py from PyPI and componentize-js from npm under {})",
            tool.display(),
            toolchains.display()
        ));
    }
    let output = command
        .output()
        .map_err(|err| format!("running {}: {err}", tool.display()))?;
    if !output.status.success() || !out.exists() {
        return Err(format!(
            "{} failed on {dir}: {}{}",
            tool.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

/// The workspace's target directory (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    let root = workspace_root();
    env::var_os("CARGO_TARGET_DIR")
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"))
}
