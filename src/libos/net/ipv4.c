/*
 * net/ipv4.c: IPv4 input (validation, the destination check, fragment reassembly, dispatch to
 * ICMP/UDP/TCP) and output (header, routing through the gateway, ARP).
 *
 * Output never fragments: the layers above send at most net_ipv4_max_payload() bytes (TCP's MSS
 * and the UDP sockets see to it). The reassembly rules are in net/stack_internal.h.
 */
#include "net/stack_internal.h"
#include "net/tcp/tcp.h"
#include "net/wire/bytes.h"

size_t net_ipv4_max_payload(const struct net_stack *stack) { return (size_t)stack->mtu - IPV4_HEADER_LEN; }

int net_ipv4_output(struct net_stack *stack, uint32_t source, uint32_t destination, uint8_t protocol, const uint8_t *payload,
                    size_t length, uint64_t now_ns) {
    if (length > net_ipv4_max_payload(stack)) return ERR_MSGSIZE;
    if (destination == 0) return ERR_INVAL;
    if (source == 0) source = stack->ip;
    uint32_t next_hop = destination;
    bool on_link = stack->prefix > 0 && (destination & stack->netmask) == (stack->ip & stack->netmask);
    if (!on_link && destination != IPV4_BROADCAST) {
        if (stack->gateway == 0) return ERR_UNREACHABLE;
        next_hop = stack->gateway;
    }
    uint8_t *packet = stack->frame + ETH_HEADER_LEN;
    /* the payload may already be in place (built in the scratch frame by the caller) */
    if (payload != packet + IPV4_HEADER_LEN) __builtin_memmove(packet + IPV4_HEADER_LEN, payload, length);
    struct ipv4_header header = {
        .tos = 0,
        .total_length = (uint16_t)(IPV4_HEADER_LEN + length),
        .id = stack->next_ip_id++,
        .flags_offset = 0,
        .ttl = 64,
        .protocol = protocol,
        .source = source,
        .destination = destination,
    };
    ipv4_write(packet, &header);
    stack->stats.ipv4_out++;
    return arp_output(stack, next_hop, packet, IPV4_HEADER_LEN + length, now_ns);
}

/* ---- reassembly ------------------------------------------------------------------------------ */

static void release(struct reassembly *slot) {
    if (slot->data) net_env_free(slot->data, REASSEMBLY_MAX_BYTES);
    if (slot->have) net_env_free(slot->have, REASSEMBLY_MAX_BYTES / 64 + 1);
    __builtin_memset(slot, 0, sizeof *slot);
}

static void drop(struct net_stack *stack, struct reassembly *slot, const char *why) {
    char source[16];
    ipv4_format(slot->source, source);
    net_env_log(NET_LOG_DEBUG, "ipv4", "dropped fragmented datagram id %u from %s: %s", slot->id, source, why);
    stack->stats.reassembly_dropped++;
    release(slot);
}

static bool have_unit(const struct reassembly *slot, unsigned unit) { return (slot->have[unit / 8] >> (unit % 8)) & 1; }

static void dispatch(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *packet, const uint8_t *payload,
                     size_t length, uint64_t now_ns);

/* Adds a fragment; when it completes its datagram, dispatches it and frees the slot. */
static void reassemble(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *packet, const uint8_t *payload,
                       size_t length, uint64_t now_ns) {
    stack->stats.fragments_in++;
    size_t offset = (size_t)(ip->flags_offset & IPV4_OFFSET_MASK) * 8;
    bool more = (ip->flags_offset & IPV4_FLAG_MF) != 0;
    if (offset + length > REASSEMBLY_MAX_BYTES || (more && (length == 0 || length % 8 != 0))) {
        stack->stats.reassembly_dropped++;
        return;
    }
    struct reassembly *slot = NULL, *free_slot = NULL;
    for (size_t i = 0; i < REASSEMBLY_SLOTS; i++) {
        struct reassembly *s = &stack->reassembly[i];
        if (!s->used) {
            if (free_slot == NULL) free_slot = s;
        } else if (s->source == ip->source && s->destination == ip->destination && s->id == ip->id && s->protocol == ip->protocol) {
            slot = s;
        }
    }
    if (slot == NULL) {
        if (free_slot == NULL) {
            stack->stats.reassembly_dropped++;
            return;
        }
        slot = free_slot;
        slot->data = net_env_alloc(REASSEMBLY_MAX_BYTES);
        slot->have = net_env_alloc(REASSEMBLY_MAX_BYTES / 64 + 1);
        if (slot->data == NULL || slot->have == NULL) {
            release(slot);
            stack->stats.reassembly_dropped++;
            return;
        }
        __builtin_memset(slot->have, 0, REASSEMBLY_MAX_BYTES / 64 + 1);
        slot->used = true;
        slot->source = ip->source;
        slot->destination = ip->destination;
        slot->id = ip->id;
        slot->protocol = ip->protocol;
        slot->expires_ns = now_ns + REASSEMBLY_TIMEOUT_NS;
    }
    if (++slot->fragments > REASSEMBLY_MAX_FRAGMENTS) return drop(stack, slot, "too many fragments");
    unsigned first = (unsigned)(offset / 8), end = (unsigned)((offset + length + 7) / 8);
    for (unsigned unit = first; unit < end; unit++)
        if (have_unit(slot, unit)) return drop(stack, slot, "overlapping fragments");
    if (!more) {
        if (slot->total_length != 0) return drop(stack, slot, "two last fragments");
        if (slot->received_end > offset + length) return drop(stack, slot, "data past the last fragment");
        slot->total_length = (uint32_t)(offset + length);
    }
    if (slot->total_length != 0 && offset + length > slot->total_length) return drop(stack, slot, "fragment past the end");
    __builtin_memcpy(slot->data + offset, payload, length);
    for (unsigned unit = first; unit < end; unit++) slot->have[unit / 8] |= (uint8_t)(1u << (unit % 8));
    slot->received_end = MAX(slot->received_end, (uint32_t)(offset + length));
    if (offset == 0) {
        slot->first_header = *ip;
        /* a first fragment carries at least 8 data bytes (a non-last one is a multiple of 8) */
        __builtin_memcpy(slot->first_bytes, packet, (size_t)ip->header_length + 8);
    }
    if (slot->total_length == 0) return;
    for (unsigned unit = 0; unit < (slot->total_length + 7) / 8; unit++)
        if (!have_unit(slot, unit)) return;
    /* the largest IPv4 datagram is 65535 bytes, header included */
    if (slot->total_length + slot->first_header.header_length > 0xffffu) return drop(stack, slot, "longer than 65535 bytes");
    stack->stats.reassembled++;
    struct ipv4_header whole = slot->first_header;
    whole.flags_offset = 0;
    whole.total_length = (uint16_t)(slot->total_length + whole.header_length);
    /* ICMP errors about a reassembled datagram quote its first fragment's header (as received)
     * and the first 8 bytes of its data, whichever fragment completed it */
    dispatch(stack, &whole, slot->first_bytes, slot->data, slot->total_length, now_ns);
    release(slot);
}

