//! Core errors as JS `Error` objects. The properties set here are the contract the TS layer
//! (and anyone using the native classes directly) branches on; the message is never parsed.

use napi::bindgen_prelude::*;
use oathmesh_core::{ConfigError, MintError, VerifyError};

/// `code` of every configuration error (bad verifier or issuer document, unreadable file).
pub const CONFIG_INVALID: &str = "config_invalid";

/// Throws a JS `Error` with `code`, `step`, `fix`, `status`, `kind` (the stable number) and,
/// for `policy_denied`, `policyRule`. Returns the error napi-rs needs to unwind with; the
/// exception is already pending, so napi-rs does not throw a second one.
pub fn throw_verify_error(env: &Env, err: &VerifyError) -> Error {
    throw_with(env, err.message(), |obj| {
        obj.set("code", err.code().as_ref())?;
        obj.set("step", err.step().as_str())?;
        obj.set("fix", err.fix().as_ref())?;
        obj.set("status", u32::from(err.http_status()))?;
        obj.set("kind", err.kind() as u32)?;
        obj.set("policyRule", err.policy_rule())?;
        Ok(())
    })
}

/// Configuration errors keep the core's message, which names the offending key.
pub fn throw_config_error(env: &Env, err: &ConfigError) -> Error {
    throw_with(env, err.message(), |obj| obj.set("code", CONFIG_INVALID))
}

/// `claim_invalid:<claim>` for a refused request, `signer_failed` for a signing failure.
pub fn throw_mint_error(env: &Env, err: &MintError) -> Error {
    let message = match err {
        MintError::InvalidClaim { message, .. } => message.clone(),
        MintError::Signer(message) => message.clone(),
    };
    throw_with(env, &message, |obj| obj.set("code", err.code()))
}

fn throw_with(env: &Env, message: &str, decorate: impl FnOnce(&mut Object) -> Result<()>) -> Error {
    let thrown = (|| {
        let mut obj = env.create_error(Error::from_reason(message))?;
        decorate(&mut obj)?;
        env.throw(obj)
    })();
    match thrown {
        Ok(()) => Error::new(Status::PendingException, message),
        // Building the error object failed (the environment is shutting down): fall back to
        // napi-rs's own plain error.
        Err(e) => e,
    }
}
