//! A refillable window over a byte stream that knows the file offset of every byte, so errors can name it.

use std::io::{self, Read};

pub struct ReadBuffer<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> ReadBuffer<R> {
    /// The first buffer: small, so a short file (or a fuzzer's input) costs little.
    const INITIAL: usize = 64 << 10;
    /// Streaming through a long file, the buffer doubles up to this, so reads stay large and few.
    const STREAMING: usize = 1 << 20;

    pub fn new(reader: R) -> Self {
        ReadBuffer { reader, buf: vec![0; Self::INITIAL], start: 0, end: 0, offset: 0, eof: false }
    }

    /// The bytes available now.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// File offset of the first available byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    #[inline]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `n` bytes available. Returns `false` if the stream ends first (what there is stays available).
    ///
    /// Memory follows the bytes that arrive, not the `n` asked for: a record header may claim 16 MiB in a file that
    /// holds 100 bytes, so the buffer doubles only when it is full of live bytes, never straight to `n`.
    #[inline]
    pub fn fill(&mut self, n: usize) -> io::Result<bool> {
        // Almost every call (one per pcap record header, one per record) finds its bytes already read: answering
        // that without the loop's call cut the reader's instructions per packet (see `read_more`).
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.read_more(n)
    }

    /// [`Self::fill`]'s slow path: reads until `n` bytes are available or the stream ends.
    #[cold]
    fn read_more(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                self.make_room(n);
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(got) => self.end += got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// The window has reached the end of the buffer: moves the live bytes to the front, and doubles the buffer if
    /// they fill it and `n` needs more, or while streaming has not yet reached [`Self::STREAMING`].
    fn make_room(&mut self, n: usize) {
        let live = self.end - self.start;
        let consumed_something = self.start > 0;
        self.buf.copy_within(self.start..self.end, 0);
        self.start = 0;
        self.end = live;
        let full = live == self.buf.len();
        let streaming = consumed_something && self.buf.len() < Self::STREAMING;
        if (full && self.buf.len() < n) || streaming {
            self.buf.resize(self.buf.len() * 2, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per call, the worst case for refilling.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || out.is_empty() {
                return Ok(0);
            }
            out[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn fills_across_tiny_reads_and_tracks_offsets() {
        let data: Vec<u8> = (0..=255).collect();
        let mut rb = ReadBuffer::new(Trickle(&data));
        assert!(rb.fill(10).unwrap());
        assert_eq!(&rb.data()[..3], &[0, 1, 2]);
        assert!(rb.fill(200).unwrap());
        rb.consume(200);
        assert_eq!(rb.offset(), 200);
        assert!(rb.fill(56).unwrap());
        assert_eq!(rb.data()[0], 200);
        assert!(!rb.fill(57).unwrap());
        assert_eq!(rb.data().len(), 56);
    }

    #[test]
    fn grows_for_records_larger_than_the_buffer() {
        let data = vec![7u8; ReadBuffer::<&[u8]>::STREAMING * 3];
        let mut rb = ReadBuffer::new(&data[..]);
        rb.consume(0);
        assert!(rb.fill(data.len()).unwrap());
        assert_eq!(rb.data().len(), data.len());
    }

    #[test]
    fn a_claimed_length_past_the_end_allocates_only_what_arrived() {
        let data = [7u8; 100];
        let mut rb = ReadBuffer::new(&data[..]);
        assert!(!rb.fill(16 << 20).unwrap());
        assert_eq!(rb.data().len(), 100);
        assert_eq!(rb.buf.len(), ReadBuffer::<&[u8]>::INITIAL);
    }

    #[test]
    fn streaming_grows_the_buffer_to_its_cap_and_no_further() {
        let data: Vec<u8> = (0..ReadBuffer::<&[u8]>::STREAMING * 4).map(|i| i as u8).collect();
        let mut rb = ReadBuffer::new(&data[..]);
        let mut read = 0;
        while rb.fill(1000).unwrap() {
            assert_eq!(rb.data()[0], read as u8, "offset {read}");
            rb.consume(1000);
            read += 1000;
        }
        assert_eq!(rb.buf.len(), ReadBuffer::<&[u8]>::STREAMING);
        assert_eq!(read + rb.data().len(), data.len());
    }
}
