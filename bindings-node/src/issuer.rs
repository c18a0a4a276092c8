//! `NativeIssuer`: mints Oath Tokens (tests, local tools, services that issue their own).

use crate::errors::{throw_config_error, throw_mint_error};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use oathmesh_core::{Issuer, MintRequest};

/// A signed token: `{token, expiresIn, tokenType: "OathMesh"}`.
#[napi(object)]
pub struct MintedToken {
    pub token: String,
    pub expires_in: i64,
    pub token_type: String,
}

#[napi]
pub struct NativeIssuer {
    inner: Issuer,
}

#[napi]
impl NativeIssuer {
    /// `configJson`: `{"issuer", "private_key_pem" | "private_key_file", "kid"?}`.
    #[napi(factory, catch_unwind)]
    pub fn from_json(env: Env, config_json: String) -> Result<NativeIssuer> {
        let inner =
            Issuer::from_json(config_json.as_bytes()).map_err(|e| throw_config_error(&env, &e))?;
        Ok(NativeIssuer { inner })
    }

    #[napi(getter)]
    pub fn issuer(&self) -> String {
        self.inner.issuer().to_owned()
    }

    #[napi(getter)]
    pub fn kid(&self) -> String {
        self.inner.kid().to_owned()
    }

    /// The JWKS document this issuer publishes, as JSON text.
    #[napi(catch_unwind)]
    pub fn jwks_json(&self) -> String {
        self.inner.jwks_json()
    }

    /// `requestJson`: the snake_case mint request of docs/configuration.md.
    #[napi(catch_unwind)]
    pub fn mint(&self, env: Env, request_json: String) -> Result<MintedToken> {
        let request = MintRequest::from_json(request_json.as_bytes())
            .map_err(|e| throw_mint_error(&env, &e))?;
        let minted = self
            .inner
            .mint(&request)
            .map_err(|e| throw_mint_error(&env, &e))?;
        Ok(MintedToken {
            token: minted.token,
            expires_in: minted.expires_in,
            token_type: minted.token_type.to_owned(),
        })
    }
}
