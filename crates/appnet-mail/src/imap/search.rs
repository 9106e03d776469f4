//! SEARCH (RFC 3501 §6.4.4): whether one message matches a search key.
//!
//! Text keys match case-insensitively against decoded text: header values with RFC 2047
//! encoded-words decoded, and text parts with their transfer encoding and charset undone, so a
//! UTF-8 search string finds a Korean subject however it was encoded (as Dovecot does).

use std::sync::Arc;
use std::time::SystemTime;

use crate::message::{Message, encoded_word};
use crate::store::{Content as StoredContent, Flags};

use super::command::SearchKey;
use super::date::{day_of, day_of_header};

/// What a search knows about one message without reading it.
pub struct Candidate<'a> {
    pub seq: u32,
    pub uid: u32,
    pub flags: &'a Flags,
    pub recent: bool,
    pub internal_date: SystemTime,
    pub size: u64,
    /// The sequence number and UID `*` stands for.
    pub largest_seq: u32,
    pub largest_uid: u32,
}

/// The message content, loaded (from the store's cache, or read and parsed) on first need.
pub struct Content<F: FnMut() -> Option<Arc<StoredContent>>> {
    load: F,
    loaded: Option<Option<Arc<StoredContent>>>,
}

impl<F: FnMut() -> Option<Arc<StoredContent>>> Content<F> {
    pub fn new(load: F) -> Self {
        Self { load, loaded: None }
    }

    fn get(&mut self) -> Option<&Message> {
        if self.loaded.is_none() {
            self.loaded = Some((self.load)());
        }
        self.loaded.as_ref()?.as_ref()?.message()
    }
}

/// Whether the candidate matches `key`.
pub fn matches<F: FnMut() -> Option<Arc<StoredContent>>>(
    key: &SearchKey,
    c: &Candidate<'_>,
    content: &mut Content<F>,
) -> bool {
    match key {
        SearchKey::All => true,
        SearchKey::And(keys) => keys.iter().all(|k| matches(k, c, content)),
        SearchKey::Not(key) => !matches(key, c, content),
        SearchKey::Or(a, b) => matches(a, c, content) || matches(b, c, content),
        SearchKey::Sequence(set) => set.contains(c.seq, c.largest_seq),
        SearchKey::Uid(set) => set.contains(c.uid, c.largest_uid),
        SearchKey::Flag(flag, on) => c.flags.contains(flag) == *on,
        SearchKey::Recent => c.recent,
        SearchKey::New => c.recent && !c.flags.seen,
        SearchKey::Old => !c.recent,
        SearchKey::Before(day) => day_of(c.internal_date) < *day,
        SearchKey::On(day) => day_of(c.internal_date) == *day,
        SearchKey::Since(day) => day_of(c.internal_date) >= *day,
        SearchKey::SentBefore(day) => sent_day(content).is_some_and(|d| d < *day),
        SearchKey::SentOn(day) => sent_day(content).is_some_and(|d| d == *day),
        SearchKey::SentSince(day) => sent_day(content).is_some_and(|d| d >= *day),
        SearchKey::Larger(n) => c.size > *n,
        SearchKey::Smaller(n) => c.size < *n,
        SearchKey::Header(name, text) => content.get().is_some_and(|m| {
            let needle = fold(text);
            m.headers()
                .get_all(name)
                .any(|value| fold(&encoded_word::decode(value)).contains(&needle))
        }),
        SearchKey::Body(text) => content.get().is_some_and(|m| body_contains(m, &fold(text))),
        SearchKey::Text(text) => content.get().is_some_and(|m| {
            let needle = fold(text);
            m.headers().fields().iter().any(|f| {
                fold(&format!("{}: {}", f.name, encoded_word::decode(&f.value))).contains(&needle)
            }) || body_contains(m, &needle)
        }),
    }
}

fn sent_day<F: FnMut() -> Option<Arc<StoredContent>>>(content: &mut Content<F>) -> Option<i64> {
    content.get()?.date().and_then(day_of_header)
}

/// Case folding for matching: Unicode lower case.
fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// Whether any text part (decoded) contains `needle` (already folded).
fn body_contains(message: &Message, needle: &str) -> bool {
    message.root().walk().into_iter().any(|part| {
        part.children.is_empty()
            && part.content_type.mime_type == "text"
            && fold(&message.text_of(part)).contains(needle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::command::{SearchKey, SeqNumber, SequenceSet};
    use crate::store::Flag;
    use std::time::UNIX_EPOCH;

    #[test]
    fn matches_decoded_headers_and_bodies() {
        let raw = "Subject: =?UTF-8?B?7ZWc6rWt7Ja0IOygnOuqqQ==?=\r\nFrom: Kim <kim@example.kr>\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\r\n7JWI64WV7ZWY7IS47JqUIFdvcmxk\r\n";
        let flags = Flags::default();
        let c = Candidate {
            seq: 2,
            uid: 7,
            flags: &flags,
            recent: true,
            internal_date: UNIX_EPOCH,
            size: 300,
            largest_seq: 3,
            largest_uid: 9,
        };
        let mut content =
            Content::new(|| Some(Arc::new(StoredContent::new(raw.as_bytes().to_vec()))));
        let yes = |key: SearchKey, content: &mut Content<_>| matches(&key, &c, content);
        assert!(yes(
            SearchKey::Header("subject".into(), "제목".into()),
            &mut content
        ));
        assert!(yes(
            SearchKey::Header("from".into(), "KIM@".into()),
            &mut content
        ));
        assert!(yes(
            SearchKey::Body("안녕하세요 world".into()),
            &mut content
        ));
        assert!(yes(SearchKey::Text("한국어".into()), &mut content));
        assert!(!yes(SearchKey::Body("한국어".into()), &mut content));
        assert!(yes(SearchKey::New, &mut content));
        assert!(yes(SearchKey::Flag(Flag::Seen, false), &mut content));
        assert!(yes(
            SearchKey::SentOn(super::super::date::days_from_civil(2003, 7, 1)),
            &mut content
        ));
        assert!(
            yes(SearchKey::Larger(299), &mut content)
                && !yes(SearchKey::Smaller(300), &mut content)
        );
        let star = SequenceSet(vec![(SeqNumber::Largest, SeqNumber::Largest)]);
        assert!(!yes(SearchKey::Sequence(star.clone()), &mut content));
        assert!(yes(
            SearchKey::Not(Box::new(SearchKey::Uid(star))),
            &mut content
        ));
        assert!(yes(
            SearchKey::Header("subject".into(), "".into()),
            &mut content
        ));
        assert!(!yes(
            SearchKey::Header("bcc".into(), "".into()),
            &mut content
        ));
    }
}
