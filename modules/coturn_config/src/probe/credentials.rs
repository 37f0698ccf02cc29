//! Ephemeral TURN credentials exactly as Synapse makes them, and the long-term key derived from them; both `Secret`s.

use base64::Engine;
use matrixha_module::Secret;
use md5::{Digest, Md5};
use std::fmt::Write;

/// Synapse (`synapse/rest/client/voip.py`): `username = "%d:%s" % (expiry, user_id)`,
/// `password = base64(HMAC-SHA1(turn_shared_secret, username))`; coturn's
/// `use-auth-secret` accepts it while `expiry` lies in the future (TURN REST API draft).
/// The password is a credential for `ttl` seconds, so it is a `Secret` (scrubbed too).
pub fn ephemeral(secret: &Secret, username: &str) -> Secret {
    let mac = super::stun::hmac_sha1(secret.expose().as_bytes(), username.as_bytes());
    Secret::new(base64::engine::general_purpose::STANDARD.encode(mac))
}

pub fn username(expiry_unix: u64, user: &str) -> String {
    format!("{expiry_unix}:{user}")
}

/// RFC 5389 §15.4 long-term credentials: key = MD5(username ":" realm ":" password).
/// Whoever holds it can sign requests as this user, so it is a `Secret`, held as hex.
pub fn long_term_key(username: &str, realm: &str, password: &Secret) -> Secret {
    let mut h = Md5::new();
    h.update(format!("{username}:{realm}:{}", password.expose()).as_bytes());
    let digest: [u8; 16] = h.finalize().into();
    let hex = digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Secret::new(hex)
}

/// The key's bytes for HMAC (MESSAGE-INTEGRITY); only ever handed to the STUN codec.
pub fn key_bytes(key: &Secret) -> Vec<u8> {
    let hex = key.expose().as_bytes();
    hex.chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python: base64.b64encode(hmac.new(b"north", b"1700000000:@alice:example.org", hashlib.sha1).digest())
    #[test]
    fn password_matches_synapse_formula() {
        let u = username(1_700_000_000, "@alice:example.org");
        assert_eq!(u, "1700000000:@alice:example.org");
        assert_eq!(ephemeral(&Secret::new("north"), &u).expose(), PY_VALUE);
    }
    const PY_VALUE: &str = "b7c/MWmorxmLryRFjaJYkUW5nOo=";

    #[test]
    fn derived_credentials_print_masked() {
        let pw = ephemeral(&Secret::new("north"), "1700000000:@alice:example.org");
        let key = long_term_key("u", "r", &pw);
        for shown in [
            format!("{pw:?} {key:?}"),
            serde_json::to_string(&(&pw, &key)).unwrap(),
        ] {
            assert!(
                !shown.contains(PY_VALUE) && !shown.contains(key.expose()),
                "{shown}"
            );
        }
    }

    /// `echo -n 'user:realm:pass' | md5sum` = 8493fbc53ba582fb4c044c456bdc40eb
    #[test]
    fn long_term_key_is_md5_of_user_realm_password() {
        let key = long_term_key("user", "realm", &Secret::new("pass"));
        assert_eq!(key.expose(), "8493fbc53ba582fb4c044c456bdc40eb");
        assert_eq!(key_bytes(&key)[..2], [0x84, 0x93]);
        assert_eq!(key_bytes(&key).len(), 16);
    }
}
