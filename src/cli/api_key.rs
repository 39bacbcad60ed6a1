//! `sealgate api-key create|list|revoke`: API keys of an `api-key`
//! authenticator, written to the configured store (so it must be shared:
//! Redis) or, with `--keys-file`, appended to a hashes-only keys file. The new
//! key is printed once, as the only line on stdout; nothing prints it again.

use crate::authn::api_key::{self, NewKey};
use crate::authn::settings::AuthnSettings;
use crate::authn::unix_now;
use crate::settings::Config;
use crate::store::settings::StoreKind;
use clap::Subcommand;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; prints it once on stdout (store it now: only its hash is kept).
    Create {
        /// The configuration file (its store and the authenticator's settings).
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The `api-key` authenticator the key is for.
        #[arg(long)]
        authenticator: String,
        /// Who the key authenticates (x-auth-subject at the backend).
        #[arg(long)]
        subject: String,
        /// Comma-separated scopes.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30d (default: no expiry).
        #[arg(long)]
        ttl: Option<String>,
        /// A note kept with the key (shown by list).
        #[arg(long, default_value = "")]
        description: String,
        /// Append the key's hash to this keys file instead of the store.
        #[arg(long)]
        keys_file: Option<PathBuf>,
    },
    /// List the keys in the store (ids and records, never a key).
    List {
        /// The configuration file (its store).
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
    },
    /// Revoke a key by id: every replica refuses it within a second.
    Revoke {
        /// The configuration file (its store).
        #[arg(long, default_value = "gateway.toml")]
        config: PathBuf,
        /// The key id that create printed (the part before the secret).
        id: String,
    },
}

fn fail(m: &str) -> u8 {
    eprintln!("error: {m}");
    2
}

pub fn run(cmd: ApiKeyCommand) -> u8 {
    match cmd {
        ApiKeyCommand::Create {
            config,
            authenticator,
            subject,
            scopes,
            ttl,
            description,
            keys_file,
        } => {
            let ttl = match ttl.as_deref().map(crate::config::units::duration) {
                None => None,
                Some(Ok(d)) => Some(d),
                Some(Err(m)) => return fail(&format!("--ttl: {m}")),
            };
            let new = NewKey {
                subject,
                scopes,
                ttl,
                description,
            };
            create(&config, &authenticator, new, keys_file.as_deref())
        }
        ApiKeyCommand::List { config } => with_store(&config, |store, metrics| async move {
            let list = store.api_keys(&metrics).await.map_err(|e| e.to_string())?;
            for r in list {
                let exp = r.expires_at.map_or("never".to_string(), |e| e.to_string());
                println!(
                    "{}\t{}\t{}\tscopes={}\texpires={}\t{}",
                    r.id,
                    r.authenticator,
                    r.subject,
                    r.scopes.join(","),
                    exp,
                    r.description
                );
            }
            Ok(0)
        }),
        ApiKeyCommand::Revoke { config, id } => with_store(&config, |store, metrics| async move {
            match store
                .delete_api_key(&id, &metrics)
                .await
                .map_err(|e| e.to_string())?
            {
                true => {
                    eprintln!("revoked {id}");
                    Ok(0)
                }
                false => Err(format!("no API key with id {id:?}")),
            }
        }),
    }
}

fn load(config: &Path) -> Result<Config, String> {
    crate::settings::load(config).map_err(|e| e.to_string())
}

fn create(config: &Path, authenticator: &str, new: NewKey, keys_file: Option<&Path>) -> u8 {
    let cfg = match load(config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let prefix = match cfg.authenticators.get(authenticator).map(|a| &a.settings) {
        Some(AuthnSettings::ApiKey(s)) => s.prefix.clone(),
        _ => {
            return fail(&format!(
                "{}: no authenticator {authenticator:?} of kind \"api-key\"",
                config.display()
            ))
        }
    };
    let now = unix_now();
    let (record, key) = match api_key::new_record(authenticator, &prefix, new, now) {
        Ok(r) => r,
        Err(m) => return fail(&m),
    };
    if let Some(file) = keys_file {
        if let Err(m) = append_hash(file, &record) {
            return fail(&m);
        }
        println!("{key}");
        return 0;
    }
    with_store(config, move |store, metrics| async move {
        store
            .put_api_key(&record, now, &metrics)
            .await
            .map_err(|e| e.to_string())?;
        eprintln!("created {} for {}", record.id, record.subject);
        println!("{key}");
        Ok(0)
    })
}

fn append_hash(file: &Path, r: &crate::store::tokens::ApiKeyRecord) -> Result<(), String> {
    let scopes: Vec<String> = r.scopes.iter().map(|s| toml_string(s)).collect();
    let mut entry = format!(
        "\n[[keys]]\nhash = {}\nsubject = {}\nscopes = [{}]\ndescription = {}\n",
        toml_string(&r.hash),
        toml_string(&r.subject),
        scopes.join(", "),
        toml_string(&r.description)
    );
    if let Some(exp) = r.expires_at {
        entry.push_str(&format!("expires_at = {exp}\n"));
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    f.write_all(entry.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// A TOML basic string: `"` and `\` escaped, control characters as \uXXXX.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs `f` against the configured store, once it has connected.
fn with_store<F, Fut>(config: &Path, f: F) -> u8
where
    F: FnOnce(std::sync::Arc<crate::store::Store>, crate::metrics::Metrics) -> Fut,
    Fut: std::future::Future<Output = Result<u8, String>>,
{
    let cfg = match load(config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if matches!(cfg.store.kind, StoreKind::Memory { .. }) {
        return fail(&format!("{}: store.kind = \"memory\" lives inside the gateway process; use the admin API (POST /admin/api-keys), a Redis store, or --keys-file", config.display()));
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e.to_string()),
    };
    rt.block_on(async {
        let metrics = match crate::metrics::Metrics::new() {
            Ok(m) => m,
            Err(e) => return fail(&e.to_string()),
        };
        let store = match crate::store::StoreRegistry::default().get_or_create(&cfg.store) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        let wait = cfg.store.connect_timeout + std::time::Duration::from_secs(1);
        if tokio::time::timeout(wait, store.connected()).await.is_err() {
            return fail("the store did not connect in time");
        }
        f(store, metrics).await.unwrap_or_else(|e| fail(&e))
    })
}
