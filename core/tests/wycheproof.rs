//! Project Wycheproof's Ed25519 cases (tests/data, Apache-2.0): the core's signature check
//! must accept exactly the `valid` ones.

use oathmesh_core::signature::verify_raw;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn all_wycheproof_cases_agree() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("data/wycheproof_ed25519_test.json")).unwrap();
    let mut checked = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let pk = hex(group["publicKey"]["pk"].as_str().unwrap());
        for case in group["tests"].as_array().unwrap() {
            let msg = hex(case["msg"].as_str().unwrap());
            let sig = hex(case["sig"].as_str().unwrap());
            let want = match case["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("unexpected result {other}"),
            };
            assert_eq!(verify_raw(&pk, &msg, &sig), want, "tcId {}", case["tcId"]);
            checked += 1;
        }
    }
    assert_eq!(checked, 150);
}
