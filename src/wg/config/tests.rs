//! The configuration model's rules, without a daemon.
use super::*;

fn with(mut c: Config, ops: &[Op]) -> Config {
    c.apply(ops).unwrap();
    c
}

fn key(b: u8) -> Key {
    // A valid public key: the public key of some private key.
    public_of(&clamp(&Key::new([b; 32])))
}

#[test]
fn inet_without_alias_replaces_the_first_ipv4_address() {
    let a = |s: &str| -> IfAddr { s.parse().unwrap() };
    let c = with(Config::default(), &[Op::ReplaceAddress(a("10.0.0.1/24"))]);
    assert_eq!(c.addrs, vec![a("10.0.0.1/24")], "none yet: added");
    let c = with(
        c,
        &[
            Op::AddAddress(a("fd00::1/64")),
            Op::AddAddress(a("10.0.1.1/24")),
        ],
    );
    let c = with(c, &[Op::ReplaceAddress(a("10.0.9.1/16"))]);
    assert_eq!(
        c.addrs,
        vec![a("10.0.9.1/16"), a("fd00::1/64"), a("10.0.1.1/24")]
    );
    let c = with(c, &[Op::ReplaceAddress(a("10.0.1.1/32 10.0.1.2"))]);
    assert_eq!(
        c.addrs[2],
        a("10.0.1.1/32 10.0.1.2"),
        "an existing one is updated"
    );
    assert_eq!(c.addrs.len(), 3);
}

#[test]
fn peer_options_bind_to_nearest_peer_and_aips_replace() {
    let c = Config::default();
    let c = with(
        c,
        &[
            Op::Peer(key(1)),
            Op::ReplaceAllowedIps,
            Op::AllowedIp("10.0.0.1/32".parse().unwrap()),
            Op::AllowedIp("10.0.0.2/32".parse().unwrap()),
            Op::Peer(key(2)),
            Op::PersistentKeepalive(25),
        ],
    );
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.peers[0].allowed_ips.len(), 2);
    // Stored oldest first.
    assert_eq!(c.peers[0].allowed_ips[1].to_string(), "10.0.0.2/32");
    assert_eq!(c.peers[1].pka, 25);
    let c = with(
        c,
        &[
            Op::Peer(key(1)),
            Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
        ],
    );
    assert_eq!(c.peers[0].allowed_ips.len(), 3, "appends");
    let c = with(
        c,
        &[
            Op::Peer(key(1)),
            Op::ReplaceAllowedIps,
            Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
        ],
    );
    assert_eq!(c.peers[0].allowed_ips.len(), 1, "replaces");
    // Moving a prefix to another peer.
    let c = with(
        c,
        &[
            Op::Peer(key(2)),
            Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
        ],
    );
    assert!(c.peers[0].allowed_ips.is_empty());
    assert_eq!(c.peers[1].allowed_ips.len(), 1);
}

#[test]
fn errors_leave_original_untouched() {
    let mut c = with(Config::default(), &[Op::Peer(key(1)), Op::Mtu(1280)]);
    assert_eq!(
        c.apply(&[Op::Peer(key(2)), Op::PersistentKeepalive(MAX_PKA + 1)])
            .err(),
        Some(ConfigError::Invalid("persistent keepalive out of range"))
    );
    assert_eq!(
        c.apply(&[Op::Peer(key(2)), Op::Mtu(67)]).err(),
        Some(ConfigError::Invalid("mtu out of range"))
    );
    assert_eq!(
        c.apply(&[Op::Peer(Key::zero())]).err(),
        Some(ConfigError::Invalid("low-order peer key"))
    );
    assert_eq!(
        c.apply(&[Op::Endpoint("1.2.3.4:5".parse().unwrap())]).err(),
        Some(ConfigError::Invalid("no peer selected"))
    );
    assert_eq!(
        c.apply(&[Op::DeleteAddress("10.0.0.1".parse().unwrap())])
            .err(),
        Some(ConfigError::NoSuchAddress)
    );
    // A failure after changes to several peers and prefixes puts
    // every one of them back.
    let c = with(
        c,
        &[
            Op::Peer(key(1)),
            Op::AllowedIp("10.1.0.0/16".parse().unwrap()),
            Op::Peer(key(2)),
            Op::AllowedIp("10.2.0.0/16".parse().unwrap()),
        ],
    );
    let mut c = c;
    assert!(c
        .apply(&[
            Op::Peer(key(2)),
            Op::AllowedIp("10.1.0.0/16".parse().unwrap()),
            Op::Peer(key(3)),
            Op::AllowedIp("10.2.0.0/16".parse().unwrap()),
            Op::RemovePeer(key(1)),
            Op::Mtu(67),
        ])
        .is_err());
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.mtu, 1280);
    let owner = |c: &Config, p: &str| {
        c.peers
            .owner(&p.parse().unwrap())
            .map(|o| o.public_key.clone())
    };
    assert_eq!(owner(&c, "10.1.0.0/16"), Some(key(1)));
    assert_eq!(owner(&c, "10.2.0.0/16"), Some(key(2)));
    assert_eq!(c.peers[0].allowed_ips.len(), 1);
    assert_eq!(c.peers[1].allowed_ips.len(), 1);
    // And a later request still works on the restored state.
    let c = with(c, &[Op::Peer(key(3))]);
    assert_eq!(c.peers[2].public_key, key(3));
}

