//! The command line (a contract: see DESIGN.md): `run`, `check`, `keygen`,
//! `token mint`, `token verify` and `api-key`.

pub mod api_key;
pub mod credentials;
pub mod ohttp;
pub mod token;
pub mod users;
pub mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sealgate",
    version,
    about = "TLS-terminating authentication gateway"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Run {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file; print every problem with its key path (exit 2 on error).
    Check {
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Generate a key: ed25519 or es256 (PKCS#8 PEM pair), hmac (64 random bytes),
    /// ohttp (an Oblivious HTTP gateway key; prints its public key configuration),
    /// or jwe (a token decryption key; prints its public JWK).
    Keygen {
        #[arg(value_parser = ["ed25519", "es256", "hmac", "ohttp", "jwe"])]
        kind: String,
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// File name stem (default: the kind; ohttp: ohttp-<key id>).
        #[arg(long)]
        name: Option<String>,
        /// ohttp: the key id (0-255).
        #[arg(long, default_value_t = 1)]
        key_id: u8,
        /// ohttp: x25519, p256, or the post-quantum x-wing (X25519 + ML-KEM-768) or ml-kem-768.
        #[arg(long, default_value = "x25519", value_parser = ["x25519", "p256", "x-wing", "ml-kem-768"])]
        kem: String,
        /// jwe: the ECDH-ES curve: p256, p384 or x25519.
        #[arg(long, default_value = "p256", value_parser = ["p256", "p384", "x25519"])]
        curve: String,
    },
    /// Oblivious HTTP client.
    Ohttp {
        #[command(subcommand)]
        command: OhttpCommand,
    },
    /// API keys: create (printed once), list, revoke.
    ApiKey {
        #[command(subcommand)]
        command: api_key::ApiKeyCommand,
    },
    /// Signed-request credentials (RFC 9421, OAuth 1.0a): secrets encrypted at rest.
    Credentials {
        #[command(subcommand)]
        command: credentials::CredentialsCommand,
    },
    /// Development tokens: mint one, or explain why one is accepted or rejected.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// The token endpoint's users file (Argon2id): add (password on stdin), remove, list.
    Users {
        #[command(subcommand)]
        command: users::UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum OhttpCommand {
    /// Seal a request to URL, send it to the gateway, print the opened response.
    Request(ohttp::RequestArgs),
}

/// `sealgate keygen ohttp`: writes the private key (hex, 0600), prints the configuration.
pub fn keygen_ohttp(out: &std::path::Path, name: Option<&str>, key_id: u8, kem: &str) -> u8 {
    use crate::envelope::crypto::{
        GatewayKey, AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305, KEM_MLKEM768,
        KEM_P256, KEM_X25519, KEM_XWING,
    };
    let kem_id = match kem {
        "p256" => KEM_P256,
        "x-wing" => KEM_XWING,
        "ml-kem-768" => KEM_MLKEM768,
        _ => KEM_X25519,
    };
    let path = out.join(format!(
        "{}.key",
        name.map_or(format!("ohttp-{key_id}"), str::to_string)
    ));
    let result = GatewayKey::generate_private(kem_id).and_then(|sk| {
        let aeads = vec![AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305];
        let key = GatewayKey::from_private(key_id, kem_id, &sk, aeads)?;
        crate::fsutil::write_new(&path, hex::encode(&sk).as_bytes(), 0o600)?;
        Ok(key)
    });
    match result {
        Ok(key) => {
            println!("wrote {}", path.display());
            println!("key configuration (hex): {}", hex::encode(key.config()));
            println!("\n[[envelope.keys]]\nid = {key_id}\nkem = \"{kem}\"\nprivate_key = \"file:{}\"\nstate = \"active\"", path.display());
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}

/// `sealgate keygen jwe`: a private key (PKCS#8 PEM, 0600) for ECDH-ES token
/// encryption; prints the public JWK to give identity providers.
pub fn keygen_jwe(out: &std::path::Path, name: Option<&str>, curve: &str) -> u8 {
    use crate::jose::jwe::keys::{self, Curve};
    let c = match curve {
        "p384" => Curve::P384,
        "x25519" => Curve::X25519,
        _ => Curve::P256,
    };
    let path = out.join(format!(
        "{}.key",
        name.map_or(format!("jwe-{curve}"), str::to_string)
    ));
    let result = keys::generate_pem(c).and_then(|pem| {
        let key = keys::parse(pem.as_bytes(), None)?.remove(0);
        crate::fsutil::write_new(&path, pem.as_bytes(), 0o600)?;
        Ok(key)
    });
    match result {
        Ok(key) => {
            println!("wrote {}", path.display());
            let jwk = key.public_jwk().unwrap_or_default();
            println!("public JWK (use: enc): {jwk}");
            println!("\n# on a jwt authenticator:\ndecryption_keys = [{{ kid = \"{}\", key = \"file:{}\" }}]", key.kid, path.display());
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}

/// `sealgate keygen`.
pub fn keygen(kind: &str, out: &std::path::Path, name: Option<&str>) -> u8 {
    let stem = name.unwrap_or(kind);
    let result = match kind {
        "hmac" => {
            let mut secret = [0u8; 64];
            aws_lc_rs::rand::fill(&mut secret)
                .map_err(|_| "no randomness available".to_string())
                .and_then(|_| {
                    crate::fsutil::write_new(&out.join(format!("{stem}.secret")), &secret, 0o600)
                })
                .map(|_| vec![out.join(format!("{stem}.secret"))])
        }
        _ => {
            let alg = if kind == "es256" {
                &rcgen::PKCS_ECDSA_P256_SHA256
            } else {
                &rcgen::PKCS_ED25519
            };
            crate::keygen::key_pair(alg).and_then(|pair| {
                let (private, public) = (
                    out.join(format!("{stem}.key")),
                    out.join(format!("{stem}.pub.pem")),
                );
                crate::fsutil::write_new(&private, pair.serialize_pem().as_bytes(), 0o600)?;
                crate::fsutil::write_new(&public, pair.public_key_pem().as_bytes(), 0o644)?;
                Ok(vec![private, public])
            })
        }
    };
    match result {
        Ok(files) => {
            for f in files {
                println!("wrote {}", f.display());
            }
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}

/// `sealgate check`: prints problems (exit 2) or a one-line summary (exit 0).
pub fn check(path: &std::path::Path) -> u8 {
    match crate::settings::load(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                println!("warning: {w}");
            }
            println!(
                "{}: ok ({} routes, {} upstreams, {} authenticators)",
                path.display(),
                cfg.routes.len(),
                cfg.upstreams.len(),
                cfg.authenticators.len()
            );
            0
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}: {} problem(s)", path.display(), e.errors.len());
            2
        }
    }
}
