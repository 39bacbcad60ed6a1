//! The serde mirror of `[authenticators.NAME]`: one table per kind, tagged by
//! `kind`, unknown keys denied per kind (part of `file`, kept apart for size).

use serde::Deserialize;

/// A string, or a number or boolean written without quotes (`max_token_size =
/// 16384`, or an environment override the config crate parsed as a number).
/// Inside a kind-tagged table serde buffers the values first, and a buffered
/// number no longer converts to a string by itself.
fn lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Uint(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|v| match v {
        Scalar::Text(s) => s,
        Scalar::Int(n) => n.to_string(),
        Scalar::Uint(n) => n.to_string(),
        Scalar::Float(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }))
}

/// One `[authenticators.NAME]` table, tagged by `kind`: each kind has its own
/// keys, so a key of one kind on another kind's table is an error naming it.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AuthenticatorFile {
    /// Signed JWTs (optionally encrypted, JWE): keys from a file, a JWKS URL or OIDC discovery.
    Jwt(JwtFile),
    /// Client certificates (mTLS), the identity taken from a certificate field (SPIFFE IDs included).
    Mtls(MtlsFile),
    /// API keys: a prefix, a hash in a keys file or the store, never the key itself.
    ApiKey(ApiKeyFile),
    /// Opaque tokens checked with an RFC 7662 introspection endpoint (answers cached).
    Introspection(IntrospectionFile),
    /// RFC 9421 HTTP Message Signatures (with RFC 9530 Content-Digest).
    HttpSignature(HttpSignatureFile),
    /// OAuth 1.0a (RFC 5849) signed requests from legacy partners.
    Oauth1(OAuth1File),
    /// Tokens the gateway's own `[issuer]` issued.
    Issued(IssuedFile),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtFile {
    /// The exact `iss` accepted; required.
    #[serde(default, deserialize_with = "lenient")]
    pub issuer: Option<String>,
    /// Accepted `aud` values (any of); required.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Allowed signature algorithms, e.g. `["RS256", "ES256"]`; required (HMAC and public-key ones cannot mix).
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// `file:`/`env:` reference: a PEM public key or a JWKS, or the HMAC secret for HS*.
    #[serde(default, deserialize_with = "lenient")]
    pub keys: Option<String>,
    /// An https JWKS URL (instead of `keys` or `discovery`).
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_url: Option<String>,
    /// Fetch `{issuer}/.well-known/openid-configuration` for the JWKS (instead of `keys` or `jwks_url`).
    pub discovery: Option<bool>,
    /// JWKS refresh interval (shortened by Cache-Control, never below 30s). Default `5m`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_refresh: Option<String>,
    /// Serve the last good keys this long while the IdP is down. Default `24h`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_max_stale: Option<String>,
    /// At most one refetch per this period on an unknown `kid`. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_cooldown: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`/`iat`. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
    /// Refuse tokens without `exp`. Default `true`.
    pub require_exp: Option<bool>,
    /// Refuse tokens whose `exp` - `iat` is longer (and, when set, tokens without `exp` or `iat`). Default none.
    #[serde(default, deserialize_with = "lenient")]
    pub max_lifetime: Option<String>,
    /// Required `typ` header, e.g. `"at+jwt"` (RFC 9068). Default none.
    #[serde(default, deserialize_with = "lenient")]
    pub typ: Option<String>,
    /// Larger tokens get 401 `token_too_large`. Default `16KiB`.
    #[serde(default, deserialize_with = "lenient")]
    pub max_token_size: Option<String>,
    /// Read the token from this cookie instead of `Authorization: Bearer`.
    #[serde(default, deserialize_with = "lenient")]
    pub token_cookie: Option<String>,
    /// Read the token from this header instead of `Authorization: Bearer`.
    #[serde(default, deserialize_with = "lenient")]
    pub token_header: Option<String>,
    /// Generate an Ed25519 key pair at `keys` (public) when missing: development only.
    pub dev_generate: Option<bool>,
    /// RFC 8705: accept only tokens bound to the presented client certificate.
    pub certificate_bound: Option<bool>,
    /// RFC 9449 proof-of-possession: `"off" | "optional" | "required"`, or a table.
    pub dpop: Option<DpopFile>,
    /// JWE (RFC 7516): a `file:`/`env:` reference to a PEM private key, a JWK
    /// or a JWKS, or a list of `{ kid, key }` for rotation.
    pub decryption_keys: Option<DecryptionKeysFile>,
    /// JWE key management algorithms accepted (`alg`); default: all the keys can do.
    pub key_management: Option<Vec<String>>,
    /// JWE content encryption accepted (`enc`); default: AES-GCM and AES-CBC-HMAC.
    pub content_encryption: Option<Vec<String>>,
    /// Accept encrypted claims without an inner signature (symmetric keys only).
    pub allow_unsigned_encrypted: Option<bool>,
}

