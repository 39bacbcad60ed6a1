//! `sealgate keygen`: development and production keys written 0600, with
//! the configuration lines that use them.

/// `sealgate keygen ohttp`: writes the private key (hex, 0600), prints the configuration.
pub fn keygen_ohttp(out: &std::path::Path, name: Option<&str>, key_id: u8, kem: &str) -> u8 {
    use crate::envelope::crypto::{
        GatewayKey, AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305, KEM_MLKEM768,
        KEM_P256, KEM_X25519, KEM_XWING,
    };
    let kem_id = match kem {
        "p256" => KEM_P256,
        "x-wing" => KEM_XWING,
        "ml-kem-768" => KEM_MLKEM768,
        _ => KEM_X25519,
    };
    let path = out.join(format!(
        "{}.key",
        name.map_or(format!("ohttp-{key_id}"), str::to_string)
    ));
    let result = GatewayKey::generate_private(kem_id).and_then(|sk| {
        let aeads = vec![AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305];
        let key = GatewayKey::from_private(key_id, kem_id, &sk, aeads)?;
        crate::fsutil::write_new(&path, hex::encode(&sk).as_bytes(), 0o600)?;
        Ok(key)
    });
    match result {
        Ok(key) => {
            println!("wrote {}", path.display());
            println!("key configuration (hex): {}", hex::encode(key.config()));
            println!("\n[[envelope.keys]]\nid = {key_id}\nkem = \"{kem}\"\nprivate_key = \"file:{}\"\nstate = \"active\"", path.display());
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}

/// `sealgate keygen jwe`: a private key (PKCS#8 PEM, 0600) for ECDH-ES token
/// encryption; prints the public JWK to give identity providers.
pub fn keygen_jwe(out: &std::path::Path, name: Option<&str>, curve: &str) -> u8 {
    use crate::jose::jwe::keys::{self, Curve};
    let c = match curve {
        "p384" => Curve::P384,
        "x25519" => Curve::X25519,
        _ => Curve::P256,
    };
    let path = out.join(format!(
        "{}.key",
        name.map_or(format!("jwe-{curve}"), str::to_string)
    ));
    let result = keys::generate_pem(c).and_then(|pem| {
        let key = keys::parse(pem.as_bytes(), None)?.remove(0);
        crate::fsutil::write_new(&path, pem.as_bytes(), 0o600)?;
        Ok(key)
    });
    match result {
        Ok(key) => {
            println!("wrote {}", path.display());
            let jwk = key.public_jwk().unwrap_or_default();
            println!("public JWK (use: enc): {jwk}");
            println!("\n# on a jwt authenticator:\ndecryption_keys = [{{ kid = \"{}\", key = \"file:{}\" }}]", key.kid, path.display());
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}

/// `sealgate keygen`.
pub fn keygen(kind: &str, out: &std::path::Path, name: Option<&str>) -> u8 {
    let stem = name.unwrap_or(kind);
    let result = match kind {
        "hmac" => {
            let mut secret = [0u8; 64];
            aws_lc_rs::rand::fill(&mut secret)
                .map_err(|_| "no randomness available".to_string())
                .and_then(|_| {
                    crate::fsutil::write_new(&out.join(format!("{stem}.secret")), &secret, 0o600)
                })
                .map(|_| vec![out.join(format!("{stem}.secret"))])
        }
        _ => {
            let alg = if kind == "es256" {
                &rcgen::PKCS_ECDSA_P256_SHA256
            } else {
                &rcgen::PKCS_ED25519
            };
            crate::keygen::key_pair(alg).and_then(|pair| {
                let (private, public) = (
                    out.join(format!("{stem}.key")),
                    out.join(format!("{stem}.pub.pem")),
                );
                crate::fsutil::write_new(&private, pair.serialize_pem().as_bytes(), 0o600)?;
                crate::fsutil::write_new(&public, pair.public_key_pem().as_bytes(), 0o644)?;
                Ok(vec![private, public])
            })
        }
    };
    match result {
        Ok(files) => {
            for f in files {
                println!("wrote {}", f.display());
            }
            0
        }
        Err(e) => {
            eprintln!("sealgate keygen: {e}");
            1
        }
    }
}
