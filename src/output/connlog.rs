//! The connection log: one line per [`ConnRecord`], as Zeek writes conn.log, in its TSV form (with the `#` header
//! that zeek-cut reads) or as JSON lines.
//!
//! Formats follow Zeek's documentation (<https://docs.zeek.org/en/current/log-formats.html> for both forms, and
//! <https://docs.zeek.org/en/current/scripts/base/protocols/conn/main.zeek.html> for the fields):
//!
//! - TSV: `#separator \x09`, `#set_separator`, `#empty_field (empty)`, `#unset_field -`, `#path`, `#open`, `#fields`,
//!   `#types`, then one tab-separated line per record and `#close` at the end. Times are epoch seconds and
//!   intervals seconds, both with six decimals; an unset field is `-`, an empty string `(empty)`.
//! - JSON: one object per line, keys named as the TSV columns (`"id.orig_h"`), times and intervals as numbers, and
//!   unset fields left out.
//!
//! Our three own columns (`handshake_rtt`, `close_initiator`, `end_reason`) come after Zeek's, so tools that pick
//! columns by name work unchanged. Zeek's `service`, `local_orig`, `local_resp`, `tunnel_parents` and `ip_proto`
//! are not produced: we do no application detection, know no local networks and see no tunnels.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::output::fast::{push_dec, push_ip, push_padded};
use crate::time::{Timestamp, utc_civil};
use crate::track::record::ConnRecord;

/// Which form of conn.log to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnLogFormat {
    /// Zeek's default tab-separated form with its `#` header.
    Zeek,
    /// Zeek's JSON form (`LogAscii::use_json=T`): one object per line.
    Json,
}

const FIELDS: [&str; 20] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "handshake_rtt",
    "close_initiator",
    "end_reason",
];

const TYPES: [&str; 20] = [
    "time", "string", "addr", "port", "addr", "port", "enum", "interval", "count", "count", "string", "count",
    "string", "count", "count", "count", "count", "interval", "string", "string",
];

const UNSET: &str = "-";
const EMPTY: &str = "(empty)";

/// Writes connection records as conn.log. The TSV header goes out lazily before the first record, and
/// [`finish`](Self::finish) writes the `#close` line, so a run with no connections still gives a well-formed log.
pub struct ConnLogWriter<W: Write> {
    out: W,
    format: ConnLogFormat,
    open_ts: Option<Timestamp>,
    /// Latest packet time any record covers: the `#close` time when the caller gives none.
    last_ts: Option<Timestamp>,
    closed: bool,
    line: String,
}

impl<W: Write> ConnLogWriter<W> {
    pub fn new(out: W, format: ConnLogFormat) -> Self {
        ConnLogWriter { out, format, open_ts: None, last_ts: None, closed: false, line: String::with_capacity(256) }
    }

    pub fn write(&mut self, record: &ConnRecord) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::other("conn log already finished"));
        }
        let end = record.ts.saturating_add(record.duration.unwrap_or_default());
        self.last_ts = Some(self.last_ts.map_or(end, |t| t.max(end)));
        self.line.clear();
        match self.format {
            ConnLogFormat::Zeek => {
                if self.open_ts.is_none() {
                    self.header(record.ts)?;
                }
                tsv_line(&mut self.line, record);
            }
            ConnLogFormat::Json => json_line(&mut self.line, record),
        }
        self.out.write_all(self.line.as_bytes())
    }

    /// Ends the log: for TSV, the header (if no record came) and `#close` stamped `close_ts`, else the latest time
    /// any record reached, else the `#open` time. Flushes. Calling it again does nothing.
    pub fn finish(&mut self, close_ts: Option<Timestamp>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        if self.format == ConnLogFormat::Zeek {
            let open = match self.open_ts {
                Some(t) => t,
                None => {
                    let t = close_ts.unwrap_or_default();
                    self.header(t)?;
                    t
                }
            };
            let close = close_ts.or(self.last_ts).unwrap_or(open);
            writeln!(self.out, "#close\t{}", log_time(close))?;
        }
        self.out.flush()
    }

    /// The sink, for tests and for callers that own a buffer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn header(&mut self, open: Timestamp) -> io::Result<()> {
        self.open_ts = Some(open);
        let mut h = String::with_capacity(600);
        // Zeek writes the separator line with a space and the escaped tab; every later line uses the tab itself.
        h.push_str("#separator \\x09\n#set_separator\t,\n");
        let _ = writeln!(h, "#empty_field\t{EMPTY}\n#unset_field\t{UNSET}\n#path\tconn");
        let _ = writeln!(h, "#open\t{}", log_time(open));
        let _ = writeln!(h, "#fields\t{}", FIELDS.join("\t"));
        let _ = writeln!(h, "#types\t{}", TYPES.join("\t"));
        self.out.write_all(h.as_bytes())
    }
}

