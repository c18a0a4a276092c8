//! Who a client certificate names, once rustls has verified it chains to a configured CA:
//! the subject distinguished name and the subject alternative names, and the RFC 8705
//! (`tls_client_auth`) matchers a configuration uses to accept one of them.
//!
//! Comparison rules (documented in docs/issuer.md):
//! - the subject DN is compared in its RFC 4514 string form: RDNs last-to-first, `,`
//!   between RDNs, attribute types as their RFC 4514 short names (`CN`, `O`, `OU`, `L`, `ST`,
//!   `C`, `STREET`, `DC`, `UID`) or dotted OIDs, values exact and case-sensitive. A configured
//!   DN is parsed and rendered the same way, so spacing and the case of attribute types do
//!   not matter, but nothing else is loosened;
//! - DNS names compare ASCII case-insensitively, with no wildcard expansion;
//! - URIs and e-mail addresses compare exactly; IP addresses as addresses.

use std::net::IpAddr;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The identity parts of a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// RFC 4514 form, e.g. `CN=checkout,O=Example`.
    pub subject_dn: String,
    pub dns_names: Vec<String>,
    pub uris: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub emails: Vec<String>,
}

/// Why a certificate or a configured name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the certificate does not parse as X.509: {0}")]
    Certificate(String),
    #[error("not an RFC 4514 distinguished name: {0}")]
    DistinguishedName(&'static str),
    #[error("attribute type `{0}` is not an RFC 4514 name; write it as a dotted OID")]
    UnknownAttribute(String),
    #[error("not an IP address")]
    IpAddress,
    #[error("must not be empty")]
    Empty,
}

const SHORT_NAMES: [(&str, &str); 9] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.6", "C"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

fn short_name(oid: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(o, _)| *o == oid)
        .map_or(oid, |(_, name)| name)
}

/// A configured attribute type, as the name the renderer uses for it.
fn canonical_type(text: &str) -> Result<String, IdentityError> {
    let upper = text.to_ascii_uppercase();
    if let Some((_, name)) = SHORT_NAMES.iter().find(|(_, n)| *n == upper) {
        return Ok((*name).to_owned());
    }
    let dotted = text
        .strip_prefix("OID.")
        .or_else(|| text.strip_prefix("oid."))
        .unwrap_or(text);
    let is_oid = !dotted.is_empty()
        && dotted.split('.').count() >= 2
        && dotted
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    if is_oid {
        Ok(short_name(dotted).to_owned())
    } else {
        Err(IdentityError::UnknownAttribute(text.to_owned()))
    }
}

