//! The bounded input buffer both ends of a connection parse from: bytes received and not yet
//! consumed, whether the peer has finished sending, and an overflow to report. Reading no more
//! than [`Input::capacity`] is what bounds memory while pipelined messages wait.

use super::error::HttpError;

#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// Received and not yet consumed.
    pub(crate) bytes: Vec<u8>,
    max: usize,
    /// The peer closed its sending side.
    pub(crate) eof: bool,
    /// More was fed than [`Input::capacity`] allowed: reported once parsing resumes.
    pub(crate) overflow: Option<HttpError>,
}

impl Input {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            bytes: Vec::new(),
            max,
            eof: false,
            overflow: None,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.max.saturating_sub(self.bytes.len())
    }

    /// Appends `bytes`; more than [`Input::capacity`] is dropped and recorded as an overflow.
    /// Nothing is taken after EOF or an overflow.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.eof || self.overflow.is_some() {
            return;
        }
        if bytes.len() > self.capacity() {
            self.overflow = Some(HttpError::BufferFull { max: self.max });
            return;
        }
        self.bytes.extend_from_slice(bytes);
    }
}