void ipv4_timers(struct net_stack *stack, uint64_t now_ns) {
    for (size_t i = 0; i < REASSEMBLY_SLOTS; i++)
        if (stack->reassembly[i].used && now_ns >= stack->reassembly[i].expires_ns) drop(stack, &stack->reassembly[i], "timeout");
}

uint64_t ipv4_next_deadline(const struct net_stack *stack) {
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < REASSEMBLY_SLOTS; i++)
        if (stack->reassembly[i].used && stack->reassembly[i].expires_ns < next) next = stack->reassembly[i].expires_ns;
    return next;
}

void ipv4_free(struct net_stack *stack) {
    for (size_t i = 0; i < REASSEMBLY_SLOTS; i++) release(&stack->reassembly[i]);
}

/* ---- input ------------------------------------------------------------------------------------- */

static void dispatch(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *packet, const uint8_t *payload,
                     size_t length, uint64_t now_ns) {
    struct ip_addr source = ip_addr_from_v4(ip->source), destination = ip_addr_from_v4(ip->destination);
    switch (ip->protocol) {
    case IPV4_PROTOCOL_ICMP: icmp_input(stack, ip, payload, length, now_ns); break;
    case IPV4_PROTOCOL_UDP:
        /* a reassembled datagram's `packet` holds only its first fragment's header and 8 data
         * bytes, all that an ICMP error quotes (icmp_send_unreachable reads no further) */
        udp_input(stack, &source, &destination, packet, (size_t)ip->header_length + length, payload, length, now_ns);
        break;
    case IPV4_PROTOCOL_TCP:
        if (!net_is_local_broadcast(stack, ip->destination)) tcp_input(stack->tcp, &source, &destination, payload, length, now_ns);
        else stack->stats.not_for_us++;
        break;
    default: stack->stats.not_for_us++; break;
    }
}

void ipv4_input(struct net_stack *stack, const uint8_t *packet, size_t length, uint64_t now_ns) {
    struct ipv4_header ip;
    enum ipv4_parse_result result = ipv4_parse(packet, length, &ip);
    if (result != IPV4_OK) {
        if (result == IPV4_BAD_CHECKSUM) stack->stats.ipv4_bad_checksum++;
        else stack->stats.malformed++;
        return;
    }
    stack->stats.ipv4_in++;
    if (ip.ttl == 0) {
        stack->stats.ipv4_ttl_zero++;
        return;
    }
    /* a host takes its own address and broadcasts; before it has an address, only DHCP (UDP to
     * the limited broadcast or to the address being offered) */
    bool for_us = stack->ip != 0 ? ip.destination == stack->ip || net_is_local_broadcast(stack, ip.destination)
                                 : ip.protocol == IPV4_PROTOCOL_UDP;
    /* and only from a source that names one host (RFC 1122 §3.2.1.3): not 0.0.0.0 (a client
     * without an address: we serve none), loopback, multicast or broadcast */
    bool bad_source = ip.source == 0 || ip.source >> 24 == 127 || (ip.source & 0xf0000000u) == 0xe0000000u ||
                      net_is_local_broadcast(stack, ip.source);
    if (!for_us || bad_source) {
        stack->stats.not_for_us++;
        return;
    }
    const uint8_t *payload = packet + ip.header_length;
    size_t payload_length = (size_t)ip.total_length - ip.header_length;
    if ((ip.flags_offset & (IPV4_FLAG_MF | IPV4_OFFSET_MASK)) != 0) reassemble(stack, &ip, packet, payload, payload_length, now_ns);
    else dispatch(stack, &ip, packet, payload, payload_length, now_ns);
}
