//! STUN/TURN messages (RFC 5389, RFC 5766): encoding with MESSAGE-INTEGRITY and FINGERPRINT, decoding.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAGIC: u32 = 0x2112_A442;

pub const ALLOCATE: u16 = 0x0003;
pub const REFRESH: u16 = 0x0004;
pub const CREATE_PERMISSION: u16 = 0x0008;
/// Class bits of a message type (RFC 5389 §6): request 00, success 10, error 11.
pub const SUCCESS: u16 = 0x0100;
pub const ERROR: u16 = 0x0110;

pub const USERNAME: u16 = 0x0006;
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ERROR_CODE: u16 = 0x0009;
pub const LIFETIME: u16 = 0x000D;
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
pub const REALM: u16 = 0x0014;
pub const NONCE: u16 = 0x0015;
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const FINGERPRINT: u16 = 0x8028;

/// REQUESTED-TRANSPORT value for a UDP relay (RFC 5766 §14.7: protocol 17, then RFFU).
pub const UDP_RELAY: [u8; 4] = [17, 0, 0, 0];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub typ: u16,
    pub txid: [u8; 12],
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl Message {
    pub fn request(typ: u16, txid: [u8; 12]) -> Message {
        Message {
            typ,
            txid,
            attrs: Vec::new(),
        }
    }

    pub fn attr(mut self, typ: u16, value: impl Into<Vec<u8>>) -> Message {
        self.attrs.push((typ, value.into()));
        self
    }

    pub fn get(&self, typ: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(t, _)| *t == typ)
            .map(|(_, v)| v.as_slice())
    }

    /// Wire form; with `key`, MESSAGE-INTEGRITY (HMAC-SHA1, RFC 5389 §15.4) then FINGERPRINT (§15.5).
    pub fn encode(&self, key: Option<&[u8]>) -> Vec<u8> {
        let mut b = Vec::with_capacity(128);
        b.extend_from_slice(&self.typ.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.extend_from_slice(&self.txid);
        for (t, v) in &self.attrs {
            push_attr(&mut b, *t, v);
        }
        if let Some(key) = key {
            // The length field covers MESSAGE-INTEGRITY itself while hashing.
            let len = b.len() - 20 + 24;
            set_len(&mut b, len);
            let mac = hmac_sha1(key, &b);
            push_attr(&mut b, MESSAGE_INTEGRITY, &mac);
        }
        let len = b.len() - 20 + 8;
        set_len(&mut b, len);
        let crc = crc32(&b) ^ 0x5354_554E;
        push_attr(&mut b, FINGERPRINT, &crc.to_be_bytes());
        b
    }

    /// Parses a message; `Err` names what is wrong.
    pub fn decode(b: &[u8]) -> Result<Message, String> {
        if b.len() < 20 {
            return Err(format!("{} bytes is too short for STUN", b.len()));
        }
        let typ = u16::from_be_bytes([b[0], b[1]]);
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        if u32::from_be_bytes([b[4], b[5], b[6], b[7]]) != MAGIC {
            return Err("the reply is not STUN (no magic cookie)".into());
        }
        if b.len() < 20 + len {
            return Err("the reply is truncated".into());
        }
        let mut txid = [0u8; 12];
        txid.copy_from_slice(&b[8..20]);
        let mut attrs = Vec::new();
        let mut i = 20;
        while i + 4 <= 20 + len {
            let t = u16::from_be_bytes([b[i], b[i + 1]]);
            let l = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
            let v = b
                .get(i + 4..i + 4 + l)
                .ok_or("an attribute runs past the message")?;
            attrs.push((t, v.to_vec()));
            i += 4 + l.div_ceil(4) * 4;
        }
        Ok(Message { typ, txid, attrs })
    }

    /// `(code, reason)` of an error response.
    pub fn error(&self) -> Option<(u16, String)> {
        let v = self.get(ERROR_CODE)?;
        if v.len() < 4 {
            return None;
        }
        let code = (v[2] & 0x7) as u16 * 100 + v[3] as u16;
        Some((code, String::from_utf8_lossy(&v[4..]).into_owned()))
    }

    pub fn xor_address(&self, typ: u16) -> Option<SocketAddr> {
        decode_xor_address(self.get(typ)?, &self.txid)
    }
}

