//! The TURN probe: a real Allocate and CreatePermission with Synapse-style credentials, per target and transport.

pub mod channel;
pub mod credentials;
pub mod params;
pub mod stun;

use channel::Channel;
use matrixha_module::{ModuleError, Outcome};
use params::{ProbeParams, ProbeTarget, Transport};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stun::Message;

/// Whether one permission came out as expected.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PermissionCheck {
    pub peer: String,
    /// `allowed` or `denied`: what the task expects.
    pub expected: &'static str,
    /// `allowed`, `denied` (403) or the error.
    pub result: String,
    pub ok: bool,
}

/// The result for one target over one transport.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub host: String,
    pub transport: &'static str,
    pub uri: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    pub permissions: Vec<PermissionCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u16>,
    pub elapsed_ms: u64,
}

pub fn run(p: &ProbeParams) -> Result<Outcome, ModuleError> {
    p.validate()?;
    let tls = if p.transports.contains(&Transport::Tls) {
        Some(tls_config(p)?)
    } else {
        None
    };
    let mut checks = Vec::new();
    for target in &p.targets {
        for &t in &p.transports {
            checks.push(check(p, target, t, tls.as_ref()));
        }
    }
    let ok = checks.iter().all(|c| c.ok);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            let why = c.error.clone().unwrap_or_else(|| {
                c.permissions
                    .iter()
                    .filter(|p| !p.ok)
                    .map(|p| format!("peer {} expected {} got {}", p.peer, p.expected, p.result))
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            format!("{} over {}: {why}", c.host, c.transport)
        })
        .collect();
    if !ok && p.fail_on_error {
        return Err(ModuleError::new(format!("TURN probe failed: {}", failed.join(" | "))).with_fix("check that coturn runs on the target, the ports are open and static_auth_secret matches"));
    }
    let uris: Vec<String> = checks
        .iter()
        .filter(|c| c.ok)
        .map(|c| c.uri.clone())
        .collect();
    let mut out = Outcome::unchanged()
        .msg(if ok {
            format!("{} of {} TURN checks passed", checks.len(), checks.len())
        } else {
            format!("TURN probe failed: {}", failed.join(" | "))
        })
        .field("ok", ok)
        .field("probe", &checks)
        .field("turn_uris", uris);
    if !ok {
        out = out.warn("some TURN checks failed; see probe");
    }
    Ok(out)
}

fn uri(target: &ProbeTarget, t: Transport) -> String {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    match t {
        Transport::Udp => format!("turn:{host}:{}?transport=udp", target.port),
        Transport::Tcp => format!("turn:{host}:{}?transport=tcp", target.port),
        Transport::Tls => format!(
            "turns:{}:{}?transport=tcp",
            target
                .tls_name
                .as_deref()
                .map(str::to_owned)
                .unwrap_or(host),
            target.tls_port
        ),
    }
}

fn check(
    p: &ProbeParams,
    target: &ProbeTarget,
    t: Transport,
    tls: Option<&Arc<ClientConfig>>,
) -> Check {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(p.timeout as u64);
    let mut c = Check {
        host: target.host.clone(),
        transport: t.name(),
        uri: uri(target, t),
        ok: false,
        relayed_address: None,
        mapped_address: None,
        realm: None,
        permissions: Vec::new(),
        error: None,
        error_code: None,
        elapsed_ms: 0,
    };
    if let Err((code, e)) = allocate_and_permit(p, target, t, tls, deadline, &mut c) {
        c.error = Some(e);
        c.error_code = code;
    } else {
        c.ok = c.permissions.iter().all(|p| p.ok);
    }
    c.elapsed_ms = started.elapsed().as_millis() as u64;
    c
}

type Failure = (Option<u16>, String);

fn fail(e: impl Into<String>) -> Failure {
    (None, e.into())
}

fn txid() -> [u8; 12] {
    let mut id = [0u8; 12];
    // The id only has to be unpredictable enough to match replies; urandom, else the clock.
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut id))
        .is_err()
    {
        let n = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        id.copy_from_slice(&n.to_be_bytes()[4..16]);
    }
    id
}

