//! The packet printer on a thread of its own. Formatting a text line costs about as much as decoding and tracking
//! the packet (issue 13: ~1,580 of the engine's ~3,250 instructions per packet in text mode), and tcpdump's best
//! case leaves a second core idle; so the engine copies what a printer needs (the frame's bytes and fields, the
//! packet's number and annotations) into a job, and this thread rebuilds each frame, decodes it again (cheap next
//! to formatting) and hands it to the real printer.
//!
//! Packet lines and standalone events travel in one ordered job, so they come out in the order the engine made
//! them. Jobs go over a bounded channel and come back emptied for reuse, so the steady state allocates nothing and
//! a slow terminal holds the engine back instead of letting memory grow. `finish` is synchronous: it waits until
//! the thread has written and flushed everything, so nothing that follows on stderr can overtake the output.

use std::io;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::{PacketRecord, Sink};
use crate::capture::Frame;
use crate::capture::frame::RawStamp;
use crate::time::Timestamp;
use crate::track::TrackerEvent;
use crate::track::annotate::Annotation;
use crate::wire::decode::decode_in_place;
use crate::wire::{LinkType, Packet};

/// Items (packets and events) per job: enough to keep the channel off the profile, few enough that output starts
/// promptly.
const JOB_ITEMS: usize = 1024;
/// A job is also sent once its frames hold this many bytes, so jumbo frames do not make jobs large.
const JOB_BYTES: usize = 1 << 20;
/// Jobs in flight between the engine and the printer.
const IN_FLIGHT: usize = 4;

/// One packet of a job: the frame's fields, with its bytes and annotations as ranges of the job's arenas.
struct PacketItem {
    number: u64,
    ts: Timestamp,
    raw_stamp: Option<RawStamp>,
    link_type: LinkType,
    orig_len: u32,
    bytes: (usize, usize),
    annotations: (usize, usize),
}

enum Item {
    Packet(PacketItem),
    /// An index into `Job::events`.
    Event(usize),
}

/// What the printer is to print, in order. Its vectors are reused from job to job.
#[derive(Default)]
struct Job {
    items: Vec<Item>,
    bytes: Vec<u8>,
    annotations: Vec<Annotation>,
    events: Vec<TrackerEvent>,
}

impl Job {
    fn is_full(&self) -> bool {
        self.items.len() >= JOB_ITEMS || self.bytes.len() >= JOB_BYTES
    }

    fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
        self.annotations.clear();
        self.events.clear();
    }

    fn push_packet(&mut self, record: &PacketRecord<'_>) {
        let frame = record.frame;
        let bytes_start = self.bytes.len();
        self.bytes.extend_from_slice(frame.data);
        let annotations_start = self.annotations.len();
        self.annotations.extend_from_slice(record.annotations);
        self.items.push(Item::Packet(PacketItem {
            number: record.number,
            ts: frame.ts,
            raw_stamp: frame.raw_stamp,
            link_type: frame.link_type,
            orig_len: frame.orig_len,
            bytes: (bytes_start, self.bytes.len()),
            annotations: (annotations_start, self.annotations.len()),
        }));
    }

    fn push_event(&mut self, event: &TrackerEvent) {
        self.items.push(Item::Event(self.events.len()));
        self.events.push(event.clone());
    }

    /// Prints every item, in order, through `sink`.
    fn print<S: Sink>(&self, sink: &mut S) -> io::Result<()> {
        for item in &self.items {
            match item {
                Item::Packet(p) => {
                    let frame = Frame {
                        ts: p.ts,
                        raw_stamp: p.raw_stamp,
                        link_type: p.link_type,
                        orig_len: p.orig_len,
                        data: &self.bytes[p.bytes.0..p.bytes.1],
                    };
                    let mut packet = Packet::undecoded(frame.link_type);
                    decode_in_place(frame.data, &mut packet);
                    let annotations = &self.annotations[p.annotations.0..p.annotations.1];
                    sink.packet(&PacketRecord { number: p.number, frame: &frame, packet: &packet, annotations })?;
                }
                Item::Event(index) => sink.event(&self.events[*index])?,
            }
        }
        Ok(())
    }
}

