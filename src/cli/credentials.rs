//! `sealgate credentials add|rotate|list|remove|rekey|new-kek`: the
//! signed-request credentials file. HMAC secrets are written only sealed
//! under the KEK; a new secret is printed once (base64url), as the only line
//! on stdout. `list` never prints a secret.

use crate::authn::credentials::file::{self, CredentialsFile, Entry, SealedSecret};
use crate::authn::credentials::{algorithms, kek, Algorithm, Kek, KeyKind};
use crate::authn::unix_now;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The credentials file.
    #[arg(long)]
    file: PathBuf,
    /// The key-encryption key: env:NAME or file:PATH.
    #[arg(long)]
    kek: String,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Add a client. HMAC: generates a secret (or reads one with --secret-stdin)
    /// and prints it once; public-key algorithms: --public-key PEM.
    Add {
        #[command(flatten)]
        at: FileArgs,
        /// The client id: RFC 9421 keyid, or the OAuth 1.0a consumer key.
        #[arg(long)]
        id: String,
        /// hmac-sha256, ed25519, ecdsa-p256-sha256, rsa-pss-sha512, rsa-v1_5-sha256
        /// (RFC 9421), or HMAC-SHA1, HMAC-SHA256, RSA-SHA1, RSA-SHA256 (OAuth 1.0a).
        #[arg(long = "alg", required = true, value_delimiter = ',')]
        algorithms: Vec<String>,
        /// A display name for the client.
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated scopes the client's requests carry.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Identity claims to forward, NAME=VALUE (repeatable).
        #[arg(long = "claim")]
        claims: Vec<String>,
        /// Lifetime, e.g. 365d (default: none).
        #[arg(long)]
        ttl: Option<String>,
        /// The client's public key (PEM) for ed25519, ecdsa-p256-sha256, rsa-* and RSA-SHA* algorithms.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Import an existing secret from stdin instead of generating one
        /// (RFC 9421: the key in base64; OAuth 1.0a: the consumer secret itself).
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Add a new secret to an HMAC client; the old ones stay valid for --overlap.
    Rotate {
        #[command(flatten)]
        at: FileArgs,
        /// The HMAC client to rotate.
        #[arg(long)]
        id: String,
        /// How long the previous secrets stay valid beside the new one.
        #[arg(long, default_value = "24h")]
        overlap: String,
        /// Import the new secret from stdin (base64) instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// List the clients (never a secret).
    List {
        #[command(flatten)]
        at: FileArgs,
    },
    /// Remove a client.
    Remove {
        #[command(flatten)]
        at: FileArgs,
        /// The client to revoke.
        #[arg(long)]
        id: String,
    },
    /// Re-encrypt every secret under a new KEK (data keys are rewrapped).
    Rekey {
        #[command(flatten)]
        at: FileArgs,
        /// The new KEK: env:NAME or file:PATH.
        #[arg(long)]
        new_kek: String,
    },
    /// Print a new random KEK (base64url, 32 bytes).
    NewKek,
}

fn fail(m: &str) -> u8 {
    eprintln!("error: {m}");
    2
}

pub fn run(cmd: CredentialsCommand) -> u8 {
    match execute(cmd) {
        Ok(()) => 0,
        Err(m) => fail(&m),
    }
}

fn execute(cmd: CredentialsCommand) -> Result<(), String> {
    match cmd {
        CredentialsCommand::NewKek => {
            println!("{}", kek::generate()?);
            Ok(())
        }
        CredentialsCommand::List { at } => list(&at),
        CredentialsCommand::Remove { at, id } => {
            let (mut f, _) = open(&at, false)?;
            let before = f.credentials.len();
            f.credentials.retain(|e| e.id != id);
            if f.credentials.len() == before {
                return Err(format!("{}: no credential {id:?}", at.file.display()));
            }
            file::write(&at.file, &f)?;
            eprintln!("removed {id}");
            Ok(())
        }
        CredentialsCommand::Rekey { at, new_kek } => rekey(&at, &new_kek),
        CredentialsCommand::Rotate {
            at,
            id,
            overlap,
            secret_stdin,
        } => rotate(&at, &id, &overlap, secret_stdin),
        CredentialsCommand::Add {
            at,
            id,
            algorithms,
            name,
            scopes,
            claims,
            ttl,
            public_key,
            secret_stdin,
        } => {
            let entry = Entry {
                id,
                name,
                algorithms,
                expires: ttl
                    .map(|t| crate::config::units::duration(&t).map(|d| unix_now() + d.as_secs()))
                    .transpose()?,
                scopes,
                claims: parse_claims(&claims)?,
                ..Entry::default()
            };
            add(&at, entry, public_key.as_deref(), secret_stdin)
        }
    }
}

/// Reads the file (a missing one is empty when `create`) and the KEK.
fn open(at: &FileArgs, create: bool) -> Result<(CredentialsFile, Kek), String> {
    let kek = Kek::load(&at.kek, Path::new("."))?;
    let f = if create && !at.file.exists() {
        CredentialsFile {
            version: file::FORMAT_VERSION,
            credentials: Vec::new(),
        }
    } else {
        file::read(&at.file)?
    };
    Ok((f, kek))
}

fn add(
    at: &FileArgs,
    mut entry: Entry,
    public_key: Option<&Path>,
    stdin: bool,
) -> Result<(), String> {
    let (mut f, kek) = open(at, true)?;
    if f.credentials.iter().any(|e| e.id == entry.id) {
        return Err(format!(
            "{}: credential {:?} exists; use `rotate` or `remove`",
            at.file.display(),
            entry.id
        ));
    }
    let algs = kind_of(&entry.algorithms)?;
    let printed = if algs[0].key_kind() == KeyKind::Hmac {
        let (secret, shown) = new_secret(algs[0], stdin)?;
        entry.secrets.push(SealedSecret {
            sealed: kek.seal(&entry.id, &secret)?,
            created: unix_now(),
            not_after: None,
        });
        shown
    } else {
        let path = public_key.ok_or("public-key algorithms need --public-key FILE (PEM)")?;
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        entry.public_key = Some(pem);
        None
    };
    f.credentials.push(entry);
    check_opens(&f, &kek, &at.file)?;
    file::write(&at.file, &f)?;
    if let Some(s) = printed {
        println!("{}", s.as_str());
    }
    Ok(())
}

fn rotate(at: &FileArgs, id: &str, overlap: &str, stdin: bool) -> Result<(), String> {
    let overlap = crate::config::units::duration(overlap)?;
    let (mut f, kek) = open(at, false)?;
    let entry = f
        .credentials
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| format!("{}: no credential {id:?}", at.file.display()))?;
    let algs = kind_of(&entry.algorithms)?;
    if algs[0].key_kind() != KeyKind::Hmac {
        return Err(
            "only HMAC credentials have secrets to rotate; replace a public key with remove + add"
                .into(),
        );
    }
    let now = unix_now();
    for s in entry.secrets.iter_mut() {
        let until = now + overlap.as_secs();
        s.not_after = Some(s.not_after.map_or(until, |t| t.min(until)));
    }
    entry
        .secrets
        .retain(|s| s.not_after.is_none_or(|t| t > now));
    let (secret, shown) = new_secret(algs[0], stdin)?;
    entry.secrets.push(SealedSecret {
        sealed: kek.seal(id, &secret)?,
        created: now,
        not_after: None,
    });
    check_opens(&f, &kek, &at.file)?;
    file::write(&at.file, &f)?;
    if let Some(s) = shown {
        println!("{}", s.as_str());
    }
    Ok(())
}

