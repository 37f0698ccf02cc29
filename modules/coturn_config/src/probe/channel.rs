//! One request/response exchange with a TURN server over UDP (with retransmission), TCP or TLS.

use super::params::Transport;
use super::stun::Message;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub enum Channel {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

fn left(deadline: Instant) -> Result<Duration, String> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "timed out".to_owned())
}

impl Channel {
    pub fn open(
        transport: Transport,
        addr: SocketAddr,
        tls: Option<(&Arc<ClientConfig>, ServerName<'static>)>,
        deadline: Instant,
    ) -> Result<Channel, String> {
        match transport {
            Transport::Udp => {
                let bind: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                }
                .parse()
                .map_err(|_| "bad bind address")?;
                let s =
                    UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
                s.connect(addr)
                    .map_err(|e| format!("cannot reach {addr}/udp: {e}"))?;
                Ok(Channel::Udp(s))
            }
            Transport::Tcp | Transport::Tls => {
                let s = TcpStream::connect_timeout(&addr, left(deadline)?)
                    .map_err(|e| format!("cannot connect to {addr}/tcp: {e}"))?;
                let _ = s.set_nodelay(true);
                if transport == Transport::Tcp {
                    return Ok(Channel::Tcp(s));
                }
                let (config, name) = tls.ok_or("no TLS configuration")?;
                let conn = ClientConnection::new(config.clone(), name)
                    .map_err(|e| format!("TLS set-up failed: {e}"))?;
                let mut stream = StreamOwned::new(conn, s);
                // Finish the handshake here, so certificate errors are reported as such.
                stream
                    .sock
                    .set_read_timeout(Some(left(deadline)?))
                    .map_err(|e| e.to_string())?;
                stream
                    .sock
                    .set_write_timeout(Some(left(deadline)?))
                    .map_err(|e| e.to_string())?;
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
                }
                Ok(Channel::Tls(Box::new(stream)))
            }
        }
    }

    /// Sends `req` and returns the reply with the same transaction id (raw bytes and parsed).
    pub fn exchange(
        &mut self,
        req: &[u8],
        txid: &[u8; 12],
        deadline: Instant,
    ) -> Result<(Vec<u8>, Message), String> {
        match self {
            Channel::Udp(s) => {
                // RFC 5389 §7.2.1: retransmit with a doubling RTO (500 ms start) until the deadline.
                let mut rto = Duration::from_millis(500);
                let mut buf = vec![0u8; 2048];
                let mut refused = false;
                loop {
                    s.send(req).map_err(|e| format!("send failed: {e}"))?;
                    let resend_at = Instant::now() + rto;
                    loop {
                        let wait = left(deadline)?
                            .min(resend_at.saturating_duration_since(Instant::now()));
                        if wait.is_zero() {
                            break;
                        }
                        s.set_read_timeout(Some(wait)).map_err(|e| e.to_string())?;
                        match s.recv(&mut buf) {
                            Ok(n) => {
                                if let Ok(m) = Message::decode(&buf[..n]) {
                                    if &m.txid == txid {
                                        return Ok((buf[..n].to_vec(), m));
                                    }
                                }
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) =>
                            {
                                break
                            }
                            // ICMP port unreachable surfaces as ECONNREFUSED on a connected socket:
                            // nothing listens (yet; coturn opens UDP after TCP), so wait out the RTO.
                            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                                refused = true;
                                std::thread::sleep(
                                    resend_at
                                        .saturating_duration_since(Instant::now())
                                        .min(left(deadline).unwrap_or_default()),
                                );
                                break;
                            }
                            Err(e) => return Err(format!("receive failed: {e}")),
                        }
                    }
                    if left(deadline).is_err() {
                        return Err(if refused {
                            "nothing listens on this UDP port (ICMP port unreachable)".into()
                        } else {
                            "timed out: no answer over UDP".into()
                        });
                    }
                    rto = rto.saturating_mul(2);
                }
            }
            Channel::Tcp(s) => stream_exchange(s, req, txid, deadline, |s, d| {
                s.set_read_timeout(Some(d))
                    .and_then(|_| s.set_write_timeout(Some(d)))
            }),
            Channel::Tls(s) => stream_exchange(s.as_mut(), req, txid, deadline, |s, d| {
                s.sock
                    .set_read_timeout(Some(d))
                    .and_then(|_| s.sock.set_write_timeout(Some(d)))
            }),
        }
    }
}

/// Over TCP and TLS, STUN messages follow each other without framing (RFC 5389 §7.2.2):
/// the 20-byte header carries the length of what follows.
fn stream_exchange<S: Read + Write>(
    s: &mut S,
    req: &[u8],
    txid: &[u8; 12],
    deadline: Instant,
    set_timeout: impl Fn(&mut S, Duration) -> std::io::Result<()>,
) -> Result<(Vec<u8>, Message), String> {
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            "timed out".to_owned()
        } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the server closed the connection".to_owned()
        } else {
            e.to_string()
        }
    };
    set_timeout(s, left(deadline)?).map_err(io)?;
    s.write_all(req).map_err(io)?;
    s.flush().map_err(io)?;
    loop {
        set_timeout(s, left(deadline)?).map_err(io)?;
        let mut head = [0u8; 20];
        s.read_exact(&mut head).map_err(io)?;
        let len = u16::from_be_bytes([head[2], head[3]]) as usize;
        let mut raw = head.to_vec();
        raw.resize(20 + len, 0);
        s.read_exact(&mut raw[20..]).map_err(io)?;
        let m = Message::decode(&raw)?;
        if &m.txid == txid {
            return Ok((raw, m));
        }
    }
}
