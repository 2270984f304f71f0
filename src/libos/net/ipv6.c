/*
 * net/ipv6.c: IPv6 input (RFC 8200: validation, the destination check, the extension-header
 * walk, fragment reassembly, delivery to ICMPv6/UDP/TCP) and output (the header, multicast MACs,
 * next-hop choice and neighbor resolution through ndp.c).
 *
 * Output never fragments: the layers above send at most net_ipv6_max_payload() bytes. The caps
 * of the walk and of reassembly are in net/stack_internal.h.
 */
#include "net/stack_internal.h"
#include "net/tcp/tcp.h"
#include "net/wire/bytes.h"

size_t ipv6_output_mtu(const struct net_stack *stack) {
    return stack->ipv6.mtu != 0 ? stack->ipv6.mtu : stack->mtu;
}

size_t net_ipv6_max_payload(const struct net_stack *stack) { return ipv6_output_mtu(stack) - IPV6_HEADER_LEN; }

uint8_t *ipv6_payload_buffer(struct net_stack *stack) { return stack->frame + ETH_HEADER_LEN + IPV6_HEADER_LEN; }

void ipv6_format(const uint8_t address[16], char text[IP_ADDR_TEXT_MAX]) {
    struct ip_addr a = ip_addr_from_v6(address);
    ip_addr_format(&a, text, IP_ADDR_TEXT_MAX);
}

int ipv6_send(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t next_header,
              uint8_t hop_limit, const uint8_t *payload, size_t length, uint64_t now_ns) {
    if (!stack->ipv6.enabled) return ERR_UNREACHABLE;
    if (length > net_ipv6_max_payload(stack)) return ERR_MSGSIZE;
    if (ipv6_is_unspecified(destination) || ipv6_is_loopback(destination) || ipv6_is_v4_mapped(destination)) return ERR_INVAL;
    if (source == NULL) source = ipv6_select_source(stack, destination);
    if (source == NULL) {
        stack->stats.ipv6_no_route++;
        return ERR_UNREACHABLE;
    }
    uint8_t next_hop[16];
    bool multicast = ipv6_is_multicast(destination);
    if (!multicast && !ipv6_next_hop(stack, destination, next_hop)) {
        stack->stats.ipv6_no_route++;
        return ERR_UNREACHABLE;
    }
    uint8_t *packet = stack->frame + ETH_HEADER_LEN;
    /* the payload may already be in place (built in the scratch frame by the caller) */
    if (payload != packet + IPV6_HEADER_LEN) __builtin_memmove(packet + IPV6_HEADER_LEN, payload, length);
    struct ipv6_header header = {.payload_length = (uint16_t)length, .next_header = next_header, .hop_limit = hop_limit};
    __builtin_memcpy(header.source, source, 16);
    __builtin_memcpy(header.destination, destination, 16);
    ipv6_write(packet, &header);
    stack->stats.ipv6_out++;
    if (multicast) {
        uint8_t mac[ETH_ADDR_LEN];
        ipv6_multicast_mac(destination, mac);
        eth_write(stack->frame, mac, stack->mac, ETHERTYPE_IPV6);
        net_send_frame(stack, stack->frame, ETH_HEADER_LEN + IPV6_HEADER_LEN + length);
        return 0;
    }
    return ndp_output(stack, next_hop, packet, IPV6_HEADER_LEN + length, now_ns);
}

int net_ipv6_output(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t next_header,
                    const uint8_t *payload, size_t length, uint64_t now_ns) {
    if (!stack->ipv6.enabled) return ERR_UNREACHABLE;
    if (source != NULL && ipv6_is_unspecified(source)) source = NULL;
    if (source != NULL) {
        /* only an address that is ours and usable: a tentative, duplicate or expired one is not */
        const struct ipv6_address *ours = ipv6_find_address(stack, source);
        if (ours == NULL || (ours->state != NET_IPV6_PREFERRED && ours->state != NET_IPV6_DEPRECATED)) return ERR_UNREACHABLE;
    }
    return ipv6_send(stack, source, destination, next_header, stack->ipv6.hop_limit, payload, length, now_ns);
}

