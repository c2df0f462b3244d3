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
    const INITIAL: usize = 1 << 20;

    pub fn new(reader: R) -> Self {
        ReadBuffer { reader, buf: vec![0; Self::INITIAL], start: 0, end: 0, offset: 0, eof: false }
    }

    /// The bytes available now.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// File offset of the first available byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Makes at least `n` bytes available. Returns `false` if the stream ends first (what there is stays available).
    pub fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            if self.buf.len() - self.start < n {
                // Not enough room after `start`: move the live bytes to the front, growing only for big records.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    self.buf.resize(n.next_power_of_two(), 0);
                }
            } else if self.buf.len() == self.end {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
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
        let data = vec![7u8; ReadBuffer::<&[u8]>::INITIAL * 3];
        let mut rb = ReadBuffer::new(&data[..]);
        rb.consume(0);
        assert!(rb.fill(data.len()).unwrap());
        assert_eq!(rb.data().len(), data.len());
    }
}
