//! `[authenticators.NAME]`: the kind-tagged table, validated by its kind.

use crate::config::diag::Diag;
use crate::config::file::AuthenticatorFile;

/// A validated authenticator table.
#[derive(Debug, Clone)]
pub struct AuthenticatorSettings {
    pub name: String,
    pub settings: AuthnSettings,
}

/// The validated settings of each authenticator kind.
#[derive(Debug, Clone)]
pub enum AuthnSettings {
    Jwt(super::jwt::settings::JwtSettings),
    Mtls(super::mtls::MtlsSettings),
    ApiKey(super::api_key::ApiKeySettings),
    Introspection(super::introspect::IntrospectionSettings),
    HttpSignature(super::signature::settings::HttpSignatureSettings),
    OAuth1(super::oauth1::settings::OAuth1Settings),
    Issued(super::issued::IssuedSettings),
}

impl AuthnSettings {
    /// Whether the kind needs a client certificate on the connection (checked
    /// against `listen.tls.client_auth`): what needs it, for the message.
    pub fn needs_client_certificates(&self) -> Option<&'static str> {
        match self {
            AuthnSettings::Mtls(_) => Some("kind = \"mtls\""),
            AuthnSettings::Jwt(j) if j.certificate_bound => Some("certificate_bound = true"),
            _ => None,
        }
    }

    /// Why the kind cannot decide without the request body or a response
    /// (decision mode sees neither): what to change, for the message.
    pub fn body_dependent(&self) -> Option<&'static str> {
        match self {
            AuthnSettings::OAuth1(_) => Some("kind = \"oauth1\" reads form parameters and oauth_body_hash from the body"),
            AuthnSettings::HttpSignature(h) if h.sign_responses => {
                Some("sign_responses = true signs a response the gateway never sees")
            }
            AuthnSettings::HttpSignature(h)
                if h.default_required || h.required.iter().any(|c| c == "content-digest") =>
            {
                Some("content-digest is checked against the body: set required_components without it")
            }
            _ => None,
        }
    }
}

/// Validates one `[authenticators.NAME]` table with its kind's own validator.
pub fn authenticator(
    d: &mut Diag<'_>,
    name: &str,
    a: &AuthenticatorFile,
) -> Option<AuthenticatorSettings> {
    let settings = match a {
        AuthenticatorFile::Jwt(j) => {
            AuthnSettings::Jwt(super::jwt::settings::settings(d, name, j)?)
        }
        AuthenticatorFile::Mtls(m) => AuthnSettings::Mtls(super::mtls::settings(d, name, m)?),
        AuthenticatorFile::ApiKey(k) => {
            AuthnSettings::ApiKey(super::api_key::settings(d, name, k)?)
        }
        AuthenticatorFile::Introspection(i) => {
            AuthnSettings::Introspection(super::introspect::settings(d, name, i)?)
        }
        AuthenticatorFile::HttpSignature(h) => {
            AuthnSettings::HttpSignature(super::signature::settings::settings(d, name, h)?)
        }
        AuthenticatorFile::Oauth1(o) => {
            AuthnSettings::OAuth1(super::oauth1::settings::settings(d, name, o)?)
        }
        AuthenticatorFile::Issued(i) => {
            let prefix = format!("authenticators.{name}.");
            AuthnSettings::Issued(super::issued::IssuedSettings {
                dpop: super::dpop::settings::settings(d, &prefix, i.dpop.as_ref()),
                leeway: {
                    let path = format!("{prefix}leeway");
                    let leeway = d.duration(
                        path.clone(),
                        i.leeway.as_ref(),
                        std::time::Duration::from_secs(30),
                    );
                    if leeway > super::issued::MAX_LEEWAY {
                        d.push(
                            path,
                            "at most 5m: revoked sessions are remembered that much past expiry",
                        );
                    }
                    leeway
                },
            })
        }
    };
    Some(AuthenticatorSettings {
        name: name.to_string(),
        settings,
    })
}
