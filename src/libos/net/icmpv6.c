/*
 * net/icmpv6.c: ICMPv6 (RFC 4443) — answering echo requests (to our unicast addresses and to
 * ff02::1), the echo client behind `ping`, the error messages the stack sends (rate limited by a
 * token bucket, RFC 4443 §2.4 f) and the ones it receives, and dispatch of the Neighbor
 * Discovery messages to ndp.c.
 *
 * Errors received are validated (checksum, length) and counted in icmpv6_errors_in, and logged;
 * they are not passed to TCP or UDP, which learn of a dead peer by their own timers (as for
 * ICMPv4 in icmp.c).
 */
#include "net/stack_internal.h"
#include "net/wire/bytes.h"

int icmpv6_send(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t hop_limit, size_t length,
                uint64_t now_ns) {
    uint8_t *message = ipv6_payload_buffer(stack);
    if (source == NULL) source = ipv6_select_source(stack, destination);
    if (source == NULL) {
        stack->stats.ipv6_no_route++;
        return ERR_UNREACHABLE;
    }
    uint8_t from[16], to[16]; /* the addresses may lie in the scratch frame that ipv6_send rewrites */
    __builtin_memcpy(from, source, 16);
    __builtin_memcpy(to, destination, 16);
    icmpv6_set_checksum(message, length, from, to);
    stack->stats.icmpv6_out++;
    return ipv6_send(stack, from, to, IPV6_NEXT_ICMPV6, hop_limit, message, length, now_ns);
}

/* ---- errors ---------------------------------------------------------------------------------- */

/* True if the quoted packet carries an ICMPv6 error or a redirect (RFC 4443 §2.4 e.1): the walk
 * follows its extension headers as far as they are quoted, bounded like input's. */
static bool carries_error(const uint8_t *packet, size_t length) {
    uint8_t next = packet[6];
    size_t at = IPV6_HEADER_LEN;
    for (unsigned i = 0; i <= IPV6_MAX_EXTENSIONS; i++) {
        if (next == IPV6_NEXT_ICMPV6) return at < length && (icmpv6_is_error(packet[at]) || packet[at] == ICMPV6_REDIRECT);
        struct ipv6_ext ext;
        if (!ipv6_ext_parse(packet + at, length - at, next, &ext)) return false;
        if (ext.type == IPV6_NEXT_FRAGMENT && ext.fragment_offset != 0) return false;
        next = ext.next_header;
        at += ext.length;
    }
    return false;
}

static bool take_token(struct net_stack *stack, uint64_t now_ns) {
    struct ipv6_state *v6 = &stack->ipv6;
    if (now_ns > v6->error_refill_ns) {
        uint64_t add = (now_ns - v6->error_refill_ns) / ICMPV6_ERROR_INTERVAL_NS;
        if (add > 0) {
            v6->error_tokens = (uint32_t)MIN((uint64_t)ICMPV6_ERROR_BURST, v6->error_tokens + add);
            v6->error_refill_ns += add * ICMPV6_ERROR_INTERVAL_NS;
        }
        if (v6->error_tokens == ICMPV6_ERROR_BURST) v6->error_refill_ns = now_ns;
    }
    if (v6->error_tokens == 0) return false;
    v6->error_tokens--;
    return true;
}

void icmpv6_send_error(struct net_stack *stack, uint8_t type, uint8_t code, uint32_t parameter, const uint8_t *packet,
                       size_t length, uint64_t now_ns) {
    if (!stack->ipv6.enabled || length < IPV6_HEADER_LEN) return;
    uint8_t source[16], destination[16];
    __builtin_memcpy(source, packet + 8, 16);
    __builtin_memcpy(destination, packet + 24, 16);
    /* never to a source that is not one host (e.5) */
    if (ipv6_is_unspecified(source) || ipv6_is_multicast(source)) return;
    /* never about a packet to a multicast group, except these two (e.2) */
    bool to_group = ipv6_is_multicast(destination);
    if (to_group && !(type == ICMPV6_PACKET_TOO_BIG || (type == ICMPV6_PARAMETER_PROBLEM && code == ICMPV6_CODE_UNKNOWN_OPTION)))
        return;
    /* never about an error or a redirect (e.1) */
    if (carries_error(packet, length)) return;
    if (!take_token(stack, now_ns)) {
        stack->stats.icmpv6_rate_limited++;
        return;
    }
    /* from the address the packet was sent to when it is one of ours, else the best for the
     * destination; as much of the packet as fits the minimum MTU */
    const struct ipv6_address *ours = to_group ? NULL : ipv6_find_address(stack, destination);
    const uint8_t *from = ours != NULL && (ours->state == NET_IPV6_PREFERRED || ours->state == NET_IPV6_DEPRECATED)
                              ? destination : NULL;
    size_t quoted = MIN(length, (size_t)ICMPV6_QUOTE_MAX);
    quoted = MIN(quoted, net_ipv6_max_payload(stack) - ICMPV6_HEADER_LEN);
    uint8_t *message = ipv6_payload_buffer(stack);
    __builtin_memmove(message + ICMPV6_HEADER_LEN, packet, quoted);
    icmpv6_write_header(message, type, code, parameter);
    stack->stats.icmpv6_errors_out++;
    icmpv6_send(stack, from, source, stack->ipv6.hop_limit, ICMPV6_HEADER_LEN + quoted, now_ns);
}

