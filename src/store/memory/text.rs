//! Long texts stored once per incident (docs/design.md §4): a title or labels text that
//! holds a long piece of its incident's fingerprint verbatim (a URL in the fingerprint,
//! the title and a label, as the shipped StatusCake mapping writes it) keeps only the
//! rest of its text and where the piece goes; the whole text is made again on reads.
//!
//! The piece is found from three anchors of the fingerprint (its head, middle and tail)
//! and grown both ways, so a long field at either end of a fingerprint or inside it is
//! found at the cost of at most three substring searches per text.

use std::sync::Arc;

use memchr::{memchr_iter, memrchr_iter};

/// A shared piece shorter than this is stored again: not worth a search and a splice.
const MIN_SHARED: usize = 32;

/// The length of each anchor searched for.
const ANCHOR: usize = 16;

/// A text made of `rest[..at]`, then `fingerprint[from..from + len]`, then `rest[at..]`
/// (`len == 0`: `rest` is the whole text). Cloning shares the text.
#[derive(Debug, Clone)]
pub(super) struct Spliced {
    rest: Arc<str>,
    at: u32,
    from: u32,
    len: u32,
}

impl Spliced {
    /// `text`, sharing its longest piece found in `fingerprint` when that is long enough.
    pub(super) fn new(text: &str, fingerprint: &str) -> Spliced {
        let Some((at, from, len)) = shared_piece(text, fingerprint) else {
            return Spliced::whole(text);
        };
        let (Ok(at32), Ok(from32), Ok(len32)) =
            (u32::try_from(at), u32::try_from(from), u32::try_from(len))
        else {
            return Spliced::whole(text);
        };
        let mut rest = String::with_capacity(text.len() - len);
        rest.push_str(&text[..at]);
        rest.push_str(&text[at + len..]);
        Spliced {
            rest: Arc::from(rest),
            at: at32,
            from: from32,
            len: len32,
        }
    }

    fn whole(text: &str) -> Spliced {
        Spliced {
            rest: Arc::from(text),
            at: 0,
            from: 0,
            len: 0,
        }
    }

    /// Whether this text shares a piece of the fingerprint.
    pub(super) fn is_spliced(&self) -> bool {
        self.len > 0
    }

    /// The text when nothing is shared.
    pub(super) fn whole_text(&self) -> Option<&Arc<str>> {
        (self.len == 0).then_some(&self.rest)
    }

    /// The three parts; the middle one is empty when nothing is shared or `fingerprint`
    /// is not the one this text was made with (a caller bug: the text is then shorter,
    /// never a panic).
    fn parts<'a>(&'a self, fingerprint: &'a str) -> [&'a str; 3] {
        let at = usize::try_from(self.at).unwrap_or(usize::MAX);
        let from = usize::try_from(self.from).unwrap_or(usize::MAX);
        let len = usize::try_from(self.len).unwrap_or(0);
        let (head, tail) = self.rest.split_at_checked(at).unwrap_or((&self.rest, ""));
        let piece = from
            .checked_add(len)
            .and_then(|end| fingerprint.get(from..end))
            .unwrap_or("");
        [head, piece, tail]
    }

    /// The whole text.
    pub(super) fn to_text(&self, fingerprint: &str) -> String {
        let parts = self.parts(fingerprint);
        let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            out.push_str(part);
        }
        out
    }

    /// Whether the whole text is `text`, without making it.
    pub(super) fn eq_text(&self, fingerprint: &str, text: &str) -> bool {
        let mut left = text;
        for part in self.parts(fingerprint) {
            match left.strip_prefix(part) {
                Some(rest) => left = rest,
                None => return false,
            }
        }
        left.is_empty()
    }

    /// Bytes of text this value keeps itself (the rest), for accounting in tests.
    #[cfg(test)]
    pub(super) fn kept_len(&self) -> usize {
        self.rest.len()
    }
}

/// The longest piece of `fingerprint` found in `text` around one of its anchors, at least
/// `MIN_SHARED` long: (where it starts in `text`, where in `fingerprint`, its length).
fn shared_piece(text: &str, fingerprint: &str) -> Option<(usize, usize, usize)> {
    let (t, f) = (text.as_bytes(), fingerprint.as_bytes());
    if t.len() < MIN_SHARED || f.len() < MIN_SHARED {
        return None;
    }
    let last = f.len() - ANCHOR;
    let mut best: Option<(usize, usize, usize)> = None;
    for anchor in [last, 0, last / 2] {
        // An anchor inside the piece already found finds the same piece.
        if best.is_some_and(|(_, from, len)| from <= anchor && anchor + ANCHOR <= from + len) {
            continue;
        }
        let needle = &f[anchor..anchor + ANCHOR];
        // The tail's last occurrence and the head's first: inside a run of one repeated
        // text (`xxxx…`) those are the ones that line up with the fingerprint's own end
        // and start, where the first or last occurrence would find only the anchor.
        let found = if anchor == last {
            rfind(t, needle)
        } else {
            find(t, needle)
        };
        let Some(pos) = found else {
            continue;
        };
        let back = common_suffix(&t[..pos], &f[..anchor]);
        let (mut ts, mut fs) = (pos - back, anchor - back);
        let ahead = common_prefix(&t[pos + ANCHOR..], &f[anchor + ANCHOR..]);
        let (mut te, mut fe) = (pos + ANCHOR + ahead, anchor + ANCHOR + ahead);
        // Cut on whole characters in both texts.
        while ts < te && !(text.is_char_boundary(ts) && fingerprint.is_char_boundary(fs)) {
            ts += 1;
            fs += 1;
        }
        while te > ts && !(text.is_char_boundary(te) && fingerprint.is_char_boundary(fe)) {
            te -= 1;
            fe -= 1;
        }
        let len = te - ts;
        if len >= MIN_SHARED && best.is_none_or(|(_, _, l)| len > l) {
            best = Some((ts, fs, len));
        }
    }
    best
}

