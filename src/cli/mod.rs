//! The command line (a contract: see DESIGN.md): `run`, `check`, `keygen`,
//! `token mint`, `token verify` and `api-key`.

pub mod api_key;
pub mod credentials;
pub mod health;
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
    #[command(long_about = RUN_ABOUT)]
    Run {
        /// The configuration file (relative paths in it are relative to its folder).
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Validate a configuration file; print every problem with its key path (exit 2 on error).
    Check {
        /// The configuration file to validate.
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Generate a key: ed25519 or es256 (PKCS#8 PEM pair), hmac (64 random bytes),
    /// ohttp (an Oblivious HTTP gateway key; prints its public key configuration),
    /// or jwe (a token decryption key; prints its public JWK).
    Keygen {
        /// What to generate.
        #[arg(value_parser = ["ed25519", "es256", "hmac", "ohttp", "jwe"])]
        kind: String,
        /// The folder the key files are written to (created 0600; existing files are never overwritten).
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
    /// Exit 0 when the gateway is ready (its admin /readyz answers 200), else 1:
    /// a probe for container images without curl.
    Health {
        /// The readiness URL (the admin listener, plain HTTP).
        #[arg(long, default_value = "http://127.0.0.1:9090/readyz")]
        url: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "2s", value_parser = crate::config::units::duration)]
        timeout: std::time::Duration,
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

const RUN_ABOUT: &str = "Run the gateway with the configuration file.

Signals: SIGHUP reloads the configuration (an invalid file keeps the running
one; see sealgate_config_reloads_total); SIGTERM or SIGINT stops accepting,
drains in-flight requests and upgraded connections for listen.shutdown_grace,
then exits.

Any key can be overridden from the environment as SEALGATE__SECTION__KEY,
e.g. SEALGATE__ADMIN__ADDRESS=0.0.0.0:9090 or SEALGATE__LOG__LEVEL=debug.
RUST_LOG (e.g. RUST_LOG=sealgate=debug) overrides log.level.";

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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                out.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() {
                out.push(format!("{path} {} (no about)", sub.get_name()));
            }
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_option_and_command_has_help_text() {
        let mut missing = Vec::new();
        undocumented(&Cli::command(), "sealgate", &mut missing);
        assert!(missing.is_empty(), "no --help text: {missing:?}");
        Cli::command().debug_assert();
    }
}
