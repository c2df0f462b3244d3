// SPDX-License-Identifier: GPL-2.0
// Puts an 802.1Q tag on every frame a host sends and takes it off every tagged frame it receives, so a host can
// talk over a VLAN on a kernel without 802.1Q devices (CONFIG_VLAN_8021Q off) or tc's vlan action (act_vlan): the
// guard's VLAN test (tests/guard_datapath.rs) needs tagged frames on the wire, not a VLAN device.
//
// The tag goes into the skb's metadata (skb->vlan_tci), as a VLAN device's would on a driver that offloads tag
// insertion, which veth does: the guard's packet socket then reads it from the ring's tp_vlan_tci. On receive the
// kernel moves an in-band tag into the metadata before tc ingress runs (skb_vlan_untag), so popping it there hands
// IP an untagged frame; without the pop a tagged frame with no VLAN device would be dropped as PACKET_OTHERHOST.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef VLAN_ID
#error "compile with -DVLAN_ID=N"
#endif

SEC("tc/egress")
int push_tag(struct __sk_buff *skb)
{
	if (!skb->vlan_present)
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), VLAN_ID);
	return TC_ACT_OK;
}

SEC("tc/ingress")
int pop_tag(struct __sk_buff *skb)
{
	if (skb->vlan_present && (skb->vlan_tci & 0x0fff) == VLAN_ID)
		bpf_skb_vlan_pop(skb);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
