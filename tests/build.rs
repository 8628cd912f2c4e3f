//! Builds the guest components the tests load (the test fixtures and the
//! bundled components) and generates `guests.rs`, one constant per
//! component holding the path of its `.wasm`.

use std::fmt::Write as _;

use riposte_guest_build::Foreign;

/// Package name and the constant the tests use.
const GUESTS: &[(&str, &str)] = &[
    ("aliyun-waf", "ALIYUN_WAF"),
    ("aliyun-cloudfw", "ALIYUN_CLOUDFW"),
    ("aliyun-ecs", "ALIYUN_ECS"),
    ("aliyun-slb", "ALIYUN_SLB"),
    ("aliyun-ddoscoo", "ALIYUN_DDOSCOO"),
    ("aliyun-cdn", "ALIYUN_CDN"),
    ("tencent-cloud", "TENCENT_CLOUD"),
    ("huawei-cloud", "HUAWEI_CLOUD"),
    ("endpoint", "ENDPOINT"),
    ("fixture-hostile", "FIXTURE_HOSTILE"),
    ("fixture-trivial", "FIXTURE_TRIVIAL"),
    ("fixture-counter", "FIXTURE_COUNTER"),
    ("fixture-counter-v2", "FIXTURE_COUNTER_V2"),
    ("fixture-counter-v3", "FIXTURE_COUNTER_V3"),
    ("fixture-counter-trap", "FIXTURE_COUNTER_TRAP"),
];

/// Components written in other languages: language, source folder, output
/// name and constant.
const FOREIGN: &[(Foreign, &str, &str, &str)] = &[
    (
        Foreign::Python,
        "components/webhook-notify",
        "webhook_notify",
        "WEBHOOK_NOTIFY_PY",
    ),
    (
        Foreign::JavaScript,
        "components/webhook-signed",
        "webhook_signed",
        "WEBHOOK_SIGNED_JS",
    ),
];

fn main() {
    let packages: Vec<&str> = GUESTS.iter().map(|(package, _)| *package).collect();
    let paths = riposte_guest_build::build(&packages);

    let mut generated = String::new();
    for ((package, constant), path) in GUESTS.iter().zip(paths) {
        writeln!(
            generated,
            "/// The `{package}` component, built for wasm32-wasip2.\n\
             pub const {constant}: &str = {:?};",
            path.display().to_string()
        )
        .unwrap();
    }
    // Components in other languages: a missing toolchain fails the tests
    // that need them (with the reason), not the whole build.
    for (language, dir, name, constant) in FOREIGN {
        let built = riposte_guest_build::build_foreign(*language, dir, name)
            .map(|path| path.display().to_string());
        if let Err(reason) = &built {
            println!("cargo:warning=the `{name}` component was not built: {reason}");
        }
        writeln!(
            generated,
            "/// The `{name}` component ({dir}), or why it could not be built.\n\
             pub const {constant}: Result<&str, &str> = {};",
            match &built {
                Ok(path) => format!("Ok({path:?})"),
                Err(reason) => format!("Err({reason:?})"),
            }
        )
        .unwrap();
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out.join("guests.rs"), generated).unwrap();
}
