//! The request-id rule of the shared HTTP contract: an incoming `X-Request-Id` is echoed
//! only when there is exactly one, it is 1..=128 bytes, and every byte is in
//! `A-Za-z0-9-_.:/+=@~`; otherwise a fresh id of 32 lowercase hex chars from OS randomness.
// TODO(core): this moves into oathmesh-core with the core-owned failure response; the
// binding then calls it instead.

const MAX_LEN: usize = 128;

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.:/+=@~".contains(&b)
}

/// The id to use for a request that sent `values` as its `X-Request-Id` headers.
#[uniffi::export]
pub fn request_id_for(values: Vec<String>) -> String {
    if let [only] = values.as_slice() {
        let bytes = only.as_bytes();
        if (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().copied().all(allowed) {
            return only.clone();
        }
    }
    new_request_id()
}

fn new_request_id() -> String {
    let mut raw = [0u8; 16];
    // Without OS randomness there is no safe id; uniffi turns the panic into an exception.
    getrandom::getrandom(&mut raw).expect("the OS random source is available");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in raw {
        id.push(HEX[usize::from(b >> 4)] as char);
        id.push(HEX[usize::from(b & 15)] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::request_id_for;

    #[test]
    fn echoes_one_well_formed_id() {
        assert_eq!(
            request_id_for(vec!["abc-1:2/3+=@~".into()]),
            "abc-1:2/3+=@~"
        );
    }

    #[test]
    fn replaces_missing_duplicate_long_or_odd_ids() {
        for values in [
            vec![],
            vec!["a".to_owned(), "b".to_owned()],
            vec!["x".repeat(129)],
            vec![String::new()],
            vec!["has space".to_owned()],
            vec!["<script>".to_owned()],
        ] {
            let id = request_id_for(values.clone());
            assert_eq!(id.len(), 32, "{values:?}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }
}
