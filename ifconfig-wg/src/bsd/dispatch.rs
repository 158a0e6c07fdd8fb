//! Which command answers an `ifconfig` command line: ifconfig-wg for a
//! wg interface (one wgd serves, the cloner `wg`, a `wgN` that is being
//! created or exists nowhere) and for groups; ourselves for any other
//! link (other.rs), for the listings of every link (`-a`, no arguments,
//! `-l`) and for `-C`.

/// How the listings show links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// `-k`: with secrets (wg interfaces, root only).
    pub keys: bool,
    /// `-u` / `-d`: only the links that are up / down.
    pub up: bool,
    pub down: bool,
}

impl Listing {
    pub fn shows(&self, is_up: bool) -> bool {
        !(self.up && !is_up || self.down && is_up)
    }
}

#[derive(Debug, PartialEq)]
pub enum Route {
    /// ifconfig-wg, with these arguments.
    Wg(Vec<String>),
    /// Another link, configured with FreeBSD's meaning of the words
    /// that follow its name (none: its status).
    Other {
        name: String,
        words: Vec<String>,
    },
    /// `-a` or nothing: every link.
    All(Listing),
    /// `-l`: every link's name.
    Names(Listing),
    /// `-C`: the interface cloners.
    Cloners,
    Usage,
}

/// A name of the wg driver's: one wgd serves, the cloner, or `wgN` when
/// it is being created or no link has it (so ifconfig-wg gives its own
/// answers: already exists, does not exist, cannot reach wgd). A `wgN`
/// link that wgd does not serve (kernel WireGuard's, a TUN device) is
/// another link.
pub fn is_wg_name(name: &str, served: &[String], words: &[String], exists: bool) -> bool {
    let unit = name
        .strip_prefix("wg")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let creating = words.first().is_some_and(|w| w == "create");
    served.iter().any(|s| s == name) || name == "wg" || unit && (creating || !exists)
}

