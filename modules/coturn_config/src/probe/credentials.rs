//! Ephemeral TURN credentials exactly as Synapse makes them, and the long-term key derived from them.

use base64::Engine;
use md5::{Digest, Md5};

/// Synapse (`synapse/rest/client/voip.py`): `username = "%d:%s" % (expiry, user_id)`,
/// `password = base64(HMAC-SHA1(turn_shared_secret, username))`; coturn's
/// `use-auth-secret` accepts it while `expiry` lies in the future (TURN REST API draft).
pub fn ephemeral(secret: &str, username: &str) -> String {
    let mac = super::stun::hmac_sha1(secret.as_bytes(), username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

pub fn username(expiry_unix: u64, user: &str) -> String {
    format!("{expiry_unix}:{user}")
}

/// RFC 5389 §15.4 long-term credentials: key = MD5(username ":" realm ":" password).
pub fn long_term_key(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(format!("{username}:{realm}:{password}").as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python: base64.b64encode(hmac.new(b"north", b"1700000000:@alice:example.org", hashlib.sha1).digest())
    #[test]
    fn password_matches_synapse_formula() {
        let u = username(1_700_000_000, "@alice:example.org");
        assert_eq!(u, "1700000000:@alice:example.org");
        assert_eq!(ephemeral("north", &u), PY_VALUE);
    }
    const PY_VALUE: &str = "b7c/MWmorxmLryRFjaJYkUW5nOo=";
}
