//! Builds the components bundled into the `riposte` binary for
//! wasm32-wasip2 and generates `bundled.rs`, which embeds their bytes.

use std::fmt::Write as _;

/// Package name and the constant holding its bytes.
const BUNDLED: &[(&str, &str)] = &[
    ("aliyun-waf", "ALIYUN_WAF"),
    ("aliyun-cloudfw", "ALIYUN_CLOUDFW"),
    ("aliyun-ecs", "ALIYUN_ECS"),
    ("aliyun-slb", "ALIYUN_SLB"),
    ("aliyun-ddoscoo", "ALIYUN_DDOSCOO"),
    ("aliyun-cdn", "ALIYUN_CDN"),
    ("tencent-cloud", "TENCENT_CLOUD"),
    ("huawei-cloud", "HUAWEI_CLOUD"),
    ("endpoint", "ENDPOINT"),
];

fn main() {
    let packages: Vec<&str> = BUNDLED.iter().map(|(package, _)| *package).collect();
    let paths = riposte_guest_build::build(&packages);

    let mut generated = String::new();
    for ((package, constant), path) in BUNDLED.iter().zip(paths) {
        writeln!(
            generated,
            "/// The bundled `{package}` component.\n\
             pub const {constant}: &[u8] = include_bytes!({:?});",
            path.display().to_string()
        )
        .unwrap();
    }
    generated.push_str(
        "/// Every bundled component, as (package, bytes).\n\
         pub const ALL: &[(&str, &[u8])] = &[\n",
    );
    for (package, constant) in BUNDLED {
        writeln!(generated, "    ({package:?}, {constant}),").unwrap();
    }
    generated.push_str("];\n");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    std::fs::write(out.join("bundled.rs"), generated).unwrap();
}
