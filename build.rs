//! Generates include/raindrop_dspy.h from the crate's C ABI (checked in; CI checks it is fresh).

fn main() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A SONAME, so programs linked against an installed copy do not record its build path.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libraindrop_dspy.so");
    }
    let mut config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml parses");
    config.after_includes = Some(version_macros());
    match cbindgen::generate_with_config(&crate_dir, config) {
        Ok(bindings) => {
            let mut generated = Vec::new();
            bindings.write(&mut generated);
            let header = typedef_names_in_uses(&String::from_utf8(generated).expect("cbindgen writes UTF-8"));
            let path = format!("{crate_dir}/include/raindrop_dspy.h");
            if std::fs::read_to_string(&path).ok().as_deref() != Some(header.as_str()) {
                std::fs::write(&path, header).expect("include/raindrop_dspy.h is writable");
            }
        }
        // A half-edited source tree should not hide the compiler's own error message.
        Err(error) => println!("cargo:warning=header not regenerated: {error}"),
    }
}

/// cbindgen's "both" style names every struct (`typedef struct rd_error {...} rd_error;`, so C
/// code can forward-declare them) but then writes `struct rd_error *` in every signature: keep
/// the tags in the struct definitions and use the typedef names everywhere else.
fn typedef_names_in_uses(header: &str) -> String {
    let untag = |text: &str| text.replace("struct rd_", "rd_").replace("enum rd_", "rd_");
    let mut out = String::with_capacity(header.len());
    // How far a declaration's first line moved left: its argument lines move as much.
    let mut shift = 0;
    for line in header.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("typedef enum rd_") {
            // Enums stay untagged: C cannot forward-declare them, and cgo gives a tagged enum's
            // functions a result type other than the typedef's.
            out.push_str("typedef enum ");
            out.push_str(&rest[rest.find('{').unwrap_or(0)..]);
        } else if line.starts_with("typedef ") {
            out.push_str(line);
        } else if line.starts_with(' ') && shift > 0 {
            let indent = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&untag(&line[indent.min(shift)..]));
        } else {
            let head = line.find('(').map_or(line, |paren| &line[..paren]);
            shift = head.len() - untag(head).len();
            out.push_str(&untag(line));
        }
    }
    out
}

/// The version macros, from Cargo.toml's `version` (the single source; equal to `rd_version()`).
fn version_macros() -> String {
    let var = |name: &str| std::env::var(name).expect("cargo sets the package version variables");
    format!(
        "\n/* The library version, from Cargo.toml: equal to rd_version() of the library built with\n * this header. */\n\
         #define RD_VERSION_MAJOR {}\n#define RD_VERSION_MINOR {}\n#define RD_VERSION_PATCH {}\n\
         #define RD_VERSION_STRING \"{}\"",
        var("CARGO_PKG_VERSION_MAJOR"),
        var("CARGO_PKG_VERSION_MINOR"),
        var("CARGO_PKG_VERSION_PATCH"),
        var("CARGO_PKG_VERSION"),
    )
}
