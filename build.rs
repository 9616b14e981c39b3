//! Generates include/raindrop_dspy.h from the crate's C ABI (checked in; CI checks it is fresh).

fn main() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A SONAME, so programs linked against an installed copy do not record its build path.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libraindrop_dspy.so");
    }
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml parses");
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            bindings.write_to_file(format!("{crate_dir}/include/raindrop_dspy.h"));
        }
        // A half-edited source tree should not hide the compiler's own error message.
        Err(error) => println!("cargo:warning=header not regenerated: {error}"),
    }
}
