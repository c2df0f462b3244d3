//! The lexer and the recursive-descent parser. Parsing happens once per run, so it may allocate freely; every error
//! carries the 1-based character column of the token it is about, for the caret under the expression.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::ast::{Cidr, Dir, Node, PortProto, Proto};
use crate::wire::TcpFlags;

/// How deeply `not` and parentheses may nest. Real filters stay in single digits; the limit turns a pathological
/// expression into an error instead of a stack overflow.
const MAX_DEPTH: usize = 100;

/// Every word the grammar knows, to hint at `TCP` → `tcp` (keywords are case-sensitive, as in tcpdump).
const KEYWORDS: &str =
    "and or not tcp udp icmp icmp6 ip ip6 arp vlan host net port portrange src dst syn ack fin rst psh urg";

/// Why an expression did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based column, in characters, of the offending token; one past the end when input ran out.
    pub column: usize,
    pub message: String,
    /// The whole expression, so the error can show it with a caret under the column.
    pub expr: String,
}

impl fmt::Display for FilterError {
    /// Three lines: the message, the expression, and a caret under the column. Whitespace in the expression is shown
    /// as plain spaces so that a tab or newline cannot push the caret out of line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "filter error at column {}: {}", self.column, self.message)?;
        for c in self.expr.chars() {
            write!(f, "{}", if c.is_whitespace() { ' ' } else { c })?;
        }
        writeln!(f)?;
        write!(f, "{:width$}^", "", width = self.column.saturating_sub(1))
    }
}

impl std::error::Error for FilterError {}

pub(super) fn parse(expr: &str) -> Result<Node, FilterError> {
    let tokens = lex(expr)?;
    if tokens.is_empty() {
        return Ok(Node::Any);
    }
    let mut parser = Parser { expr, tokens, pos: 0, depth: 0 };
    let root = parser.parse_or()?;
    match parser.peek() {
        None => Ok(root),
        Some(t) if t.kind == Kind::RParen => Err(parser.error(t.column, "unmatched ')'")),
        Some(t) => Err(parser.missing_operator(t, "'and' or 'or'")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    LParen,
    RParen,
    Not,
    And,
    Or,
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    column: usize,
}

/// Splits `expr` into tokens. A word is any run of characters other than whitespace and `( ) ! & |`, so addresses,
/// CIDRs and port ranges stay whole, and a misspelt or non-ASCII word is reported whole rather than by its first
/// odd character.
fn lex(expr: &str) -> Result<Vec<Token<'_>>, FilterError> {
    let chars: Vec<(usize, char)> = expr.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Kind::LParen, 1),
            ')' => (Kind::RParen, 1),
            '!' => (Kind::Not, 1),
            '&' | '|' => doubled_operator(expr, &chars, i)?,
            _ => (Kind::Word, chars[i..].iter().take_while(|&&(_, c)| !ends_word(c)).count()),
        };
        let end = chars.get(i + len).map_or(expr.len(), |&(offset, _)| offset);
        let text = &expr[start..end];
        tokens.push(Token { kind: keyword_kind(kind, text), text, column: i + 1 });
        i += len;
    }
    Ok(tokens)
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '!' | '&' | '|')
}

/// `&&` and `||`; a single `&` or `|` is an error, since tcpdump's bitwise operators are not supported here.
fn doubled_operator(expr: &str, chars: &[(usize, char)], i: usize) -> Result<(Kind, usize), FilterError> {
    let c = chars[i].1;
    match chars.get(i + 1) {
        Some(&(_, next)) if next == c => Ok((if c == '&' { Kind::And } else { Kind::Or }, 2)),
        _ => Err(error(expr, i + 1, format!("unexpected '{c}' (did you mean '{c}{c}'?)"))),
    }
}

/// The word operators become the same tokens as their symbols.
fn keyword_kind(kind: Kind, text: &str) -> Kind {
    match (kind, text) {
        (Kind::Word, "and") => Kind::And,
        (Kind::Word, "or") => Kind::Or,
        (Kind::Word, "not") => Kind::Not,
        _ => kind,
    }
}

