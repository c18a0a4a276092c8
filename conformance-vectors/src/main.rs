//! Writes `conformance-vectors/vectors.json`.

fn main() {
    let path = oathmesh_conformance::vectors_path();
    std::fs::write(&path, oathmesh_conformance::render()).expect("write vectors.json");
    println!("wrote {}", path.display());
}
