// SPDX-License-Identifier: GPL-2.0
//
// The guard's XDP fast path: a pure SYN (SYN set, ACK and RST clear) to the protected address and port is answered
// in the driver with the SYN-ACK the guard's userspace path would send, cookie and all, and bounced back out with
// XDP_TX. An ACK to it from a client the proxy does not hold is dropped unless it carries a fresh, valid cookie, as
// userspace would drop it. Everything else goes on to the guard's packet rings (XDP_PASS).
//
// The cookie is the Rust codec's (src/defense/cookie): Linux's layout (net/ipv4/syncookies.c) with SipHash-1-3,
//
//     isn = H0(tuple) + client_isn + (counter << 24) + ((H1(H0, counter) + mss_index) mod 2^24)
//
// and the client's window scale, SACK and ECN in the low 6 bits of TSval (Linux cookie_init_timestamp). The SYN-ACK
// is laid out as src/defense/guard/reply.rs writes it, byte for byte: a test runs both on the same SYNs through
// BPF_PROG_TEST_RUN (tests/xdp_equivalence.rs).
//
// Only the SYNs the common path sees are answered here: untagged Ethernet, IPv4 without options and unfragmented,
// or IPv6 with TCP as the first next header, and options that parse cleanly. Anything unusual is passed to
// userspace, whose parser handles every shape, so the two paths never disagree on a SYN both would answer.
//
// The incoming SYN's TCP checksum is not verified: on veth and on NICs with receive offloads the XDP program cannot
// tell a partial checksum from a bad one. A corrupt SYN costs one SYN-ACK, as a spoofed one does.

#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define ETH_LEN 14
#define IPV4_LEN 20
#define IPV6_LEN 40
#define TCP_LEN 20
#define MAX_OPTIONS 40
#define TTL 64
#define COOKIE_BITS 24
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define TS_BITS 6
#define TS_MASK ((1u << TS_BITS) - 1)
#define TS_WSCALE_NONE 0xF
#define TS_SACK (1u << 4)
#define TS_ECN (1u << 5)
#define MAX_WSCALE 14
#define WSCALE_NONE 0xFF

// Must match `XdpConfig` in src/xdp/config.rs field for field (repr(C), no implicit padding).
struct guard_config {
	__u64 key[4];          // H0's SipHash keys k0, k1, then H1's
	__u64 tick_ns;         // cookie counter period
	__s64 clock_offset_ns; // CLOCK_REALTIME - CLOCK_MONOTONIC, refreshed by the guard every second
	__u64 now_override_ns; // when non-zero, the packet time to use (BPF_PROG_TEST_RUN in the tests)
	__u8 addr[16];         // protected address, network order (IPv4 in the first 4 bytes)
	__u16 port;            // protected port, host order
	__u16 listener_mss;    // what the listener's SYN-ACK announces
	__u16 listener_window; // its SYN-ACK window
	__u8 family;           // 4 or 6
	__u8 enabled;          // answer SYNs here; when 0 everything passes
	__u8 listener_wscale;  // WSCALE_NONE when the listener does not scale
	__u8 listener_sack;
	__u8 listener_ts;
	__u8 max_age_ticks;    // a cookie is fresh while fewer ticks than this have begun since it was issued
	__u8 drop_bad_acks;    // drop ACKs that complete no cookie (cookies mode: userspace would drop them too)
	__u8 pad[3];
};
_Static_assert(sizeof(struct guard_config) == 88, "struct guard_config must match XdpConfig");

// Counter slots; must match `XdpCounter` in src/xdp/config.rs.
enum counter {
	C_SYNACKS = 0,     // SYNs answered with a SYN-ACK here
	C_SYNS_PASSED = 1, // SYNs to the protected service left to userspace: lengths that do not add up, options that
	                   // could not be read, or a client the proxy holds (other shapes count as C_PASSED)
	C_PASSED = 2,      // every other frame
	C_ERRORS = 3,      // a SYN-ACK that could not be written: passed on if resizing the frame failed, dropped if the
	                   // store into the resized frame did
	C_ACKS_DROPPED = 4, // ACKs from clients the proxy does not hold, with no valid cookie: dropped here
	C_ACKS_PASSED = 5,  // such ACKs with a valid, fresh cookie: passed on to open the connection
	C_COUNT = 6,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard_config);
} guard_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} guard_counters SEC(".maps");

