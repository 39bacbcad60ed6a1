//! `sealgate ohttp request`: a curl-like Oblivious HTTP client. Fetches the key
//! configuration, seals the request (the `ohttp` crate, X25519 configurations),
//! posts it to the gateway and prints the opened response.

use crate::envelope;
use bytes::Bytes;
use clap::Args;
use http::{header, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Key configurations: a URL (GET, application/ohttp-keys) or a file.
    #[arg(long)]
    keys: String,
    /// The gateway resource (default: https://<target authority>/.well-known/ohttp-gateway).
    #[arg(long)]
    gateway: Option<String>,
    /// The inner request's method (default: GET, or POST with --data).
    #[arg(short = 'X', long = "request")]
    method: Option<String>,
    /// An inner request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body; @FILE reads a file.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// PEM CA bundle to trust for the gateway (default: system roots).
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Print the response headers too.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Write the sealed request(s) to FILE, hex, one per line, instead of
    /// sending (for load generators such as bench/lua/ohttp.lua).
    #[arg(long, value_name = "FILE")]
    emit: Option<PathBuf>,
    /// With --emit: how many envelopes, each sealed afresh (1..=1000000).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    count: u32,
    /// The target URL inside the envelope.
    url: String,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(cacert: Option<&std::path::Path>) -> Result<HttpsClient, String> {
    let tls = crate::net::client_config(cacert)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

async fn send(
    c: &HttpsClient,
    req: Request<Full<Bytes>>,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), String> {
    let resp = tokio::time::timeout(Duration::from_secs(30), c.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| format!("request failed: {e}"))?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

pub async fn request(a: RequestArgs) -> Result<u8, String> {
    let target: Uri = a
        .url
        .parse()
        .map_err(|_| format!("invalid URL {:?}", a.url))?;
    let authority = target
        .authority()
        .ok_or("the URL needs a host")?
        .to_string();
    let gateway = a
        .gateway
        .clone()
        .unwrap_or_else(|| format!("https://{authority}/.well-known/ohttp-gateway"));
    let c = client(a.cacert.as_deref())?;
    let keys = key_configs(&c, &a.keys).await?;
    let encoded = inner_request(&a, &target, &authority)?;
    let pq = choose(&keys);
    let seal = || match &pq {
        Some(c) => envelope::client::encapsulate(c, &encoded).map(|(e, o)| (e, Opener::Pq(o))),
        None => ohttp::ClientRequest::from_encoded_config_list(&keys)
            .map_err(|e| format!("no usable key configuration: {e}"))?
            .encapsulate(&encoded)
            .map(|(e, o)| (e, Opener::Classic(o)))
            .map_err(|e| e.to_string()),
    };
    if let Some(path) = &a.emit {
        return emit(path, a.count, || seal().map(|(envelope, _)| envelope));
    }
    let (envelope, opener) = seal()?;
    let req = Request::post(&gateway)
        .header(header::CONTENT_TYPE, "message/ohttp-req")
        .body(Full::new(Bytes::from(envelope)))
        .map_err(|e| e.to_string())?;
    let (status, headers, sealed) = send(&c, req).await?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if status != http::StatusCode::OK || ct != "message/ohttp-res" {
        eprintln!(
            "gateway answered {status} in the clear: {}",
            String::from_utf8_lossy(&sealed)
        );
        return Ok(1);
    }
    let opened = match opener {
        Opener::Pq(o) => o.open(&sealed).map_err(|e| e.reason().to_string()),
        Opener::Classic(o) => o.decapsulate(&sealed).map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("cannot open the response: {e}"))?;
    print_response(&opened, a.include)
}

/// What opens the response: our sender's keys (post-quantum) or the `ohttp` crate's.
enum Opener {
    Pq(envelope::crypto::ResponseSealer),
    Classic(ohttp::ClientResponse),
}

/// A post-quantum configuration when the list has one (X-Wing first);
/// otherwise the `ohttp` crate seals to the list as it is.
fn choose(list: &[u8]) -> Option<envelope::client::KeyConfig> {
    use envelope::crypto::{KEM_MLKEM768, KEM_XWING};
    let configs = envelope::client::parse_list(list);
    [KEM_XWING, KEM_MLKEM768]
        .iter()
        .find_map(|k| configs.iter().find(|c| c.kem == *k))
        .cloned()
}

/// The gateway's key configurations, from a URL or a file.
async fn key_configs(c: &HttpsClient, keys: &str) -> Result<Vec<u8>, String> {
    if !(keys.starts_with("https://") || keys.starts_with("http://")) {
        return std::fs::read(keys).map_err(|e| format!("cannot read {keys}: {e}"));
    }
    let req = Request::get(keys)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let (status, _, body) = send(c, req).await?;
    if !status.is_success() {
        return Err(format!("fetching keys: HTTP {status}"));
    }
    Ok(body.to_vec())
}

/// The request to seal, as Binary HTTP (RFC 9292), with a `Date` for the
/// gateway's replay window.
fn inner_request(a: &RequestArgs, target: &Uri, authority: &str) -> Result<Vec<u8>, String> {
    let path = target.path_and_query().map_or("/", |p| p.as_str());
    let body = match &a.data {
        Some(d) if d.starts_with('@') => {
            std::fs::read(&d[1..]).map_err(|e| format!("cannot read {}: {e}", &d[1..]))?
        }
        Some(d) => d.clone().into_bytes(),
        None => Vec::new(),
    };
    let method = a
        .method
        .clone()
        .unwrap_or_else(|| if a.data.is_some() { "POST" } else { "GET" }.into());
    let mut msg = bhttp::Message::request(
        method.into_bytes(),
        b"https".to_vec(),
        authority.as_bytes().to_vec(),
        path.as_bytes().to_vec(),
    );
    msg.put_header(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| format!("invalid header {h:?}; write it as 'Name: value'"))?;
        msg.put_header(k.trim().to_ascii_lowercase(), v.trim());
    }
    msg.write_content(&body);
    let mut encoded = Vec::new();
    msg.write_bhttp(bhttp::Mode::KnownLength, &mut encoded)
        .map_err(|e| e.to_string())?;
    Ok(encoded)
}

/// Prints the opened response (curl-like: `-i` adds the status and headers).
fn print_response(opened: &[u8], include: bool) -> Result<u8, String> {
    let resp =
        bhttp::Message::read_bhttp(&mut std::io::Cursor::new(opened)).map_err(|e| e.to_string())?;
    let code = resp.control().status().map_or(0, |s| s.code());
    let mut out = std::io::stdout().lock();
    if include {
        let _ = writeln!(out, "HTTP {code}");
        for f in resp.header().iter() {
            let _ = writeln!(
                out,
                "{}: {}",
                String::from_utf8_lossy(f.name()),
                String::from_utf8_lossy(f.value())
            );
        }
        let _ = writeln!(out);
    }
    let _ = out.write_all(resp.content());
    Ok(if code < 400 { 0 } else { 22 })
}

/// Writes `count` freshly sealed envelopes to `path`, hex, one per line.
fn emit(
    path: &std::path::Path,
    count: u32,
    mut seal: impl FnMut() -> Result<Vec<u8>, String>,
) -> Result<u8, String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    for _ in 0..count {
        let line = hex::encode(seal()?);
        writeln!(out, "{line}").map_err(fail)?;
    }
    out.flush().map_err(fail)?;
    eprintln!("wrote {count} sealed request(s) to {}", path.display());
    Ok(0)
}
