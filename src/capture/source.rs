//! The file source thread: reads capture files one after another and sends their frames to the engine in batches
//! over a bounded channel. A file source blocks when the channel is full, so reading a file never loses a frame
//! (a live source, by contrast, counts a drop and moves on; see DESIGN.md).
//!
//! Frames are not copied out of the buffer the file is read into: a batch is the frames of one read buffer, and
//! takes the buffer with it when reading moves on to a fresh one (the record that straddles the end is carried
//! over by the reader), or at the end of the file. Drained batches come back, and their buffers are read into
//! again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::error::CaptureError;
use super::file::{CaptureReader, Precision};
use super::frame::FrameBatch;

/// What the source tells the engine, in file order.
pub enum SourceEvent {
    /// A file was opened; its frames follow.
    FileStarted {
        name: String,
        precision: Precision,
    },
    Frames(FrameBatch),
    /// A file could not be opened, or broke part-way; the frames before the damage were already sent.
    Failed(CaptureError),
}

/// Batches in flight between the source and the engine. Bounded, so a slow printer holds the reader back instead
/// of letting memory grow.
const CHANNEL_BATCHES: usize = 8;

pub struct FileSource {
    pub events: Receiver<SourceEvent>,
    /// Drained batches go back here for reuse.
    pub recycle: Sender<FrameBatch>,
    /// Bytes read so far across all files, for the progress bar.
    pub bytes_read: Arc<AtomicU64>,
    pub thread: JoinHandle<()>,
}

impl FileSource {
    /// Starts reading `paths` in order on a thread of its own.
    pub fn spawn(paths: Vec<String>) -> std::io::Result<FileSource> {
        let (tx, events) = bounded(CHANNEL_BATCHES);
        let (recycle, recycled) = bounded(CHANNEL_BATCHES + 2);
        let bytes_read = Arc::new(AtomicU64::new(0));
        let progress = Arc::clone(&bytes_read);
        let thread = thread::Builder::new().name("file-source".into()).spawn(move || {
            let mut done_bytes = 0u64;
            for path in paths {
                match read_one(&path, &tx, &recycled, &progress, done_bytes) {
                    Ok(bytes) => done_bytes += bytes,
                    Err(ReadStop::EngineGone) => return,
                    Err(ReadStop::Failed(err, bytes)) => {
                        done_bytes += bytes;
                        if tx.send(SourceEvent::Failed(err)).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
        Ok(FileSource { events, recycle, bytes_read, thread })
    }
}

enum ReadStop {
    /// The engine hung up (it reached `-c`, or the output closed).
    EngineGone,
    Failed(CaptureError, u64),
}

fn read_one(
    path: &str,
    tx: &Sender<SourceEvent>,
    recycled: &Receiver<FrameBatch>,
    progress: &AtomicU64,
    done_before: u64,
) -> Result<u64, ReadStop> {
    let mut reader = CaptureReader::open(path).map_err(|e| ReadStop::Failed(e, 0))?;
    let started = SourceEvent::FileStarted { name: reader.name().to_string(), precision: reader.precision() };
    tx.send(started).map_err(|_| ReadStop::EngineGone)?;
    let mut batch = next_batch(recycled, &mut reader);
    loop {
        let frame = match reader.next_placed() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(err) => {
                let offset = reader.offset();
                let buffer = reader.take_retired().unwrap_or_else(|| reader.take_buffer());
                flush(tx, &mut batch, buffer, recycled, &mut reader)?;
                return Err(ReadStop::Failed(err, offset));
            }
        };
        // Reading moved on to a fresh buffer for this frame: the ones before it are all in the old one.
        if let Some(buffer) = reader.take_retired() {
            progress.store(done_before + reader.offset(), Ordering::Relaxed);
            flush(tx, &mut batch, buffer, recycled, &mut reader)?;
        }
        batch.push_placed(frame);
    }
    let buffer = reader.take_retired().unwrap_or_else(|| reader.take_buffer());
    flush(tx, &mut batch, buffer, recycled, &mut reader)?;
    progress.store(done_before + reader.offset(), Ordering::Relaxed);
    Ok(reader.offset())
}

/// The next batch to fill, with the buffer of a drained one given to the reader to read into again.
fn next_batch<R: std::io::Read>(recycled: &Receiver<FrameBatch>, reader: &mut CaptureReader<R>) -> FrameBatch {
    let (batch, buffer) = reuse(recycled);
    reader.give_spare(buffer);
    batch
}

/// An empty batch (a drained one handed back by the engine, or a new one), and the buffer it had.
fn reuse(recycled: &Receiver<FrameBatch>) -> (FrameBatch, Vec<u8>) {
    let mut batch = recycled.try_recv().unwrap_or_default();
    let buffer = batch.take_bytes();
    batch.clear();
    (batch, buffer)
}

/// Sends the frames placed in `batch` with `buffer`, the read buffer they lie in, and starts the next batch.
fn flush<R: std::io::Read>(
    tx: &Sender<SourceEvent>,
    batch: &mut FrameBatch,
    buffer: Vec<u8>,
    recycled: &Receiver<FrameBatch>,
    reader: &mut CaptureReader<R>,
) -> Result<(), ReadStop> {
    if batch.is_empty() {
        reader.give_spare(buffer);
        return Ok(());
    }
    reader.give_spare(batch.hand_over(buffer));
    let full = std::mem::replace(batch, next_batch(recycled, reader));
    tx.send(SourceEvent::Frames(full)).map_err(|_| ReadStop::EngineGone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Frame;
    use crate::time::Timestamp;
    use crate::wire::LinkType;

    #[test]
    fn a_recycled_batch_comes_back_empty() {
        // The engine hands back batches it has printed; reusing one without clearing it would print them again.
        let (tx, rx) = bounded(1);
        let mut used = FrameBatch::default();
        used.push(Frame {
            raw_stamp: None,
            ts: Timestamp::from_nanos(1),
            link_type: LinkType::Ethernet,
            orig_len: 3,
            data: b"abc",
        });
        tx.send(used).unwrap();
        assert!(reuse(&rx).0.is_empty());
    }

    #[test]
    fn reading_a_file_twice_yields_every_frame_twice() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/seed-session.pcap").to_string();
        let source = FileSource::spawn(vec![path.clone(), path]).unwrap();
        let mut frames = 0;
        for event in source.events.iter() {
            if let SourceEvent::Frames(batch) = event {
                frames += batch.len();
                let _ = source.recycle.try_send(batch);
            }
        }
        assert_eq!(frames, 38);
    }
}