/// Compared a block at a time: a long shared piece (a URL) is most of the search's work.
const BLOCK: usize = 32;

/// How many leading bytes `a` and `b` share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut k = 0;
    while k + BLOCK <= n && a[k..k + BLOCK] == b[k..k + BLOCK] {
        k += BLOCK;
    }
    while k < n && a[k] == b[k] {
        k += 1;
    }
    k
}

/// How many trailing bytes `a` and `b` share.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut k = 0;
    while k + BLOCK <= n && a[n - k - BLOCK..n - k] == b[n - k - BLOCK..n - k] {
        k += BLOCK;
    }
    while k < n && a[n - k - 1] == b[n - k - 1] {
        k += 1;
    }
    k
}

/// The first occurrence of `needle` (not empty) in `haystack`. Texts here are a few
/// hundred bytes: a scan for the first byte and a compare costs less than building a
/// `memmem` searcher per call (which was most of a create's splicing cost).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    memchr_iter(first, haystack).find(|&i| haystack[i..].starts_with(needle))
}

/// The last occurrence of `needle` (not empty) in `haystack`.
fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    memrchr_iter(first, haystack).find(|&i| haystack[i..].starts_with(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://check-1.example.com/health/deep?region=eu-west-1&q=xxxxxxxxxxxxxxxx";

    #[test]
    fn a_url_in_the_fingerprint_is_kept_once() {
        let fp = format!("Check 1|{URL}");
        let title = format!("Check 1 is down ({URL})");
        let labels = format!(r#"{{"url":"{URL}","ip":"10.0.0.1"}}"#);
        for text in [&title, &labels] {
            let s = Spliced::new(text, &fp);
            assert!(s.is_spliced(), "{text}");
            assert_eq!(s.kept_len(), text.len() - URL.len(), "{text}");
            assert_eq!(s.to_text(&fp), *text);
            assert!(s.eq_text(&fp, text));
            assert!(!s.eq_text(&fp, &format!("{text}x")));
            assert!(!s.eq_text(&fp, &text[1..]));
        }
    }

    #[test]
    fn a_url_padded_with_one_repeated_letter_is_found_whole() {
        let url = format!("https://check-1.example.com/?q={}", "x".repeat(300));
        let fp = format!("Check 1|{url}");
        let title = format!("Check 1 is down ({url})");
        let labels = format!(r#"{{"ip":"10.0.0.1","url":"{url}"}}"#);
        for text in [&title, &labels] {
            let s = Spliced::new(text, &fp);
            assert_eq!(s.kept_len(), text.len() - url.len(), "{text}");
            assert_eq!(s.to_text(&fp), *text);
        }
    }

    #[test]
    fn common_ends_are_counted_across_blocks() {
        let a = format!("{}ab", "x".repeat(70));
        let b = format!("y{}ab", "x".repeat(69));
        assert_eq!(common_suffix(a.as_bytes(), b.as_bytes()), 71);
        assert_eq!(common_prefix(a.as_bytes(), b.as_bytes()), 0);
        assert_eq!(common_prefix(b"abc", b"abd"), 2);
        assert_eq!(common_prefix(a.as_bytes(), a.as_bytes()), a.len());
        assert_eq!(common_suffix(b"", b"abc"), 0);
    }

    #[test]
    fn find_and_rfind_give_the_first_and_last_occurrence() {
        assert_eq!(find(b"abcabc", b"bc"), Some(1));
        assert_eq!(rfind(b"abcabc", b"bc"), Some(4));
        assert_eq!(find(b"abcab", b"abd"), None);
        assert_eq!(rfind(b"ab", b"abc"), None);
        assert_eq!(find(b"abc", b""), None);
    }

    #[test]
    fn short_or_unshared_texts_are_kept_whole() {
        let fp = format!("Check 1|{URL}");
        for text in [
            "",
            "short",
            "a title that shares nothing with its fingerprint at all",
        ] {
            let s = Spliced::new(text, &fp);
            assert!(!s.is_spliced());
            assert_eq!(s.to_text(&fp), text);
            assert_eq!(s.whole_text().map(|t| &**t), Some(text));
        }
        let s = Spliced::new(&format!("x {URL}"), "tiny");
        assert!(!s.is_spliced());
    }

    #[test]
    fn pieces_at_the_head_or_in_the_middle_are_found() {
        let head = format!("{URL}|Check 1");
        let middle = format!("a|{URL}|b");
        let title = format!("[{URL}] down");
        for fp in [&head, &middle] {
            let s = Spliced::new(&title, fp);
            assert!(s.is_spliced(), "{fp}");
            assert_eq!(s.to_text(fp), title);
        }
    }

    #[test]
    fn cuts_fall_on_whole_characters() {
        // The texts agree on a byte run that ends inside a multi-byte character.
        let fp = format!("é{URL}é");
        let text = format!("è{URL}è");
        let s = Spliced::new(&text, &fp);
        assert_eq!(s.to_text(&fp), text);
        let s = Spliced::new(&format!("ü{URL}ü"), &format!("ö{URL}ö"));
        assert_eq!(s.to_text(&format!("ö{URL}ö")), format!("ü{URL}ü"));
    }

    #[test]
    fn a_different_fingerprint_makes_a_shorter_text_not_a_panic() {
        let fp = format!("Check 1|{URL}");
        let s = Spliced::new(&format!("down: {URL}"), &fp);
        assert_eq!(s.to_text(""), "down: ");
    }
}