fn rekey(at: &FileArgs, new_kek: &str) -> Result<(), String> {
    let (mut f, old) = open(at, false)?;
    let new = Kek::load(new_kek, Path::new("."))?;
    for e in f.credentials.iter_mut() {
        for s in e.secrets.iter_mut() {
            s.sealed = old
                .rewrap(&e.id, &s.sealed, &new)
                .map_err(|err| format!("{}: credential {:?}: {err}", at.file.display(), e.id))?;
        }
    }
    check_opens(&f, &new, &at.file)?;
    file::write(&at.file, &f)?;
    eprintln!(
        "re-encrypted {} credential(s) under {}",
        f.credentials.len(),
        new.id()
    );
    Ok(())
}

fn list(at: &FileArgs) -> Result<(), String> {
    let (f, kek) = open(at, false)?;
    check_opens(&f, &kek, &at.file)?;
    let now = unix_now();
    for e in &f.credentials {
        let live = e
            .secrets
            .iter()
            .filter(|s| s.not_after.is_none_or(|t| t > now))
            .count();
        let key = if e.public_key.is_some() {
            "public key".to_string()
        } else {
            format!("{live} secret(s)")
        };
        println!(
            "{}\t{}\t{}\t{key}\texpires={}\tscopes={}",
            e.id,
            e.name.as_deref().unwrap_or("-"),
            e.algorithms.join(","),
            e.expires.map_or("never".to_string(), |t| t.to_string()),
            e.scopes.join(" ")
        );
    }
    Ok(())
}

