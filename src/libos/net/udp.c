/*
 * net/udp.c: UDP (RFC 768): a table of bound ports, each with its receive callback, and sending.
 * A datagram to a port nobody bound is answered with ICMP port unreachable (not for broadcasts).
 */
#include "net/stack_internal.h"
#include "net/wire/icmp_wire.h"
#include "net/wire/udp_wire.h"

static struct udp_binding *lookup(struct net_stack *stack, uint16_t port) {
    for (size_t i = 0; i < UDP_SOCKETS; i++)
        if (stack->udp[i].port == port) return &stack->udp[i];
    return NULL;
}

void udp_input(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *packet, const uint8_t *datagram,
               size_t length, uint64_t now_ns) {
    struct udp_header udp;
    enum udp_parse_result result = udp_parse(datagram, length, ip->source, ip->destination, &udp);
    if (result != UDP_OK) {
        if (result == UDP_BAD_CHECKSUM) stack->stats.udp_bad_checksum++;
        else stack->stats.malformed++;
        return;
    }
    stack->stats.udp_in++;
    struct udp_binding *binding = udp.destination_port != 0 ? lookup(stack, udp.destination_port) : NULL;
    if (binding == NULL) {
        stack->stats.udp_no_port++;
        /* `packet` is the reassembled datagram's first fragment when it came in pieces: quote the
         * header as received */
        if (stack->ip != 0 && ip->destination == stack->ip) {
            stack->stats.port_unreachable_out++;
            icmp_send_unreachable(stack, ICMP_CODE_PORT_UNREACHABLE, packet, (size_t)ip->header_length + length, now_ns);
        }
        return;
    }
    binding->fn(binding->ctx, ip->source, udp.source_port, ip->destination, udp.data, udp.data_length, now_ns);
}

int net_udp_bind(struct net_stack *stack, uint16_t port, net_udp_receive_fn fn, void *ctx, uint16_t *bound) {
    if (fn == NULL) return ERR_INVAL;
    if (port == 0) {
        for (unsigned tries = 0; tries < 16384 && port == 0; tries++) {
            uint16_t candidate = stack->next_ephemeral_port;
            stack->next_ephemeral_port = candidate == 65535 ? 49152 : (uint16_t)(candidate + 1);
            if (lookup(stack, candidate) == NULL) port = candidate;
        }
        if (port == 0) return ERR_ADDRINUSE;
    } else if (lookup(stack, port) != NULL) {
        return ERR_ADDRINUSE;
    }
    struct udp_binding *slot = lookup(stack, 0);
    if (slot == NULL) return ERR_BUSY;
    *slot = (struct udp_binding){.port = port, .fn = fn, .ctx = ctx};
    if (bound) *bound = port;
    return 0;
}

void net_udp_unbind(struct net_stack *stack, uint16_t port) {
    struct udp_binding *binding = port != 0 ? lookup(stack, port) : NULL;
    if (binding) *binding = (struct udp_binding){0};
}

int net_udp_send(struct net_stack *stack, uint16_t source_port, uint32_t destination, uint16_t destination_port,
                 const uint8_t *data, size_t length, uint64_t now_ns) {
    if (UDP_HEADER_LEN + length > net_ipv4_max_payload(stack)) return ERR_MSGSIZE;
    uint8_t *datagram = stack->frame + ETH_HEADER_LEN + IPV4_HEADER_LEN;
    __builtin_memmove(datagram + UDP_HEADER_LEN, data, length);
    /* before an address is bound (DHCP), the source is 0.0.0.0 */
    udp_write(datagram, source_port, destination_port, length, stack->ip, destination);
    stack->stats.udp_out++;
    return net_ipv4_output(stack, 0, destination, IPV4_PROTOCOL_UDP, datagram, UDP_HEADER_LEN + length, now_ns);
}