/// `#open`/`#close` time in Zeek's `YYYY-MM-DD-HH-MM-SS`. Zeek stamps wall-clock local time; we stamp packet time
/// in UTC so that the same capture always gives the same file.
fn log_time(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = utc_civil(ts);
    format!("{y:04}-{mo:02}-{d:02}-{h:02}-{mi:02}-{s:02}")
}

/// Nanoseconds rounded to whole microseconds, as (seconds, microseconds): Zeek prints times with six decimals.
fn micros(nanos: u64) -> (u64, u64) {
    let us = nanos / 1_000 + u64::from(nanos % 1_000 >= 500);
    (us / 1_000_000, us % 1_000_000)
}

/// Seconds with six decimals: TSV `time` and `interval`.
fn push_secs6(line: &mut String, nanos: u64) {
    let (s, us) = micros(nanos);
    push_dec(line, s);
    line.push('.');
    push_padded(line, us, 6);
}

/// Seconds as a JSON number at microsecond precision, trailing zeros dropped but one decimal kept (Zeek's JSON
/// prints `0.0`, `1591367999.604`).
fn push_json_secs(line: &mut String, nanos: u64) {
    let (s, us) = micros(nanos);
    let _ = write!(line, "{s}.");
    if us == 0 {
        line.push('0');
    } else {
        let digits = format!("{us:06}");
        line.push_str(digits.trim_end_matches('0'));
    }
}

/// A TSV string value: `(empty)` when empty; tabs, newlines, other control characters and backslashes as `\xNN`
/// so a value can never split a line or a column; a lone "-" escaped so it does not read as unset.
fn push_tsv_str(line: &mut String, s: &str) {
    if s.is_empty() {
        line.push_str(EMPTY);
        return;
    }
    if s == UNSET {
        line.push_str("\\x2d");
        return;
    }
    // The common case, nothing to escape, is copied in one go.
    if !s.bytes().any(|b| b.is_ascii_control() || b == b'\\') {
        line.push_str(s);
        return;
    }
    for c in s.chars() {
        if c.is_ascii_control() || c == '\\' {
            let _ = write!(line, "\\x{:02x}", c as u32);
        } else {
            line.push(c);
        }
    }
}

fn push_opt_count(line: &mut String, v: Option<u64>) {
    match v {
        Some(v) => push_dec(line, v),
        None => line.push_str(UNSET),
    }
}

fn push_opt<T: std::fmt::Display>(line: &mut String, v: Option<T>) {
    match v {
        Some(v) => {
            let _ = write!(line, "{v}");
        }
        None => line.push_str(UNSET),
    }
}

