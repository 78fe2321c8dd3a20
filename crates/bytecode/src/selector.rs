//! What a selector's spelling says about the message it names.
//!
//! Only the bytes of the selector are looked at; this module knows nothing
//! about methods, classes or the heap.

/// How many arguments a message with this selector takes: one for a
/// binary selector (`+`, `<=`), one per colon for a keyword selector, none
/// for a unary one. `None` for the empty selector.
pub fn selector_arity(selector: &[u8]) -> Option<usize> {
    match selector {
        [] => None,
        [c, ..] if !c.is_ascii_alphabetic() && *c != b'_' => Some(1),
        _ => Some(selector.iter().filter(|&&c| c == b':').count()),
    }
}

#[cfg(test)]
mod tests {
    use super::selector_arity;

    #[test]
    fn arity_follows_the_spelling() {
        assert_eq!(selector_arity(b""), None);
        assert_eq!(selector_arity(b"size"), Some(0));
        assert_eq!(selector_arity(b"_private"), Some(0));
        assert_eq!(selector_arity(b"+"), Some(1));
        assert_eq!(selector_arity(b"<="), Some(1));
        assert_eq!(selector_arity(b"at:"), Some(1));
        assert_eq!(selector_arity(b"at:put:"), Some(2));
    }
}
