//! A session's view of the file tree: the virtual working directory and how a client's path
//! names a place under the user's root (RFC 959 §4.1.1's CWD and the pathname arguments).
//!
//! Paths are resolved lexically, as the client sees them: `/` is the user's root, `..` never
//! climbs above it, `.` and empty segments vanish, and a name is any bytes but `/` and NUL.
//! Where the result is on disk, and whether a symlink inside the root points out of it, is
//! the file-system layer's to check when it opens the path.

/// A normalised absolute path under the user's root, as segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualPath {
    segments: Vec<Vec<u8>>,
}

/// Segments deeper than this are refused: no real tree is that deep, and it bounds the work.
pub const MAX_DEPTH: usize = 256;

impl VirtualPath {
    /// The user's root, `/`.
    pub fn root() -> VirtualPath {
        VirtualPath::default()
    }

    /// `argument` resolved against this directory; `None` if it is too deep or holds NUL.
    pub fn join(&self, argument: &[u8]) -> Option<VirtualPath> {
        if argument.contains(&0) {
            return None;
        }
        let mut segments = if argument.starts_with(b"/") {
            Vec::new()
        } else {
            self.segments.clone()
        };
        for segment in argument.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => {
                    segments.pop();
                }
                name => {
                    if segments.len() >= MAX_DEPTH {
                        return None;
                    }
                    segments.push(name.to_vec());
                }
            }
        }
        Some(VirtualPath { segments })
    }

    /// The parent directory (the root's parent is the root).
    pub fn parent(&self) -> VirtualPath {
        let mut segments = self.segments.clone();
        segments.pop();
        VirtualPath { segments }
    }

    pub fn segments(&self) -> &[Vec<u8>] {
        &self.segments
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The path relative to the root, for opening beneath it (`a/b`; empty for the root).
    pub fn relative(&self) -> Vec<u8> {
        self.segments.join(&b'/')
    }

    /// As PWD shows it (RFC 959 §7, appendix II): absolute, in double quotes, with every `"`
    /// in a name doubled.
    pub fn quoted(&self) -> Vec<u8> {
        let mut out = vec![b'"'];
        if self.segments.is_empty() {
            out.push(b'/');
        }
        for segment in &self.segments {
            out.push(b'/');
            for &byte in segment {
                if byte == b'"' {
                    out.push(b'"');
                }
                out.push(byte);
            }
        }
        out.push(b'"');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(text: &str) -> VirtualPath {
        VirtualPath::root().join(text.as_bytes()).unwrap()
    }

    #[test]
    fn dot_dot_never_climbs_above_the_root() {
        assert_eq!(path("../../etc/passwd").relative(), b"etc/passwd");
        assert_eq!(path("/a/b/../../../c").relative(), b"c");
        assert_eq!(path("a//./b/").relative(), b"a/b");
        assert!(path("..").is_root());
        let here = path("/pub/docs");
        assert_eq!(here.join(b"../img").unwrap().relative(), b"pub/img");
        assert_eq!(here.join(b"/x").unwrap().relative(), b"x");
        assert_eq!(here.parent().relative(), b"pub");
        assert!(VirtualPath::root().join(b"a\0b").is_none());
    }

    #[test]
    fn pwd_quotes_korean_names_and_doubles_quotes() {
        assert_eq!(VirtualPath::root().quoted(), b"\"/\"");
        assert_eq!(
            path("자료/say \"hi\"").quoted(),
            "\"/자료/say \"\"hi\"\"\"".as_bytes()
        );
        assert!(
            VirtualPath::root()
                .join("a/".repeat(MAX_DEPTH + 1).as_bytes())
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn resolved_paths_hold_no_dot_segments(
            start in prop::collection::vec("[a-z.]{0,4}", 0..6),
            argument in prop::collection::vec(prop_oneof!["\\.\\.", "\\.", "[a-z]{1,3}", ""], 0..10),
        ) {
            let here = VirtualPath::root().join(start.join("/").as_bytes()).unwrap();
            let resolved = here.join(argument.join("/").as_bytes()).unwrap();
            for segment in resolved.segments() {
                prop_assert!(!segment.is_empty() && segment != b"." && segment != b"..");
                prop_assert!(!segment.contains(&b'/'));
            }
        }
    }
}