/* ---- input ----------------------------------------------------------------------------------- */

static void echo_request(struct net_stack *stack, const struct ipv6_header *ip, const struct icmpv6_header *icmp,
                         uint64_t now_ns) {
    stack->stats.echo6_requests_in++;
    /* to one of our addresses or to all nodes (RFC 4443 §4.2: the reply from a unicast address);
     * not to solicited-node groups, and never to an unspecified source */
    bool to_group = ipv6_is_multicast(ip->destination);
    if (ipv6_is_unspecified(ip->source) || (to_group && !ipv6_equal(ip->destination, ipv6_all_nodes))) return;
    if (ICMPV6_HEADER_LEN + icmp->body_length > net_ipv6_max_payload(stack)) return;
    uint8_t *reply = ipv6_payload_buffer(stack);
    __builtin_memmove(reply + ICMPV6_HEADER_LEN, icmp->body, icmp->body_length);
    icmpv6_write_header(reply, ICMPV6_ECHO_REPLY, 0, icmp->word);
    stack->stats.echo6_replies_out++;
    icmpv6_send(stack, to_group ? NULL : ip->destination, ip->source, stack->ipv6.hop_limit, ICMPV6_HEADER_LEN + icmp->body_length,
                now_ns);
}

static void echo_reply(struct net_stack *stack, const struct ipv6_header *ip, const struct icmpv6_header *icmp, uint64_t now_ns) {
    uint16_t id = (uint16_t)(icmp->word >> 16), sequence = (uint16_t)icmp->word;
    struct echo_listener *listener = echo_listener_find(stack->ipv6.echo, id);
    if (listener != NULL) listener->fn.v6(listener->ctx, ip->source, id, sequence, icmp->body, icmp->body_length, ip->hop_limit, now_ns);
}

static const char *error_name(uint8_t type) {
    switch (type) {
    case ICMPV6_DEST_UNREACHABLE: return "destination unreachable";
    case ICMPV6_PACKET_TOO_BIG: return "packet too big";
    case ICMPV6_TIME_EXCEEDED: return "time exceeded";
    case ICMPV6_PARAMETER_PROBLEM: return "parameter problem";
    default: return "unknown error";
    }
}

void icmpv6_input(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t packet_length,
                  const uint8_t *message, size_t length, uint64_t now_ns) {
    (void)packet;
    (void)packet_length;
    struct icmpv6_header icmp;
    enum icmpv6_parse_result result = icmpv6_parse(message, length, ip->source, ip->destination, &icmp);
    if (result != ICMPV6_OK) {
        if (result == ICMPV6_BAD_CHECKSUM) stack->stats.icmpv6_bad_checksum++;
        else stack->stats.malformed++;
        return;
    }
    stack->stats.icmpv6_in++;
    switch (icmp.type) {
    case ICMPV6_ECHO_REQUEST: echo_request(stack, ip, &icmp, now_ns); return;
    case ICMPV6_ECHO_REPLY: echo_reply(stack, ip, &icmp, now_ns); return;
    case ICMPV6_ROUTER_SOLICITATION:
    case ICMPV6_ROUTER_ADVERTISEMENT:
    case ICMPV6_NEIGHBOR_SOLICITATION:
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
    case ICMPV6_REDIRECT: ndp_input(stack, ip, &icmp, now_ns); return;
    default:
        if (icmpv6_is_error(icmp.type)) {
            stack->stats.icmpv6_errors_in++;
            char from[IP_ADDR_TEXT_MAX];
            ipv6_format(ip->source, from);
            net_env_log(NET_LOG_DEBUG, "icmpv6", "%s (code %u) from %s", error_name(icmp.type), icmp.code, from);
        }
        /* unknown informational messages are dropped (RFC 4443 §2.4 b) */
        return;
    }
}

/* ---- echo client ------------------------------------------------------------------------------ */

int net_echo6_listen(struct net_stack *stack, uint16_t id, net_echo6_reply_fn fn, void *ctx) {
    struct echo_listener listener = {.fn.v6 = fn, .ctx = ctx};
    return echo_listener_set(stack->ipv6.echo, id, fn != NULL ? &listener : NULL);
}

int net_echo6_send(struct net_stack *stack, const uint8_t destination[16], uint16_t id, uint16_t sequence,
                   const uint8_t *data, size_t length, uint64_t now_ns) {
    if (!stack->ipv6.enabled) return ERR_UNREACHABLE;
    if (ICMPV6_HEADER_LEN + length > net_ipv6_max_payload(stack)) return ERR_MSGSIZE;
    uint8_t *request = ipv6_payload_buffer(stack);
    __builtin_memmove(request + ICMPV6_HEADER_LEN, data, length);
    icmpv6_write_header(request, ICMPV6_ECHO_REQUEST, 0, (uint32_t)id << 16 | sequence);
    return icmpv6_send(stack, NULL, destination, stack->ipv6.hop_limit, ICMPV6_HEADER_LEN + length, now_ns);
}
