//! BSD interface flag bits, as ifconfig prints them.

pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_DEBUG: u32 = 0x4;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_POINTOPOINT: u32 = 0x10;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_PROMISC: u32 = 0x100;
pub const IFF_ALLMULTI: u32 = 0x200;
pub const IFF_LINK0: u32 = 0x1000;
pub const IFF_LINK1: u32 = 0x2000;
pub const IFF_LINK2: u32 = 0x4000;
pub const IFF_MULTICAST: u32 = 0x8000;

const NAMES: &[(u32, &str)] = &[
    (IFF_UP, "UP"),
    (IFF_BROADCAST, "BROADCAST"),
    (IFF_DEBUG, "DEBUG"),
    (IFF_LOOPBACK, "LOOPBACK"),
    (IFF_POINTOPOINT, "POINTOPOINT"),
    (IFF_RUNNING, "RUNNING"),
    (IFF_NOARP, "NOARP"),
    (IFF_PROMISC, "PROMISC"),
    (IFF_ALLMULTI, "ALLMULTI"),
    (IFF_LINK0, "LINK0"),
    (IFF_LINK1, "LINK1"),
    (IFF_LINK2, "LINK2"),
    (IFF_MULTICAST, "MULTICAST"),
];

/// The names of the bits set, in bit order.
pub fn names(flags: u32) -> Vec<&'static str> {
    NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// `flags=a0d1<UP,POINTOPOINT,...>`: hex of the bits, then names in bit order.
pub fn format(flags: u32) -> String {
    format!("flags={:x}<{}>", flags, names(flags).join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        assert_eq!(format(IFF_NOARP), "flags=80<NOARP>");
        assert_eq!(
            format(IFF_UP | IFF_RUNNING | IFF_NOARP),
            "flags=c1<UP,RUNNING,NOARP>"
        );
        assert_eq!(
            format(IFF_UP | IFF_POINTOPOINT | IFF_RUNNING | IFF_NOARP | IFF_LINK1 | IFF_MULTICAST),
            "flags=a0d1<UP,POINTOPOINT,RUNNING,NOARP,LINK1,MULTICAST>"
        );
    }
}
