//! `oathmesh inspect`: decode a token without trusting it, and say what each part means.
//! Nothing here verifies anything; the output says so first.

use crate::errors::CliError;
use oathmesh_core::clock::{Clock, SystemClock, rfc3339_secs};
use oathmesh_core::token::{self, Claims};
use serde_json::json;
use std::io::Read;

pub fn run(token: Option<String>, as_json: bool) -> Result<std::process::ExitCode, CliError> {
    let token = match token {
        Some(t) => t,
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(CliError::Stdin)?;
            input.trim().to_owned()
        }
    };
    let token = token.strip_prefix("OathMesh ").unwrap_or(&token);
    let undecodable = |e: oathmesh_core::VerifyError| CliError::Token {
        code: e.code().into_owned(),
        message: e.message().to_owned(),
    };
    let segments = token::split(token).map_err(undecodable)?;
    let header = token::decode_header(segments.header).map_err(undecodable)?;
    let claims = token::decode_claims(segments.payload).map_err(undecodable)?;
    let now = SystemClock.now_secs();
    if as_json {
        let doc = json!({
            "verified": false,
            "header": {"alg": header.alg.as_str(), "kid": header.kid},
            "claims": claims,
            "size_bytes": token.len(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
        );
    } else {
        print!("{}", explain(&header, &claims, token.len(), now));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn when(t: Option<i64>, now: i64) -> String {
    match t {
        None => "(absent)".to_owned(),
        Some(t) => {
            let delta = t - now;
            let rel = if delta >= 0 {
                format!("in {delta} s")
            } else {
                format!("{} s ago", -delta)
            };
            format!("{t} = {} ({rel})", rfc3339_secs(t))
        }
    }
}

fn explain(header: &oathmesh_core::Header, c: &Claims, size: usize, now: i64) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
    let mut out = String::new();
    out.push_str(
        "NOT VERIFIED: this decodes the token without checking its signature or trust.\n\n",
    );
    out.push_str(&format!("size        {size} bytes (limit 8192)\n"));
    out.push_str(&format!(
        "alg         {}  (signature algorithm: Ed25519)\n",
        header.alg.as_str()
    ));
    out.push_str(&format!(
        "kid         {}  (which issuer key signed it)\n",
        header.kid
    ));
    out.push_str(&format!("iss         {}  (issuer)\n", opt(&c.iss)));
    out.push_str(&format!(
        "sub         {}  (the calling identity)\n",
        opt(&c.sub)
    ));
    out.push_str(&format!(
        "aud         {}  (the only service that may accept it)\n",
        opt(&c.aud)
    ));
    out.push_str(&format!(
        "act         {}  (the action it authorises)\n",
        opt(&c.act)
    ));
    out.push_str(&format!(
        "jti         {}  (single-use token id)\n",
        opt(&c.jti)
    ));
    out.push_str(&format!("iat         {}\n", when(c.iat, now)));
    out.push_str(&format!("nbf         {}\n", when(c.nbf, now)));
    out.push_str(&format!("exp         {}\n", when(c.exp, now)));
    if let (Some(iat), Some(exp)) = (c.iat, c.exp) {
        out.push_str(&format!("lifetime    {} s (cap 300)\n", exp - iat));
        if exp < now {
            out.push_str("status      EXPIRED\n");
        }
    }
    if let Some(scope) = &c.scope {
        out.push_str(&format!("scope       {}\n", scope.join(" ")));
    }
    for (name, value) in [
        ("env", &c.env),
        ("tenant", &c.tenant),
        ("reason", &c.reason),
        ("delegated_by", &c.delegated_by),
        ("rqh", &c.rqh),
    ] {
        if let Some(v) = value {
            out.push_str(&format!("{name:<12}{v}\n"));
        }
    }
    if let Some(src) = &c.src {
        out.push_str(&format!(
            "src         {}\n",
            serde_json::to_string(src).unwrap_or_default()
        ));
    }
    out
}