/* ---- the extension-header walk ------------------------------------------------------------- */

static void walk(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t length, size_t offset,
                 uint8_t next, size_t next_field, unsigned headers, bool reassembled, uint64_t now_ns);

static void dropped(struct net_stack *stack, const struct ipv6_header *ip, const char *why) {
    char source[IP_ADDR_TEXT_MAX];
    ipv6_format(ip->source, source);
    net_env_log(NET_LOG_DEBUG, "ipv6", "dropped a packet from %s: %s", source, why);
    stack->stats.ipv6_dropped++;
}

static void parameter_problem(struct net_stack *stack, const struct ipv6_header *ip, uint8_t code, size_t pointer,
                              const uint8_t *packet, size_t length, uint64_t now_ns, const char *why) {
    dropped(stack, ip, why);
    icmpv6_send_error(stack, ICMPV6_PARAMETER_PROBLEM, code, (uint32_t)pointer, packet, length, now_ns);
}

/* The options of a hop-by-hop or destination options header at `offset`: true to go on. */
static bool options_ok(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t length,
                       size_t offset, const struct ipv6_ext *ext, uint64_t now_ns) {
    size_t at = 0;
    struct ipv6_option option;
    for (;;) {
        enum ipv6_option_result result = ipv6_option_next(ext->options, ext->options_length, &at, &option);
        if (result == IPV6_OPTION_END) return true;
        if (result == IPV6_OPTION_MALFORMED) {
            dropped(stack, ip, "an option runs past its header");
            return false;
        }
        if (option.type == IPV6_OPTION_PAD1 || option.type == IPV6_OPTION_PADN) continue;
        /* router alert asks routers to look: a host has nothing to do (RFC 2711) */
        if (option.type == IPV6_OPTION_ROUTER_ALERT && ext->type == IPV6_NEXT_HOP_BY_HOP) continue;
        size_t pointer = offset + 2 + option.offset;
        switch (IPV6_OPTION_ACTION(option.type)) {
        case IPV6_OPTION_SKIP: continue;
        case IPV6_OPTION_DISCARD: dropped(stack, ip, "an unknown option (discard)"); return false;
        case IPV6_OPTION_DISCARD_ICMP:
            parameter_problem(stack, ip, ICMPV6_CODE_UNKNOWN_OPTION, pointer, packet, length, now_ns, "an unknown option");
            return false;
        default:
            if (ipv6_is_multicast(ip->destination)) dropped(stack, ip, "an unknown option (to multicast)");
            else parameter_problem(stack, ip, ICMPV6_CODE_UNKNOWN_OPTION, pointer, packet, length, now_ns, "an unknown option");
            return false;
        }
    }
}

/* ---- reassembly ------------------------------------------------------------------------------ */

static void release(struct reassembly6 *slot) {
    if (slot->buffer) net_env_free(slot->buffer, REASSEMBLY6_BUFFER);
    if (slot->have) net_env_free(slot->have, REASSEMBLY_MAX_BYTES / 64 + 1);
    __builtin_memset(slot, 0, sizeof *slot);
}

static void drop_datagram(struct net_stack *stack, struct reassembly6 *slot, const char *why) {
    char source[IP_ADDR_TEXT_MAX];
    ipv6_format(slot->source, source);
    net_env_log(NET_LOG_DEBUG, "ipv6", "dropped fragmented datagram id %u from %s: %s", slot->id, source, why);
    stack->stats.reassembly6_dropped++;
    release(slot);
}

static bool have_unit(const struct reassembly6 *slot, unsigned unit) { return (slot->have[unit / 8] >> (unit % 8)) & 1; }