fn allocate_and_permit(
    p: &ProbeParams,
    target: &ProbeTarget,
    t: Transport,
    tls: Option<&Arc<ClientConfig>>,
    deadline: Instant,
    c: &mut Check,
) -> Result<(), Failure> {
    let port = if t == Transport::Tls {
        target.tls_port
    } else {
        target.port
    };
    let addr = (target.host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve {}: {e}", target.host)))?
        .next()
        .ok_or_else(|| fail(format!("{} has no address", target.host)))?;
    let tls_arg = match (t, tls) {
        (Transport::Tls, Some(cfg)) => {
            let name = target
                .tls_name
                .clone()
                .unwrap_or_else(|| target.host.clone());
            let sn = ServerName::try_from(name)
                .map_err(|_| fail("tls_name (or host) is not a valid TLS server name"))?;
            Some((cfg, sn))
        }
        _ => None,
    };
    let mut ch = Channel::open(t, addr, tls_arg, deadline).map_err(fail)?;

    let username = match &p.username {
        Some(u) => u.clone(),
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            credentials::username(now + p.ttl as u64, &p.user)
        }
    };
    let password = credentials::ephemeral(&p.static_auth_secret, &username);

    // 1. Unauthenticated Allocate: the server answers 401 with its realm and a nonce (RFC 5766 §6.2).
    let id = txid();
    let req = Message::request(stun::ALLOCATE, id)
        .attr(stun::REQUESTED_TRANSPORT, stun::UDP_RELAY.to_vec());
    let (_, reply) = ch
        .exchange(&req.encode(None), &id, deadline)
        .map_err(fail)?;
    let (code, reason) = reply.error().ok_or_else(|| {
        fail("the server allocated without authentication; use-auth-secret is not in force")
    })?;
    if code != 401 {
        return Err((
            Some(code),
            format!("unauthenticated Allocate answered {code} {reason}, expected 401"),
        ));
    }
    let realm = String::from_utf8_lossy(
        reply
            .get(stun::REALM)
            .ok_or_else(|| fail("401 without REALM"))?,
    )
    .into_owned();
    let mut nonce = reply
        .get(stun::NONCE)
        .ok_or_else(|| fail("401 without NONCE"))?
        .to_vec();
    c.realm = Some(realm.clone());
    let key = credentials::long_term_key(&username, &realm, &password);
    let key = credentials::key_bytes(&key);

    // 2. Authenticated Allocate; a 438 (stale nonce) is retried once with the new nonce.
    let mut attempts = 0;
    let (raw, reply) = loop {
        let id = txid();
        let req = Message::request(stun::ALLOCATE, id)
            .attr(stun::REQUESTED_TRANSPORT, stun::UDP_RELAY.to_vec())
            .attr(stun::LIFETIME, 60u32.to_be_bytes().to_vec())
            .attr(stun::USERNAME, username.as_bytes().to_vec())
            .attr(stun::REALM, realm.as_bytes().to_vec())
            .attr(stun::NONCE, nonce.clone());
        let (raw, reply) = ch
            .exchange(&req.encode(Some(&key)), &id, deadline)
            .map_err(fail)?;
        match reply.error() {
            Some((438, _)) if attempts == 0 => {
                attempts += 1;
                nonce = reply.get(stun::NONCE).map(<[u8]>::to_vec).unwrap_or(nonce);
            }
            Some((401, reason)) => return Err((Some(401), format!("credentials rejected (401 {reason}): wrong static_auth_secret or an expired username"))),
            Some((code, reason)) => return Err((Some(code), format!("Allocate refused: {code} {reason}"))),
            None => break (raw, reply),
        }
    };
    if reply.typ != stun::ALLOCATE | stun::SUCCESS {
        return Err(fail(format!(
            "unexpected reply type {:#06x} to Allocate",
            reply.typ
        )));
    }
    if !stun::integrity_ok(&raw, &key) {
        return Err(fail("the Allocate success carries no valid MESSAGE-INTEGRITY: the server does not know the secret"));
    }
    let relayed = reply
        .xor_address(stun::XOR_RELAYED_ADDRESS)
        .ok_or_else(|| fail("Allocate success without XOR-RELAYED-ADDRESS"))?;
    let mapped = reply.xor_address(stun::XOR_MAPPED_ADDRESS);
    c.relayed_address = Some(relayed.to_string());
    c.mapped_address = mapped.map(|m| m.to_string());

    // 3. CreatePermission per peer; the peer need not exist (RFC 5766 §9: it only installs a filter).
    // Validated already; a peer that no longer parses is reported, not skipped.
    let host = |r: &String| {
        crate::peers::parse_range(r)
            .and_then(|nets| nets.first().map(crate::peers::representative))
            .ok_or_else(|| fail("a peer is not an address or subnet"))
    };
    let mut peers: Vec<(IpAddr, &'static str)> = p
        .peers
        .iter()
        .map(|r| host(r).map(|ip| (ip, "allowed")))
        .collect::<Result<_, _>>()?;
    if peers.is_empty() {
        if let Some(m) = mapped {
            peers.push((m.ip(), "allowed"));
        }
    }
    for r in &p.denied_peers {
        peers.push((host(r)?, "denied"));
    }
    for (peer, expected) in peers {
        let result = permission(&mut ch, peer, &username, &realm, &nonce, &key, deadline);
        let ok = result == expected;
        c.permissions.push(PermissionCheck {
            peer: peer.to_string(),
            expected,
            result,
            ok,
        });
    }

    // 4. Release the allocation (Refresh with LIFETIME 0, RFC 5766 §7) so probes do not eat the quota.
    let id = txid();
    let req = Message::request(stun::REFRESH, id)
        .attr(stun::LIFETIME, 0u32.to_be_bytes().to_vec())
        .attr(stun::USERNAME, username.as_bytes().to_vec())
        .attr(stun::REALM, realm.as_bytes().to_vec())
        .attr(stun::NONCE, nonce.clone());
    let _ = ch.exchange(&req.encode(Some(&key)), &id, deadline);
    Ok(())
}

fn permission(
    ch: &mut Channel,
    peer: IpAddr,
    username: &str,
    realm: &str,
    nonce: &[u8],
    key: &[u8],
    deadline: Instant,
) -> String {
    let id = txid();
    let req = Message::request(stun::CREATE_PERMISSION, id)
        .attr(
            stun::XOR_PEER_ADDRESS,
            stun::encode_xor_address(SocketAddr::new(peer, 9), &id),
        )
        .attr(stun::USERNAME, username.as_bytes().to_vec())
        .attr(stun::REALM, realm.as_bytes().to_vec())
        .attr(stun::NONCE, nonce.to_vec());
    match ch.exchange(&req.encode(Some(key)), &id, deadline) {
        Err(e) => format!("error: {e}"),
        Ok((_, reply)) => match reply.error() {
            None if reply.typ == stun::CREATE_PERMISSION | stun::SUCCESS => "allowed".into(),
            None => format!("error: unexpected reply type {:#06x}", reply.typ),
            // coturn answers 403 Forbidden for a peer outside its allowed ranges (RFC 5766 §9.2).
            Some((403, _)) => "denied".into(),
            Some((code, reason)) => format!("error: {code} {reason}"),
        },
    }
}

fn tls_config(p: &ProbeParams) -> Result<Arc<ClientConfig>, ModuleError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ModuleError::new(format!("TLS set-up failed: {e}")))?;
    let config = if !p.validate_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match &p.ca_file {
            Some(path) => {
                for cert in crate::certs::load_certs("ca_file", path)? {
                    roots.add(cert).map_err(|e| {
                        ModuleError::param(
                            "ca_file",
                            format!("{path}: {e}"),
                            "give the PEM certificate of the CA",
                        )
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(ModuleError::param(
                        "ca_file",
                        "no system CA certificates found",
                        "install ca-certificates or give ca_file",
                    ));
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `validate_certs: false`: for lab certificates only; the signature is still checked.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
