//! SCRAM-SHA-256 secrets and client proofs (RFC 5802, RFC 7677) and PostgreSQL's md5 secrets.
//!
//! PostgreSQL ≥ 14 stores SCRAM verifiers by default; an md5 line in PgBouncer's
//! auth file cannot answer the server's SCRAM challenge (DN-3). PgBouncer can
//! log in to the server with a stored `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`
//! secret (its docs, "auth_file"), so that is what this module writes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use matrixha_module::{ModuleError, Secret};
use md5::Md5;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// PostgreSQL's `scram_iterations` default and its salt length (src/include/common/scram-common.h).
pub const ITERATIONS: u32 = 4096;
pub const SALT_LEN: usize = 16;

/// The shortest password matrixha accepts for a PostgreSQL role or another
/// credential it creates (seeds 004 §2.10: at least 24 characters in production).
/// One rule for the CLI (`matrixha check`, `matrixha secrets`) and the modules.
pub const MIN_PASSWORD_LEN: usize = 24;

/// A parsed SCRAM verifier. Its keys are secret (StoredKey + ServerKey are what
/// PgBouncer logs in with), so they are private and `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Verifier(SCRAM-SHA-256, {} iterations, ***)",
            self.iterations
        )
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// The one PostgreSQL password rule, for every module and `matrixha check`: at
/// least [`MIN_PASSWORD_LEN`] characters (seed 004 §2.10) and printable ASCII
/// (see [`password_is_supported`]). The message names `param`, says what was
/// found and never quotes the password.
pub fn check_password(param: &str, password: &Secret) -> Result<(), ModuleError> {
    let n = password.expose().chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(ModuleError::param(
            param,
            format!("is shorter than {MIN_PASSWORD_LEN} characters ({n} given)"),
            "generate one with `matrixha secrets` (40 random characters) and keep it in Ansible Vault",
        ));
    }
    if !password_is_supported(password.expose()) {
        return Err(ModuleError::param(
            param,
            "holds characters outside printable ASCII, which PostgreSQL's SASLprep would change before hashing",
            "use letters, digits and ASCII punctuation (`matrixha secrets` does)",
        ));
    }
    Ok(())
}

/// SASLprep (RFC 4013) is the identity on printable ASCII; PostgreSQL applies it
/// before hashing. Non-ASCII passwords would need NFKC normalisation, which this
/// module does not implement, so it refuses them instead of writing a secret
/// the server would not accept.
pub fn password_is_supported(password: &str) -> bool {
    !password.is_empty() && password.bytes().all(|b| (0x20..0x7f).contains(&b))
}