/// `decryption_keys = "file:..."` or `[{ kid = "...", key = "file:..." }, ...]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DecryptionKeysFile {
    One(String),
    Many(Vec<DecryptionKeyFile>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptionKeyFile {
    /// The key's `kid` (JWE headers name it).
    pub kid: Option<String>,
    /// `file:`/`env:` private key (PKCS#8 PEM) or JWK.
    pub key: String,
}

/// `dpop = "required"`, or `dpop = { mode = "required", nonce = true, ... }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DpopFile {
    Mode(String),
    Table(DpopTableFile),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopTableFile {
    /// `"off"`, `"optional"` or `"required"`; required in the table form.
    pub mode: Option<String>,
    /// Proof algorithms accepted (asymmetric only); default ES256, ES384, EdDSA, RS256, PS256.
    #[serde(default)]
    pub algorithms: Vec<String>,
    /// How far a proof's `iat` may be from now (default 60s).
    #[serde(default, deserialize_with = "lenient")]
    pub window: Option<String>,
    /// Require server-provided nonces (`DPoP-Nonce`, RFC 9449 §9).
    pub nonce: Option<bool>,
    /// `env:`/`file:` secret shared by replicas; without it each process draws its own.
    #[serde(default, deserialize_with = "lenient")]
    pub nonce_secret: Option<String>,
    /// How long a nonce lasts before it rotates (default 5m; accepted one period more).
    #[serde(default, deserialize_with = "lenient")]
    pub nonce_lifetime: Option<String>,
}

/// `kind = "issued"`: tokens from this gateway's own `[issuer]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuedFile {
    /// `"off"` (default), `"optional"` or `"required"`, or a DPoP table.
    pub dpop: Option<DpopFile>,
    /// Clock skew allowed on the tokens' times, at most 5m. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
}

/// `kind = "mtls"`: the verified TLS client certificate is the credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsFile {
    /// san_uri (default; SPIFFE IDs), san_dns, san_email or subject_cn.
    #[serde(default, deserialize_with = "lenient")]
    pub identity: Option<String>,
    /// Patterns the identity must match, `*` within a segment, `**` across; required.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `kind = "api-key"`: hashed keys in the store (or a hashes-only file).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyFile {
    /// Recognisable key prefix (default "sgk_").
    #[serde(default, deserialize_with = "lenient")]
    pub prefix: Option<String>,
    /// Read the key from this header instead of `Authorization: Bearer`.
    #[serde(default, deserialize_with = "lenient")]
    pub header: Option<String>,
    /// A TOML file of `[[keys]]` hashes instead of the store.
    #[serde(default, deserialize_with = "lenient")]
    pub keys_file: Option<String>,
}