static struct reassembly6 *find_slot(struct net_stack *stack, const struct ipv6_header *ip, uint32_t id, uint64_t now_ns) {
    struct reassembly6 *free_slot = NULL;
    for (size_t i = 0; i < REASSEMBLY6_SLOTS; i++) {
        struct reassembly6 *s = &stack->ipv6.reassembly[i];
        if (!s->used) {
            if (free_slot == NULL) free_slot = s;
        } else if (s->id == id && ipv6_equal(s->source, ip->source) && ipv6_equal(s->destination, ip->destination)) {
            return s;
        }
    }
    if (free_slot == NULL) return NULL;
    struct reassembly6 *slot = free_slot;
    slot->buffer = net_env_alloc(REASSEMBLY6_BUFFER);
    slot->have = net_env_alloc(REASSEMBLY_MAX_BYTES / 64 + 1);
    if (slot->buffer == NULL || slot->have == NULL) {
        release(slot);
        return NULL;
    }
    __builtin_memset(slot->have, 0, REASSEMBLY_MAX_BYTES / 64 + 1);
    slot->used = true;
    __builtin_memcpy(slot->source, ip->source, 16);
    __builtin_memcpy(slot->destination, ip->destination, 16);
    slot->id = id;
    slot->expires_ns = now_ns + REASSEMBLY6_TIMEOUT_NS;
    return slot;
}

/* Adds the fragment whose fragment header `ext` is at `at`; when it completes its datagram, walks
 * the reassembled packet on from the fragment header's place and frees the slot. */
static void reassemble(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t length, size_t at,
                       size_t next_field, unsigned headers, const struct ipv6_ext *ext, uint64_t now_ns) {
    stack->stats.fragments6_in++;
    const uint8_t *data = packet + at + IPV6_FRAGMENT_HEADER_LEN;
    size_t data_length = length - at - IPV6_FRAGMENT_HEADER_LEN;
    size_t offset = ext->fragment_offset;
    bool more = ext->more_fragments;
    /* RFC 8200 §4.5: a fragment other than the last must be a multiple of 8 bytes long (the
     * pointer names the payload length field), and none may reach past 65535 (the pointer names
     * the fragment offset) */
    if (more && (data_length == 0 || data_length % 8 != 0)) {
        stack->stats.reassembly6_dropped++;
        parameter_problem(stack, ip, ICMPV6_CODE_BAD_HEADER_FIELD, 4, packet, length, now_ns, "fragment length not a multiple of 8");
        return;
    }
    if (offset + data_length > REASSEMBLY_MAX_BYTES) {
        stack->stats.reassembly6_dropped++;
        parameter_problem(stack, ip, ICMPV6_CODE_BAD_HEADER_FIELD, at + 2, packet, length, now_ns, "fragment past 65535 bytes");
        return;
    }
    struct reassembly6 *slot = find_slot(stack, ip, ext->fragment_id, now_ns);
    if (slot == NULL) {
        net_env_log(NET_LOG_DEBUG, "ipv6", "fragment dropped: all %d reassembly slots busy (or no memory)", REASSEMBLY6_SLOTS);
        stack->stats.reassembly6_dropped++;
        return;
    }
    if (++slot->fragments > REASSEMBLY_MAX_FRAGMENTS) return drop_datagram(stack, slot, "too many fragments");
    unsigned first = (unsigned)(offset / 8), end = (unsigned)((offset + data_length + 7) / 8);
    for (unsigned unit = first; unit < end; unit++)
        if (have_unit(slot, unit)) return drop_datagram(stack, slot, "overlapping fragments (RFC 5722)");
    if (!more) {
        if (slot->total_length != 0) return drop_datagram(stack, slot, "two last fragments");
        if (slot->received_end > offset + data_length) return drop_datagram(stack, slot, "data past the last fragment");
        slot->total_length = (uint32_t)(offset + data_length);
    }
    if (slot->total_length != 0 && offset + data_length > slot->total_length) return drop_datagram(stack, slot, "fragment past the end");
    if (offset == 0) {
        /* the first fragment decides the unfragmentable part (RFC 8200 §4.5) */
        slot->unfragmentable = at;
        slot->next_field = next_field;
        slot->next_header = ext->next_header;
        slot->first_length = MIN(length, (size_t)ICMPV6_QUOTE_MAX);
        slot->headers = headers;
        __builtin_memcpy(slot->first, packet, slot->first_length);
    }
    __builtin_memcpy(slot->buffer + REASSEMBLY6_UNFRAGMENTABLE_MAX + offset, data, data_length);
    for (unsigned unit = first; unit < end; unit++) slot->have[unit / 8] |= (uint8_t)(1u << (unit % 8));
    slot->received_end = MAX(slot->received_end, (uint32_t)(offset + data_length));
    if (slot->total_length == 0) return;
    for (unsigned unit = 0; unit < (slot->total_length + 7) / 8; unit++)
        if (!have_unit(slot, unit)) return;
    size_t payload_length = slot->unfragmentable - IPV6_HEADER_LEN + slot->total_length;
    if (payload_length > 0xffff) return drop_datagram(stack, slot, "longer than 65535 bytes");
    /* the reassembled packet: the first fragment's unfragmentable part, its last next header
     * field now naming what the fragment header named, then the data */
    uint8_t *whole = slot->buffer + REASSEMBLY6_UNFRAGMENTABLE_MAX - slot->unfragmentable;
    __builtin_memcpy(whole, slot->first, slot->unfragmentable);
    whole[slot->next_field] = slot->next_header;
    wire_put16(whole + 4, (uint16_t)payload_length);
    struct ipv6_header header;
    if (ipv6_parse(whole, slot->unfragmentable + slot->total_length, &header) != IPV6_OK)
        return drop_datagram(stack, slot, "reassembled header does not parse");
    stack->stats.reassembled6++;
    walk(stack, &header, whole, slot->unfragmentable + slot->total_length, slot->unfragmentable, slot->next_header,
         slot->next_field, slot->headers, true, now_ns);
    release(slot);
}

