//! Errors from capture files: one line naming the file, the record and the byte offset, so a user can find the
//! damage with a hex editor.

use std::fmt;

#[derive(Debug)]
pub struct CaptureError {
    pub file: String,
    pub location: Option<Location>,
    pub kind: CaptureErrorKind,
}

/// Where in a file an error was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// 1-based record number: the packet record in pcap, the block in pcapng.
    pub record: u64,
    pub unit: RecordUnit,
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordUnit {
    Record,
    Block,
}

#[derive(Debug)]
pub enum CaptureErrorKind {
    Open(std::io::Error),
    Read(std::io::Error),
    Write(std::io::Error),
    /// The first four bytes are neither pcap nor pcapng magic.
    UnknownMagic(u32),
    Empty,
    /// The file ends inside a header or a record.
    Truncated {
        needed: u64,
        available: u64,
    },
    /// A length field no writer would produce.
    ImpossibleLength {
        what: &'static str,
        len: u64,
        limit: u64,
    },
    UnsupportedLinkType(u32),
    UndefinedInterface(u32),
    /// A header or block the pcap-file crate rejected.
    Malformed(String),
}

impl CaptureError {
    pub fn new(file: &str, location: Option<Location>, kind: CaptureErrorKind) -> Self {
        CaptureError { file: file.to_string(), location, kind }
    }

    /// The error is about the file's content rather than the system (used for exit codes and hints).
    pub fn is_content_error(&self) -> bool {
        !matches!(self.kind, CaptureErrorKind::Open(_) | CaptureErrorKind::Read(_) | CaptureErrorKind::Write(_))
    }
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureErrorKind::Open(e) => write!(f, "cannot open: {e}"),
            CaptureErrorKind::Read(e) => write!(f, "read failed: {e}"),
            CaptureErrorKind::Write(e) => write!(f, "write failed: {e}"),
            CaptureErrorKind::UnknownMagic(m) => {
                write!(f, "not a pcap or pcapng file (magic 0x{m:08x}); convert it with editcap or tshark -F pcap")
            }
            CaptureErrorKind::Empty => write!(f, "empty file, not a pcap or pcapng capture"),
            CaptureErrorKind::Truncated { needed, available } => {
                write!(
                    f,
                    "file ends inside a record: it needs {needed} bytes, only {available} remain (truncated capture?)"
                )
            }
            CaptureErrorKind::ImpossibleLength { what, len, limit } => {
                write!(f, "impossible {what} {len} (limit {limit}): the file is corrupt")
            }
            CaptureErrorKind::UnsupportedLinkType(l) => write!(
                f,
                "unsupported link type {l}; supported: 0 null, 1 ethernet, 101 raw, 108 loop, 113 linux-sll, 228 ipv4, \
                 229 ipv6, 276 linux-sll2"
            ),
            CaptureErrorKind::UndefinedInterface(i) => write!(f, "packet for interface {i}, which no block defined"),
            CaptureErrorKind::Malformed(m) => write!(f, "malformed: {m}"),
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(loc) = self.location {
            let unit = match loc.unit {
                RecordUnit::Record => "record",
                RecordUnit::Block => "block",
            };
            write!(f, "{unit} {} at byte offset {}: ", loc.record, loc.offset)?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for CaptureError {}
