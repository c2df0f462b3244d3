//! The connection log on a thread of its own. A SYN flood ends hundreds of thousands of connections, and
//! formatting and writing their records would otherwise sit on the engine's critical path. Records travel in
//! batches over a bounded channel, so a slow disk holds the engine back instead of letting memory grow.

use std::io::{self, Write};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Sender, bounded};

use super::connlog::ConnLogWriter;
use crate::time::Timestamp;
use crate::track::record::ConnRecord;

/// Records per channel message.
const BATCH: usize = 1024;
/// Batches in flight.
const IN_FLIGHT: usize = 16;

enum Message {
    Records(Vec<ConnRecord>),
    Finish(Option<Timestamp>),
}

pub struct ConnLogThread {
    batch: Vec<ConnRecord>,
    tx: Option<Sender<Message>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ConnLogThread {
    pub fn spawn<W: Write + Send + 'static>(mut writer: ConnLogWriter<W>) -> io::Result<ConnLogThread> {
        let (tx, rx) = bounded::<Message>(IN_FLIGHT);
        let thread = thread::Builder::new().name("conn-log".into()).spawn(move || -> io::Result<()> {
            for message in rx {
                match message {
                    Message::Records(records) => {
                        for record in &records {
                            writer.write(record)?;
                        }
                    }
                    Message::Finish(close_ts) => return writer.finish(close_ts),
                }
            }
            Ok(())
        })?;
        Ok(ConnLogThread { batch: Vec::with_capacity(BATCH), tx: Some(tx), thread: Some(thread) })
    }

    pub fn write(&mut self, record: ConnRecord) -> io::Result<()> {
        self.batch.push(record);
        if self.batch.len() >= BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Takes every record out of `records` (leaving it empty).
    pub fn write_all(&mut self, records: &mut Vec<ConnRecord>) -> io::Result<()> {
        self.batch.append(records);
        if self.batch.len() >= BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        match &self.tx {
            Some(tx) if tx.send(Message::Records(batch)).is_ok() => Ok(()),
            // The writer stopped: its error is what to report.
            _ => self.join(),
        }
    }

    fn join(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the connection log writer stopped unexpectedly")),
            None => Ok(()),
        }
    }

    /// Writes what is left, the closing line, and waits for the writer.
    pub fn finish(&mut self, close_ts: Option<Timestamp>) -> io::Result<()> {
        self.flush_batch()?;
        if let Some(tx) = &self.tx {
            let _ = tx.send(Message::Finish(close_ts));
        }
        self.join()
    }
}

impl Drop for ConnLogThread {
    fn drop(&mut self) {
        // On an early error path the writer must still be stopped rather than left blocked on the channel.
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::connlog::ConnLogFormat;
    use std::sync::{Arc, Mutex};

    /// A Write that keeps what it was given where the test can see it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_empty_log_still_gets_its_header_and_close_line() {
        let out = Shared::default();
        let mut log = ConnLogThread::spawn(ConnLogWriter::new(out.clone(), ConnLogFormat::Zeek)).unwrap();
        log.finish(Some(Timestamp::from_nanos(0))).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(text.starts_with("#separator"), "{text}");
        assert!(text.contains("\n#close\t"), "{text}");
    }
}
