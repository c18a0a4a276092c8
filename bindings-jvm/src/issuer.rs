//! Minting Oath Tokens locally (tests, tools, issuers written for the JVM).

use crate::errors::OathMeshError;
use oathmesh_core::MintRequest;
use std::sync::Arc;

#[derive(Debug, Clone, uniffi::Record)]
pub struct MintedToken {
    pub token: String,
    pub expires_in: i64,
    pub token_type: String,
    pub token_id: String,
    pub expires_at: i64,
}

#[derive(uniffi::Object)]
pub struct Issuer {
    inner: oathmesh_core::Issuer,
}

#[uniffi::export]
impl Issuer {
    /// `config_json`: `{"issuer", "private_key_pem" | "private_key_file", "kid"?}`.
    #[uniffi::constructor]
    pub fn new(config_json: String) -> Result<Arc<Self>, OathMeshError> {
        let inner = oathmesh_core::Issuer::from_json(config_json.as_bytes())?;
        Ok(Arc::new(Issuer { inner }))
    }

    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }

    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// The JWKS document this issuer publishes, as JSON text.
    pub fn jwks_json(&self) -> String {
        self.inner.jwks_json()
    }

    /// Mints from a mint-request JSON document (docs/configuration.md).
    pub fn mint(&self, request_json: String) -> Result<MintedToken, OathMeshError> {
        let request = MintRequest::from_json(request_json.as_bytes())?;
        let t = self.inner.mint(&request)?;
        Ok(MintedToken {
            token: t.token,
            expires_in: t.expires_in,
            token_type: t.token_type.to_owned(),
            token_id: t.jti,
            expires_at: t.expires_at,
        })
    }
}
