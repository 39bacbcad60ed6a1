//! The command line (a contract: see DESIGN.md): `run`, `check`, `keygen`,
//! `token mint`, `token verify` and `api-key`.

pub mod api_key;
pub mod credentials;
pub mod keygen;
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
