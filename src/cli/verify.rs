//! `sealgate token verify`: why a credential is accepted or refused on a
//! route, step by step. It shows what the credential looks like (a JWS's
//! header and unverified claims, an API key's prefix and checksum, an opaque
//! token for introspection), then runs the route's real authenticators and
//! authorization, as the gateway would.

use crate::authn::api_key;
use crate::authn::extract::TokenSource;
use crate::authn::settings::AuthnSettings;
use crate::authn::{self, jwt, unix_now, Authenticator};
use crate::route::RouteEntry;
use crate::settings::Config;
use base64::Engine;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

fn fail(msg: &str) -> u8 {
    eprintln!("error: {msg}");
    2
}

fn when(t: Option<&Value>, now: u64) -> String {
    match t.and_then(Value::as_u64) {
        None => "-".into(),
        Some(t) if t >= now => format!("{t} (in {}s)", t - now),
        Some(t) => format!("{t} ({}s ago)", now - t),
    }
}

pub fn verify(config: &Path, route: &str, token: &str) -> u8 {
    let cfg = match crate::settings::load(config) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let Some(r) = cfg.routes.iter().find(|r| r.name == route) else {
        return fail(&format!("no route named {route:?} in {}", config.display()));
    };
    println!(
        "route: {} -> upstream {} (auth: {:?})",
        r.name, r.upstream, r.auth
    );
    explain_shape(&cfg, token, unix_now());
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e.to_string()),
    };
    rt.block_on(check(cfg, route, token))
}

/// What the credential looks like, before anything is verified.
fn explain_shape(cfg: &Config, token: &str, now: u64) {
    let api_key = cfg.authenticators.values().find_map(|a| match &a.settings {
        AuthnSettings::ApiKey(k) if token.starts_with(&k.prefix) => {
            Some((a.name.as_str(), k.prefix.as_str()))
        }
        _ => None,
    });
    if let Some((name, prefix)) = api_key {
        let (id, _) = api_key::fingerprint(token);
        match api_key::check_shape(prefix, token) {
            Ok(()) => println!(
                "shape: API key for authenticator {name} (prefix {prefix}, checksum ok, id {id})"
            ),
            Err(f) => println!(
                "shape: FAILED: API key for authenticator {name}: {} ({})",
                f.reason(),
                f.description()
            ),
        }
        return;
    }
    if crate::jose::jwe::jwe_shaped(token) {
        let h64 = token.split('.').next().unwrap_or_default();
        match crate::jose::jwe::header(h64) {
            Ok(h) => {
                let get = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
                let crv = h.get("epk").and_then(|e| e.get("crv")).cloned();
                println!(
                    "shape: JWE (encrypted): alg={} enc={} kid={} cty={} epk.crv={}",
                    get("alg"),
                    get("enc"),
                    get("kid"),
                    get("cty"),
                    crv.unwrap_or(Value::Null)
                );
            }
            Err(f) => println!("shape: FAILED: JWE header refused: {}", f.reason()),
        }
        return;
    }
    let Ok((h, p, _)) = jwt::split(token) else {
        println!(
            "shape: not a JWS compact token: an opaque token (only introspection can check it)"
        );
        return;
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice(&b64.decode(part).ok()?).ok()
    };
    match decode(h) {
        Some(h) => {
            let get = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
            println!(
                "header: alg={} kid={} typ={}",
                get("alg"),
                get("kid"),
                get("typ")
            )
        }
        None => println!("header: FAILED: not base64url JSON"),
    }
    match decode(p) {
        Some(c) => {
            let get = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
            println!(
                "claims (unverified): iss={} aud={} sub={} exp={} nbf={} iat={}",
                get("iss"),
                get("aud"),
                get("sub"),
                when(c.get("exp"), now),
                when(c.get("nbf"), now),
                when(c.get("iat"), now)
            )
        }
        None => println!("claims: FAILED: not base64url JSON"),
    }
}

