//! The committed vectors: no drift from the generator, every one passes through the real
//! core, and together they reach every error code of PROTOCOL §2.

use oathmesh_conformance::{render, run_vector, vectors_path};
use serde_json::Value;
use std::collections::BTreeSet;

fn committed() -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors_path()).expect("vectors.json exists"))
        .unwrap()
}

#[test]
fn committed_file_matches_the_generator() {
    let on_disk = std::fs::read_to_string(vectors_path()).unwrap();
    assert!(
        on_disk == render(),
        "conformance-vectors/vectors.json drifted from the generator; run `cargo run -p oathmesh-conformance` and commit"
    );
}

#[test]
fn every_vector_passes_through_the_core() {
    let doc = committed();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 40, "only {} vectors", vectors.len());
    for v in vectors {
        assert_eq!(run_vector(v), v["expect"], "vector {}", v["name"]);
    }
}

#[test]
fn every_error_code_is_reached() {
    let doc = committed();
    let codes: BTreeSet<String> = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["expect"]["code"].as_str())
        .map(|c| c.split(':').next().unwrap().to_owned())
        .collect();
    for kind in oathmesh_core::ErrorKind::ALL {
        assert!(
            codes.contains(kind.base_code()),
            "no vector reaches {}",
            kind.base_code()
        );
    }
    assert!(codes.contains("claim_missing"));
    let allows = doc["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["expect"]["outcome"] == "allow")
        .count();
    assert!(allows >= 10);
}