// A client the guard's proxy holds a connection for (the server side is always the protected service). A SYN
// from one is left to userspace, which forgets the old connection before answering: a client that started over on
// the same port (src/defense/guard/client.rs). The guard writes the map as its proxy table changes; must match
// `HeldKey` in src/xdp/config.rs.
struct held_key {
	__u8 client[16]; // network order; IPv4 in the first 4 bytes
	__u16 client_port; // host order
	__u16 pad;
};
_Static_assert(sizeof(struct held_key) == 20, "struct held_key must match HeldKey");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); // the guard's proxy table bound (cmd/guard `max_proxied`); the loader may change it
	__type(key, struct held_key);
	__type(value, __u8);
} guard_held SEC(".maps");

// A one-bit-per-slot summary of guard_held, so that a SYN or ACK from a client the proxy does not hold (every
// frame of a spoofed flood) costs one byte read from a 512-byte array instead of a hash-table probe, which took
// about 7% of the machine under a flood (perf). The guard sets a slot's bit while any held client hashes there;
// a set bit only means "look in guard_held". The slot hash must match `HeldKey::slot` in src/xdp/config.rs.
#define HELD_SLOTS 4096
struct held_hint {
	__u8 bits[HELD_SLOTS / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct held_hint);
} guard_held_hint SEC(".maps");

static __always_inline __u32 held_slot(const struct held_key *key)
{
	__u32 a = ((__u32)key->client[0] << 24) | ((__u32)key->client[1] << 16) | ((__u32)key->client[2] << 8) |
		  key->client[3];
	__u32 b = ((__u32)key->client[12] << 24) | ((__u32)key->client[13] << 16) | ((__u32)key->client[14] << 8) |
		  key->client[15];
	__u32 h = (a ^ b ^ ((__u32)key->client_port << 16 | key->client_port)) * 0x9E3779B1u;
	return h >> 20;
}

static __always_inline int is_held(const struct held_key *key)
{
	__u32 zero = 0;
	struct held_hint *hint = bpf_map_lookup_elem(&guard_held_hint, &zero);
	if (hint) {
		__u32 slot = held_slot(key) & (HELD_SLOTS - 1);
		if (!(hint->bits[slot >> 3] & (1 << (slot & 7))))
			return 0;
	}
	return bpf_map_lookup_elem(&guard_held, key) != 0;
}

// Room for the frame being written and the options being read: more than the 512-byte BPF stack holds beside the
// rest.
struct scratch {
	__u8 out[128];
	__u8 opts[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} guard_scratch SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *value = bpf_map_lookup_elem(&guard_counters, &slot);
	if (value)
		*value += 1;
}

// ---- SipHash-1-3 (Aumasson and Bernstein; one compression round, three finalisation rounds) ----

struct sip {
	__u64 v0, v1, v2, v3;
};

