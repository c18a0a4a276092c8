//! `uniffi-bindgen generate --library <cdylib> --language kotlin`: the Kotlin side is
//! generated at build time from the metadata in the library, never written by hand.
fn main() {
    uniffi::uniffi_bindgen_main()
}