/// `kind = "introspection"`: RFC 7662 token introspection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionFile {
    /// The RFC 7662 introspection URL (https; instead of `discovery`).
    #[serde(default, deserialize_with = "lenient")]
    pub endpoint: Option<String>,
    /// Find `introspection_endpoint` in `{issuer}/.well-known/openid-configuration`.
    pub discovery: Option<bool>,
    /// The exact `iss` required of an active answer (and the discovery base). Default none.
    #[serde(default, deserialize_with = "lenient")]
    pub issuer: Option<String>,
    /// Accepted `aud` values of an active answer (any of); required.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The gateway's client id at the authorization server; required.
    #[serde(default, deserialize_with = "lenient")]
    pub client_id: Option<String>,
    /// The gateway's client secret, an `env:`/`file:` reference; required.
    #[serde(default, deserialize_with = "lenient")]
    pub client_secret: Option<String>,
    /// client_secret_basic (default) or client_secret_post.
    #[serde(default, deserialize_with = "lenient")]
    pub client_auth: Option<String>,
    /// `token_type_hint` sent with each request, e.g. `"access_token"`. Default none.
    #[serde(default, deserialize_with = "lenient")]
    pub token_type_hint: Option<String>,
    /// Longest an active answer is cached (never past its `exp`). Default `5m`.
    #[serde(default, deserialize_with = "lenient")]
    pub cache_max: Option<String>,
    /// How long an inactive answer is cached. Default `10s`.
    #[serde(default, deserialize_with = "lenient")]
    pub cache_inactive: Option<String>,
    /// Introspection request timeout (503 after it). Default `2s`.
    #[serde(default, deserialize_with = "lenient")]
    pub timeout: Option<String>,
    /// Largest introspection answer read. Default `64KiB`.
    #[serde(default, deserialize_with = "lenient")]
    pub max_response: Option<String>,
    /// Larger tokens get 401 `token_too_large` without a request. Default `16KiB`.
    #[serde(default, deserialize_with = "lenient")]
    pub max_token_size: Option<String>,
    /// Read the token from this header instead of `Authorization: Bearer`.
    #[serde(default, deserialize_with = "lenient")]
    pub token_header: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`, at most 5m. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
    /// `"off"` (default), `"optional"` or `"required"`, or a DPoP table.
    pub dpop: Option<DpopFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<AuthenticatorFile, String> {
        ::config::Config::builder()
            .add_source(::config::File::from_str(toml, ::config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn kind_tables_take_numbers_for_text_keys_and_name_foreign_keys() {
        match parse("kind = \"jwt\"\nmax_token_size = 16384\n") {
            Ok(AuthenticatorFile::Jwt(j)) => assert_eq!(j.max_token_size.as_deref(), Some("16384")),
            other => panic!("{other:?}"),
        }
        match parse("kind = \"introspection\"\nclient_id = 123456\n") {
            Ok(AuthenticatorFile::Introspection(i)) => {
                assert_eq!(i.client_id.as_deref(), Some("123456"))
            }
            other => panic!("{other:?}"),
        }
        let e = parse("kind = \"mtls\"\nissuer = \"x\"\n").unwrap_err();
        assert!(
            e.contains("unknown field `issuer`") && e.contains("allow"),
            "{e}"
        );
    }
}

/// `kind = "http-signature"`: RFC 9421 HTTP Message Signatures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSignatureFile {
    /// The credentials file (HMAC secrets sealed under `kek`, public keys).
    #[serde(default, deserialize_with = "lenient")]
    pub credentials: Option<String>,
    /// `env:`/`file:` reference to the key-encryption key.
    #[serde(default, deserialize_with = "lenient")]
    pub kek: Option<String>,
    /// Verify only the signature with this label (default: any that verifies).
    #[serde(default, deserialize_with = "lenient")]
    pub label: Option<String>,
    /// Components every signature must cover (default @method @authority @path
    /// @query, and content-digest when the request has a body).
    pub required_components: Option<Vec<String>>,
    /// `created` at most this old. Default `300s`.
    #[serde(default, deserialize_with = "lenient")]
    pub max_age: Option<String>,
    /// How far in the future `created` may be (clock skew). Default `5s`.
    #[serde(default, deserialize_with = "lenient")]
    pub leeway: Option<String>,
    /// Refuse signatures without a `nonce` (nonces are single use either way). Default `false`.
    pub require_nonce: Option<bool>,
    /// The application tag a signature must carry.
    #[serde(default, deserialize_with = "lenient")]
    pub tag: Option<String>,
    /// "stream" (default): the body is checked as it is forwarded; "buffer":
    /// before anything is forwarded.
    #[serde(default, deserialize_with = "lenient")]
    pub verify_body: Option<String>,
    /// Sign responses (RFC 9421 §2.4) with the gateway's assertion key.
    pub sign_responses: Option<bool>,
    /// Largest response body signed with `sign_responses`. Default `8MiB`.
    #[serde(default, deserialize_with = "lenient")]
    pub max_signed_response: Option<String>,
    /// Public keys by `kid` from a JWKS, for `keyid`s not in the credentials file.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_url: Option<String>,
    /// RFC 9421 algorithms JWKS keys may use (default ed25519, ecdsa-p256-sha256).
    pub jwks_algorithms: Option<Vec<String>>,
    /// JWKS refresh interval (with `jwks_url`). Default `5m`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_refresh: Option<String>,
    /// Serve the last good JWKS this long while it cannot be fetched. Default `24h`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_max_stale: Option<String>,
    /// At most one refetch per this period on an unknown `kid`. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_cooldown: Option<String>,
}

/// `kind = "oauth1"`: 2-legged OAuth 1.0a (RFC 5849).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth1File {
    /// The consumers file (`sealgate credentials`); required unless `jwks_url`.
    #[serde(default, deserialize_with = "lenient")]
    pub credentials: Option<String>,
    /// `env:`/`file:` key-encryption key of the file's secrets.
    #[serde(default, deserialize_with = "lenient")]
    pub kek: Option<String>,
    /// The realm in `WWW-Authenticate: OAuth realm="..."`. Default `sealgate`.
    #[serde(default, deserialize_with = "lenient")]
    pub realm: Option<String>,
    /// How far `oauth_timestamp` may be from now (default 300 s).
    #[serde(default, deserialize_with = "lenient")]
    pub timestamp_window: Option<String>,
    /// Require `oauth_body_hash` on requests with a non-form body.
    pub require_body_hash: Option<bool>,
    /// RSA public keys by `kid` for consumer keys not in the credentials file.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_url: Option<String>,
    /// OAuth methods JWKS keys may use (default RSA-SHA256).
    pub jwks_algorithms: Option<Vec<String>>,
    /// JWKS refresh interval (with `jwks_url`). Default `5m`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_refresh: Option<String>,
    /// Serve the last good JWKS this long while it cannot be fetched. Default `24h`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_max_stale: Option<String>,
    /// At most one refetch per this period on an unknown `kid`. Default `30s`.
    #[serde(default, deserialize_with = "lenient")]
    pub jwks_cooldown: Option<String>,
}
