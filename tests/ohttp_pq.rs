//! Post-quantum Oblivious HTTP keys (X-Wing, ML-KEM-768) end to end, with
//! an independent client: the @hpke/* npm packages seal each request to the
//! gateway's published configuration and open its sealed answer
//! (`tests/fixtures/ohttp_pq/client.mjs`); Binary HTTP by the `bhttp` crate.
//! Also: a retiring key still opens, an unknown key id is refused, and the
//! CLI's own sender reaches a post-quantum gateway.

mod common;

use common::sealed::{keys_of, post};
use common::{file, n, s, start_gateway, Config, Pki, Route, Upstream};
use sealgate::envelope::crypto::{GatewayKey, KEM_MLKEM768, KEM_XWING};
use serde_json::Value;

const CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/ohttp_pq/client.mjs"
);

fn node(args: &[&str]) -> Value {
    let out = std::process::Command::new("node")
        .arg(CLIENT)
        .args(args)
        .output()
        .expect("node (Node.js 18+; scripts/test.sh installs the client's packages)");
    assert!(
        out.status.success(),
        "client.mjs {:?}: {}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn key_file(pki: &Pki, id: u8, kem: u16) -> (std::path::PathBuf, GatewayKey) {
    let sk = GatewayKey::generate_private(kem).unwrap();
    let path = pki.path(&format!("ohttp-{id}.key"));
    std::fs::write(&path, hex::encode(&sk)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (
        path,
        GatewayKey::from_private(id, kem, &sk, vec![1, 2, 3]).unwrap(),
    )
}

fn request(path: &str) -> Vec<u8> {
    let mut m = bhttp::Message::request(
        b"POST".to_vec(),
        b"https".to_vec(),
        b"localhost".to_vec(),
        path.into(),
    );
    m.put_header(
        "date",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    m.write_content(b"sealed body");
    let mut out = Vec::new();
    m.write_bhttp(bhttp::Mode::KnownLength, &mut out).unwrap();
    out
}

/// Seals with node, posts, and opens the answer with node: (status, body) of the inner response.
async fn exchange(
    c: &reqwest::Client,
    base: &str,
    list: &[u8],
    id: u8,
    aead: u16,
    path: &str,
) -> Result<(u16, Vec<u8>), (u16, String)> {
    let sealed = node(&[
        "seal",
        &hex::encode(list),
        &id.to_string(),
        &aead.to_string(),
        &hex::encode(request(path)),
    ]);
    let envelope = hex::decode(sealed["envelope"].as_str().unwrap()).unwrap();
    let resp = post(c, base, envelope).await;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    if status != 200 {
        return Err((status, String::from_utf8_lossy(&body).into_owned()));
    }
    let opened = node(&[
        "open",
        &aead.to_string(),
        sealed["secret"].as_str().unwrap(),
        sealed["enc"].as_str().unwrap(),
        &hex::encode(&body),
    ]);
    let inner = hex::decode(opened["response"].as_str().unwrap()).unwrap();
    let msg = bhttp::Message::read_bhttp(&mut std::io::Cursor::new(&inner[..])).unwrap();
    Ok((
        msg.control().status().unwrap().code(),
        msg.content().to_vec(),
    ))
}

#[tokio::test]
async fn xwing_and_mlkem_envelopes_from_an_independent_client() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (xwing, _) = key_file(&pki, 5, KEM_XWING);
    let (mlkem, _) = key_file(&pki, 6, KEM_MLKEM768);
    let (old, old_key) = key_file(&pki, 7, KEM_XWING);
    let mut cfg = Config::new(&pki).upstream("app", &up.url()).route(
        Route::new("sealed", "/sealed", "app")
            .anonymous()
            .extra(&[("sealed", s("required"))]),
    );
    for (id, kem, path, state) in [
        (5, "x-wing", &xwing, "active"),
        (6, "ml-kem-768", &mlkem, "active"),
        (7, "x-wing", &old, "retiring"),
    ] {
        cfg = cfg.array_table(
            "envelope.keys",
            &[
                ("id", n(id)),
                ("kem", s(kem)),
                ("private_key", file(path)),
                ("state", s(state)),
            ],
        );
    }
    let (gw, _d) = start_gateway(&cfg).await;
    let c = pki.client(gw.main_addr, false);
    let base = format!("https://localhost:{}", gw.main_addr.port());
    let list = keys_of(&c, &base).await;
    let published = sealgate::envelope::client::parse_list(&list);
    assert_eq!(
        published.iter().map(|k| (k.id, k.kem)).collect::<Vec<_>>(),
        vec![(5, KEM_XWING), (6, KEM_MLKEM768)],
        "retiring keys are not published"
    );
    let mut served = 0;
    for id in [5u8, 6] {
        for aead in [1u16, 2, 3] {
            let (status, _) = exchange(&c, &base, &list, id, aead, "/sealed/x")
                .await
                .unwrap();
            assert_eq!(status, 201, "key {id} aead {aead}");
            served += 1;
            let seen = up.last();
            assert_eq!(seen.body, b"sealed body");
            assert_eq!(seen.uri, "/sealed/x");
        }
    }
    assert_eq!(up.requests().len(), served);
    // A retiring key (no longer published) still opens what clients sealed to it.
    let mut old_list = (old_key.config().len() as u16).to_be_bytes().to_vec();
    old_list.extend_from_slice(&old_key.config());
    assert_eq!(
        exchange(&c, &base, &old_list, 7, 1, "/sealed/y")
            .await
            .unwrap()
            .0,
        201
    );
    // A key id the gateway does not have: refused in the clear with the RFC 9458 key problem.
    let (_, stranger) = key_file(&pki, 9, KEM_XWING);
    let mut strange = (stranger.config().len() as u16).to_be_bytes().to_vec();
    strange.extend_from_slice(&stranger.config());
    let (status, body) = exchange(&c, &base, &strange, 9, 1, "/sealed/z")
        .await
        .unwrap_err();
    assert_eq!(status, 400);
    assert!(body.contains("ohttp-key"), "{body}");
    assert_eq!(up.requests().len(), served + 1);
    gw.shutdown().await;
}

/// `sealgate keygen ohttp --kem x-wing` makes a key the gateway loads, and
/// `sealgate ohttp request` seals to it (its own post-quantum sender).
#[tokio::test]
async fn keygen_and_the_cli_sender_for_xwing() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
        .args([
            "keygen", "ohttp", "--kem", "x-wing", "--key-id", "4", "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("kem = \"x-wing\""), "{text}");
    let cfg = Config::new(&pki)
        .upstream("app", &up.url())
        .route(
            Route::new("sealed", "/sealed", "app")
                .anonymous()
                .extra(&[("sealed", s("required"))]),
        )
        .array_table(
            "envelope.keys",
            &[
                ("id", n(4)),
                ("kem", s("x-wing")),
                ("private_key", file(dir.path().join("ohttp-4.key"))),
                ("state", s("active")),
            ],
        );
    let (gw, _d) = start_gateway(&cfg).await;
    let base = format!("https://localhost:{}", gw.main_addr.port());
    // On a blocking thread: this test's runtime serves the gateway meanwhile.
    let (keys, ca) = (
        format!("{base}/.well-known/ohttp-gateway"),
        pki.path("ca.pem"),
    );
    let url = format!("{base}/sealed/cli");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sealgate"))
            .args(["ohttp", "request", "--keys", &keys, "--cacert"])
            .arg(ca)
            .args(["-i", "-d", "hello", &url])
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP 201"), "{text}");
    assert_eq!(up.last().body, b"hello");
    gw.shutdown().await;
}
