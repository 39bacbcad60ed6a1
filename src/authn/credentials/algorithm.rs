//! The signature algorithms signed-request credentials may use: RFC 9421's
//! registry names (section 6.2.2) and RFC 5849's `oauth_signature_method`s.
//! A credential's configured algorithm decides; a request's own `alg` or
//! method must agree with it (no downgrade).

use aws_lc_rs::signature;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    // RFC 9421
    HmacSha256,
    Ed25519,
    EcdsaP256Sha256,
    RsaPssSha512,
    RsaV15Sha256,
    // RFC 5849 (names upper case, as on the wire)
    OAuthHmacSha1,
    OAuthHmacSha256,
    OAuthRsaSha1,
    OAuthRsaSha256,
}

/// The key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Hmac,
    Ed25519,
    EcP256,
    Rsa,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Algorithm> {
        Some(match name {
            "hmac-sha256" => Algorithm::HmacSha256,
            "ed25519" => Algorithm::Ed25519,
            "ecdsa-p256-sha256" => Algorithm::EcdsaP256Sha256,
            "rsa-pss-sha512" => Algorithm::RsaPssSha512,
            "rsa-v1_5-sha256" => Algorithm::RsaV15Sha256,
            "HMAC-SHA1" => Algorithm::OAuthHmacSha1,
            "HMAC-SHA256" => Algorithm::OAuthHmacSha256,
            "RSA-SHA1" => Algorithm::OAuthRsaSha1,
            "RSA-SHA256" => Algorithm::OAuthRsaSha256,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            Algorithm::RsaPssSha512 => "rsa-pss-sha512",
            Algorithm::RsaV15Sha256 => "rsa-v1_5-sha256",
            Algorithm::OAuthHmacSha1 => "HMAC-SHA1",
            Algorithm::OAuthHmacSha256 => "HMAC-SHA256",
            Algorithm::OAuthRsaSha1 => "RSA-SHA1",
            Algorithm::OAuthRsaSha256 => "RSA-SHA256",
        }
    }

    pub fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::HmacSha256 | Algorithm::OAuthHmacSha1 | Algorithm::OAuthHmacSha256 => {
                KeyKind::Hmac
            }
            Algorithm::Ed25519 => KeyKind::Ed25519,
            Algorithm::EcdsaP256Sha256 => KeyKind::EcP256,
            Algorithm::RsaPssSha512
            | Algorithm::RsaV15Sha256
            | Algorithm::OAuthRsaSha1
            | Algorithm::OAuthRsaSha256 => KeyKind::Rsa,
        }
    }

    /// True for RFC 5849 methods, false for RFC 9421 algorithms.
    pub fn is_oauth(self) -> bool {
        matches!(
            self,
            Algorithm::OAuthHmacSha1
                | Algorithm::OAuthHmacSha256
                | Algorithm::OAuthRsaSha1
                | Algorithm::OAuthRsaSha256
        )
    }

    pub(super) fn hmac(self) -> Option<aws_lc_rs::hmac::Algorithm> {
        match self {
            Algorithm::HmacSha256 | Algorithm::OAuthHmacSha256 => {
                Some(aws_lc_rs::hmac::HMAC_SHA256)
            }
            Algorithm::OAuthHmacSha1 => Some(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            _ => None,
        }
    }

    pub(super) fn verification(self) -> Option<&'static dyn signature::VerificationAlgorithm> {
        Some(match self {
            Algorithm::Ed25519 => &signature::ED25519,
            Algorithm::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::RsaV15Sha256 | Algorithm::OAuthRsaSha256 => {
                &signature::RSA_PKCS1_2048_8192_SHA256
            }
            Algorithm::OAuthRsaSha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            _ => return None,
        })
    }
}
