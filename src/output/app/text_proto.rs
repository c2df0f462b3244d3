//! Line-oriented protocols as tcpdump 4.99 prints them without `-v` (util-print.c's `txtproto_print`, print-ssh.c):
//! the protocol's name in capitals and, when the payload starts like a request or response, its first line.
//!
//! Bounds follow tcpdump's two limits: `len` is the payload's length as the headers announce it, `payload` what was
//! captured of it. Scanning past the captured bytes is tcpdump's truncation (`[|http]`), which ends the line.

use super::Payload;

/// RFC 9110 methods and WebDAV's, as print-http.c lists them (matched without regard to case).
const HTTP_COMMANDS: &[&str] = &[
    "GET",
    "PUT",
    "COPY",
    "HEAD",
    "LOCK",
    "MOVE",
    "POLL",
    "POST",
    "BCOPY",
    "BMOVE",
    "MKCOL",
    "TRACE",
    "LABEL",
    "MERGE",
    "DELETE",
    "SEARCH",
    "UNLOCK",
    "REPORT",
    "UPDATE",
    "NOTIFY",
    "BDELETE",
    "CONNECT",
    "OPTIONS",
    "CHECKIN",
    "PROPFIND",
    "CHECKOUT",
    "CCM_POST",
    "SUBSCRIBE",
    "PROPPATCH",
    "BPROPFIND",
    "BPROPPATCH",
    "UNCHECKOUT",
    "MKACTIVITY",
    "MKWORKSPACE",
    "UNSUBSCRIBE",
    "RPC_CONNECT",
    "VERSION-CONTROL",
    "BASELINE-CONTROL",
];

/// RFC 2326 methods, as print-rtsp.c lists them.
const RTSP_COMMANDS: &[&str] = &[
    "DESCRIBE",
    "ANNOUNCE",
    "GET_PARAMETER",
    "OPTIONS",
    "PAUSE",
    "PLAY",
    "RECORD",
    "REDIRECT",
    "SETUP",
    "SET_PARAMETER",
    "TEARDOWN",
];

/// A line-oriented protocol tcpdump recognises by port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextProtocol {
    /// Requests and responses are told from bodies by their first tokens: a known method, or a status code as the
    /// second token (`HTTP/1.1 200 OK`).
    Http,
    Rtsp,
    /// Every payload is a command or a reply: its first line is always printed.
    Ftp,
    Smtp,
    Whois,
}

impl TextProtocol {
    fn name(self) -> (&'static str, &'static str) {
        match self {
            TextProtocol::Http => ("HTTP", "http"),
            TextProtocol::Rtsp => ("RTSP", "rtsp"),
            TextProtocol::Ftp => ("FTP", "ftp"),
            TextProtocol::Smtp => ("SMTP", "smtp"),
            TextProtocol::Whois => ("WHOIS", "whois"),
        }
    }

    fn commands(self) -> Option<&'static [&'static str]> {
        match self {
            TextProtocol::Http => Some(HTTP_COMMANDS),
            TextProtocol::Rtsp => Some(RTSP_COMMANDS),
            TextProtocol::Ftp | TextProtocol::Smtp | TextProtocol::Whois => None,
        }
    }
}

/// `: HTTP: GET / HTTP/1.1`, or `: HTTP` for a payload that does not start a request or response.
pub fn write(line: &mut String, protocol: TextProtocol, payload: Payload<'_>) {
    let (caps, lower) = protocol.name();
    let print_first_line = match protocol.commands() {
        None => true,
        Some(commands) => starts_request_or_response(payload, commands),
    };
    line.push_str(": ");
    line.push_str(caps);
    if print_first_line {
        write_first_line(line, payload, lower);
    }
}

/// txtproto_print's test: the first token is a known command, or the second is a three-digit status code.
fn starts_request_or_response(payload: Payload<'_>, commands: &[&str]) -> bool {
    let Some((first, next)) = token(payload, 0) else { return false };
    let is_command = commands.iter().any(|c| c.as_bytes().eq_ignore_ascii_case(first));
    // The status code is looked for even after a command; a second token that is not there ends the test as
    // tcpdump's does (a command alone still counts).
    let Some((second, _)) = token(payload, next) else { return is_command };
    is_command || (second.len() == 3 && second.iter().all(u8::is_ascii_digit))
}

/// fetch_token: the printable, non-blank run at `at` (at most 128 bytes) and where the next token starts, skipping
/// blanks up to the end of the line; `None` where there is no token, or it holds a byte that is not printable
/// ASCII, or it is too long, or it runs past the captured bytes.
fn token(payload: Payload<'_>, at: usize) -> Option<(&[u8], usize)> {
    const MAX_TOKEN: usize = 128;
    let limit = payload.len as usize;
    let mut end = at;
    while end < limit {
        let c = *payload.bytes.get(end)?;
        if !c.is_ascii() {
            return None;
        }
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            break;
        }
        if !is_print(c) || end - at + 2 > MAX_TOKEN + 1 {
            return None;
        }
        end += 1;
    }
    if end == at {
        return None;
    }
    let mut next = end;
    while next < limit {
        let Some(&c) = payload.bytes.get(next) else { break };
        if c == b'\r' || c == b'\n' || !is_print(c) || !matches!(c, b' ' | b'\t') {
            break;
        }
        next += 1;
    }
    Some((&payload.bytes[at..end], next))
}

