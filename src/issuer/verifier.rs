//! Checking a username and password: by the accounts service (an upstream
//! answering `POST {"username","password"}` with 200 `{"sub", "claims"}`, or
//! a 4xx for wrong credentials), or by the users file. The password goes
//! nowhere else: not to logs, not to the store, not to any other upstream.

use super::users::{UserEntry, UsersFile};
use crate::body::BoxError;
use crate::metrics::Metrics;
use crate::upstream::Upstream;
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Largest verifier answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// Claims the verifier may not set: the gateway's own.
const RESERVED: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "cnf",
    "client_id",
];

/// What a check concluded.
#[derive(Debug)]
pub enum Checked {
    Valid {
        sub: String,
        claims: Map<String, Value>,
    },
    Invalid,
    /// The verifier could not answer (down, slow, garbage): the client may retry.
    Unavailable,
}

pub enum Checker {
    Upstream {
        upstream: Arc<Upstream>,
        path: String,
    },
    Users {
        users: Arc<UsersFile>,
        /// A hash of a random password, checked for unknown usernames.
        dummy: Arc<str>,
        /// Argon2 runs at most this many at once (19 MiB each).
        permits: Arc<tokio::sync::Semaphore>,
    },
}

impl Checker {
    pub fn users(file: UsersFile) -> Result<Checker, String> {
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| "no randomness available")?;
        let dummy = super::users::hash(&hex::encode(random))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Checker::Users {
            users: Arc::new(file),
            dummy: Arc::from(dummy),
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
        })
    }

    pub async fn check(&self, username: &str, password: &str, metrics: &Metrics) -> Checked {
        match self {
            Checker::Upstream { upstream, path } => {
                ask(upstream, path, username, password, metrics).await
            }
            Checker::Users {
                users,
                dummy,
                permits,
            } => {
                let Ok(_permit) = permits.acquire().await else {
                    return Checked::Unavailable;
                };
                let entry: Option<UserEntry> = users.users.get(username).cloned();
                let (password, dummy) =
                    (zeroize::Zeroizing::new(password.to_string()), dummy.clone());
                let e = entry.clone();
                let ok = tokio::task::spawn_blocking(move || {
                    super::users::verify(e.as_ref(), &password, &dummy)
                })
                .await
                .unwrap_or(false);
                match (ok, entry) {
                    (true, Some(e)) => Checked::Valid {
                        sub: e.subject.clone().unwrap_or_else(|| username.to_string()),
                        claims: allowed(e.claims),
                    },
                    _ => Checked::Invalid,
                }
            }
        }
    }
}

async fn ask(
    upstream: &Upstream,
    path: &str,
    username: &str,
    password: &str,
    metrics: &Metrics,
) -> Checked {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json")
        .body(
            Full::new(Bytes::from(body))
                .map_err(|e: std::convert::Infallible| -> BoxError { match e {} })
                .boxed(),
        );
    let Ok(req) = req else {
        return Checked::Unavailable;
    };
    let Ok(resp) = upstream.forward(req, metrics).await else {
        return Checked::Unavailable;
    };
    match resp.status() {
        StatusCode::OK => {}
        // Any refusal of the credentials (401, 403, 404 "no such user", ...)
        // is the same wrong login: counted, and indistinguishable to the client.
        StatusCode::TOO_MANY_REQUESTS => return Checked::Unavailable,
        s if s.is_client_error() => return Checked::Invalid,
        _ => return Checked::Unavailable,
    }
    match crate::body::read_to_limit(resp.into_body(), MAX_ANSWER as u64).await {
        Ok(bytes) => answer(&bytes),
        Err(_) => Checked::Unavailable,
    }
}

/// A 200 answer: `sub` (1-256 characters) and optional `claims` (an object).
fn answer(body: &[u8]) -> Checked {
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(body) else {
        return Checked::Unavailable;
    };
    let sub = match doc.remove("sub") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => s,
        _ => return Checked::Unavailable,
    };
    let claims = match doc.remove("claims") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => allowed(c),
        Some(_) => return Checked::Unavailable,
    };
    Checked::Valid { sub, claims }
}

/// The claims a verifier may add: all but the registered ones the gateway sets.
fn allowed(mut claims: Map<String, Value>) -> Map<String, Value> {
    claims.retain(|k, _| !RESERVED.contains(&k.as_str()));
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        match answer(br#"{"sub":"u-1","claims":{"scope":"read","iss":"evil","email":"a@b"}}"#) {
            Checked::Valid { sub, claims } => {
                assert_eq!(sub, "u-1");
                assert_eq!(claims.get("scope"), Some(&Value::from("read")));
                assert!(
                    !claims.contains_key("iss"),
                    "registered claims are the gateway's"
                );
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"[]"[..],
            b"{}",
            br#"{"sub":""}"#,
            br#"{"sub":"a","claims":[1]}"#,
            b"garbage",
        ] {
            assert!(
                matches!(answer(bad), Checked::Unavailable),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