static __always_inline __u64 rotl(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static __always_inline void sip_round(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static __always_inline void sip_init(struct sip *s, __u64 k0, __u64 k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
}

static __always_inline void sip_block(struct sip *s, __u64 m)
{
	s->v3 ^= m;
	sip_round(s);
	s->v0 ^= m;
}

// The last block: the message's length in bytes in the top byte, its last 4 bytes (a u32, little-endian) below.
static __always_inline __u64 sip_finish(struct sip *s, __u64 len, __u32 tail)
{
	__u64 b = (len << 56) | tail;
	sip_block(s, b);
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

static __always_inline __u32 load_be32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

static __always_inline __u64 load_be64(const __u8 *p)
{
	return ((__u64)load_be32(p) << 32) | load_be32(p + 4);
}

static __always_inline void store_be16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static __always_inline void store_be32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

// ---- the Internet checksum (RFC 1071) over a stack buffer of even length ----

static __always_inline __u32 sum16(const __u8 *p, int len, __u32 sum)
{
	for (int i = 0; i < len; i += 2)
		sum += ((__u32)p[i] << 8) | p[i + 1];
	return sum;
}

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

// ---- what the segment said: a SYN, or an ACK whose cookie is checked ----

struct segment {
	__u8 client_mac[6], server_mac[6];
	__u8 client[16], server[16];
	__u16 client_port;
	__u32 client_isn;
	__u32 ack;      // an ACK's acknowledgment number
	__u16 mss;
	__u8 has_mss;
	__u8 wscale;    // WSCALE_NONE: absent
	__u8 sack;
	__u8 has_ts;
	__u8 ecn;
	__u32 tsval;
};

// The handshake options, as src/wire/tcp_options.rs reads them: the last of each kind wins, unknown kinds are
// skipped, and a malformed option ends the list, keeping what came before. One option per step of bpf_loop (Linux
// 5.17+): the verifier checks the step once, where an unrolled or bounded loop over 40 bytes made it walk every
// combination of option kinds and ran past its million-instruction budget.
struct option_walk {
	struct segment *syn;
	__u32 len; // bytes of options, at most MAX_OPTIONS
	__u32 i;   // where the next option starts
};

static long option_step(__u64 step, void *ctx)
{
	struct option_walk *walk = ctx;
	struct segment *syn = walk->syn;
	__u32 zero = 0;
	struct scratch *scratch = bpf_map_lookup_elem(&guard_scratch, &zero);
	if (!scratch)
		return 1;
	const __u8 *opts = scratch->opts;
	__u32 i = walk->i, len = walk->len;
	if (i >= len || len > MAX_OPTIONS)
		return 1;
	__u8 kind = opts[i & 63];
	if (kind == 0)
		return 1;
	if (kind == 1) {
		walk->i = i + 1;
		return 0;
	}
	if (len - i < 2)
		return 1;
	__u8 olen = opts[(i + 1) & 63];
	if (olen < 2 || olen > len - i)
		return 1;
	__u32 n = olen - 2;
	if (kind == 2) {
		if (n != 2)
			return 1;
		syn->mss = ((__u16)opts[(i + 2) & 63] << 8) | opts[(i + 3) & 63];
		syn->has_mss = 1;
	} else if (kind == 3) {
		if (n != 1)
			return 1;
		__u8 shift = opts[(i + 2) & 63];
		syn->wscale = shift > MAX_WSCALE ? MAX_WSCALE : shift;
	} else if (kind == 4) {
		if (n != 0)
			return 1;
		syn->sack = 1;
	} else if (kind == 5) {
		if (n == 0 || n > 32 || n % 8 != 0)
			return 1;
	} else if (kind == 8) {
		if (n != 8)
			return 1;
		syn->has_ts = 1;
		syn->tsval = ((__u32)opts[(i + 2) & 63] << 24) | ((__u32)opts[(i + 3) & 63] << 16) |
			     ((__u32)opts[(i + 4) & 63] << 8) | opts[(i + 5) & 63];
	}
	walk->i = i + olen;
	return 0;
}

// The two layouts nearly every SYN has, read in place: MSS alone (4 bytes; floods, hping3 with options, many
// embedded stacks), and Linux's 20 bytes, MSS, SACK-permitted, timestamps, NOP, window scale
// (tcp_options_write). They read as the general walk would read them; anything else takes the walk.
static __always_inline int parse_common_options(const __u8 *opts, __u32 len, struct segment *syn)
{
	if (len == 4 && opts[0] == 2 && opts[1] == 4) {
		syn->mss = ((__u16)opts[2] << 8) | opts[3];
		syn->has_mss = 1;
		return 1;
	}
	if (len == 20 && opts[0] == 2 && opts[1] == 4 && opts[4] == 4 && opts[5] == 2 && opts[6] == 8 &&
	    opts[7] == 10 && opts[16] == 1 && opts[17] == 3 && opts[18] == 3) {
		syn->mss = ((__u16)opts[2] << 8) | opts[3];
		syn->has_mss = 1;
		syn->sack = 1;
		syn->has_ts = 1;
		syn->tsval = load_be32(opts + 8);
		syn->wscale = opts[19] > MAX_WSCALE ? MAX_WSCALE : opts[19];
		return 1;
	}
	return 0;
}

static __always_inline void parse_options(const __u8 *opts, __u32 len, struct segment *syn)
{
	if (parse_common_options(opts, len, syn))
		return;
	struct option_walk walk = {.syn = syn, .len = len, .i = 0};
	// Each step takes at least one byte, so MAX_OPTIONS steps always reach the end.
	bpf_loop(MAX_OPTIONS, option_step, &walk, 0);
}

// The largest entry of Linux's msstab not above the client's MSS; entry 0 when it sent none or less
// (src/defense/cookie/mss.rs): IPv4 536, 1300, 1440, 1460; IPv6 1220, 1420, 1440, 8940.
static __always_inline __u32 mss_index(int v4, __u32 has_mss, __u16 mss)
{
	if (!has_mss)
		return 0;
	if (v4)
		return mss >= 1460 ? 3 : mss >= 1440 ? 2 : mss >= 1300 ? 1 : 0;
	return mss >= 8940 ? 3 : mss >= 1440 ? 2 : mss >= 1420 ? 1 : 0;
}

static __always_inline int same_bytes(const __u8 *a, const __u8 *b, int len)
{
	__u8 diff = 0;
	for (int i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

// ---- the cookie (src/defense/cookie/mod.rs `issue`) ----

// H0(tuple): hides the counter and the client's ISN (mac.rs `Secret::h0`).
static __always_inline __u64 cookie_h0(const struct guard_config *cfg, const struct segment *seg, int v4)
{
	struct sip s;
	__u32 ports = (__u32)seg->client_port | ((__u32)cfg->port << 16);
	__u64 h0;
	sip_init(&s, cfg->key[0], cfg->key[1]);
	if (v4) {
		// client and server addresses as big-endian numbers, client in the low half (mac.rs Message::V4)
		__u64 addresses = (__u64)load_be32(seg->client) | ((__u64)load_be32(seg->server) << 32);
		sip_block(&s, addresses);
		h0 = sip_finish(&s, 12, ports);
	} else {
		// each address as a 128-bit big-endian number, low 64 bits first (mac.rs Message::V6)
		sip_block(&s, load_be64(seg->client + 8));
		sip_block(&s, load_be64(seg->client));
		sip_block(&s, load_be64(seg->server + 8));
		sip_block(&s, load_be64(seg->server));
		h0 = sip_finish(&s, 36, ports);
	}
	return h0;
}

// H1(H0, counter): the MAC over the tuple's digest and the counter (mac.rs `Secret::h1`).
static __always_inline __u32 cookie_h1(const struct guard_config *cfg, __u64 h0, __u32 counter)
{
	struct sip s;
	sip_init(&s, cfg->key[2], cfg->key[3]);
	sip_block(&s, h0);
	return sip_finish(&s, 12, counter);
}

static __always_inline __u32 cookie(const struct guard_config *cfg, const struct segment *syn, int v4, __u64 now_ns,
				    __u32 index)
{
	__u64 h0 = cookie_h0(cfg, syn, v4);
	__u32 counter = now_ns / cfg->tick_ns;
	__u32 mac = (cookie_h1(cfg, h0, counter) + index) & COOKIE_MASK;
	return (__u32)h0 + syn->client_isn + (counter << COOKIE_BITS) + mac;
}

// Whether an ACK (its sequence number in `client_isn`, its acknowledgment number in `ack`) carries a fresh cookie of
// ours: src/defense/cookie/mod.rs `check` under the one secret the guard holds, without the TSecr test, which
// userspace makes when it opens the connection (Linux check_tcp_syn_cookie).
static __always_inline int cookie_is_fresh(const struct guard_config *cfg, const struct segment *ack, int v4, __u64 now_ns)
{
	__u32 cookie = ack->ack - 1;
	__u32 client_isn = ack->client_isn - 1;
	__u64 h0 = cookie_h0(cfg, ack, v4);
	__u32 rest = cookie - (__u32)h0 - client_isn;
	__u64 now_counter = now_ns / cfg->tick_ns;
	__u32 age = ((__u32)now_counter - (rest >> COOKIE_BITS)) & 0xFF;
	if (age >= cfg->max_age_ticks || now_counter < age)
		return 0;
	__u32 index = (rest - cookie_h1(cfg, h0, (__u32)(now_counter - age))) & COOKIE_MASK;
	return index < 4;
}

// Our TSval: the millisecond clock with the options in its low 6 bits, moved back one step when that would put it
// ahead of the clock (src/defense/cookie/tsopt.rs `encode`).
static __always_inline __u32 cookie_tsval(__u64 now_ns, const struct segment *syn, __u8 wscale, __u8 sack)
{
	__u32 clock = now_ns / 1000000;
	__u32 options = wscale == WSCALE_NONE ? TS_WSCALE_NONE : wscale;
	if (sack)
		options |= TS_SACK;
	if (syn->ecn)
		options |= TS_ECN;
	__u32 ts = (clock & ~TS_MASK) | options;
	return ts > clock ? ts - (1u << TS_BITS) : ts;
}

// The SYN-ACK's options in Linux's order (reply.rs `handshake_options`): MSS; SACK-permitted folded into the
// timestamps' padding, or NOP-padded alone; window scale last behind a NOP.
static __always_inline __u32 write_options(__u8 *out, __u16 mss, __u8 sack, __u8 ts, __u32 tsval, __u32 tsecr,
					   __u8 wscale)
{
	__u32 len = 4;
	out[0] = 2;
	out[1] = 4;
	store_be16(out + 2, mss);
	if (ts) {
		out[4] = sack ? 4 : 1;
		out[5] = sack ? 2 : 1;
		out[6] = 8;
		out[7] = 10;
		store_be32(out + 8, tsval);
		store_be32(out + 12, tsecr);
		len = 16;
	} else if (sack) {
		out[4] = 1;
		out[5] = 1;
		out[6] = 4;
		out[7] = 2;
		len = 8;
	}
	if (wscale != WSCALE_NONE) {
		__u8 *w = out + (len & 31);
		w[0] = 1;
		w[1] = 3;
		w[2] = 3;
		w[3] = wscale;
		len += 4;
	}
	return len;
}

enum shape {
	NOT_OURS,   // not a SYN or cookie ACK to the protected service: passed
	UNUSUAL,    // a SYN to it in a shape left to userspace, or from a client the proxy holds: passed
	ANSWERABLE, // a SYN answered here
	COOKIE_ACK, // an ACK from a client the proxy does not hold: its cookie is checked here
};

// Reads the segment into `seg` and says what this program does with it. `v4` says which family it is.
static __always_inline enum shape read_segment(struct xdp_md *ctx, const struct guard_config *cfg, struct segment *seg, int *v4,
					   __u8 *opts)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *eth = data;
	if ((void *)(eth + ETH_LEN) > data_end)
		return NOT_OURS;
	__u16 ethertype = ((__u16)eth[12] << 8) | eth[13];
	__u32 frame_len = bpf_xdp_get_buff_len(ctx);
	__u8 *tcp;
	__u32 end;
	if (ethertype == 0x0800 && cfg->family == 4) {
		__u8 *ip = eth + ETH_LEN;
		if ((void *)(ip + IPV4_LEN + TCP_LEN) > data_end)
			return NOT_OURS;
		// No options (IHL 5), not a fragment, TCP, to the protected address.
		if (ip[0] != 0x45 || (((ip[6] << 8) | ip[7]) & 0x3FFF) != 0 || ip[9] != 6)
			return NOT_OURS;
		if (!same_bytes(ip + 16, cfg->addr, 4))
			return NOT_OURS;
		__builtin_memcpy(seg->client, ip + 12, 4);
		__builtin_memcpy(seg->server, ip + 16, 4);
		end = ETH_LEN + (((__u32)ip[2] << 8) | ip[3]);
		tcp = ip + IPV4_LEN;
		*v4 = 1;
	} else if (ethertype == 0x86DD && cfg->family == 6) {
		__u8 *ip = eth + ETH_LEN;
		if ((void *)(ip + IPV6_LEN + TCP_LEN) > data_end)
			return NOT_OURS;
		if ((ip[0] >> 4) != 6 || ip[6] != 6)
			return NOT_OURS;
		if (!same_bytes(ip + 24, cfg->addr, 16))
			return NOT_OURS;
		__builtin_memcpy(seg->client, ip + 8, 16);
		__builtin_memcpy(seg->server, ip + 24, 16);
		end = ETH_LEN + IPV6_LEN + (((__u32)ip[4] << 8) | ip[5]);
		tcp = ip + IPV6_LEN;
		*v4 = 0;
	} else {
		return NOT_OURS;
	}
	__u16 dst_port = ((__u16)tcp[2] << 8) | tcp[3];
	__u8 flags = tcp[13];
	// SYN set, ACK and RST clear, as the userspace guard tells a SYN; ACK set, SYN and RST clear, as it tells the
	// ACK that may complete a cookie handshake (client.rs).
	int is_syn = (flags & 0x02) && !(flags & 0x14);
	int is_ack = (flags & 0x10) && !(flags & 0x06);
	if (dst_port != cfg->port || (!is_syn && !(is_ack && cfg->drop_bad_acks)))
		return NOT_OURS;
	__u32 header_len = (tcp[12] >> 4) * 4;
	__u32 tcp_offset = (void *)tcp - data;
	struct held_key held = {};
	__builtin_memcpy(held.client, seg->client, 16);
	held.client_port = ((__u16)tcp[0] << 8) | tcp[1];
	if (is_held(&held))
		return is_syn ? UNUSUAL : NOT_OURS;
	if (header_len < TCP_LEN || end > frame_len || tcp_offset + header_len > end)
		return is_syn ? UNUSUAL : NOT_OURS;
	if (is_ack) {
		seg->client_port = held.client_port;
		seg->client_isn = load_be32(tcp + 4);
		seg->ack = load_be32(tcp + 8);
		return COOKIE_ACK;
	}
	__builtin_memcpy(seg->client_mac, eth + 6, 6);
	__builtin_memcpy(seg->server_mac, eth, 6);
	seg->client_port = ((__u16)tcp[0] << 8) | tcp[1];
	seg->client_isn = load_be32(tcp + 4);
	// ECE and CWR both set: the client asks for ECN (RFC 3168 §6.1.1).
	seg->ecn = (flags & 0xC0) == 0xC0;
	seg->wscale = WSCALE_NONE;
	if (header_len > TCP_LEN) {
		// 4 to 40 bytes, in a form the verifier can bound away from zero: ((n - 4) & 60) + 4 is n for these n.
		__u32 options_len = ((header_len - TCP_LEN - 4) & 60) + 4;
		if (options_len > MAX_OPTIONS)
			return UNUSUAL;
		if (bpf_xdp_load_bytes(ctx, tcp_offset + TCP_LEN, opts, options_len) != 0)
			return UNUSUAL;
		parse_options(opts, options_len, seg);
	}
	return ANSWERABLE;
}

SEC("xdp.frags")
int synscope_guard(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct guard_config *cfg = bpf_map_lookup_elem(&guard_config, &zero);
	if (!cfg || !cfg->enabled || cfg->tick_ns == 0) {
		count(C_PASSED);
		return XDP_PASS;
	}
	struct scratch *scratch = bpf_map_lookup_elem(&guard_scratch, &zero);
	if (!scratch) {
		count(C_PASSED);
		return XDP_PASS;
	}
	struct segment seg = {};
	int v4 = 0;
	enum shape shape = read_segment(ctx, cfg, &seg, &v4, scratch->opts);
	if (shape == NOT_OURS || shape == UNUSUAL) {
		count(shape == UNUSUAL ? C_SYNS_PASSED : C_PASSED);
		return XDP_PASS;
	}
	__u64 now_ns = cfg->now_override_ns ? cfg->now_override_ns : bpf_ktime_get_ns() + cfg->clock_offset_ns;
	if (shape == COOKIE_ACK) {
		// A forged-ACK flood dies here; a valid cookie goes on to userspace, which opens the connection.
		if (cookie_is_fresh(cfg, &seg, v4, now_ns)) {
			count(C_ACKS_PASSED);
			return XDP_PASS;
		}
		count(C_ACKS_DROPPED);
		return XDP_DROP;
	}

	// Window scale and SACK come back from a cookie only through the TSecr the client echoes, so without
	// timestamps on both sides they are not offered (client.rs `answer_with_cookie`, Linux tcp_clear_options).
	__u8 echoed = seg.has_ts && cfg->listener_ts;
	__u8 wscale = echoed ? seg.wscale : WSCALE_NONE;
	__u8 sack = echoed ? seg.sack : 0;
	__u32 index = mss_index(v4, seg.has_mss, seg.mss);
	__u32 isn = cookie(cfg, &seg, v4, now_ns, index);
	__u32 tsval = cookie_tsval(now_ns, &seg, wscale, sack);

	// The SYN-ACK: the listener's options, as far as the client asked for them (client.rs `send_synack`).
	__u8 *out = scratch->out;
	__builtin_memset(out, 0, sizeof(scratch->out));
	__u8 reply_wscale = (wscale != WSCALE_NONE && cfg->listener_wscale != WSCALE_NONE) ? cfg->listener_wscale
											    : WSCALE_NONE;
	__u8 reply_sack = sack && cfg->listener_sack;
	__builtin_memcpy(out, seg.client_mac, 6);
	__builtin_memcpy(out + 6, seg.server_mac, 6);
	__u32 ip_len = v4 ? IPV4_LEN : IPV6_LEN;
	__u8 *tcp = out + ETH_LEN + ip_len;
	__u32 options_len = write_options(tcp + TCP_LEN, cfg->listener_mss, reply_sack, echoed, tsval, seg.tsval,
					  reply_wscale);
	__u32 tcp_len = TCP_LEN + (options_len & 31);
	__u8 *ip = out + ETH_LEN;
	__u32 pseudo;
	if (v4) {
		out[12] = 0x08;
		out[13] = 0x00;
		// Version 4, IHL 5; ID 0 with Don't Fragment (RFC 6864); TTL; TCP (reply.rs `Segment::write`).
		ip[0] = 0x45;
		store_be16(ip + 2, IPV4_LEN + tcp_len);
		ip[6] = 0x40;
		ip[8] = TTL;
		ip[9] = 6;
		__builtin_memcpy(ip + 12, seg.server, 4);
		__builtin_memcpy(ip + 16, seg.client, 4);
		store_be16(ip + 10, fold(sum16(ip, IPV4_LEN, 0)));
		pseudo = sum16(ip + 12, 8, 6 + tcp_len);
	} else {
		out[12] = 0x86;
		out[13] = 0xDD;
		ip[0] = 0x60;
		store_be16(ip + 4, tcp_len);
		ip[6] = 6;
		ip[7] = TTL;
		__builtin_memcpy(ip + 8, seg.server, 16);
		__builtin_memcpy(ip + 24, seg.client, 16);
		pseudo = sum16(ip + 8, 32, 6 + tcp_len);
	}
	store_be16(tcp, cfg->port);
	store_be16(tcp + 2, seg.client_port);
	store_be32(tcp + 4, isn);
	store_be32(tcp + 8, seg.client_isn + 1);
	tcp[12] = (tcp_len / 4) << 4;
	tcp[13] = 0x12; // SYN, ACK
	store_be16(tcp + 14, cfg->listener_window);
	// The checksum over the whole header: options unused are zero in `out`, so summing 40 bytes of options is
	// summing what is there.
	store_be16(tcp + 16, fold(sum16(tcp, TCP_LEN + MAX_OPTIONS, pseudo)));

	__u32 frame_len = ETH_LEN + ip_len + tcp_len;
	int delta = (int)frame_len - (int)bpf_xdp_get_buff_len(ctx);
	if (bpf_xdp_adjust_tail(ctx, delta) != 0) {
		count(C_ERRORS);
		return XDP_PASS;
	}
	if (bpf_xdp_store_bytes(ctx, 0, out, frame_len & 127) != 0) {
		count(C_ERRORS);
		return XDP_DROP;
	}
	count(C_SYNACKS);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