/// Checks the MESSAGE-INTEGRITY of a received message against `key` (RFC 5389 §15.4).
pub fn integrity_ok(raw: &[u8], key: &[u8]) -> bool {
    let mut i = 20;
    let total = raw
        .len()
        .min(20 + u16::from_be_bytes([raw[2], raw[3]]) as usize);
    while i + 4 <= total {
        let t = u16::from_be_bytes([raw[i], raw[i + 1]]);
        let l = u16::from_be_bytes([raw[i + 2], raw[i + 3]]) as usize;
        if t == MESSAGE_INTEGRITY && l == 20 && i + 24 <= total {
            let mut head = raw[..i].to_vec();
            set_len(&mut head, i - 20 + 24);
            return hmac_sha1(key, &head) == raw[i + 4..i + 24];
        }
        i += 4 + l.div_ceil(4) * 4;
    }
    false
}

fn push_attr(b: &mut Vec<u8>, t: u16, v: &[u8]) {
    b.extend_from_slice(&t.to_be_bytes());
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.extend_from_slice(v);
    b.resize(b.len() + (4 - v.len() % 4) % 4, 0);
}

fn set_len(b: &mut [u8], len: usize) {
    b[2..4].copy_from_slice(&(len as u16).to_be_bytes());
}

pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HMAC accepts keys of any length; this is never called.
fn unreachable_hmac() -> Hmac<Sha1> {
    <Hmac<Sha1> as Mac>::new_from_slice(&[0u8; 20])
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// CRC-32 (ISO-HDLC, as in FINGERPRINT); bitwise, messages are a few hundred bytes.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub fn encode_xor_address(addr: SocketAddr, txid: &[u8; 12]) -> Vec<u8> {
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    let mut v = vec![0u8];
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            v.extend_from_slice(&(u32::from(ip) ^ MAGIC).to_be_bytes());
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut mask = MAGIC.to_be_bytes().to_vec();
            mask.extend_from_slice(txid);
            v.extend(ip.octets().iter().zip(mask).map(|(a, m)| a ^ m));
        }
    }
    v
}

fn decode_xor_address(v: &[u8], txid: &[u8; 12]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]) ^ (MAGIC >> 16) as u16;
    match v.get(1)? {
        0x01 => {
            let raw = u32::from_be_bytes(v.get(4..8)?.try_into().ok()?);
            Some(SocketAddr::new(Ipv4Addr::from(raw ^ MAGIC).into(), port))
        }
        0x02 => {
            let mut mask = MAGIC.to_be_bytes().to_vec();
            mask.extend_from_slice(txid);
            let bytes: Vec<u8> = v.get(4..20)?.iter().zip(mask).map(|(a, m)| a ^ m).collect();
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(SocketAddr::new(Ipv6Addr::from(octets).into(), port))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// RFC 5769 §2.4 sample request with long-term credentials: our MESSAGE-INTEGRITY
    /// must match the published bytes (key = MD5("user:realm:password"), as coturn computes it).
    #[test]
    fn rfc5769_long_term_sample_matches() {
        let txid = [
            0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
        ];
        let key = super::super::credentials::key_bytes(&super::super::credentials::long_term_key(
            "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}",
            "example.org",
            &matrixha_module::Secret::new("TheMatrIX"),
        ));
        let m = Message::request(0x0001, txid)
            .attr(
                USERNAME,
                "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"
                    .as_bytes()
                    .to_vec(),
            )
            .attr(NONCE, b"f//499k954d6OL34oL9FSTvy64sA".to_vec())
            .attr(REALM, b"example.org".to_vec());
        let wire = m.encode(Some(&key));
        let mi = [
            0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85,
            0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
        ];
        assert_eq!(&wire[92..96], &[0x00, 0x08, 0x00, 0x14]);
        assert_eq!(&wire[96..116], &mi);
        let back = Message::decode(&wire).unwrap();
        assert_eq!(back.get(REALM), Some(&b"example.org"[..]));
        assert!(integrity_ok(&wire, &key));
        assert!(!integrity_ok(&wire, b"wrong"));
    }

    #[test]
    fn xor_addresses_round_trip() {
        let txid = [7u8; 12];
        for a in [
            "192.0.2.1:32853",
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ] {
            let addr: SocketAddr = a.parse().unwrap();
            assert_eq!(
                decode_xor_address(&encode_xor_address(addr, &txid), &txid),
                Some(addr)
            );
        }
    }

    #[test]
    fn error_code_is_read() {
        let m = Message::request(ALLOCATE | ERROR, [0; 12])
            .attr(ERROR_CODE, vec![0, 0, 4, 1, b'U', b'n']);
        let back = Message::decode(&m.encode(None)).unwrap();
        assert_eq!(back.error(), Some((401, "Un".into())));
    }
}