enum Message {
    Job(Job),
    /// Flush the printer's output, then say so.
    Flush,
}

/// A [`Sink`] that runs another sink on a thread of its own.
pub struct PrinterThread {
    job: Job,
    tx: Option<Sender<Message>>,
    /// Emptied jobs coming back for reuse.
    recycled: Receiver<Job>,
    /// One message per `Flush` handled.
    flushed: Receiver<()>,
    thread: Option<JoinHandle<io::Result<()>>>,
    /// The kind of the error the printer stopped with, once it has been reported: later calls fail the same way.
    stopped: Option<io::ErrorKind>,
}

impl PrinterThread {
    pub fn spawn<S: Sink + Send + 'static>(sink: S) -> io::Result<PrinterThread> {
        let (tx, rx) = bounded::<Message>(IN_FLIGHT);
        // Room for every job that can exist, so handing one back never blocks the printer.
        let (recycle_tx, recycled) = bounded::<Job>(IN_FLIGHT + 2);
        let (flushed_tx, flushed) = bounded::<()>(1);
        let thread =
            thread::Builder::new().name("printer".into()).spawn(move || run(sink, rx, recycle_tx, flushed_tx))?;
        Ok(PrinterThread { job: Job::default(), tx: Some(tx), recycled, flushed, thread: Some(thread), stopped: None })
    }

    fn send_job(&mut self) -> io::Result<()> {
        if self.job.items.is_empty() {
            return Ok(());
        }
        let next = self.recycled.try_recv().unwrap_or_default();
        let job = std::mem::replace(&mut self.job, next);
        self.send(Message::Job(job))
    }

    fn send(&mut self, message: Message) -> io::Result<()> {
        match &self.tx {
            Some(tx) if tx.send(message).is_ok() => Ok(()),
            // The printer stopped: its error is what to report.
            _ => self.join(),
        }
    }

    /// Stops the thread and returns the error it stopped with, if any; the first error is returned once, and
    /// every later call fails with the same kind.
    fn join(&mut self) -> io::Result<()> {
        if let Some(kind) = self.stopped {
            return Err(io::Error::new(kind, "output stopped after an earlier error"));
        }
        self.tx = None;
        let result = match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the printer thread stopped unexpectedly")),
            None => Ok(()),
        };
        if let Err(err) = &result {
            self.stopped = Some(err.kind());
        }
        result
    }
}

/// The printer thread's loop: print each job, hand it back, answer flushes. Stops at the first write error, which
/// `PrinterThread::join` passes on to the engine.
fn run<S: Sink>(mut sink: S, rx: Receiver<Message>, recycle: Sender<Job>, flushed: Sender<()>) -> io::Result<()> {
    for message in rx {
        match message {
            Message::Job(mut job) => {
                job.print(&mut sink)?;
                job.clear();
                let _ = recycle.try_send(job);
            }
            Message::Flush => {
                sink.finish()?;
                let _ = flushed.send(());
            }
        }
    }
    sink.finish()
}

impl Sink for PrinterThread {
    fn packet(&mut self, record: &PacketRecord<'_>) -> io::Result<()> {
        self.job.push_packet(record);
        if self.job.is_full() { self.send_job() } else { Ok(()) }
    }

    fn event(&mut self, event: &TrackerEvent) -> io::Result<()> {
        self.job.push_event(event);
        if self.job.is_full() { self.send_job() } else { Ok(()) }
    }

    /// Sends what is queued and waits until it is written and flushed.
    fn finish(&mut self) -> io::Result<()> {
        self.send_job()?;
        self.send(Message::Flush)?;
        match self.flushed.recv() {
            Ok(()) => Ok(()),
            // The thread ended without answering: it stopped on an error.
            Err(_) => self.join(),
        }
    }
}