/// Route a command line (without the program name); `is_wg` gets the
/// interface name and the words after it.
pub fn route(args: &[String], is_wg: &dyn Fn(&str, &[String]) -> bool) -> Route {
    let mut l = Listing::default();
    let (mut all, mut names, mut cloners) = (false, false, false);
    let mut group = None;
    // Options ifconfig-wg understands too, passed on as given.
    let mut passed: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-g" || a == "--libxo" {
            let Some(v) = args.get(i + 1) else {
                return Route::Usage;
            };
            if a == "-g" {
                group = Some(v.clone());
            } else {
                passed.extend([a.to_string(), v.clone()]);
            }
            i += 2;
            continue;
        }
        if a.starts_with("--libxo=") {
            passed.push(a.to_string());
            i += 1;
            continue;
        }
        let Some(letters) = a.strip_prefix('-') else {
            break;
        };
        if letters.is_empty() {
            return Route::Usage;
        }
        for c in letters.chars() {
            match c {
                'a' => all = true,
                'l' => names = true,
                'C' => cloners = true,
                'k' => l.keys = true,
                'u' => l.up = true,
                'd' => l.down = true,
                // Display modifiers that change nothing here.
                'L' | 'm' | 'n' | 'v' => {}
                _ => return Route::Usage,
            }
        }
        i += 1;
    }
    let rest = &args[i..];
    if l.keys {
        passed.push("-k".into());
    }
    if let Some(g) = group {
        if !rest.is_empty() || names || cloners {
            return Route::Usage;
        }
        let mut a = passed;
        if all {
            a.push("-a".into());
        }
        a.extend(["-g".to_string(), g]);
        return Route::Wg(a);
    }
    if (all as u8 + names as u8 + cloners as u8) > 1
        || (all || names || cloners) && !rest.is_empty()
    {
        return Route::Usage;
    }
    if cloners {
        return Route::Cloners;
    }
    if names {
        return Route::Names(l);
    }
    let Some(name) = rest.first() else {
        // JSON is ifconfig-wg's, for its interfaces.
        if passed.iter().any(|p| p.starts_with("--libxo")) {
            passed.push("-a".into());
            return Route::Wg(passed);
        }
        return Route::All(l);
    };
    if is_wg(name, &rest[1..]) {
        passed.extend(rest.iter().cloned());
        return Route::Wg(passed);
    }
    Route::Other {
        name: name.clone(),
        words: rest[1..].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wgd serves tun-hub and wg0; the kernel has lo, eth0, wg0 and a
    /// TUN device wg77 that wgd does not serve.
    fn r(line: &str) -> Route {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let served = vec!["tun-hub".to_string(), "wg0".to_string()];
        let kernel = ["lo", "eth0", "wg0", "wg77", "tun-hub"];
        route(&args, &|n, w| {
            is_wg_name(n, &served, w, kernel.contains(&n))
        })
    }

    fn other(name: &str, words: &str) -> Route {
        Route::Other {
            name: name.into(),
            words: words.split_whitespace().map(String::from).collect(),
        }
    }

    fn wg(line: &str) -> Route {
        Route::Wg(line.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn wg_interfaces_go_to_ifconfig_wg() {
        assert_eq!(r("wg0 create"), wg("wg0 create"));
        assert_eq!(r("wg create name tun0"), wg("wg create name tun0"));
        assert_eq!(
            r("wg12 inet 10.0.0.1/24 up"),
            wg("wg12 inet 10.0.0.1/24 up")
        );
        assert_eq!(r("tun-hub"), wg("tun-hub"));
        assert_eq!(r("-k wg0"), wg("-k wg0"));
        assert_eq!(r("-v wg0"), wg("wg0"));
        assert_eq!(r("--libxo json wg0"), wg("--libxo json wg0"));
        assert_eq!(r("-g wg"), wg("-g wg"));
        assert_eq!(r("-a -g wg"), wg("-a -g wg"));
        assert_eq!(r("--libxo json -a"), wg("--libxo json -a"));
    }

    #[test]
    fn a_wg_name_nobody_serves_is_another_link() {
        assert_eq!(r("wg77"), other("wg77", ""));
        assert_eq!(
            r("wg77 inet 10.0.0.1/24 alias"),
            other("wg77", "inet 10.0.0.1/24 alias")
        );
        // Created, or missing everywhere: ifconfig-wg answers.
        assert_eq!(r("wg77 create"), wg("wg77 create"));
        assert_eq!(r("wg5 create"), wg("wg5 create"));
        assert_eq!(r("wg999 up"), wg("wg999 up"));
        assert_eq!(r("wg0 up"), wg("wg0 up"));
    }

    #[test]
    fn others_and_listings() {
        assert_eq!(r("lo"), other("lo", ""));
        assert_eq!(r("eth0 mtu 1400"), other("eth0", "mtu 1400"));
        assert_eq!(r("-v eth0 inet6"), other("eth0", "inet6"));
        assert_eq!(r("wgx"), other("wgx", ""));
        assert_eq!(r(""), Route::All(Listing::default()));
        assert_eq!(r("-a"), Route::All(Listing::default()));
        let up = Listing {
            up: true,
            ..Listing::default()
        };
        assert_eq!(r("-au"), Route::All(up.clone()));
        assert_eq!(r("-l -u"), Route::Names(up));
        assert_eq!(r("-C"), Route::Cloners);
        for bad in ["-a wg0", "-C -a", "-x", "-", "-g", "-l wg0", "-g wg wg0"] {
            assert_eq!(r(bad), Route::Usage, "{bad}");
        }
    }

    #[test]
    fn up_and_down_filters() {
        let up = Listing {
            up: true,
            ..Listing::default()
        };
        assert!(up.shows(true) && !up.shows(false));
        let down = Listing {
            down: true,
            ..Listing::default()
        };
        assert!(!down.shows(true) && down.shows(false));
        assert!(Listing::default().shows(false));
    }
}
