//! DNS over TCP framing, sans-IO: every message is preceded by its length as a 16-bit big-endian
//! number (RFC 1035 §4.2.2), and one connection may carry many messages, pipelined, answered in any
//! order (RFC 7766 §6.2.1). The drivers feed received bytes in and take whole messages out.

/// Splits a TCP byte stream into DNS messages.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
}

/// A frame whose length prefix says 0: no DNS message is that short, the peer is confused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("TCP frame with length 0")]
pub struct EmptyFrame;

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message, if one has arrived. The buffer never holds more than one partial
    /// message plus what one read returned, since a length prefix bounds each message at 65,535.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, EmptyFrame> {
        let Some(prefix) = self.buffer.first_chunk::<2>() else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes(*prefix));
        if len == 0 {
            return Err(EmptyFrame);
        }
        if self.buffer.len() < 2 + len {
            return Ok(None);
        }
        let message = self.buffer[2..2 + len].to_vec();
        self.buffer.drain(..2 + len);
        Ok(Some(message))
    }

    /// True when a message has begun arriving but is not complete (an idle timeout then cuts a
    /// slow sender, not a quiet connection between queries).
    pub fn is_mid_message(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// `message` with its length prefix, ready to write. Messages longer than 65,535 bytes cannot be
/// framed; the encoder never produces them.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut framed = Vec::with_capacity(2 + usize::from(len));
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&message[..usize::from(len)]);
    framed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pipelined_messages_fed_a_byte_at_a_time() {
        let mut stream = frame(b"first message");
        stream.extend(frame(b"second"));
        let mut decoder = FrameDecoder::new();
        let mut messages = Vec::new();
        for byte in stream {
            decoder.feed(&[byte]);
            while let Some(message) = decoder.next_message().unwrap() {
                messages.push(message);
            }
        }
        assert_eq!(
            messages,
            vec![b"first message".to_vec(), b"second".to_vec()]
        );
        assert!(!decoder.is_mid_message());
    }

    #[test]
    fn waits_for_the_whole_message() {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&[0, 5, b'a', b'b']);
        assert_eq!(decoder.next_message(), Ok(None));
        assert!(decoder.is_mid_message());
        decoder.feed(b"cde");
        assert_eq!(decoder.next_message(), Ok(Some(b"abcde".to_vec())));
    }

    #[test]
    fn a_zero_length_frame_is_an_error() {
        let mut decoder = FrameDecoder::new();
        decoder.feed(&[0, 0]);
        assert_eq!(decoder.next_message(), Err(EmptyFrame));
    }

    #[test]
    fn frame_prefixes_the_big_endian_length() {
        assert_eq!(frame(&[7; 258])[..3], [1, 2, 7]);
    }
}
