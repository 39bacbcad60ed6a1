//! `sealgate users add|remove|list --file F`: the token endpoint's users file
//! (Argon2id hashes). The password is read from standard input (one line),
//! never from the command line, where `ps` and shell history would keep it.

use crate::issuer::users::{hash, UserEntry, UsersFile, MAX_PASSWORD, MAX_USERNAME};
use clap::Subcommand;
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user, or replace its password; reads the password from stdin.
    Add {
        /// The users file (created if missing, written 0600).
        #[arg(long)]
        file: PathBuf,
        /// The login name.
        username: String,
        /// The subject tokens carry (default: the username).
        #[arg(long)]
        subject: Option<String>,
        /// Space-separated scopes (the `scope` claim).
        #[arg(long)]
        scope: Option<String>,
        /// Extra claims, `name=value` (repeatable).
        #[arg(long = "claim", value_parser = claim)]
        claims: Vec<(String, String)>,
    },
    /// Remove a user.
    Remove {
        /// The users file.
        #[arg(long)]
        file: PathBuf,
        /// The login name to remove.
        username: String,
    },
    /// List usernames and subjects (never a hash).
    List {
        /// The users file.
        #[arg(long)]
        file: PathBuf,
    },
}

fn claim(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| "write claims as name=value".to_string())
}

fn fail(file: &Path, m: &str) -> u8 {
    eprintln!("error: {}: {m}", file.display());
    2
}

fn load_or_new(file: &Path) -> Result<UsersFile, String> {
    if file.exists() {
        UsersFile::load(file)
    } else {
        Ok(UsersFile::default())
    }
}

fn read_password() -> Result<zeroize::Zeroizing<String>, String> {
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
    if password.is_empty() || password.len() > MAX_PASSWORD {
        return Err(format!(
            "the password (stdin) must be 1 to {MAX_PASSWORD} bytes"
        ));
    }
    Ok(password)
}

pub fn run(cmd: UsersCommand) -> u8 {
    match cmd {
        UsersCommand::Add {
            file,
            username,
            subject,
            scope,
            claims,
        } => {
            if username.is_empty() || username.len() > MAX_USERNAME {
                return fail(&file, &format!("usernames are 1 to {MAX_USERNAME} bytes"));
            }
            let mut users = match load_or_new(&file) {
                Ok(u) => u,
                Err(e) => return fail(&file, &e),
            };
            let hashed = match read_password().and_then(|p| hash(&p)) {
                Ok(h) => h,
                Err(e) => return fail(&file, &e),
            };
            let mut map: Map<String, Value> = claims
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect();
            if let Some(s) = scope {
                map.insert("scope".into(), Value::from(s));
            }
            users.users.insert(
                username.clone(),
                UserEntry {
                    hash: hashed,
                    subject,
                    claims: map,
                },
            );
            match users.save(&file) {
                Ok(()) => {
                    eprintln!("{}: user {username:?} saved", file.display());
                    0
                }
                Err(e) => fail(&file, &e),
            }
        }
        UsersCommand::Remove { file, username } => {
            let mut users = match UsersFile::load(&file) {
                Ok(u) => u,
                Err(e) => return fail(&file, &e),
            };
            if users.users.remove(&username).is_none() {
                return fail(&file, &format!("no user {username:?}"));
            }
            match users.save(&file) {
                Ok(()) => 0,
                Err(e) => fail(&file, &e),
            }
        }
        UsersCommand::List { file } => match UsersFile::load(&file) {
            Ok(users) => {
                for (name, u) in &users.users {
                    println!("{name}\t{}", u.subject.as_deref().unwrap_or(name));
                }
                0
            }
            Err(e) => fail(&file, &e),
        },
    }
}
