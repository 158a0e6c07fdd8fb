//! Which command answers an `ifconfig` command line: ifconfig-wg for a
//! wg interface (`wg`, `wgN`, a name wgd serves) and for groups; the
//! system's ifconfig for any other interface; ourselves for the
//! listings of every link (`-a`, no arguments, `-l`) and for `-C`.

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
    /// Another interface: the system's ifconfig with the arguments as
    /// given; without one, `show` (nothing but the name) is printed from
    /// the kernel's state.
    Other {
        name: String,
        show: bool,
    },
    /// `-a` or nothing: every link.
    All(Listing),
    /// `-l`: every link's name.
    Names(Listing),
    /// `-C`: the interface cloners.
    Cloners,
    Usage,
}

/// A name of the wg driver's: the cloner, `wgN`, or one wgd serves.
pub fn is_wg_name(name: &str, served: &[String]) -> bool {
    let unit = name
        .strip_prefix("wg")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    name == "wg" || unit || served.iter().any(|s| s == name)
}

/// Route a command line (without the program name).
pub fn route(args: &[String], is_wg: &dyn Fn(&str) -> bool) -> Route {
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
    if is_wg(name) {
        passed.extend(rest.iter().cloned());
        return Route::Wg(passed);
    }
    Route::Other {
        name: name.clone(),
        show: rest.len() == 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(line: &str) -> Route {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        let served = vec!["tun-hub".to_string()];
        route(&args, &|n| is_wg_name(n, &served))
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
    fn others_and_listings() {
        assert_eq!(
            r("lo"),
            Route::Other {
                name: "lo".into(),
                show: true
            }
        );
        assert_eq!(
            r("eth0 mtu 1400"),
            Route::Other {
                name: "eth0".into(),
                show: false
            }
        );
        assert_eq!(
            r("wgx"),
            Route::Other {
                name: "wgx".into(),
                show: true
            }
        );
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
