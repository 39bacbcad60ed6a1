//! Server-provided DPoP nonces (RFC 9449 §8-9), stateless: a nonce is the
//! current period's number and an HMAC over it, so every replica holding the
//! same secret accepts every other's nonces without a store round trip. A
//! nonce is accepted during its period and the next, so it rotates every
//! `lifetime` and no client is caught by a rotation.

use aws_lc_rs::hmac;
use base64::Engine;
use std::time::Duration;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const MAC_LEN: usize = 16;

pub struct NonceSource {
    key: hmac::Key,
    /// Separates the nonces of different authenticators sharing one secret.
    scope: String,
    lifetime: u64,
    /// Tells sources apart (for `Challenge` equality), never secret.
    id: u64,
}

impl std::fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceSource({}, {}s)", self.scope, self.lifetime)
    }
}

impl PartialEq for NonceSource {
    fn eq(&self, other: &NonceSource) -> bool {
        self.id == other.id
    }
}
impl Eq for NonceSource {}

impl NonceSource {
    /// `secret`: shared by replicas; `None` draws a per-process one.
    pub fn new(
        secret: Option<&[u8]>,
        scope: &str,
        lifetime: Duration,
    ) -> Result<NonceSource, String> {
        let mut drawn = [0u8; 32];
        let secret = match secret {
            Some(s) => s,
            None => {
                aws_lc_rs::rand::fill(&mut drawn).map_err(|_| "no randomness available")?;
                &drawn
            }
        };
        let mut id = [0u8; 8];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| "no randomness available")?;
        Ok(NonceSource {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            scope: scope.to_string(),
            lifetime: lifetime.as_secs().max(1),
            id: u64::from_be_bytes(id),
        })
    }

    fn mac(&self, period: u64) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"sealgate dpop nonce\0");
        ctx.update(self.scope.as_bytes());
        ctx.update(b"\0");
        ctx.update(&period.to_be_bytes());
        ctx.sign()
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: u64) -> String {
        let period = now / self.lifetime;
        let mut raw = period.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(period).as_ref()[..MAC_LEN]);
        B64.encode(raw)
    }

    /// Whether `nonce` was handed out by this source in this period or the last.
    pub fn accepts(&self, nonce: &str, now: u64) -> bool {
        let Ok(raw) = B64.decode(nonce) else {
            return false;
        };
        if raw.len() != 8 + MAC_LEN {
            return false;
        }
        let (p, mac) = raw.split_at(8);
        let period = u64::from_be_bytes(p.try_into().unwrap_or([0; 8]));
        let current = now / self.lifetime;
        if period != current && period.saturating_add(1) != current {
            return false;
        }
        aws_lc_rs::constant_time::verify_slices_are_equal(
            &self.mac(period).as_ref()[..MAC_LEN],
            mac,
        )
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_rotate_and_are_bound_to_their_source() {
        let a = NonceSource::new(Some(b"shared"), "api", Duration::from_secs(60)).unwrap();
        let twin = NonceSource::new(Some(b"shared"), "api", Duration::from_secs(60)).unwrap();
        let other = NonceSource::new(Some(b"shared"), "web", Duration::from_secs(60)).unwrap();
        let n = a.current(1000);
        assert!(a.accepts(&n, 1000));
        assert!(
            twin.accepts(&n, 1019),
            "a replica with the secret accepts it"
        );
        assert!(a.accepts(&n, 1079), "still good in the next period");
        assert!(!a.accepts(&n, 1140), "two periods on: rotated out");
        assert!(!a.accepts(&n, 900), "not before it was made");
        assert!(!other.accepts(&n, 1000), "another authenticator's nonce");
        assert!(!a.accepts("AAAA", 1000));
        let mut forged = B64.decode(&n).unwrap();
        forged[10] ^= 1;
        assert!(!a.accepts(&B64.encode(forged), 1000));
    }
}
