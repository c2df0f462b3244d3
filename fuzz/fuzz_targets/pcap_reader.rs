//! The capture file reader (pcap and pcapng, told apart by their magic) on any byte stream, read from memory twice:
//! once from a slice, once through a reader that hands out the same bytes a few at a time.
//!
//! Checked on every input, besides "no panic":
//! - both reads give the same frames and end the same way (the refill logic never changes what is read);
//! - every frame's bytes are bytes of the file, taken from the record the reader just consumed (for pcap, exactly
//!   the record's last `incl_len` bytes), and `orig_len` is never below the captured length;
//! - a clean end (`Ok(None)`) comes only after every byte of the file was consumed;
//! - an error is a content error (reading memory cannot fail) and prints as one line, at an offset inside the file;
//! - memory: the reader never holds more than its documented caps allow, whatever length a header claims. A
//!   counting allocator measures the peak during each read: at most the 1 MiB streaming buffer, one buffer for the
//!   largest record or block the caps admit (16 MiB, rounded up to a power of two with its record header), and a
//!   small multiple of the input for the pcapng parser's interface list.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use synscope::capture::CaptureReader;
use synscope::capture::error::CaptureErrorKind;
use synscope::time::Timestamp;
use synscope::wire::LinkType;

/// The system allocator, counting the bytes live now and the most live since the last [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // While moving, the old and the new block may both be live: count the new one before the old one goes.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }
}

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most the reader's buffer grows to while streaming (`ReadBuffer::STREAMING`); it starts at 64 KiB.
const STREAMING_BUFFER: usize = 1 << 20;
/// The largest buffer the caps admit: a pcap record of a 16 MiB snap length behind its 16-byte header (a pcapng
/// block is capped at 16 MiB whole), rounded up to a power of two as the buffer grows.
const LARGEST_BUFFER: usize = ((16 << 20) + 16usize).next_power_of_two();

/// Hands out the bytes in chunks of 1, 2, 3, ... up to 13 bytes, then starts over: every header and record is split
/// across reads somewhere.
struct Trickle<'a> {
    data: &'a [u8],
    next: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.next = self.next % 13 + 1;
        let n = self.next.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Read1 {
    ts: Timestamp,
    link_type: LinkType,
    orig_len: u32,
    data: Vec<u8>,
}

/// Reads every frame, checking each against the file, and returns the frames and how the read ended.
fn read_all<R: Read>(file: &[u8], source: R) -> (Vec<Read1>, String) {
    let mut reader = match CaptureReader::new("fuzz", source) {
        Ok(reader) => reader,
        Err(e) => return (Vec::new(), ended_badly(file, &e)),
    };
    let _ = reader.precision();
    let pcap = !file.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
    let mut frames = Vec::new();
    loop {
        let before = reader.offset() as usize;
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => {
                Read1 { ts: frame.ts, link_type: frame.link_type, orig_len: frame.orig_len, data: frame.data.to_vec() }
            }
            Ok(None) => {
                assert_eq!(reader.offset() as usize, file.len(), "a clean end before the end of the file");
                return (frames, "end".to_string());
            }
            Err(e) => return (frames, ended_badly(file, &e)),
        };
        let after = reader.offset() as usize;
        assert!(before <= after && after <= file.len(), "offsets {before}..{after} of {}", file.len());
        assert!(frame.data.len() as u64 <= u64::from(frame.orig_len));
        let record = &file[before..after];
        if pcap {
            assert!(record.ends_with(&frame.data), "a pcap frame is not its record's tail");
        } else {
            assert!(contains(record, &frame.data), "a pcapng frame is not inside the blocks just read");
        }
        frames.push(frame);
        // Every record or block is at least 12 bytes, so this bounds the loop even if offsets stopped moving.
        assert!(frames.len() <= file.len() / 12, "more frames than the file has room for");
    }
}

/// Checks an error and returns it as text, for comparing the two reads.
fn ended_badly(file: &[u8], e: &synscope::capture::CaptureError) -> String {
    assert!(e.is_content_error(), "reading from memory failed: {e:?}");
    assert!(!matches!(e.kind, CaptureErrorKind::Read(_)));
    if let Some(location) = e.location {
        assert!(location.offset as usize <= file.len(), "error offset {} past the file", location.offset);
    }
    let line = e.to_string();
    assert!(!line.contains('\n'), "an error on more than one line: {line:?}");
    line
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_peak(file: &[u8], baseline: usize) {
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let bound = STREAMING_BUFFER + LARGEST_BUFFER + 64 * file.len() + (64 << 10);
    assert!(peak <= bound, "the reader held {peak} bytes for a {}-byte file (bound {bound})", file.len());
}

fuzz_target!(|file: &[u8]| {
    let baseline = reset_peak();
    let whole = read_all(file, file);
    check_peak(file, baseline);
    let baseline = reset_peak();
    let trickled = read_all(file, Trickle { data: file, next: 0 });
    check_peak(file, baseline);
    assert_eq!(whole, trickled, "reading in small pieces changed what was read");
});
