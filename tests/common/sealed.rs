//! Oblivious HTTP (RFC 9458) from the client's side, with the independent
//! `ohttp` and `bhttp` crates: a gateway key file, the published key
//! configurations, and a sealed request whose sealed answer is opened.

use super::Pki;
use sealgate::envelope::crypto::{GatewayKey, KEM_X25519};

/// An opened answer.
pub struct Inner {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn key_file(pki: &Pki, id: u8) -> std::path::PathBuf {
    let path = pki.path(&format!("ohttp-{id}.key"));
    std::fs::write(
        &path,
        hex::encode(GatewayKey::generate_private(KEM_X25519).unwrap()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Encodes `msg` as Binary HTTP and seals it to the first usable key in `keys`.
pub fn encapsulate(keys: &[u8], msg: bhttp::Message) -> (Vec<u8>, ohttp::ClientResponse) {
    let mut encoded = Vec::new();
    msg.write_bhttp(bhttp::Mode::KnownLength, &mut encoded)
        .unwrap();
    ohttp::ClientRequest::from_encoded_config_list(keys)
        .unwrap()
        .encapsulate(&encoded)
        .unwrap()
}

/// Seals `inner` with the key configuration list `keys`, posts it, opens the answer.
pub async fn sealed(
    client: &reqwest::Client,
    base: &str,
    keys: &[u8],
    inner: bhttp::Message,
) -> Result<Inner, (u16, String)> {
    let (envelope, opener) = encapsulate(keys, inner);
    let resp = post(client, base, envelope).await;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.bytes().await.unwrap();
    if status != 200 {
        return Err((status, String::from_utf8_lossy(&bytes).into_owned()));
    }
    assert_eq!(ct, "message/ohttp-res");
    let opened = opener.decapsulate(&bytes).unwrap();
    let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&opened[..])).unwrap();
    Ok(Inner {
        status: msg.control().status().unwrap().code(),
        headers: msg
            .header()
            .iter()
            .map(|f| {
                (
                    String::from_utf8_lossy(f.name()).into_owned(),
                    String::from_utf8_lossy(f.value()).into_owned(),
                )
            })
            .collect(),
        body: msg.content().to_vec(),
    })
}

pub async fn post(client: &reqwest::Client, base: &str, envelope: Vec<u8>) -> reqwest::Response {
    client
        .post(format!("{base}/.well-known/ohttp-gateway"))
        .header("content-type", "message/ohttp-req")
        .body(envelope)
        .send()
        .await
        .unwrap()
}

pub async fn keys_of(client: &reqwest::Client, base: &str) -> Vec<u8> {
    let resp = client
        .get(format!("{base}/.well-known/ohttp-gateway"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/ohttp-keys");
    assert_eq!(resp.headers()["cache-control"], "max-age=3600");
    resp.bytes().await.unwrap().to_vec()
}
