//! ifconfig-wg's pieces, as a library for its binary and for the fuzz
//! target of the keyword grammar: the grammar (words), the status printer
//! (print) and the control-socket client (client); output that a closed
//! pipe cannot take is dropped quietly (out).

pub mod bsd;
pub mod client;
pub mod json;
pub mod out;
pub mod print;
pub mod words;

/// Entry point for the grammar's fuzz target (`fuzz/`) and its corpus
/// replay test: words separated by NUL or blank, keys for `-` from a
/// fixed source. Run it where names cannot be resolved over the network
/// (the fuzz script and the replay test use a network namespace of
/// their own), since `wgendpoint` resolves host names.
pub mod fuzzing {
    struct FixedKeys;

    impl crate::words::KeySource for FixedKeys {
        fn read_key(&mut self) -> String {
            "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=".to_string()
        }
    }

    pub fn grammar(data: &[u8]) {
        let Ok(s) = std::str::from_utf8(data) else {
            return;
        };
        let words: Vec<String> = s
            .split(['\0', ' '])
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        let _ = crate::words::parse(&words, &mut FixedKeys);
    }
}