/// Runs the route's authenticators and authorization as the gateway would.
async fn check(cfg: Config, route: &str, token: &str) -> u8 {
    let metrics = match crate::metrics::Metrics::new() {
        Ok(m) => m,
        Err(e) => return fail(&e.to_string()),
    };
    let registry = authn::jwt::KeyRegistry::default();
    let stores = crate::store::StoreRegistry::default();
    let gw = match crate::gateway::Gateway::build(cfg, &registry, &stores, &metrics) {
        Ok(g) => g,
        Err(e) => return fail(&e),
    };
    // Remote keys and stores: give them a moment, as the gateway would before readiness.
    for _ in 0..100 {
        if gw.not_ready().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for missing in gw.not_ready() {
        println!("keys: FAILED: {missing}");
    }
    let Some(entry) = gw.routes.iter().find(|e| e.config.name == route) else {
        return fail("route vanished");
    };
    if entry.authn.is_empty() {
        println!("result: ACCEPTED (anonymous route: no token is checked)");
        return 0;
    }
    if crate::jose::jwe::jwe_shaped(token) {
        explain_decryption(&entry.authn, token);
    }
    let headers = presented(&entry.authn, token);
    let (method, target) = (http::Method::GET, http::Uri::from_static("/"));
    let at = authn::Attempt::new(&method, &target, "localhost", &headers, unix_now());
    report(
        authn::authenticate(&entry.authn, &at)
            .await
            .map(|v| v.principal),
        entry,
    )
}

fn report(result: Result<authn::Principal, authn::AuthError>, entry: &RouteEntry) -> u8 {
    let p = match result {
        Ok(p) => p,
        Err(authn::AuthError::Unavailable(d)) => {
            println!(
                "verification: FAILED: {} (a dependency of the authenticator is down)",
                d.reason()
            );
            println!("result: REJECTED with 503");
            return 1;
        }
        Err(authn::AuthError::Rejected(f)) => {
            println!("verification: FAILED: {} ({})", f.reason(), f.description());
            println!("result: REJECTED with 401");
            return 1;
        }
    };
    println!(
        "verification: ok (authenticator {}, kind {}, subject {:?}, expires {})",
        p.authenticator(),
        p.kind(),
        p.subject(),
        p.expires_at()
            .map_or("never".to_string(), |e| e.to_string())
    );
    match crate::authz::authorize(&entry.config, &p) {
        Ok(()) => {
            let rc = &entry.config;
            println!(
                "authorization: ok (scopes {:?}, claim rules {})",
                rc.require_scopes,
                rc.require_claims.len()
            );
            println!("result: ACCEPTED");
            0
        }
        Err(f) => {
            println!(
                "authorization: FAILED: {} ({})",
                f.reason(),
                f.description()
            );
            println!("result: REJECTED with 403");
            1
        }
    }
}

/// Which key opens a JWE and with which algorithms, then the inner token's
/// header. Claims are printed only once verification succeeds.
fn explain_decryption(authenticators: &[Arc<Authenticator>], token: &str) {
    for a in authenticators {
        let Some(d) = a.decryptor() else {
            continue;
        };
        match d.decrypt(token, 1 << 20) {
            Ok(o) => {
                let kind = if o.nested {
                    "nested JWS"
                } else {
                    "claims, unsigned"
                };
                println!(
                    "decryption: ok (authenticator {}, key {}, {} + {}, {kind})",
                    a.name(),
                    o.kid,
                    o.alg.name(),
                    o.enc.name()
                );
                let inner = std::str::from_utf8(&o.plaintext).ok();
                let header = inner
                    .and_then(|t| jwt::split(t).ok())
                    .and_then(|(h, _, _)| jwt::verify::decode_part(h).ok());
                if let Some(h) = header.filter(|_| o.nested) {
                    let get = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
                    println!(
                        "inner header: alg={} kid={} typ={}",
                        get("alg"),
                        get("kid"),
                        get("typ")
                    );
                }
            }
            Err(f) => println!(
                "decryption: FAILED (authenticator {}): {}",
                a.name(),
                f.reason()
            ),
        }
    }
}

/// The request headers carrying `token` where each of the route's authenticators looks for it.
fn presented(authenticators: &[Arc<Authenticator>], token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for a in authenticators {
        let Some(source) = a.token_source() else {
            continue;
        };
        let placed = match source {
            TokenSource::Bearer => format!("Bearer {token}")
                .parse()
                .map(|v| (http::header::AUTHORIZATION, v)),
            TokenSource::Header(name) => token.parse().map(|v| (name.clone(), v)),
            TokenSource::Cookie(name) => format!("{name}={token}")
                .parse()
                .map(|v| (http::header::COOKIE, v)),
        };
        if let Ok((name, value)) = placed {
            headers.insert(name, value);
        }
    }
    headers
}