/// RFC 4514 §2.4 escaping of an attribute value.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// Renders RDNs given in certificate order (most significant first) as RFC 4514 (least
/// significant first). Attributes of a multi-valued RDN are sorted, so their order in the
/// certificate does not matter.
fn render(rdns: &[Vec<(String, String)>]) -> String {
    rdns.iter()
        .rev()
        .map(|rdn| {
            let mut parts: Vec<String> = rdn
                .iter()
                .map(|(kind, value)| format!("{kind}={}", escape_value(value)))
                .collect();
            parts.sort();
            parts.join("+")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses an RFC 4514 string into RDNs in certificate order, and renders it canonically.
pub fn canonical_dn(text: &str) -> Result<String, IdentityError> {
    let bad = IdentityError::DistinguishedName;
    if text.trim().is_empty() {
        return Err(IdentityError::Empty);
    }
    let mut rdns: Vec<Vec<(String, String)>> = vec![Vec::new()];
    let mut chars = text.chars().peekable();
    loop {
        // attribute type
        let mut kind = String::new();
        for c in chars.by_ref() {
            if c == '=' {
                break;
            }
            kind.push(c);
        }
        let kind = kind.trim();
        if kind.is_empty() {
            return Err(bad("an attribute has no type"));
        }
        let kind = canonical_type(kind)?;
        // attribute value, up to an unescaped `,` or `+`; unescaped spaces around it are
        // not part of it, escaped ones are.
        let mut value: Vec<u8> = Vec::new();
        let mut significant = 0;
        let mut separator = None;
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let next = chars.next().ok_or(bad("a value ends with `\\`"))?;
                    if next.is_ascii_hexdigit() {
                        let low = chars.next().ok_or(bad("a `\\` hex escape is cut short"))?;
                        let byte = u8::from_str_radix(&format!("{next}{low}"), 16)
                            .map_err(|_| bad("a `\\` hex escape is not two hex digits"))?;
                        value.push(byte);
                    } else {
                        value.extend_from_slice(next.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    significant = value.len();
                }
                ',' | '+' => {
                    separator = Some(c);
                    break;
                }
                c => {
                    value.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    if c != ' ' {
                        significant = value.len();
                    }
                }
            }
        }
        value.truncate(significant);
        let value = String::from_utf8(value).map_err(|_| bad("a value is not UTF-8"))?;
        if value.is_empty() {
            return Err(bad("an attribute has an empty value"));
        }
        rdns.last_mut().expect("never empty").push((kind, value));
        match separator {
            Some(',') => rdns.push(Vec::new()),
            Some(_) => {}
            None => break,
        }
    }
    // The string lists the least significant RDN first; certificates the most significant.
    rdns.reverse();
    Ok(render(&rdns))
}

impl PeerCertificate {
    /// Parses the leaf certificate (DER) a verified client presented.
    pub fn from_der(der: &[u8]) -> Result<PeerCertificate, IdentityError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let rdns: Vec<Vec<(String, String)>> = cert
            .subject()
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|attr| {
                        let oid = attr.attr_type().to_id_string();
                        let value = attr.as_str().map_or_else(
                            |_| {
                                // Not a string type: RFC 4514 renders the DER as `#hex`.
                                let hex: String = attr
                                    .attr_value()
                                    .data
                                    .iter()
                                    .map(|b| format!("{b:02x}"))
                                    .collect();
                                format!("#{hex}")
                            },
                            str::to_owned,
                        );
                        (short_name(&oid).to_owned(), value)
                    })
                    .collect()
            })
            .collect();
        let mut peer = PeerCertificate {
            subject_dn: render(&rdns),
            dns_names: Vec::new(),
            uris: Vec::new(),
            ip_addresses: Vec::new(),
            emails: Vec::new(),
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => peer.dns_names.push((*dns).to_owned()),
                    GeneralName::URI(uri) => peer.uris.push((*uri).to_owned()),
                    GeneralName::RFC822Name(email) => peer.emails.push((*email).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            peer.ip_addresses.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(peer)
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// One RFC 8705 `tls_client_auth` matcher: exactly one of these names the certificate a
/// configured client must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertIdentity {
    /// `tls_client_auth_subject_dn` (canonical RFC 4514 form).
    SubjectDn(String),
    /// `tls_client_auth_san_dns` (lower-cased).
    SanDns(String),
    /// `tls_client_auth_san_uri`.
    SanUri(String),
    /// `tls_client_auth_san_ip`.
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`.
    SanEmail(String),
}

impl CertIdentity {
    pub fn subject_dn(text: &str) -> Result<CertIdentity, IdentityError> {
        canonical_dn(text).map(CertIdentity::SubjectDn)
    }

    pub fn san_dns(text: &str) -> Result<CertIdentity, IdentityError> {
        non_empty(text).map(|t| CertIdentity::SanDns(t.to_ascii_lowercase()))
    }

    pub fn san_uri(text: &str) -> Result<CertIdentity, IdentityError> {
        non_empty(text).map(|t| CertIdentity::SanUri(t.to_owned()))
    }

    pub fn san_ip(text: &str) -> Result<CertIdentity, IdentityError> {
        text.trim()
            .parse()
            .map(CertIdentity::SanIp)
            .map_err(|_| IdentityError::IpAddress)
    }

    pub fn san_email(text: &str) -> Result<CertIdentity, IdentityError> {
        non_empty(text).map(|t| CertIdentity::SanEmail(t.to_owned()))
    }

    /// True when `cert` carries this name.
    pub fn matches(&self, cert: &PeerCertificate) -> bool {
        match self {
            CertIdentity::SubjectDn(dn) => cert.subject_dn == *dn,
            CertIdentity::SanDns(dns) => cert.dns_names.iter().any(|n| n.eq_ignore_ascii_case(dns)),
            CertIdentity::SanUri(uri) => cert.uris.iter().any(|u| u == uri),
            CertIdentity::SanIp(ip) => cert.ip_addresses.contains(ip),
            CertIdentity::SanEmail(email) => cert.emails.iter().any(|e| e == email),
        }
    }
}

fn non_empty(text: &str) -> Result<&str, IdentityError> {
    let text = text.trim();
    if text.is_empty() {
        Err(IdentityError::Empty)
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_render_canonically() {
        assert_eq!(
            canonical_dn("cn = checkout , O=Example Corp").unwrap(),
            "CN=checkout,O=Example Corp"
        );
        assert_eq!(
            canonical_dn("CN=a\\,b,OU=x+OU=w,2.5.4.10=Org").unwrap(),
            "CN=a\\,b,OU=w+OU=x,O=Org"
        );
        assert_eq!(canonical_dn("CN=\\23hash").unwrap(), "CN=\\#hash");
        assert_eq!(canonical_dn("CN=caf\\C3\\A9").unwrap(), "CN=café");
        assert_eq!(canonical_dn("CN=\\ x\\ ").unwrap(), "CN=\\ x\\ ");
        for bad in ["", "CN", "=x", "CN=", "CN=a,", "Nickname=x", "CN=a\\"] {
            assert!(canonical_dn(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matchers_compare_as_documented() {
        let cert = PeerCertificate {
            subject_dn: "CN=checkout,O=Example".into(),
            dns_names: vec!["Checkout.Internal".into()],
            uris: vec!["spiffe://example.org/checkout".into()],
            ip_addresses: vec!["10.0.0.7".parse().unwrap()],
            emails: vec!["ops@example.org".into()],
        };
        assert!(
            CertIdentity::subject_dn("cn=checkout, o=Example")
                .unwrap()
                .matches(&cert)
        );
        assert!(
            !CertIdentity::subject_dn("CN=Checkout,O=Example")
                .unwrap()
                .matches(&cert)
        );
        assert!(
            !CertIdentity::subject_dn("CN=checkout")
                .unwrap()
                .matches(&cert)
        );
        assert!(
            CertIdentity::san_dns("checkout.internal")
                .unwrap()
                .matches(&cert)
        );
        assert!(!CertIdentity::san_dns("*.internal").unwrap().matches(&cert));
        assert!(
            CertIdentity::san_uri("spiffe://example.org/checkout")
                .unwrap()
                .matches(&cert)
        );
        assert!(
            !CertIdentity::san_uri("spiffe://example.org/Checkout")
                .unwrap()
                .matches(&cert)
        );
        assert!(CertIdentity::san_ip("10.0.0.7").unwrap().matches(&cert));
        assert!(CertIdentity::san_ip("not-an-ip").is_err());
        assert!(
            CertIdentity::san_email("ops@example.org")
                .unwrap()
                .matches(&cert)
        );
        assert!(CertIdentity::san_dns(" ").is_err());
    }
}