impl Drop for PrinterThread {
    fn drop(&mut self) {
        // An early error path (a `-w` write failing, say) drops the sink without `finish`. The packets queued so far
        // still go out before the error line, as the inline printer's `BufWriter` writes them when dropped; then
        // closing the channel ends the thread's loop, which flushes.
        let _ = self.send_job();
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The sink to print through: `sink` on a printer thread when there is a second CPU for it, else `sink` itself,
/// since on one CPU the thread could only add the cost of the copy and the second decode.
pub fn threaded_if_useful<S: Sink + Send + 'static>(sink: S) -> io::Result<Box<dyn Sink>> {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    if cpus > 1 { Ok(Box::new(PrinterThread::spawn(sink)?)) } else { Ok(Box::new(sink)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::text::{TextOptions, TextPrinter};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A Write that keeps what it was given where the test can see it, and fails once it holds `limit` bytes.
    #[derive(Clone)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        limit: usize,
        kind: io::ErrorKind,
    }

    impl Shared {
        fn new() -> Shared {
            Shared::failing_after(usize::MAX, io::ErrorKind::Other)
        }

        fn failing_after(limit: usize, kind: io::ErrorKind) -> Shared {
            Shared { bytes: Arc::default(), limit, kind }
        }

        fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut bytes = self.bytes.lock().unwrap();
            if bytes.len() + buf.len() > self.limit {
                return Err(io::Error::new(self.kind, "test writer full"));
            }
            bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A raw-IP SYN from a port of its own, so the lines differ.
    fn syn_frame(i: u16) -> Vec<u8> {
        use crate::wire::{TcpFlags, craft};
        let src = std::net::SocketAddr::from(([10, 0, 0, 1], 1000 + i));
        let dst = std::net::SocketAddr::from(([10, 0, 0, 2], 80));
        let spec = craft::TcpSpec {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: u32::from(i),
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 1024,
            options: &[],
            payload: &[],
        };
        let mut frame = Vec::new();
        craft::tcp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), &spec).expect("well-formed segment");
        frame
    }

    /// Feeds packets and events, interleaved, to `sink`, as the engine would.
    fn feed(sink: &mut dyn Sink, packets: u16) -> io::Result<()> {
        use crate::wire::flow::Endpoint;
        for i in 0..packets {
            let data = syn_frame(i);
            let frame = Frame::whole(Timestamp::from_nanos(u64::from(i) * 1_000_000), LinkType::RawIp, &data);
            let mut packet = Packet::undecoded(frame.link_type);
            decode_in_place(frame.data, &mut packet);
            sink.packet(&PacketRecord { number: u64::from(i) + 1, frame: &frame, packet: &packet, annotations: &[] })?;
            if i % 7 == 3 {
                let orig = Endpoint::new([10, 0, 0, 1].into(), 1000 + i);
                let resp = Endpoint::new([10, 0, 0, 2].into(), 80);
                sink.event(&TrackerEvent::HalfOpen {
                    ts: frame.ts,
                    orig,
                    resp,
                    after: crate::time::Duration::from_secs(3),
                })?;
            }
        }
        Ok(())
    }

    fn text_printer(out: Shared) -> TextPrinter<Shared> {
        TextPrinter::new(out, TextOptions::default())
    }

    #[test]
    fn lines_and_events_come_out_as_the_inline_printer_writes_them() {
        let inline = Shared::new();
        let mut printer = text_printer(inline.clone());
        feed(&mut printer, 3000).unwrap();
        printer.finish().unwrap();

        let threaded = Shared::new();
        let mut thread = PrinterThread::spawn(text_printer(threaded.clone())).unwrap();
        feed(&mut thread, 3000).unwrap();
        thread.finish().unwrap();
        assert!(inline.text().contains("half-open"), "{}", inline.text());
        assert_eq!(threaded.text(), inline.text());
    }

    /// What the engine prints for a capture of this repository, through the printer thread or inline.
    fn engine_output(capture: &str, threaded: bool, json: bool) -> String {
        use crate::capture::file::CaptureReader;
        use crate::engine::Engine;
        use crate::filter::Filter;
        use crate::hash_key::HashKey;
        use crate::output::json::JsonPrinter;
        use crate::track::{Tracker, TrackerConfig};
        let out = Shared::new();
        let sink: Box<dyn Sink> = match (threaded, json) {
            (false, false) => Box::new(text_printer(out.clone())),
            (false, true) => Box::new(JsonPrinter::new(out.clone())),
            (true, false) => Box::new(PrinterThread::spawn(text_printer(out.clone())).unwrap()),
            (true, true) => Box::new(PrinterThread::spawn(JsonPrinter::new(out.clone())).unwrap()),
        };
        let tracker = Tracker::new(TrackerConfig::default(), HashKey::from_seed(1));
        let mut engine = Engine::new(Filter::parse("").unwrap(), sink, Some(tracker), None);
        let path = format!("{}/captures/{capture}", env!("CARGO_MANIFEST_DIR"));
        let mut reader = CaptureReader::open(&path).unwrap();
        while let Some(frame) = reader.next_frame().unwrap() {
            engine.frame(&frame).unwrap();
        }
        engine.finish().unwrap();
        out.text()
    }

    #[test]
    fn a_capture_with_floods_and_half_open_timeouts_prints_as_inline() {
        for capture in ["syn-flood.pcap", "syn-unanswered.pcap", "multi-interface.pcapng"] {
            for json in [false, true] {
                let inline = engine_output(capture, false, json);
                assert_eq!(engine_output(capture, true, json), inline, "{capture}, json {json}");
            }
        }
        // The events do come between packet lines, so their order was tested.
        let flood = engine_output("syn-flood.pcap", true, false);
        let lines: Vec<&str> = flood.lines().collect();
        let at = lines.iter().position(|l| l.contains("[flood] SYN flood")).unwrap();
        assert!(at > 0 && at + 1 < lines.len() && lines[at + 1].contains(" IP "), "{flood}");
        assert!(engine_output("syn-unanswered.pcap", true, false).contains("[half-open: no SYN-ACK"));
    }

    #[test]
    fn finish_writes_everything_before_it_returns() {
        let out = Shared::new();
        let mut thread = PrinterThread::spawn(text_printer(out.clone())).unwrap();
        for round in 1..=3u16 {
            feed(&mut thread, 10).unwrap();
            thread.finish().unwrap();
            // A partial job, far below a job's size, is out by now.
            assert_eq!(out.text().lines().count(), usize::from(round) * (10 + 1), "{}", out.text());
        }
    }

    #[test]
    fn a_write_error_comes_back_with_its_kind_and_nothing_hangs() {
        let out = Shared::failing_after(5000, io::ErrorKind::BrokenPipe);
        let mut thread = PrinterThread::spawn(text_printer(out)).unwrap();
        // Far more than the channel holds: the engine must see the error instead of blocking.
        let err = feed(&mut thread, 60_000).and_then(|()| thread.finish()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        // Later calls fail the same way rather than printing into the void.
        assert_eq!(thread.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn an_error_in_the_last_partial_job_comes_back_at_finish() {
        let out = Shared::failing_after(10, io::ErrorKind::BrokenPipe);
        let mut thread = PrinterThread::spawn(text_printer(out)).unwrap();
        feed(&mut thread, 5).unwrap();
        assert_eq!(thread.finish().unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn dropping_it_without_finish_prints_everything_and_stops_the_thread() {
        let out = Shared::new();
        let mut thread = PrinterThread::spawn(text_printer(out.clone())).unwrap();
        feed(&mut thread, 2000).unwrap();
        drop(thread);
        // The drop sent the partial job, closed the channel and joined the thread.
        let half_opens = (0..2000).filter(|i| i % 7 == 3).count();
        assert_eq!(out.text().lines().count(), 2000 + half_opens);
    }

    #[test]
    fn dropping_it_after_an_error_does_not_hang() {
        let out = Shared::failing_after(100, io::ErrorKind::BrokenPipe);
        let mut thread = PrinterThread::spawn(text_printer(out)).unwrap();
        let _ = feed(&mut thread, 20_000);
        drop(thread);
    }
}
