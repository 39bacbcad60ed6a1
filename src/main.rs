//! The `sealgate` binary: parse the command line and hand off.
#![forbid(unsafe_code)]

use clap::Parser;
use sealgate::cli::{Cli, Command};
use std::process::ExitCode;

/// jemalloc, not glibc malloc: less CPU per request and less memory per idle
/// connection (measurements in Cargo.toml, beside the dependency).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check { config } => sealgate::cli::check(&config),
        Command::Keygen {
            kind,
            out,
            name,
            key_id,
            kem,
            ..
        } if kind == "ohttp" => {
            sealgate::cli::keygen::keygen_ohttp(&out, name.as_deref(), key_id, &kem)
        }
        Command::Keygen {
            kind,
            out,
            name,
            curve,
            ..
        } if kind == "jwe" => sealgate::cli::keygen::keygen_jwe(&out, name.as_deref(), &curve),
        Command::Keygen {
            kind, out, name, ..
        } => sealgate::cli::keygen::keygen(&kind, &out, name.as_deref()),
        Command::Ohttp {
            command: sealgate::cli::OhttpCommand::Request(args),
        } => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt
                .block_on(sealgate::cli::ohttp::request(args))
                .unwrap_or_else(|e| {
                    eprintln!("sealgate ohttp: {e}");
                    1
                }),
            Err(e) => {
                eprintln!("sealgate: cannot start the runtime: {e}");
                1
            }
        },
        Command::Health { url, timeout } => sealgate::cli::health::run(&url, timeout),
        Command::Token { command } => sealgate::cli::token::run(command),
        Command::ApiKey { command } => sealgate::cli::api_key::run(command),
        Command::Credentials { command } => sealgate::cli::credentials::run(command),
        Command::Users { command } => sealgate::cli::users::run(command),
        Command::Run { config } => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(sealgate::app::run(&config)),
            Err(e) => {
                eprintln!("sealgate: cannot start the runtime: {e}");
                1
            }
        },
    };
    ExitCode::from(code)
}