#[test]
fn own_key_peer_is_ignored_and_dropped_on_key_change() {
    let priv1 = Key::new([9; 32]);
    let pub1 = public_of(&clamp(&priv1));
    let c = with(
        Config::default(),
        &[Op::Peer(pub1.clone()), Op::PersistentKeepalive(5)],
    );
    assert_eq!(c.peers.len(), 1);
    let c = with(c, &[Op::PrivateKey(priv1.clone())]);
    assert!(c.peers.is_empty(), "peer equal to own key dropped");
    let c = with(c, &[Op::Peer(pub1), Op::PersistentKeepalive(5)]);
    assert!(c.peers.is_empty(), "own key ignored");
    // Clamped on the way in.
    assert_eq!(c.private_key, Some(clamp(&priv1)));
}

/// One peer with `n` allowed IPs, then a second peer taking the first
/// 1000 of them.
fn many_allowed_ips(n: u32) -> Vec<Op> {
    let mut ops = vec![Op::Peer(key(1)), Op::ReplaceAllowedIps];
    for i in 0..n {
        let a = std::net::Ipv4Addr::from(0x0a00_0000 | i);
        ops.push(Op::AllowedIp(Prefix::new(a.into(), 32).unwrap()));
    }
    ops.push(Op::Peer(key(2)));
    ops.extend(ops[2..1002].to_vec());
    ops
}

#[test]
fn many_allowed_ips_stay_linear_and_keep_one_owner() {
    // Linear, not quadratic: five times the prefixes may cost about
    // five times as long (quadratic would be 25 times); compared with
    // itself, so that a slow or busy machine does not matter.
    let small = many_allowed_ips(20_000);
    let t = std::time::Instant::now();
    with(Config::default(), &small);
    let t_small = t.elapsed();
    let ops = many_allowed_ips(100_000);
    let t = std::time::Instant::now();
    let c = with(Config::default(), &ops);
    let t_big = t.elapsed();
    assert!(t_big < t_small * 12, "20k: {t_small:?}, 100k: {t_big:?}");
    assert_eq!(c.peers[0].allowed_ips.len(), 99_000);
    assert_eq!(c.peers[1].allowed_ips.len(), 1000);
    // After a removal the index is rebuilt: a prefix still owned by
    // the first peer moves to the new one.
    let moved: Prefix = "10.0.200.1/32".parse().unwrap();
    assert!(c.peers[0].allowed_ips.contains(&moved));
    let c = with(
        c,
        &[
            Op::RemovePeer(key(2)),
            Op::Peer(key(3)),
            Op::AllowedIp(moved),
        ],
    );
    assert_eq!(c.peers.len(), 2);
    assert_eq!(c.peers[1].allowed_ips, vec![moved]);
    assert!(!c.peers[0].allowed_ips.contains(&moved));
    assert_eq!(c.peers[0].allowed_ips.len(), 98_999);
}

#[test]
fn update_only_and_zero_private_key() {
    let c = with(
        Config::default(),
        &[Op::Peer(key(1)), Op::UpdateOnly, Op::PersistentKeepalive(5)],
    );
    assert!(c.peers.is_empty(), "update_only does not create");
    let c = with(Config::default(), &[Op::Peer(key(1))]);
    let c = with(
        c,
        &[Op::Peer(key(1)), Op::UpdateOnly, Op::PersistentKeepalive(5)],
    );
    assert_eq!(c.peers[0].pka, 5, "update_only updates");
    let c = with(c, &[Op::PrivateKey(Key::new([3; 32]))]);
    assert!(c.public_key.is_some());
    let c = with(c, &[Op::PrivateKey(Key::zero())]);
    assert!(c.private_key.is_none() && c.public_key.is_none());
}

#[test]
fn link0_and_link1_exclude_each_other() {
    let c = with(Config::default(), &[Op::Link1(true)]);
    assert!(c.link1 && !c.link0);
    let c = with(c, &[Op::Link0(true)]);
    assert!(c.link0 && !c.link1);
}

/// A name follows the address it was resolved to and stays until an
/// address replaces it; a failed request leaves it as it was.
#[test]
fn an_endpoint_name_stays_until_an_address_replaces_it() {
    let name: proto::EndpointName = "vpn.example.org:51820".parse().unwrap();
    let addr = "192.0.2.7:51820".parse().unwrap();
    let mut c = with(
        Config::default(),
        &[
            Op::Peer(key(1)),
            Op::Endpoint(addr),
            Op::EndpointName(name.clone()),
        ],
    );
    let pc = c.peers.get(key(1).as_bytes()).unwrap();
    assert_eq!(pc.new_endpoint, Some(addr));
    assert_eq!(pc.endpoint_name.as_deref(), Some(&name));
    assert!(pc.new_name);

    // Refused (a bad MTU after it): the name and its marks as they were.
    let j = c
        .apply(&[Op::Peer(key(1)), Op::PersistentKeepalive(5)])
        .unwrap();
    c.settle(&j);
    assert!(c
        .apply(&[Op::Peer(key(1)), Op::Endpoint(addr), Op::Mtu(1)])
        .is_err());
    let pc = c.peers.get(key(1).as_bytes()).unwrap();
    assert_eq!(pc.endpoint_name.as_deref(), Some(&name));
    assert!(!pc.new_name);

    // A hand-over gives the name alone: kept, the address untouched.
    let c2 = with(
        Config::default(),
        &[Op::Peer(key(1)), Op::EndpointName(name.clone())],
    );
    let pc = c2.peers.get(key(1).as_bytes()).unwrap();
    assert_eq!(pc.endpoint_name.as_deref(), Some(&name));
    assert_eq!(pc.new_endpoint, None);

    // An address: the name goes (no more lookups).
    let c = with(c, &[Op::Peer(key(1)), Op::Endpoint(addr)]);
    let pc = c.peers.get(key(1).as_bytes()).unwrap();
    assert_eq!(pc.endpoint_name, None);
    assert!(pc.new_name);
}