/// print_txt_line from the start of the payload, after `: `: the line without its CR-LF or LF. Nothing for a line
/// holding binary bytes (or a CR without LF); a line with no end in the payload is printed and marked truncated;
/// running past the captured bytes is tcpdump's truncation of the whole packet.
fn write_first_line(line: &mut String, payload: Payload<'_>, protocol: &str) {
    let limit = payload.len as usize;
    let mut i = 0;
    while i < limit {
        let Some(&c) = payload.bytes.get(i) else { return truncated(line, protocol) };
        match c {
            b'\n' => break,
            b'\r' => {
                if i + 1 >= limit {
                    return;
                }
                match payload.bytes.get(i + 1) {
                    None => return truncated(line, protocol),
                    Some(b'\n') => break,
                    Some(_) => return,
                }
            }
            c if !is_print(c) && c != b'\t' => return,
            _ => {}
        }
        i += 1;
    }
    line.push_str(": ");
    push_ascii(line, &payload.bytes[..i]);
    if i >= limit {
        truncated(line, protocol);
    }
}

/// print-ssh.c: `: SSH: ` and the version line (`SSH-2.0-...`) when the payload starts with one that ends in the
/// payload; nothing otherwise.
pub fn write_ssh(line: &mut String, payload: Payload<'_>) {
    let limit = payload.len as usize;
    for (i, &expected) in b"SSH-".iter().enumerate() {
        match payload.bytes.get(i) {
            None => return truncated(line, "ssh"),
            Some(&c) if c != expected => return,
            Some(_) => {}
        }
    }
    let mut i = 4;
    while i < limit {
        let Some(&c) = payload.bytes.get(i) else { return truncated(line, "ssh") };
        match c {
            b'\n' => break,
            b'\r' => match payload.bytes.get(i + 1) {
                _ if i + 1 >= limit => return,
                None => return truncated(line, "ssh"),
                Some(b'\n') => break,
                Some(_) => return,
            },
            c if !is_print(c) => return,
            _ => {}
        }
        i += 1;
    }
    if i >= limit {
        return;
    }
    line.push_str(": SSH: ");
    push_ascii(line, &payload.bytes[..i]);
}

/// nd_print_trunc: ` [|proto]`, after which tcpdump prints nothing more of the packet.
pub fn truncated(line: &mut String, protocol: &str) {
    line.push_str(" [|");
    line.push_str(protocol);
    line.push(']');
}

/// ND_ASCII_ISPRINT: space to tilde.
fn is_print(c: u8) -> bool {
    (0x20..0x7f).contains(&c)
}

/// Bytes already checked to be printable ASCII or tabs.
fn push_ascii(line: &mut String, bytes: &[u8]) {
    line.extend(bytes.iter().map(|&b| char::from(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(bytes: &[u8]) -> String {
        text(TextProtocol::Http, bytes, bytes.len() as u32)
    }

    fn text(protocol: TextProtocol, bytes: &[u8], len: u32) -> String {
        let mut line = String::new();
        write(&mut line, protocol, Payload { bytes, len });
        line
    }

    #[test]
    fn requests_and_responses_show_their_first_line() {
        assert_eq!(http(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ": HTTP: GET / HTTP/1.1");
        assert_eq!(http(b"get /x HTTP/1.0\n"), ": HTTP: get /x HTTP/1.0");
        assert_eq!(http(b"HTTP/1.1 404 Not Found\r\n"), ": HTTP: HTTP/1.1 404 Not Found");
        assert_eq!(http(b"PROPFIND /d HTTP/1.1\r\n"), ": HTTP: PROPFIND /d HTTP/1.1");
    }

    #[test]
    fn bodies_and_binary_show_only_the_name() {
        assert_eq!(http(b"<html><body>hello</body></html>\r\n"), ": HTTP");
        assert_eq!(http(b"\x16\x03\x01\x02\x00"), ": HTTP");
        assert_eq!(http(b"HTTP/1.1 20 OK\r\n"), ": HTTP");
        // A request line holding a byte that is not printable is not printed.
        assert_eq!(http(b"GET /\x01 HTTP/1.1\r\n"), ": HTTP");
        // CR followed by something other than LF is binary too.
        assert_eq!(http(b"GET / HTTP/1.1\rX"), ": HTTP");
    }

    #[test]
    fn a_line_without_an_end_is_truncated() {
        assert_eq!(http(b"GET / HTTP/1.1"), ": HTTP: GET / HTTP/1.1 [|http]");
        // Captured bytes end before the announced length: tcpdump stops the packet there.
        assert_eq!(text(TextProtocol::Http, b"GET / HT", 100), ": HTTP [|http]");
        // A CR as the last announced byte: the LF is in the next segment, nothing is printed.
        assert_eq!(http(b"GET / HTTP/1.1\r"), ": HTTP");
    }

    #[test]
    fn ftp_and_smtp_always_show_the_first_line() {
        assert_eq!(text(TextProtocol::Ftp, b"220 Welcome\r\n", 13), ": FTP: 220 Welcome");
        assert_eq!(text(TextProtocol::Smtp, b"\x00\x01", 2), ": SMTP");
        assert_eq!(text(TextProtocol::Rtsp, b"RTSP/1.0 200 OK\r\n", 17), ": RTSP: RTSP/1.0 200 OK");
    }

    #[test]
    fn ssh_shows_the_version_line() {
        let mut line = String::new();
        write_ssh(&mut line, Payload { bytes: b"SSH-2.0-OpenSSH_9.6\r\n", len: 21 });
        assert_eq!(line, ": SSH: SSH-2.0-OpenSSH_9.6");
        line.clear();
        write_ssh(&mut line, Payload { bytes: b"\x00\x00\x01\x2c\x0a\x14", len: 6 });
        assert_eq!(line, "");
        write_ssh(&mut line, Payload { bytes: b"SSH-2.0-x", len: 9 });
        assert_eq!(line, "", "no line end in the payload: nothing");
    }
}
