// SPDX-License-Identifier: GPL-2.0
// The guard's kernel bridge (`guard --mode off`, `--forward kernel`): a tc program on the ingress of both of the
// guard's interfaces that hands every frame to the other interface's egress (bpf_redirect), as a bridge between
// the two would, and counts what it moved. Loaded and attached by src/xdp/kernel_bridge.rs.
//
// Why: in off mode the guard changes nothing, and moving every byte through its packet rings costs two copies a
// byte (into the receive ring, into the transmit ring) on the CPU the endpoints need. Redirected here, a GSO
// super-frame keeps its skb, its partial checksum and its offloaded VLAN tag, and is never copied.
//
// The packet sockets' taps run before tc ingress (__netif_receive_skb_core delivers to ptype_all first), so a
// capture on either interface still sees every frame; the guard itself opens no rings while this runs. Frames the
// gateway's own stack may want (broadcast, multicast, its own address) are cloned across and also go up the stack.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

// One per side: frames arriving on `ifindex` leave on `peer_ifindex`. Slot 0 is the outside, 1 the inside. `mac`
// is the receiving interface's own address.
struct bridge_port {
	__u32 ifindex;
	__u32 peer_ifindex;
	__u8 mac[6];
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bridge_port);
} bridge_ports SEC(".maps");

// Per side (slot * COUNTERS_PER_SIDE + counter), per CPU: src/xdp/kernel_bridge.rs sums them.
enum {
	FRAMES,
	BYTES,
	SUPER_FRAMES,
	SUPER_FRAME_BYTES,
	COUNTERS_PER_SIDE,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * COUNTERS_PER_SIDE);
	__type(key, __u32);
	__type(value, __u64);
} bridge_counters SEC(".maps");

static __always_inline void count(__u32 slot, __u64 n)
{
	__u64 *counter = bpf_map_lookup_elem(&bridge_counters, &slot);

	if (counter)
		*counter += n;
}

SEC("classifier")
int synscope_bridge(struct __sk_buff *skb)
{
	for (__u32 side = 0; side < 2; side++) {
		__u32 key = side;
		struct bridge_port *port = bpf_map_lookup_elem(&bridge_ports, &key);

		if (!port || port->ifindex == 0 || port->ifindex != skb->ifindex)
			continue;
		__u32 base = side * COUNTERS_PER_SIDE;

		count(base + FRAMES, 1);
		count(base + BYTES, skb->len);
		// A GSO super-frame (TSO from a local sender, or GRO): the egress device or the kernel segments it.
		if (skb->gso_segs > 1) {
			count(base + SUPER_FRAMES, 1);
			count(base + SUPER_FRAME_BYTES, skb->len);
		}
		// Through the rings, the gateway's own stack still got every frame (a packet socket takes copies).
		// Keep that for the frames it may want: broadcast and multicast (ARP, neighbour discovery) and unicast
		// to this interface's own address (a management address on the guard's interface). Those are cloned
		// to the other side and go on up the stack; every other frame is redirected, uncopied.
		__u8 dst[6];

		if (bpf_skb_load_bytes(skb, 0, dst, sizeof(dst)) == 0) {
			int ours = 1;

			for (int i = 0; i < 6; i++)
				if (dst[i] != port->mac[i])
					ours = 0;
			if ((dst[0] & 1) || ours) {
				bpf_clone_redirect(skb, port->peer_ifindex, 0);
				return TC_ACT_OK;
			}
		}
		return bpf_redirect(port->peer_ifindex, 0);
	}
	// Not one of the guard's interfaces (the map not written yet): the kernel's own path, as without us.
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
