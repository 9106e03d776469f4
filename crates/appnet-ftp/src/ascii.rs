//! TYPE A (RFC 959 §3.1.1.1): text crosses the data connection with CRLF line ends. Sending,
//! each bare LF becomes CRLF; receiving, CRLF becomes LF. Both keep state across chunk
//! boundaries, so a CR at the end of one read and its LF at the start of the next still pair.

/// One direction of the conversion.
pub trait Convert {
    /// Appends `input`, converted, to `output`.
    fn convert(&mut self, input: &[u8], output: &mut Vec<u8>);
}

/// `input` through `converter` (into `scratch`), or as it is without one (TYPE I).
pub fn through<'a, C: Convert>(
    converter: Option<&mut C>,
    input: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    match converter {
        Some(converter) => {
            scratch.clear();
            converter.convert(input, scratch);
            scratch
        }
        None => input,
    }
}

/// File bytes → network bytes.
#[derive(Debug, Default)]
pub struct ToNetwork {
    last_was_cr: bool,
}

impl Convert for ToNetwork {
    fn convert(&mut self, input: &[u8], output: &mut Vec<u8>) {
        output.reserve(input.len() + input.len() / 32);
        for &byte in input {
            if byte == b'\n' && !self.last_was_cr {
                output.push(b'\r');
            }
            output.push(byte);
            self.last_was_cr = byte == b'\r';
        }
    }
}

/// Network bytes → file bytes.
#[derive(Debug, Default)]
pub struct FromNetwork {
    /// A CR ended the last chunk; whether it is kept depends on the next byte.
    pending_cr: bool,
}

impl Convert for FromNetwork {
    fn convert(&mut self, input: &[u8], output: &mut Vec<u8>) {
        output.reserve(input.len());
        for &byte in input {
            if std::mem::take(&mut self.pending_cr) && byte != b'\n' {
                output.push(b'\r');
            }
            if byte == b'\r' {
                self.pending_cr = true;
            } else {
                output.push(byte);
            }
        }
    }
}

impl FromNetwork {
    /// The end of the data: a CR still held was a lone one.
    pub fn finish(&mut self, output: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            output.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn to_network(chunks: &[&[u8]]) -> Vec<u8> {
        let mut converter = ToNetwork::default();
        let mut out = Vec::new();
        for chunk in chunks {
            converter.convert(chunk, &mut out);
        }
        out
    }

    fn from_network(chunks: &[&[u8]]) -> Vec<u8> {
        let mut converter = FromNetwork::default();
        let mut out = Vec::new();
        for chunk in chunks {
            converter.convert(chunk, &mut out);
        }
        converter.finish(&mut out);
        out
    }

    #[test]
    fn line_ends_convert_across_chunks() {
        assert_eq!(to_network(&[b"a\nb\r", b"\nc\n"]), b"a\r\nb\r\nc\r\n");
        assert_eq!(from_network(&[b"a\r\nb\r", b"\nc\rd\r"]), b"a\nb\nc\rd\r");
    }

    proptest! {
        #[test]
        fn unix_text_survives_a_round_trip(text in "[a-z\n]{0,200}", cut in 0usize..200) {
            let bytes = text.as_bytes();
            let cut = cut.min(bytes.len());
            let wire = to_network(&[&bytes[..cut], &bytes[cut..]]);
            let cut = cut.min(wire.len());
            prop_assert_eq!(from_network(&[&wire[..cut], &wire[cut..]]), bytes);
        }
    }
}