fn tsv_line(line: &mut String, r: &ConnRecord) {
    push_secs6(line, r.ts.as_nanos());
    line.push('\t');
    push_tsv_str(line, &r.uid());
    // Digits and addresses written directly: a flood's worth of records goes through here.
    line.push('\t');
    push_ip(line, r.orig.ip());
    line.push('\t');
    push_dec(line, r.orig.port());
    line.push('\t');
    push_ip(line, r.resp.ip());
    line.push('\t');
    push_dec(line, r.resp.port());
    line.push('\t');
    line.push_str(r.proto.as_str());
    line.push('\t');
    match r.duration {
        Some(d) => push_secs6(line, d.as_nanos()),
        None => line.push_str(UNSET),
    }
    line.push('\t');
    push_opt_count(line, r.orig_bytes);
    line.push('\t');
    push_opt_count(line, r.resp_bytes);
    line.push('\t');
    line.push_str(r.conn_state.as_str());
    line.push('\t');
    push_dec(line, r.missed_bytes);
    line.push('\t');
    // Zeek sets `history` only when it is non-empty, so an empty one is unset, not "(empty)".
    if r.history.is_empty() {
        line.push_str(UNSET);
    } else {
        push_tsv_str(line, &r.history);
    }
    for count in [r.orig_pkts, r.orig_ip_bytes, r.resp_pkts, r.resp_ip_bytes] {
        line.push('\t');
        push_dec(line, count);
    }
    line.push('\t');
    match r.handshake_rtt {
        Some(d) => push_secs6(line, d.as_nanos()),
        None => line.push_str(UNSET),
    }
    line.push('\t');
    push_opt(line, r.close_initiator.map(|r| r.as_str()));
    line.push('\t');
    line.push_str(r.end_reason.as_str());
    line.push('\n');
}

