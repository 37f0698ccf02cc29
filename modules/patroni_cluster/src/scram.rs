//! SCRAM-SHA-256 verifiers as PostgreSQL stores them (RFC 5802/7677), computed client-side.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// PostgreSQL's default `scram_iterations`.
pub const ITERATIONS: u32 = 4096;

/// `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` for `password` (printable ASCII,
/// which SASLprep leaves unchanged).
pub fn verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let (stored, server) = keys(password, salt, iterations);
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored),
        B64.encode(server)
    )
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn keys(password: &str, salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>) {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let server_key = hmac(&salted, b"Server Key");
    (stored_key, server_key)
}

/// True when `stored` (a `pg_authid.rolpassword`) is a SCRAM verifier of `password`.
/// md5 hashes and clear text count as not matching, so they are replaced by SCRAM.
pub fn matches(stored: &str, password: &str) -> bool {
    let Some(rest) = stored.strip_prefix("SCRAM-SHA-256$") else {
        return false;
    };
    let Some((iter_salt, keys_part)) = rest.split_once('$') else {
        return false;
    };
    let Some((iter, salt)) = iter_salt.split_once(':') else {
        return false;
    };
    let (Ok(iter), Ok(salt)) = (iter.parse::<u32>(), B64.decode(salt)) else {
        return false;
    };
    if iter == 0 || iter > 10_000_000 {
        return false;
    }
    let Some((stored_b64, server_b64)) = keys_part.split_once(':') else {
        return false;
    };
    let (stored_key, server_key) = keys(password, &salt, iter);
    B64.encode(stored_key) == stored_b64 && B64.encode(server_key) == server_b64
}

/// 16 random bytes for a new salt (what PostgreSQL uses).
pub fn new_salt() -> std::io::Result<[u8; 16]> {
    use std::io::Read;
    let mut salt = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut salt)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3 example (password "pencil"); keys cross-checked with Python hashlib/hmac.
    #[test]
    fn rfc7677_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier("pencil", &salt, 4096);
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
        assert!(matches(&v, "pencil"));
        assert!(!matches(&v, "pencil2"));
    }

    #[test]
    fn md5_and_garbage_never_match() {
        assert!(!matches("md5c5d1b9f5f1fd3cbd1d43ed2c5a1d3a8a", "x"));
        assert!(!matches("SCRAM-SHA-256$x:y$z", "x"));
        assert!(!matches("", "x"));
    }

    #[test]
    fn salts_differ() {
        assert_ne!(new_salt().unwrap(), new_salt().unwrap());
    }
}
