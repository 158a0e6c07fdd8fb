//! Small, pure helpers on packets.

use crate::data::tx::TxQueue;
use crate::sys::udp::Sockets;
use crate::wg::constants::PADDING;
use crate::wg::interface::Interface;
use crate::wg::messages::Message;
use std::net::IpAddr;

/// WireGuard message type, if the reserved bytes are zero.
pub fn message_type(d: &[u8]) -> Option<u8> {
    match d {
        [t, 0, 0, 0, ..] => Some(*t),
        _ => None,
    }
}

/// The little-endian u32 at `off`.
pub fn le32(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Destination address of an IP packet.
pub fn dst_addr(p: &[u8]) -> Option<IpAddr> {
    match p.first()? >> 4 {
        4 => {
            let b: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        6 => {
            let b: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        _ => None,
    }
}

/// A decrypted packet's real length (its padding cut off) and source
/// address: `None` unless it is an IPv4 or IPv6 packet whose header fits
/// and whose length field does not exceed what arrived.
pub fn inner_packet(p: &[u8]) -> Option<(usize, IpAddr)> {
    match p.first()? >> 4 {
        4 if p.len() >= 20 => {
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let src: [u8; 4] = p[12..16].try_into().ok()?;
            (total >= 20 && total <= p.len()).then_some((total, IpAddr::from(src)))
        }
        6 if p.len() >= 40 => {
            let total = usize::from(u16::from_be_bytes([p[4], p[5]])) + 40;
            let src: [u8; 16] = p[8..24].try_into().ok()?;
            (total <= p.len()).then_some((total, IpAddr::from(src)))
        }
        _ => None,
    }
}

/// Plaintext length after padding, as Linux (`calculate_skb_padding`)
/// and wireguard-go (`calculatePaddingSize`) pad: the last MTU's worth
/// of the packet (all of it, unless it is longer than the MTU) goes up
/// to a multiple of 16 bytes, never beyond the MTU. Without an MTU,
/// simply to a multiple of 16.
pub fn padded_len(len: usize, mtu: usize) -> usize {
    if mtu == 0 {
        return len.div_ceil(PADDING) * PADDING;
    }
    let last = if len > mtu { len % mtu } else { len };
    let padded = (last.div_ceil(PADDING) * PADDING).min(mtu);
    len + (padded - last)
}

/// Send what is queued; drop it if the interface has no sockets.
pub fn flush(ifc: &Interface, socks: Option<&Sockets>, tx: &mut TxQueue) {
    if tx.is_empty() {
        return;
    }
    if let Some(e) = tx.flush(socks) {
        ifc.log(Message::SendFailed(&e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding() {
        assert_eq!(padded_len(0, 1420), 0);
        assert_eq!(padded_len(1, 1420), 16);
        assert_eq!(padded_len(16, 1420), 16);
        assert_eq!(padded_len(17, 1420), 32);
        assert_eq!(padded_len(1419, 1420), 1420);
        assert_eq!(padded_len(1420, 1420), 1420);
        assert_eq!(padded_len(1500, 1420), 1500);
    }

    /// A packet longer than the MTU (the stack's MTU may differ from
    /// ours) is padded as Linux and wireguard-go pad it: what is left
    /// over a multiple of the MTU goes up to a multiple of 16, never
    /// beyond the MTU.
    #[test]
    fn padding_beyond_the_mtu() {
        assert_eq!(padded_len(1430, 1420), 1436);
        assert_eq!(padded_len(1421, 1420), 1436);
        assert_eq!(padded_len(2840, 1420), 2840);
        assert_eq!(padded_len(2839, 1420), 2840);
        assert_eq!(padded_len(1500, 1490), 1506);
        // 2 * 1419 + 1418 would pad to 1424 > 1419: clamped at the MTU.
        assert_eq!(padded_len(3 * 1419 - 1, 1419), 3 * 1419);
        assert_eq!(padded_len(1430, 0), 1440, "no MTU: a multiple of 16");
    }

    #[test]
    fn types_and_addresses() {
        assert_eq!(message_type(&[1, 0, 0, 0, 9]), Some(1));
        assert_eq!(message_type(&[1, 0, 1, 0]), None);
        assert_eq!(message_type(&[1]), None);
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
        assert_eq!(dst_addr(&v4), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(dst_addr(&v4[..19]), None);
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[39] = 1;
        assert_eq!(dst_addr(&v6), Some("::1".parse().unwrap()));
        assert_eq!(le32(&[1, 2, 0, 0], 0), Some(0x201));
    }

    #[test]
    fn inner_packets() {
        let mut v4 = [0u8; 48];
        v4[0] = 0x45;
        v4[2..4].copy_from_slice(&36u16.to_be_bytes());
        v4[12..16].copy_from_slice(&[10, 0, 0, 9]);
        assert_eq!(inner_packet(&v4), Some((36, "10.0.0.9".parse().unwrap())));
        assert_eq!(inner_packet(&v4[..35]), None, "shorter than its length");
        v4[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(inner_packet(&v4), None);
        let mut v6 = [0u8; 64];
        v6[0] = 0x60;
        v6[5] = 8;
        v6[23] = 1;
        assert_eq!(inner_packet(&v6), Some((48, "::1".parse().unwrap())));
        assert_eq!(inner_packet(&v6[..47]), None);
        assert_eq!(inner_packet(&[0x50; 40]), None);
        assert_eq!(inner_packet(&[]), None);
    }
}
