//! getopt(3) for the kld commands' flag letters: the leading `-xyz`
//! words up to `--` or the first operand.

/// The letters, in order, and where the operands start; `None` for a
/// lone `-` (a usage error).
pub fn letters(args: &[String]) -> Option<(Vec<char>, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i).and_then(|a| a.strip_prefix('-')) {
        i += 1;
        match a {
            "" => return None,
            "-" => break,
            _ => found.extend(a.chars()),
        }
    }
    Some((found, i))
}

#[cfg(test)]
mod tests {
    use super::letters;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_then_operands() {
        assert_eq!(letters(&words("-nv if_wg")), Some((vec!['n', 'v'], 1)));
        assert_eq!(letters(&words("-f -v -- -x")), Some((vec!['f', 'v'], 3)));
        assert_eq!(letters(&words("if_wg -v")), Some((vec![], 0)));
        assert_eq!(letters(&words("- if_wg")), None);
    }
}