fn push_json_str(line: &mut String, s: &str) {
    // Serialising a string to JSON cannot fail.
    line.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// One JSON object. Built by hand rather than through serde so that times keep exactly microsecond precision
/// (an f64 would print a 16-digit epoch time with noise digits).
fn json_line(line: &mut String, r: &ConnRecord) {
    line.push_str("{\"ts\":");
    push_json_secs(line, r.ts.as_nanos());
    line.push_str(",\"uid\":");
    push_json_str(line, &r.uid());
    let _ = write!(
        line,
        ",\"id.orig_h\":\"{}\",\"id.orig_p\":{},\"id.resp_h\":\"{}\",\"id.resp_p\":{},\"proto\":\"{}\"",
        r.orig.ip(),
        r.orig.port(),
        r.resp.ip(),
        r.resp.port(),
        r.proto.as_str()
    );
    if let Some(d) = r.duration {
        line.push_str(",\"duration\":");
        push_json_secs(line, d.as_nanos());
    }
    if let Some(n) = r.orig_bytes {
        let _ = write!(line, ",\"orig_bytes\":{n}");
    }
    if let Some(n) = r.resp_bytes {
        let _ = write!(line, ",\"resp_bytes\":{n}");
    }
    let _ = write!(line, ",\"conn_state\":\"{}\",\"missed_bytes\":{}", r.conn_state, r.missed_bytes);
    if !r.history.is_empty() {
        line.push_str(",\"history\":");
        push_json_str(line, &r.history);
    }
    let _ = write!(
        line,
        ",\"orig_pkts\":{},\"orig_ip_bytes\":{},\"resp_pkts\":{},\"resp_ip_bytes\":{}",
        r.orig_pkts, r.orig_ip_bytes, r.resp_pkts, r.resp_ip_bytes
    );
    if let Some(d) = r.handshake_rtt {
        line.push_str(",\"handshake_rtt\":");
        push_json_secs(line, d.as_nanos());
    }
    if let Some(role) = r.close_initiator {
        let _ = write!(line, ",\"close_initiator\":\"{}\"", role.as_str());
    }
    let _ = writeln!(line, ",\"end_reason\":\"{}\"}}", r.end_reason.as_str());
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::time::Duration;
    use crate::track::record::{EndReason, Proto, Role};
    use crate::track::zeek::ConnState;
    use crate::wire::flow::Endpoint;

    fn http() -> ConnRecord {
        let orig = Endpoint::new("192.168.4.76".parse().unwrap(), 46378);
        let resp = Endpoint::new("31.3.245.133".parse().unwrap(), 80);
        let ts = Timestamp::from_secs_nanos(1_591_367_999, 430_166_000);
        ConnRecord {
            ts,
            orig,
            resp,
            proto: Proto::Tcp,
            duration: Some(Duration::from_nanos(254_115_104)),
            orig_bytes: Some(77),
            resp_bytes: Some(295),
            conn_state: ConnState::SF,
            missed_bytes: 0,
            history: "ShADadFf".into(),
            orig_pkts: 6,
            orig_ip_bytes: 397,
            resp_pkts: 4,
            resp_ip_bytes: 511,
            handshake_rtt: Some(Duration::from_micros(41_500)),
            close_initiator: Some(Role::Orig),
            end_reason: EndReason::Close,
        }
    }

    /// A lone SYN to an IPv6 server: unset duration, byte counts, RTT and initiator.
    fn attempt() -> ConnRecord {
        let orig = Endpoint::new("2001:db8::1".parse().unwrap(), 50000);
        let resp = Endpoint::new("2001:db8::2".parse().unwrap(), 22);
        let ts = Timestamp::from_secs_nanos(1_591_368_000, 999_999_600);
        ConnRecord {
            ts,
            orig,
            resp,
            proto: Proto::Tcp,
            duration: None,
            orig_bytes: None,
            resp_bytes: None,
            conn_state: ConnState::S0,
            missed_bytes: 0,
            history: "S".into(),
            orig_pkts: 1,
            orig_ip_bytes: 80,
            resp_pkts: 0,
            resp_ip_bytes: 0,
            handshake_rtt: None,
            close_initiator: None,
            end_reason: EndReason::EndOfInput,
        }
    }

    fn render(format: ConnLogFormat, records: &[ConnRecord], close: Option<Timestamp>) -> String {
        let mut w = ConnLogWriter::new(Vec::new(), format);
        for r in records {
            w.write(r).unwrap();
        }
        w.finish(close).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    /// Reads a TSV log the way zeek-cut does: the `#fields` line maps names to columns; other `#` lines are skipped.
    fn zeek_cut(log: &str, names: &[&str]) -> Vec<Vec<String>> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut rows = Vec::new();
        for line in log.lines() {
            if let Some(fields) = line.strip_prefix("#fields\t") {
                index = fields.split('\t').enumerate().map(|(i, f)| (f, i)).collect();
            } else if !line.starts_with('#') {
                let cols: Vec<&str> = line.split('\t').collect();
                assert_eq!(cols.len(), index.len(), "column count of {line:?}");
                rows.push(names.iter().map(|n| cols[index[n]].to_string()).collect());
            }
        }
        rows
    }

    #[test]
    fn tsv_header_is_zeeks() {
        let log = render(ConnLogFormat::Zeek, &[http()], Some(Timestamp::from_secs_nanos(1_591_368_512, 0)));
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert_eq!(lines[1], "#set_separator\t,");
        assert_eq!(lines[2], "#empty_field\t(empty)");
        assert_eq!(lines[3], "#unset_field\t-");
        assert_eq!(lines[4], "#path\tconn");
        assert_eq!(lines[5], "#open\t2020-06-05-14-39-59");
        assert_eq!(
            lines[6],
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_bytes\tresp_bytes\t\
             conn_state\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\thandshake_rtt\t\
             close_initiator\tend_reason"
        );
        assert_eq!(
            lines[7],
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tinterval\tcount\tcount\tstring\tcount\tstring\t\
             count\tcount\tcount\tcount\tinterval\tstring\tstring"
        );
        assert_eq!(lines[9], "#close\t2020-06-05-14-48-32");
        assert_eq!(lines.len(), 10);
    }

    #[test]
    fn tsv_record_line() {
        let log = render(ConnLogFormat::Zeek, &[http(), attempt()], None);
        let lines: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
        let uid = http().uid();
        assert_eq!(
            lines[0],
            format!(
                "1591367999.430166\t{uid}\t192.168.4.76\t46378\t31.3.245.133\t80\ttcp\t0.254115\t77\t295\tSF\t0\t\
                 ShADadFf\t6\t397\t4\t511\t0.041500\torig\tclose"
            )
        );
        // Rounded to the microsecond, unset fields as "-".
        let uid = attempt().uid();
        assert_eq!(
            lines[1],
            format!(
                "1591368001.000000\t{uid}\t2001:db8::1\t50000\t2001:db8::2\t22\ttcp\t-\t-\t-\tS0\t0\tS\t1\t80\t0\t0\t-\t-\tend-of-input"
            )
        );
        // Without a close time, #close is the latest time a record reached.
        assert!(log.ends_with("#close\t2020-06-05-14-40-00\n"), "{log}");
    }

    #[test]
    fn zeek_cut_style_reading_by_column_name() {
        let log = render(ConnLogFormat::Zeek, &[http(), attempt()], None);
        let rows = zeek_cut(&log, &["id.resp_p", "conn_state", "history", "duration", "end_reason"]);
        let http = ["80", "SF", "ShADadFf", "0.254115", "close"];
        let attempt = ["22", "S0", "S", "-", "end-of-input"];
        assert_eq!(rows, [http, attempt]);
    }

    #[test]
    fn zero_records_still_give_header_and_close() {
        let log = render(ConnLogFormat::Zeek, &[], Some(Timestamp::from_secs_nanos(86_400, 0)));
        assert!(log.starts_with("#separator \\x09\n"));
        assert!(log.contains("#open\t1970-01-02-00-00-00\n"));
        assert!(log.ends_with("#close\t1970-01-02-00-00-00\n"));
        assert!(zeek_cut(&log, &["uid"]).is_empty());
        assert_eq!(render(ConnLogFormat::Json, &[], None), "");
    }

    #[test]
    fn tsv_strings_are_escaped() {
        let mut tabbed = attempt();
        tabbed.history = "a\tb".into();
        let mut unset = attempt();
        unset.history = Default::default();
        let log = render(ConnLogFormat::Zeek, &[tabbed, unset], None);
        let rows = zeek_cut(&log, &["history"]);
        assert_eq!(rows, vec![vec!["a\\x09b"], vec!["-"]]);
        let mut line = String::new();
        push_tsv_str(&mut line, "");
        push_tsv_str(&mut line, "-");
        assert_eq!(line, "(empty)\\x2d");
    }

    #[test]
    fn json_uses_zeeks_names_and_omits_unset_fields() {
        let log = render(ConnLogFormat::Json, &[http(), attempt()], None);
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("{\"ts\":1591367999.430166,\"uid\":\"C"), "{}", lines[0]);
        assert!(lines[0].contains(",\"duration\":0.254115,\"orig_bytes\":77,"), "{}", lines[0]);
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["id.orig_h"], "192.168.4.76");
        assert_eq!(v["id.orig_p"], 46378);
        assert_eq!(v["id.resp_p"], 80);
        assert_eq!(v["proto"], "tcp");
        assert_eq!(v["conn_state"], "SF");
        assert_eq!(v["history"], "ShADadFf");
        assert_eq!(v["resp_ip_bytes"], 511);
        assert_eq!(v["handshake_rtt"], 0.0415);
        assert_eq!(v["close_initiator"], "orig");
        assert_eq!(v["end_reason"], "close");

        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for absent in ["duration", "orig_bytes", "resp_bytes", "handshake_rtt", "close_initiator"] {
            assert!(!keys.contains(&absent), "{absent} should be left out: {}", lines[1]);
        }
        assert!(lines[1].starts_with("{\"ts\":1591368001.0,"), "{}", lines[1]);
        assert_eq!(v["id.orig_h"], "2001:db8::1");
    }

    #[test]
    fn finish_is_idempotent_and_closes_the_log() {
        let mut w = ConnLogWriter::new(Vec::new(), ConnLogFormat::Zeek);
        w.write(&http()).unwrap();
        w.finish(None).unwrap();
        w.finish(None).unwrap();
        assert!(w.write(&http()).is_err());
        let log = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(log.matches("#close").count(), 1);
        assert_eq!(log.matches("#fields").count(), 1);
    }

    #[test]
    fn times_round_to_the_microsecond() {
        let mut s = String::new();
        push_secs6(&mut s, 1_499);
        s.push(' ');
        push_secs6(&mut s, 1_500);
        s.push(' ');
        push_json_secs(&mut s, 3_600_000_000_000);
        s.push(' ');
        push_json_secs(&mut s, 604_000_000);
        assert_eq!(s, "0.000001 0.000002 3600.0 0.604");
    }
}
