//! The detach sequence (docker's ctrl-p,ctrl-q by default) watched for in a terminal's input.

/// Watches a client's input for the detach sequence; bytes of a partial match are held back
/// until it turns out not to be one.
pub struct Detach {
    keys: Vec<u8>,
    matched: usize,
}

impl Detach {
    pub fn new(keys: Vec<u8>) -> Detach {
        Detach { keys, matched: 0 }
    }

    /// The bytes to pass on, and whether the sequence was completed.
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_match_is_held_back_until_it_fails() {
        let mut d = Detach::new(vec![16, 17]);
        assert_eq!(d.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(d.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(d.feed(b"x\x10\x11y"), (b"x".to_vec(), true));
        let mut none = Detach::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