void ipv6_timers(struct net_stack *stack, uint64_t now_ns) {
    if (!stack->ipv6.enabled) return;
    for (size_t i = 0; i < REASSEMBLY6_SLOTS; i++) {
        struct reassembly6 *slot = &stack->ipv6.reassembly[i];
        if (!slot->used || now_ns < slot->expires_ns) continue;
        /* Time Exceeded only when the first fragment arrived (RFC 8200 §4.5) */
        if (slot->first_length != 0)
            icmpv6_send_error(stack, ICMPV6_TIME_EXCEEDED, ICMPV6_CODE_REASSEMBLY_TIMEOUT, 0, slot->first, slot->first_length,
                              now_ns);
        drop_datagram(stack, slot, "timeout");
    }
    ndp_timers(stack, now_ns);
    slaac_timers(stack, now_ns);
}

uint64_t ipv6_next_deadline(const struct net_stack *stack) {
    if (!stack->ipv6.enabled) return UINT64_MAX;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < REASSEMBLY6_SLOTS; i++)
        if (stack->ipv6.reassembly[i].used) next = MIN(next, stack->ipv6.reassembly[i].expires_ns);
    next = MIN(next, ndp_next_deadline(stack));
    return MIN(next, slaac_next_deadline(stack));
}

void ipv6_free(struct net_stack *stack) {
    for (size_t i = 0; i < REASSEMBLY6_SLOTS; i++) release(&stack->ipv6.reassembly[i]);
    ndp_free(stack);
}

/* ---- input ------------------------------------------------------------------------------------- */

