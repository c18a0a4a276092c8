//! The committed header must be exactly what the pinned cbindgen generates from this crate.
//! Set OATHMESH_UPDATE_HEADER=1 to rewrite it after changing the ABI.

use std::path::Path;

#[test]
fn committed_header_matches_generated() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let path = crate_dir.join("include/oathmesh.h");
    if std::env::var_os("OATHMESH_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("header written");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/oathmesh.h differs from what cbindgen 0.29.4 generates; \
         run `OATHMESH_UPDATE_HEADER=1 cargo test -p oathmesh-c --test header` and commit it"
    );
}
