//! Parsed messages, shared by every session of this process. A Maildir message never
//! changes once delivered (only its name does, with its flags), so a message parsed for one
//! FETCH or SEARCH serves every later one until it is evicted: searching a thousand subjects
//! twice reads and parses them once. The cache is bounded by the bytes it holds.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::message::Message;

/// Message bytes held at most; the oldest entries go first.
const CAPACITY_BYTES: usize = 64 * 1024 * 1024;

/// A message's bytes, and its MIME tree when it parses.
#[derive(Debug)]
pub struct Content {
    parsed: Result<Message, Vec<u8>>,
}

impl Content {
    pub fn new(bytes: Vec<u8>) -> Content {
        let parsed = Message::parse(&bytes).map_err(|_| bytes);
        Content { parsed }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.parsed {
            Ok(message) => message.as_bytes(),
            Err(bytes) => bytes,
        }
    }

    /// The MIME tree; `None` for a message beyond the parser's limits.
    pub fn message(&self) -> Option<&Message> {
        self.parsed.as_ref().ok()
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<PathBuf, Arc<Content>>,
    order: VecDeque<PathBuf>,
    bytes: usize,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The content of the message whose Maildir base name is `key`, loaded by `load` when it is
/// not cached.
pub fn get_or_load(
    key: PathBuf,
    load: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Arc<Content>> {
    if let Some(found) = cache()
        .lock()
        .ok()
        .and_then(|c| c.entries.get(&key).cloned())
    {
        return Ok(found);
    }
    let content = Arc::new(Content::new(load()?));
    if let Ok(mut cache) = cache().lock() {
        let size = content.bytes().len();
        if size <= CAPACITY_BYTES / 16 && !cache.entries.contains_key(&key) {
            while cache.bytes + size > CAPACITY_BYTES {
                let Some(oldest) = cache.order.pop_front() else {
                    break;
                };
                if let Some(gone) = cache.entries.remove(&oldest) {
                    cache.bytes -= gone.bytes().len();
                }
            }
            cache.bytes += size;
            cache.order.push_back(key.clone());
            cache.entries.insert(key, content.clone());
        }
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_and_keeps_unparseable_bytes() {
        let key = PathBuf::from("/test/content/one");
        let mut loads = 0;
        for _ in 0..3 {
            let content = get_or_load(key.clone(), || {
                loads += 1;
                Ok(b"Subject: hi\r\n\r\nbody\r\n".to_vec())
            })
            .unwrap();
            assert_eq!(content.message().unwrap().subject().as_deref(), Some("hi"));
            assert_eq!(content.bytes(), b"Subject: hi\r\n\r\nbody\r\n");
        }
        assert_eq!(loads, 1);
        let nested: String = (0..40)
            .map(|n| format!("Content-Type: multipart/mixed; boundary=b{n}\r\n\r\n--b{n}\r\n"))
            .collect();
        let deep = Content::new(nested.clone().into_bytes());
        assert!(deep.message().is_none());
        assert_eq!(deep.bytes(), nested.as_bytes());
    }
}
