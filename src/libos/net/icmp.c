/*
 * net/icmp.c: ICMPv4 — answering echo requests, the echo client behind `ping`, and the
 * port-unreachable errors UDP sends for closed ports. Errors are never sent about broadcasts,
 * about ICMP errors, or about fragments other than the first (RFC 1122 §3.2.2).
 */
#include "net/stack_internal.h"
#include "net/wire/icmp_wire.h"

/* Builds the ICMP message in the scratch frame, where net_ipv4_output expects its payload. */
static uint8_t *message_buffer(struct net_stack *stack) { return stack->frame + ETH_HEADER_LEN + IPV4_HEADER_LEN; }

static int send_message(struct net_stack *stack, uint32_t destination, size_t length, uint64_t now_ns) {
    stack->stats.icmp_out++;
    return net_ipv4_output(stack, 0, destination, IPV4_PROTOCOL_ICMP, message_buffer(stack), length, now_ns);
}

void icmp_input(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *message, size_t length, uint64_t now_ns) {
    struct icmp_header icmp;
    if (!icmp_parse(message, length, &icmp)) {
        stack->stats.malformed++;
        return;
    }
    stack->stats.icmp_in++;
    switch (icmp.type) {
    case ICMP_ECHO_REQUEST: {
        stack->stats.echo_requests_in++;
        if (ip->destination != stack->ip) return; /* no replies to broadcast pings */
        if (ICMP_HEADER_LEN + icmp.data_length > net_ipv4_max_payload(stack)) return;
        uint8_t *reply = message_buffer(stack);
        __builtin_memmove(reply + ICMP_HEADER_LEN, icmp.data, icmp.data_length);
        icmp_write(reply, ICMP_ECHO_REPLY, 0, icmp.id, icmp.sequence, icmp.data_length);
        stack->stats.echo_replies_out++;
        send_message(stack, ip->source, ICMP_HEADER_LEN + icmp.data_length, now_ns);
        return;
    }
    case ICMP_ECHO_REPLY: {
        struct echo_listener *listener = echo_listener_find(stack->echo, icmp.id);
        if (listener != NULL)
            listener->fn.v4(listener->ctx, ip->source, icmp.id, icmp.sequence, icmp.data, icmp.data_length, ip->ttl, now_ns);
        return;
    }
    default:
        return; /* unreachable/time exceeded: counted; the transports learn by their timers */
    }
}

int net_echo_listen(struct net_stack *stack, uint16_t id, net_echo_reply_fn fn, void *ctx) {
    struct echo_listener listener = {.fn.v4 = fn, .ctx = ctx};
    return echo_listener_set(stack->echo, id, fn != NULL ? &listener : NULL);
}

int net_echo_send(struct net_stack *stack, uint32_t destination, uint16_t id, uint16_t sequence, const uint8_t *data,
                  size_t length, uint64_t now_ns) {
    if (ICMP_HEADER_LEN + length > net_ipv4_max_payload(stack)) return ERR_MSGSIZE;
    uint8_t *request = message_buffer(stack);
    __builtin_memmove(request + ICMP_HEADER_LEN, data, length);
    icmp_write(request, ICMP_ECHO_REQUEST, 0, id, sequence, length);
    return send_message(stack, destination, ICMP_HEADER_LEN + length, now_ns);
}

void icmp_send_unreachable(struct net_stack *stack, uint8_t code, const uint8_t *packet, size_t length, uint64_t now_ns) {
    struct ipv4_header ip;
    if (ipv4_parse(packet, length, &ip) != IPV4_OK) return;
    if (net_is_local_broadcast(stack, ip.destination) || (ip.flags_offset & IPV4_OFFSET_MASK) != 0) return;
    /* the offending header and the first 8 bytes of its data (RFC 792) */
    size_t quoted = MIN((size_t)ip.header_length + 8, (size_t)ip.total_length);
    uint8_t *message = message_buffer(stack);
    __builtin_memmove(message + ICMP_HEADER_LEN, packet, quoted);
    icmp_write(message, ICMP_DEST_UNREACHABLE, code, 0, 0, quoted);
    send_message(stack, ip.source, ICMP_HEADER_LEN + quoted, now_ns);
}