/// Proves the file as written would load: every entry opens under `kek`.
fn check_opens(f: &CredentialsFile, kek: &Kek, path: &Path) -> Result<(), String> {
    let oauth = f
        .credentials
        .first()
        .and_then(|e| e.algorithms.first())
        .and_then(|a| Algorithm::parse(a))
        .is_some_and(|a| a.is_oauth());
    let tmp = tempfile_for(path);
    file::write(&tmp, f)?;
    let loaded = crate::authn::credentials::CredentialSet::load(&tmp, kek, oauth);
    let _ = std::fs::remove_file(&tmp);
    loaded
        .map(|_| ())
        .map_err(|e| e.replace(&tmp.display().to_string(), &path.display().to_string()))
}

fn tempfile_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.check.{}", std::process::id()))
}

fn kind_of(names: &[String]) -> Result<Vec<Algorithm>, String> {
    let oauth = names
        .first()
        .and_then(|n| Algorithm::parse(n))
        .is_some_and(|a| a.is_oauth());
    algorithms(names, oauth)
}

/// A new HMAC secret and what to print. RFC 9421: 32 random key bytes, shown
/// base64url. OAuth 1.0a: the consumer secret is text, so the base64url text
/// itself is the secret.
type NewSecret = (Zeroizing<Vec<u8>>, Option<Zeroizing<String>>);

fn new_secret(alg: Algorithm, stdin: bool) -> Result<NewSecret, String> {
    if stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        let text = line.trim();
        if text.is_empty() {
            return Err("no secret on stdin".into());
        }
        let bytes = if alg.is_oauth() {
            text.as_bytes().to_vec()
        } else {
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .or_else(|_| STANDARD.decode(text))
                .map_err(|_| "the RFC 9421 key on stdin must be base64".to_string())?
        };
        if bytes.len() < 16 {
            return Err("the secret is too short (at least 16 bytes)".into());
        }
        return Ok((Zeroizing::new(bytes), None));
    }
    let mut raw = Zeroizing::new(vec![0u8; 32]);
    aws_lc_rs::rand::fill(&mut raw[..]).map_err(|_| "no randomness available".to_string())?;
    let shown = Zeroizing::new(URL_SAFE_NO_PAD.encode(&raw[..]));
    let secret = if alg.is_oauth() {
        Zeroizing::new(shown.as_bytes().to_vec())
    } else {
        raw
    };
    Ok((secret, Some(shown)))
}

fn parse_claims(claims: &[String]) -> Result<toml::Table, String> {
    let mut t = toml::Table::new();
    for c in claims {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| format!("--claim {c:?}: expected NAME=VALUE"))?;
        t.insert(k.to_string(), toml::Value::String(v.to_string()));
    }
    Ok(t)
}
