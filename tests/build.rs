//! Builds the guest components the tests load (the test fixtures and the
//! bundled components) and generates `guests.rs`, one constant per
//! component holding the path of its `.wasm`.

use std::fmt::Write as _;

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
    ("fixture-hostile", "FIXTURE_HOSTILE"),
    ("fixture-trivial", "FIXTURE_TRIVIAL"),
    ("fixture-counter", "FIXTURE_COUNTER"),
    ("fixture-counter-v2", "FIXTURE_COUNTER_V2"),
    ("fixture-counter-v3", "FIXTURE_COUNTER_V3"),
    ("fixture-counter-trap", "FIXTURE_COUNTER_TRAP"),
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
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out.join("guests.rs"), generated).unwrap();
}