impl Verifier {
    pub fn compute(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        let salted = salted_password(password, salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(secret: &str) -> Option<Verifier> {
        let rest = secret.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iterations, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Verifier {
            iterations: iterations.parse().ok().filter(|i| *i > 0)?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?.try_into().ok()?,
            server_key: B64.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// The verifier text as PostgreSQL and PgBouncer store it.
    pub fn render(&self) -> Secret {
        Secret::new(format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        ))
    }

    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// True when `password` produces this verifier with its own salt and iteration count.
    pub fn verifies(&self, password: &str) -> bool {
        let again = Verifier::compute(password, &self.salt, self.iterations);
        // Both keys: a verifier with a forged ServerKey would let the server be impersonated.
        constant_eq(&again.stored_key, &self.stored_key)
            && constant_eq(&again.server_key, &self.server_key)
    }
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// PostgreSQL's md5 secret: `"md5" + md5(password || username)`.
pub fn md5_secret(user: &str, password: &str) -> Secret {
    Secret::new(md5_text(user, password))
}

fn md5_text(user: &str, password: &str) -> String {
    let mut h = Md5::new();
    h.update(password.as_bytes());
    h.update(user.as_bytes());
    format!("md5{}", hex(&h.finalize()))
}

/// The md5 challenge response: `"md5" + md5(md5(password || user) || salt)`.
pub fn md5_response(user: &str, password: &str, salt: &[u8; 4]) -> Secret {
    let inner = md5_text(user, password);
    let mut h = Md5::new();
    h.update(&inner.as_bytes()[3..]);
    h.update(salt);
    Secret::new(format!("md5{}", hex(&h.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random bytes from the kernel (salts, nonces).
pub fn random_bytes(n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::getrandom(&mut buf).map_err(std::io::Error::other)?;
    Ok(buf)
}

/// A new verifier with a fresh random salt.
pub fn new_verifier(password: &str) -> std::io::Result<Verifier> {
    Ok(Verifier::compute(
        password,
        &random_bytes(SALT_LEN)?,
        ITERATIONS,
    ))
}

/// The client side of a SCRAM-SHA-256 exchange (no channel binding: `n,,`).
pub struct ClientExchange {
    nonce: String,
    client_first_bare: String,
    server_signature: Option<[u8; 32]>,
}

impl ClientExchange {
    pub fn new() -> std::io::Result<ClientExchange> {
        let nonce = B64.encode(random_bytes(18)?);
        // PostgreSQL ignores the SCRAM user name (it uses the startup packet's).
        let client_first_bare = format!("n=,r={nonce}");
        Ok(ClientExchange {
            nonce,
            client_first_bare,
            server_signature: None,
        })
    }

    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Answers the server-first message with the client-final message (it carries the proof).
    pub fn client_final(&mut self, password: &str, server_first: &str) -> Result<Secret, String> {
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v.to_owned()),
                Some(("s=", v)) => salt = B64.decode(v).ok(),
                Some(("i=", v)) => iterations = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err("the server's SCRAM challenge is malformed".into());
        };
        if !nonce.starts_with(&self.nonce) || iterations == 0 {
            return Err("the server's SCRAM challenge does not extend our nonce".into());
        }
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.server_signature = Some(hmac(&server_key, auth_message.as_bytes()));
        Ok(Secret::new(format!(
            "{without_proof},p={}",
            B64.encode(proof)
        )))
    }

    /// Checks the server-final message, so a server that does not know the verifier is refused.
    pub fn verify_server(&self, server_final: &str) -> Result<(), String> {
        let expected = self
            .server_signature
            .ok_or_else(|| "SCRAM final message before the challenge".to_owned())?;
        let got = server_final
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v.trim_end_matches('\0')).ok())
            .ok_or_else(|| format!("the server rejected the SCRAM proof ({server_final})"))?;
        if constant_eq(&got, &expected) {
            Ok(())
        } else {
            Err(
                "the server's SCRAM signature is wrong: it does not hold this user's verifier"
                    .into(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trips_and_verifies_only_its_password() {
        // That PostgreSQL accepts these verifiers is shown by the live tests
        // (a SCRAM login through PgBouncer to a SCRAM-only server).
        let salt = B64.decode("c2FsdHNhbHRzYWx0c2FsdA==").unwrap();
        let v = Verifier::compute("pencil", &salt, 4096);
        let rendered = v.render();
        let rendered = rendered.expose();
        assert!(rendered.starts_with("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"));
        assert_eq!(Verifier::parse(rendered), Some(v.clone()));
        assert!(v.verifies("pencil"));
        assert!(!v.verifies("pencil2"));
    }

    #[test]
    fn rfc7677_example_proof_and_signature() {
        // RFC 7677 §3: user "user", password "pencil".
        let mut ex = ClientExchange {
            nonce: "rOprNGfwEbeRWgbNEkqO".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            server_signature: None,
        };
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = ex.client_final("pencil", server_first).unwrap();
        assert_eq!(
            fin.expose(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        ex.verify_server("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(ex.verify_server("v=AAAA").is_err());
    }

    #[test]
    fn md5_secret_is_postgresqls() {
        // `echo -n secretpwbob | md5sum`, as PostgreSQL's md5 password_encryption computes it.
        assert_eq!(
            md5_secret("bob", "secretpw").expose(),
            "md54827d22203568d0d5b46bf27f000a914"
        );
    }

    #[test]
    fn derived_secrets_are_secrets_and_debug_hides_the_keys() {
        // Serialising any derived value gives the no_log mask, never the text.
        let v = new_verifier("pencil-pencil").unwrap();
        let text = v.render().expose().to_owned();
        let key = text.rsplit(':').next().unwrap().to_owned();
        assert_eq!(
            serde_json::to_string(&v.render()).unwrap(),
            "\"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER\""
        );
        assert_eq!(
            serde_json::to_string(&md5_secret("bob", "secretpw")).unwrap(),
            "\"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER\""
        );
        let dbg = format!("{v:?}");
        assert!(!dbg.contains(&key) && !dbg.contains(&text), "{dbg}");
        assert_eq!(
            format!("{:?}", md5_response("bob", "x", &[1, 2, 3, 4])),
            "Secret(***)"
        );
    }

    #[test]
    fn malformed_verifiers_do_not_parse() {
        for s in [
            "",
            "md5abc",
            "SCRAM-SHA-256$x:c2FsdA==$AA==:AA==",
            "SCRAM-SHA-256$4096:c2FsdA==$AA==:AA==",
            "SCRAM-SHA-256$4096:c2FsdA==",
        ] {
            assert_eq!(Verifier::parse(s), None, "{s}");
        }
    }

    #[test]
    fn non_ascii_passwords_are_refused() {
        assert!(password_is_supported("Tr0ub4dor&3 x"));
        assert!(!password_is_supported("pässword"));
        assert!(!password_is_supported(""));
        assert!(!password_is_supported("a\nb"));
    }
}