fn error(expr: &str, column: usize, message: impl Into<String>) -> FilterError {
    FilterError { column, message: message.into(), expr: expr.to_string() }
}

struct Parser<'a> {
    expr: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn previous(&self) -> Option<Token<'a>> {
        self.pos.checked_sub(1).map(|i| self.tokens[i])
    }

    /// Consumes the next token if it is of `kind`.
    fn eat(&mut self, kind: Kind) -> bool {
        let hit = self.peek().is_some_and(|t| t.kind == kind);
        self.pos += usize::from(hit);
        hit
    }

    fn peek_word(&self) -> Option<Token<'a>> {
        self.peek().filter(|t| t.kind == Kind::Word)
    }

    fn end_column(&self) -> usize {
        self.expr.chars().count() + 1
    }

    fn error(&self, column: usize, message: impl Into<String>) -> FilterError {
        error(self.expr, column, message)
    }

    /// "expected WHAT after 'PREV'", at the token found instead, or just past the end when there is none.
    fn expected(&self, what: &str) -> FilterError {
        let after = self.previous().map(|t| format!(" after '{}'", t.text)).unwrap_or_default();
        match self.peek() {
            Some(found) => self.error(found.column, format!("expected {what}{after}, found '{}'", found.text)),
            None => self.error(self.end_column(), format!("expected {what}{after}")),
        }
    }

    /// An `and`/`or` chain. pcap-filter(7): "alternation and concatenation have equal precedence and associate left
    /// to right", so `a or b and c` is `(a or b) and c`, exactly as tcpdump reads it. Runs of one operator are kept
    /// flat so long chains do not deepen the tree.
    fn parse_or(&mut self) -> Result<Node, FilterError> {
        let mut node = self.parse_unary()?;
        loop {
            if self.eat(Kind::And) {
                let rhs = self.parse_unary()?;
                node = match node {
                    Node::And(mut terms) => {
                        terms.push(rhs);
                        Node::And(terms)
                    }
                    other => Node::And(vec![other, rhs]),
                };
            } else if self.eat(Kind::Or) {
                let rhs = self.parse_unary()?;
                node = match node {
                    Node::Or(mut terms) => {
                        terms.push(rhs);
                        Node::Or(terms)
                    }
                    other => Node::Or(vec![other, rhs]),
                };
            } else {
                return Ok(node);
            }
        }
    }

    /// `not` and parentheses recurse through here, so this is where nesting is counted.
    fn parse_unary(&mut self) -> Result<Node, FilterError> {
        if self.depth >= MAX_DEPTH {
            let column = self.peek().map_or(self.end_column(), |t| t.column);
            return Err(self.error(column, format!("expression nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let node =
            if self.eat(Kind::Not) { self.parse_unary().map(|n| Node::Not(Box::new(n))) } else { self.parse_primary() };
        self.depth -= 1;
        node
    }

    fn parse_primary(&mut self) -> Result<Node, FilterError> {
        match self.peek() {
            Some(open) if open.kind == Kind::LParen => self.parse_group(open),
            Some(word) if word.kind == Kind::Word => {
                self.pos += 1;
                self.parse_primitive(word)
            }
            _ => Err(self.expected("a primitive")),
        }
    }

    /// A parenthesised expression. An unclosed group is reported at its `(`, which is where the fix goes.
    fn parse_group(&mut self, open: Token<'a>) -> Result<Node, FilterError> {
        self.pos += 1;
        let inner = self.parse_or()?;
        match self.peek() {
            Some(t) if t.kind == Kind::RParen => {
                self.pos += 1;
                Ok(inner)
            }
            Some(t) => Err(self.missing_operator(t, "'and', 'or' or ')'")),
            None => Err(self.error(open.column, "unmatched '('")),
        }
    }

    fn parse_primitive(&mut self, word: Token<'a>) -> Result<Node, FilterError> {
        let flag = |bit| Ok(Node::TcpFlag(bit));
        match word.text {
            "tcp" => self.parse_transport(Proto::Tcp, PortProto::Tcp),
            "udp" => self.parse_transport(Proto::Udp, PortProto::Udp),
            "icmp" => Ok(Node::Proto(Proto::Icmp)),
            "icmp6" => Ok(Node::Proto(Proto::Icmp6)),
            "ip" => Ok(Node::Proto(Proto::Ip)),
            "ip6" => Ok(Node::Proto(Proto::Ip6)),
            "arp" => Ok(Node::Proto(Proto::Arp)),
            "vlan" => self.parse_vlan(),
            "host" | "net" | "port" | "portrange" => self.parse_qualified(None, Dir::Either, word),
            "src" => self.parse_directed(Dir::Src, word),
            "dst" => self.parse_directed(Dir::Dst, word),
            "syn" => flag(TcpFlags::SYN),
            "ack" => flag(TcpFlags::ACK),
            "fin" => flag(TcpFlags::FIN),
            "rst" => flag(TcpFlags::RST),
            "psh" => flag(TcpFlags::PSH),
            "urg" => flag(TcpFlags::URG),
            _ => Err(self.unknown_word(word, "")),
        }
    }

    /// Two operands in a row. A word that is no keyword at all is more likely a typo than a missing `and`.
    fn missing_operator(&self, found: Token<'a>, expected: &str) -> FilterError {
        let is_keyword = KEYWORDS.split(' ').any(|keyword| keyword == found.text);
        if found.kind == Kind::Word && !is_keyword && found.text.starts_with(char::is_alphabetic) {
            return self.unknown_word(found, "");
        }
        self.error(found.column, format!("expected {expected} before '{}'", found.text))
    }

    fn unknown_word(&self, word: Token<'a>, hint: &str) -> FilterError {
        let lower = word.text.to_lowercase();
        let case_hint = if KEYWORDS.split(' ').any(|keyword| keyword == lower) {
            format!(" (keywords are lowercase: '{lower}')")
        } else {
            String::new()
        };
        self.error(word.column, format!("unknown word '{}'{case_hint}{hint}", word.text))
    }

    /// The next token as the operand of the keyword just read; it must be a word.
    fn operand(&mut self, what: &str) -> Result<Token<'a>, FilterError> {
        let token = self.peek_word().ok_or_else(|| self.expected(what))?;
        self.pos += 1;
        Ok(token)
    }

    /// `tcp` / `udp`, optionally followed by `[src|dst] port N` or `[src|dst] portrange A-B`, which restrict the port
    /// test to that protocol as in pcap-filter(7).
    fn parse_transport(&mut self, proto: Proto, port_proto: PortProto) -> Result<Node, FilterError> {
        let dir = match self.peek_word().map(|t| t.text) {
            Some("src") => Dir::Src,
            Some("dst") => Dir::Dst,
            Some("port" | "portrange") => Dir::Either,
            _ => return Ok(Node::Proto(proto)),
        };
        if dir != Dir::Either {
            self.pos += 1;
        }
        match self.peek_word() {
            Some(keyword) if matches!(keyword.text, "port" | "portrange") => {
                self.pos += 1;
                self.parse_qualified(Some(port_proto), dir, keyword)
            }
            _ => Err(self.expected("'port' or 'portrange'")),
        }
    }

    /// After `src` or `dst`: a qualifier keyword, or, as tcpdump allows, an address (`src 10.0.0.1`) or a network
    /// (`dst 10.0.0.0/8`) on its own.
    fn parse_directed(&mut self, dir: Dir, direction: Token<'a>) -> Result<Node, FilterError> {
        let token = self.operand("'host', 'net', 'port', 'portrange' or an address")?;
        match token.text {
            "host" | "net" | "port" | "portrange" => self.parse_qualified(None, dir, token),
            text if text.contains('/') => Ok(Node::Net(dir, self.cidr(token)?)),
            text if text.contains(':') || text.starts_with(|c: char| c.is_ascii_digit()) => {
                Ok(Node::Host(dir, self.address(token.column, token.text)?))
            }
            _ => {
                let hint =
                    format!(" after '{}' (expected 'host', 'net', 'port', 'portrange' or an address)", direction.text);
                Err(self.unknown_word(token, &hint))
            }
        }
    }

    /// `host A`, `net C`, `port N` or `portrange A-B`, with the direction and protocol already read.
    fn parse_qualified(&mut self, proto: Option<PortProto>, dir: Dir, keyword: Token<'a>) -> Result<Node, FilterError> {
        match keyword.text {
            "host" => {
                let token = self.operand("an address")?;
                Ok(Node::Host(dir, self.address(token.column, token.text)?))
            }
            "net" => {
                let token = self.operand("a network")?;
                Ok(Node::Net(dir, self.cidr(token)?))
            }
            "port" => {
                let token = self.operand("a port number")?;
                let port = self.port(token.text, token.column)?;
                Ok(Node::Port { proto, dir, low: port, high: port })
            }
            _ => {
                let token = self.operand("a port range")?;
                let (low, high) = self.port_range(token)?;
                Ok(Node::Port { proto, dir, low, high })
            }
        }
    }

    /// `vlan` alone, or `vlan N` when a number follows (pcap-filter(7): `vlan [vlan_id]`).
    fn parse_vlan(&mut self) -> Result<Node, FilterError> {
        let Some(token) = self.peek_word().filter(|t| t.text.starts_with(|c: char| c.is_ascii_digit())) else {
            return Ok(Node::Vlan(None));
        };
        self.pos += 1;
        let id = digits::<u16>(token.text).filter(|&id| id <= 4095);
        let id =
            id.ok_or_else(|| self.error(token.column, format!("bad VLAN id '{}' (expected 0-4095)", token.text)))?;
        Ok(Node::Vlan(Some(id)))
    }

    fn address(&self, column: usize, text: &str) -> Result<IpAddr, FilterError> {
        text.parse().map_err(|_| self.error(column, format!("bad address '{text}'")))
    }

    /// `ADDR/LEN`, or a bare address meaning the single host (/32 or /128).
    fn cidr(&self, token: Token<'a>) -> Result<Cidr, FilterError> {
        let (addr_text, prefix_text) = match token.text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (token.text, None),
        };
        let addr = self.address(token.column, addr_text)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(text) => digits::<u8>(text).filter(|&p| p <= max).ok_or_else(|| {
                let column = token.column + addr_text.chars().count() + 1;
                self.error(column, format!("bad prefix length '{text}' (expected 0-{max})"))
            })?,
        };
        Cidr::new(addr, prefix)
            .ok_or_else(|| self.error(token.column, format!("non-network bits set in {}", token.text)))
    }

    fn port(&self, text: &str, column: usize) -> Result<u16, FilterError> {
        digits(text).ok_or_else(|| self.error(column, format!("bad port number '{text}' (expected 0-65535)")))
    }

    /// `A-B` with A <= B. A bad half is reported at its own column.
    fn port_range(&self, token: Token<'a>) -> Result<(u16, u16), FilterError> {
        let Some((low_text, high_text)) = token.text.split_once('-') else {
            return Err(self.error(token.column, format!("bad port range '{}' (expected A-B)", token.text)));
        };
        let low = self.port(low_text, token.column)?;
        let high = self.port(high_text, token.column + low_text.chars().count() + 1)?;
        if low > high {
            return Err(self.error(token.column, format!("bad port range '{}': {low} is above {high}", token.text)));
        }
        Ok((low, high))
    }
}

/// A number written in decimal digits only: `str::parse` alone would also take a leading `+`.
fn digits<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
