//! Builds the guest components (the bundled ones and the test fixtures) for
//! `wasm32-wasip2` and generates `guests.rs`, one constant per component
//! holding the path of its `.wasm`, so that `cargo test` alone is enough.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Package name and the constant the tests use.
const GUESTS: &[(&str, &str)] = &[
    ("aliyun-waf", "ALIYUN_WAF"),
    ("fixture-hostile", "FIXTURE_HOSTILE"),
    ("fixture-trivial", "FIXTURE_TRIVIAL"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    // Kept under the workspace's target/ (not OUT_DIR) so that the guests'
    // own incremental state survives between builds of this crate.
    let target_dir = root.join("target").join("guests");

    for watched in ["wit", "sdk", "components", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-changed=build.rs");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in GUESTS {
        command.args(["-p", package]);
    }
    // Flags cargo set for this build script target the host, not wasm.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .expect("running cargo to build the guest components");
    assert!(
        status.success(),
        "building the guest components failed; is the wasm32-wasip2 target installed \
         (`rustup target add wasm32-wasip2`)?"
    );

    let mut generated = String::new();
    for (package, constant) in GUESTS {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let path = target_dir.join("wasm32-wasip2").join("guest").join(file);
        assert!(path.exists(), "{} was not built", path.display());
        writeln!(
            generated,
            "/// The `{package}` component, built for wasm32-wasip2.\n\
             pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    std::fs::write(Path::new(&out).join("guests.rs"), generated).unwrap();
}
