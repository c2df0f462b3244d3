//! A refillable window over a byte stream that knows the file offset of every byte, so errors can name it.
//!
//! When the window reaches the end of its buffer it moves to a fresh buffer rather than shifting its live bytes
//! down in place, and keeps the old one, whose bytes frames were read from, for [`ReadBuffer::take_retired`]: the
//! file source hands it, frames and all, to the engine instead of copying every frame out (see
//! `capture::source`).

use std::io::{self, Read};

pub struct ReadBuffer<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    /// The first buffer left since the last [`Self::take_retired`]: it holds every byte handed out before the move.
    retired: Option<Vec<u8>>,
    /// Buffers to move into next, handed back by [`Self::give_spare`] or left over from an untaken move; at most
    /// [`Self::SPARES`].
    spares: Vec<Vec<u8>>,
}

impl<R: Read> ReadBuffer<R> {
    /// The first buffer: small, so a short file (or a fuzzer's input) costs little.
    const INITIAL: usize = 64 << 10;
    /// Streaming through a long file, the buffer doubles up to this, so reads stay large and few. Each buffer
    /// travels to the engine as one batch (`capture::source`), so this also bounds a batch: at 1 MiB, the ten or so
    /// batches in flight were fresh memory to fault in and zero (memset 10 instructions per packet on a 1M-packet
    /// file, 4x the page faults); at 256 KiB reads are still few.
    const STREAMING: usize = 256 << 10;
    /// Spare buffers kept: drained batches come back a few at a time, and a buffer dropped here is one allocated
    /// and zeroed again at the next move (measured: 10 instructions per packet of memset on a 1M-packet file with
    /// one spare).
    const SPARES: usize = 4;

    pub fn new(reader: R) -> Self {
        ReadBuffer {
            reader,
            buf: vec![0; Self::INITIAL],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            retired: None,
            spares: Vec::new(),
        }
    }

    /// Where [`Self::data`] starts in [`Self::buffer`].
    #[inline]
    pub fn position(&self) -> usize {
        self.start
    }

    /// The whole buffer the window is in.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer left when the window last moved to a fresh one (`None` if it has not moved since the last call).
    /// Bytes handed out before the move are in it, at the positions they had.
    #[inline]
    pub fn take_retired(&mut self) -> Option<Vec<u8>> {
        self.retired.take()
    }

    /// The buffer the window is in, bytes handed out since the last move included; the window is empty after it.
    /// For the end of the stream, or a stop.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.start = 0;
        self.end = 0;
        std::mem::take(&mut self.buf)
    }

    /// A buffer nobody reads any more, to move into next instead of allocating one.
    pub fn give_spare(&mut self, buffer: Vec<u8>) {
        if self.spares.len() < Self::SPARES && !buffer.is_empty() {
            self.spares.push(buffer);
        }
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

    /// A new buffer of `size` zero bytes. `vec![0; size]` asks the allocator for zeroed memory (calloc), which
    /// hands out fresh pages without writing them, where growing an empty Vec writes every byte (memset 18
    /// instructions per packet on the 100k bench file, read -q).
    fn zeroed(size: usize) -> Vec<u8> {
        vec![0; size]
    }

    /// A spare buffer made `size` bytes long (zeroing only what it grows by).
    fn resized(mut spare: Vec<u8>, size: usize) -> Vec<u8> {
        spare.resize(size, 0);
        spare
    }

    /// The window has reached the end of the buffer: moves the live bytes to the front of a fresh buffer (a spare one
    /// if there is one), twice the size if they fill this one and `n` needs more, or while streaming has not yet
    /// reached [`Self::STREAMING`]. The old buffer is kept for [`Self::take_retired`] unless an earlier one still
    /// waits there (then nothing was handed out of it since, and it becomes a spare).
    fn make_room(&mut self, n: usize) {
        let live = self.end - self.start;
        let consumed_something = self.start > 0;
        let full = live == self.buf.len();
        let streaming = consumed_something && self.buf.len() < Self::STREAMING;
        let size = if (full && self.buf.len() < n) || streaming { self.buf.len() * 2 } else { self.buf.len() };
        // A buffer taken by `take_buffer` is empty: start again at the first size.
        let size = size.max(Self::INITIAL);
        let mut fresh = self.spares.pop().map_or_else(|| Self::zeroed(size), |spare| Self::resized(spare, size));
        fresh[..live].copy_from_slice(&self.buf[self.start..self.end]);
        let old = std::mem::replace(&mut self.buf, fresh);
        self.start = 0;
        self.end = live;
        if self.retired.is_none() {
            self.retired = Some(old);
        } else {
            self.give_spare(old);
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
    fn bytes_handed_out_stay_where_they_were_in_the_retired_buffer() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut rb = ReadBuffer::new(&data[..]);
        let (mut read, mut handed_out) = (0, Vec::new());
        while rb.fill(1000).unwrap() {
            if let Some(retired) = rb.take_retired() {
                // Every record handed out since the last move is still in the old buffer, at its position.
                for (at, offset) in handed_out.drain(..) {
                    assert_eq!(&retired[at..at + 1000], &data[offset..offset + 1000]);
                }
                rb.give_spare(retired);
            }
            handed_out.push((rb.position(), read));
            assert_eq!(&rb.data()[..1000], &data[read..read + 1000]);
            rb.consume(1000);
            read += 1000;
        }
        let last = rb.take_buffer();
        for (at, offset) in handed_out {
            assert_eq!(&last[at..at + 1000], &data[offset..offset + 1000]);
        }
        assert_eq!(read, data.len());
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
