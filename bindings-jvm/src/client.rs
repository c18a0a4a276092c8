//! The issuer HTTP client: the core's `IssuerClient`, one token per call.

use crate::errors::OathMeshError;
use oathmesh_core::MintRequest;
use oathmesh_core::client::IssuerClient;
use std::sync::Arc;

#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientToken {
    pub token: String,
    pub expires_in: i64,
    pub token_type: String,
    /// The `Authorization` header value to send.
    pub authorization: String,
}

impl From<oathmesh_core::client::ClientToken> for ClientToken {
    fn from(t: oathmesh_core::client::ClientToken) -> Self {
        ClientToken {
            authorization: t.authorization(),
            token: t.token,
            expires_in: t.expires_in,
            token_type: t.token_type,
        }
    }
}

#[derive(uniffi::Object)]
pub struct Client {
    inner: IssuerClient,
}

#[uniffi::export]
impl Client {
    /// `config_json`: `{"issuer_url", "client_id", "client_secret" | "client_key_pem",
    /// "timeout_ms"?, "token_url"?}`.
    #[uniffi::constructor]
    pub fn new(config_json: String) -> Result<Arc<Self>, OathMeshError> {
        let inner = IssuerClient::from_json(config_json.as_bytes())?;
        Ok(Arc::new(Client { inner }))
    }

    /// Mints one token from a mint-request JSON document (blocking HTTP call).
    pub fn mint(&self, request_json: String) -> Result<ClientToken, OathMeshError> {
        let request = MintRequest::from_json(request_json.as_bytes())?;
        Ok(self.inner.mint(&request)?.into())
    }

    /// Mints one token bound (`rqh`) to the request about to be sent.
    pub fn mint_for_request(
        &self,
        request_json: String,
        method: String,
        path_and_query: String,
        body: Vec<u8>,
    ) -> Result<ClientToken, OathMeshError> {
        let request = MintRequest::from_json(request_json.as_bytes())?;
        Ok(self
            .inner
            .mint_for_request(&request, &method, &path_and_query, &body)?
            .into())
    }
}
