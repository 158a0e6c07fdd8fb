//! The debug messages of wg(4), word for word (spec §6). They are printed
//! as `wgN: <message>` only while the interface has DEBUG set.

use std::fmt;
use std::net::SocketAddr;

pub enum Message<'a> {
    PeerCreated(u64),
    PeerDestroyed(u64),
    SendInitiation(u64),
    SendResponse(u64),
    RecvInitiation(u64),
    RecvResponse(u64),
    HandshakeRetry(u64, u32),
    HandshakeGiveUp(u64, u32),
    StoppedHearing(u64, u64),
    ZeroingKeys(u64, u64),
    SendKeepalive(u64),
    RecvKeepalive(u64),
    SendCookie,
    RecvCookie,
    InvalidInitiation,
    InvalidInitiationMac,
    InvalidResponse,
    InvalidResponseMac,
    RateLimited,
    DisallowedSrc(u64),
    NoEndpoint(u64),
    SendFailed(&'a dyn fmt::Display),
    SocketsFailed(&'a dyn fmt::Display),
    /// A peer's endpoint name resolved to another address: (peer, host,
    /// old, new).
    EndpointChanged(u64, &'a str, Option<SocketAddr>, SocketAddr),
    /// Resolving a peer's endpoint name again failed: (peer, host, why).
    ResolveFailed(u64, &'a str, &'a str),
}

/// Messages gathered under a peer's lock and logged after it is
/// released; a handful at most per packet or timer, the rest dropped.
#[derive(Default)]
pub struct Events([Option<Message<'static>>; 6]);

impl Events {
    pub fn push(&mut self, m: Message<'static>) {
        if let Some(slot) = self.0.iter_mut().find(|s| s.is_none()) {
            *slot = Some(m);
        }
    }

    /// Hand each message on, in order.
    pub fn each(self, mut f: impl FnMut(Message<'static>)) {
        for m in self.0.into_iter().flatten() {
            f(m);
        }
    }
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Message::*;
        match self {
            PeerCreated(p) => write!(f, "Peer {p} created"),
            PeerDestroyed(p) => write!(f, "Peer {p} destroyed"),
            SendInitiation(p) => write!(f, "Sending handshake initiation to peer {p}"),
            SendResponse(p) => write!(f, "Sending handshake response to peer {p}"),
            RecvInitiation(p) => write!(f, "Receiving handshake initiation from peer {p}"),
            RecvResponse(p) => write!(f, "Receiving handshake response from peer {p}"),
            HandshakeRetry(p, t) => write!(
                f,
                "Handshake for peer {p} did not complete after 5 seconds, retrying (try {t})"
            ),
            HandshakeGiveUp(p, n) => write!(
                f,
                "Handshake for peer {p} did not complete after {n} retries, giving up"
            ),
            StoppedHearing(p, s) => write!(
                f,
                "Retrying handshake with peer {p}, because we stopped hearing back after {s} seconds"
            ),
            ZeroingKeys(p, s) => write!(
                f,
                "Zeroing out keys for peer {p}, since we haven't received a new one in {s} seconds"
            ),
            SendKeepalive(p) => write!(f, "Sending keepalive packet to peer {p}"),
            RecvKeepalive(p) => write!(f, "Receiving keepalive packet from peer {p}"),
            SendCookie => write!(f, "Sending cookie response for denied handshake message"),
            RecvCookie => write!(f, "Receiving cookie response"),
            InvalidInitiation => write!(f, "Invalid handshake initiation"),
            InvalidInitiationMac => write!(f, "Invalid initiation MAC"),
            InvalidResponse => write!(f, "Invalid handshake response"),
            InvalidResponseMac => write!(f, "Invalid response MAC"),
            RateLimited => write!(f, "Handshake ratelimited"),
            DisallowedSrc(p) => write!(f, "Packet has disallowed src IP from peer {p}"),
            NoEndpoint(p) => write!(
                f,
                "No valid endpoint has been configured or discovered for peer {p}"
            ),
            SendFailed(e) => write!(f, "Unable to send packet: {e}"),
            SocketsFailed(e) => write!(f, "Unable to initialize sockets: {e}"),
            EndpointChanged(p, host, old, new) => {
                write!(f, "Endpoint of peer {p} ({host}) changed from ")?;
                match old {
                    Some(a) => write!(f, "{a}")?,
                    None => write!(f, "none")?,
                }
                write!(f, " to {new}")
            }
            ResolveFailed(p, host, why) => {
                write!(f, "Unable to resolve {host} for peer {p}: {why}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Message::*;

    #[test]
    fn diagnostics_of_wg4_word_for_word() {
        assert_eq!(
            HandshakeRetry(1, 2).to_string(),
            "Handshake for peer 1 did not complete after 5 seconds, retrying (try 2)"
        );
        assert_eq!(
            InvalidInitiation.to_string(),
            "Invalid handshake initiation"
        );
        assert_eq!(InvalidInitiationMac.to_string(), "Invalid initiation MAC");
        assert_eq!(
            DisallowedSrc(1).to_string(),
            "Packet has disallowed src IP from peer 1"
        );
        assert_eq!(
            HandshakeGiveUp(1, 20).to_string(),
            "Handshake for peer 1 did not complete after 20 retries, giving up"
        );
        assert_eq!(
            ZeroingKeys(1, 540).to_string(),
            "Zeroing out keys for peer 1, since we haven't received a new one in 540 seconds"
        );
        assert_eq!(
            EndpointChanged(
                1,
                "vpn.example.org",
                Some("192.0.2.1:51820".parse().unwrap()),
                "192.0.2.7:51820".parse().unwrap()
            )
            .to_string(),
            "Endpoint of peer 1 (vpn.example.org) changed from 192.0.2.1:51820 to 192.0.2.7:51820"
        );
        assert_eq!(
            ResolveFailed(1, "vpn.example.org", "Name or service not known").to_string(),
            "Unable to resolve vpn.example.org for peer 1: Name or service not known"
        );
    }
}