/* Walks from the header `next` at `offset` (named by the byte at `next_field`) to the upper layer. */
static void walk(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t length, size_t offset,
                 uint8_t next, size_t next_field, unsigned headers, bool reassembled, uint64_t now_ns) {
    for (;;) {
        switch (next) {
        case IPV6_NEXT_HOP_BY_HOP:
        case IPV6_NEXT_ROUTING:
        case IPV6_NEXT_FRAGMENT:
        case IPV6_NEXT_DESTINATION: {
            if (++headers > IPV6_MAX_EXTENSIONS) return dropped(stack, ip, "too many extension headers");
            struct ipv6_ext ext;
            if (!ipv6_ext_parse(packet + offset, length - offset, next, &ext))
                return dropped(stack, ip, "truncated extension header");
            if (offset + ext.length - IPV6_HEADER_LEN > IPV6_MAX_EXTENSION_BYTES)
                return dropped(stack, ip, "extension headers longer than the cap");
            switch (next) {
            case IPV6_NEXT_HOP_BY_HOP:
                /* only right after the IPv6 header (RFC 8200 §4.3) */
                if (offset != IPV6_HEADER_LEN)
                    return parameter_problem(stack, ip, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, next_field, packet, length, now_ns,
                                             "hop-by-hop header not first");
                if (!options_ok(stack, ip, packet, length, offset, &ext, now_ns)) return;
                break;
            case IPV6_NEXT_DESTINATION:
                if (!options_ok(stack, ip, packet, length, offset, &ext, now_ns)) return;
                break;
            case IPV6_NEXT_ROUTING:
                /* a host is the last hop: with segments left it would have to forward, and it
                 * knows no routing type (type 0 is deprecated by RFC 5095) */
                if (ext.segments_left != 0)
                    return parameter_problem(stack, ip, ICMPV6_CODE_BAD_HEADER_FIELD, offset + 2, packet, length, now_ns,
                                             "routing header with segments left");
                break;
            default: /* fragment */
                if (ext.fragment_offset == 0 && !ext.more_fragments) {
                    /* an atomic fragment: processed on its own, never mixed with others (RFC 6946) */
                    stack->stats.atomic_fragments++;
                    break;
                }
                if (reassembled) return dropped(stack, ip, "a fragment inside a reassembled datagram");
                reassemble(stack, ip, packet, length, offset, next_field, headers, &ext, now_ns);
                return;
            }
            next_field = offset;
            next = ext.next_header;
            offset += ext.length;
            continue;
        }
        case IPV6_NEXT_ICMPV6: icmpv6_input(stack, ip, packet, length, packet + offset, length - offset, now_ns); return;
        case IPV6_NEXT_UDP:
        case IPV6_NEXT_TCP: {
            if (ipv6_is_unspecified(ip->source)) {
                stack->stats.not_for_us++;
                return;
            }
            struct ip_addr source = ip_addr_from_v6(ip->source), destination = ip_addr_from_v6(ip->destination);
            if (next == IPV6_NEXT_UDP) {
                udp_input(stack, &source, &destination, packet, length, packet + offset, length - offset, now_ns);
            } else if (ipv6_is_multicast(ip->destination)) {
                stack->stats.not_for_us++;
            } else {
                tcp_input(stack->tcp, &source, &destination, packet + offset, length - offset, now_ns);
            }
            return;
        }
        case IPV6_NEXT_NONE: return;
        default:
            return parameter_problem(stack, ip, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, next_field, packet, length, now_ns,
                                     "unknown next header");
        }
    }
}

void ipv6_input(struct net_stack *stack, const uint8_t *packet, size_t length, uint64_t now_ns) {
    if (!stack->ipv6.enabled) {
        stack->stats.not_for_us++;
        return;
    }
    struct ipv6_header ip;
    if (ipv6_parse(packet, length, &ip) != IPV6_OK) {
        stack->stats.malformed++;
        return;
    }
    stack->stats.ipv6_in++;
    length = IPV6_HEADER_LEN + ip.payload_length; /* past it: link padding */
    /* a source names one host (RFC 4291 §2.7: never multicast); loopback and IPv4-mapped
     * addresses never appear on a link (§2.5.3, §2.5.5.2) */
    bool bad_address = ipv6_is_multicast(ip.source) || ipv6_is_loopback(ip.source) || ipv6_is_loopback(ip.destination) ||
                       ipv6_is_v4_mapped(ip.source) || ipv6_is_v4_mapped(ip.destination);
    if (bad_address || !ipv6_is_our_destination(stack, ip.destination)) {
        stack->stats.not_for_us++;
        return;
    }
    walk(stack, &ip, packet, length, IPV6_HEADER_LEN, ip.next_header, 6, 0, false, now_ns);
}
