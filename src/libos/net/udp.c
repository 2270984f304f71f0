/*
 * net/udp.c: UDP (RFC 768) over IPv4 and IPv6: one table of bound ports, each with its receive
 * callback, and sending. A datagram to a port nobody bound is answered with ICMP port unreachable
 * (not for broadcasts) or ICMPv6 destination unreachable, code 4 (not for multicast).
 */
#include "net/stack_internal.h"
#include "net/wire/icmp_wire.h"
#include "net/wire/icmpv6_wire.h"
#include "net/wire/ipv6_wire.h"
#include "net/wire/udp_wire.h"

static struct udp_binding *lookup(struct net_stack *stack, uint16_t port) {
    for (size_t i = 0; i < UDP_SOCKETS; i++)
        if (stack->udp[i].port == port) return &stack->udp[i];
    return NULL;
}

/* Tells the sender nobody listens on the port, in the datagram's family. */
static void port_unreachable(struct net_stack *stack, const struct ip_addr *destination, const uint8_t *packet,
                             size_t packet_length, uint64_t now_ns) {
    if (destination->family == IP_FAMILY_V4) {
        /* `packet` is the reassembled datagram's first fragment when it came in pieces: the
         * header as received is what is quoted */
        if (stack->ip == 0 || destination->v4 != stack->ip) return;
        stack->stats.port_unreachable_out++;
        icmp_send_unreachable(stack, ICMP_CODE_PORT_UNREACHABLE, packet, packet_length, now_ns);
    } else {
        if (destination->v6[0] == 0xff) return; /* multicast: RFC 4443 §2.4 (e.3) */
        stack->stats.port_unreachable_out++;
        icmpv6_send_error(stack, ICMPV6_DEST_UNREACHABLE, ICMPV6_CODE_PORT_UNREACHABLE, 0, packet, packet_length, now_ns);
    }
}

void udp_input(struct net_stack *stack, const struct ip_addr *source, const struct ip_addr *destination,
               const uint8_t *packet, size_t packet_length, const uint8_t *datagram, size_t length, uint64_t now_ns) {
    struct udp_header udp;
    /* over IPv6 a zero checksum is invalid too (udp_wire.h) */
    enum udp_parse_result result = udp_parse(datagram, length, source, destination, &udp);
    if (result != UDP_OK) {
        if (result == UDP_BAD_CHECKSUM) stack->stats.udp_bad_checksum++;
        else stack->stats.malformed++;
        return;
    }
    stack->stats.udp_in++;
    struct udp_binding *binding = udp.destination_port != 0 ? lookup(stack, udp.destination_port) : NULL;
    if (binding == NULL) {
        stack->stats.udp_no_port++;
        port_unreachable(stack, destination, packet, packet_length, now_ns);
        return;
    }
    binding->fn(binding->ctx, source, udp.source_port, destination, udp.data, udp.data_length, now_ns);
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

int net_udp_send(struct net_stack *stack, uint16_t source_port, const struct ip_addr *destination,
                 uint16_t destination_port, const uint8_t *data, size_t length, uint64_t now_ns) {
    if (destination->family != IP_FAMILY_V4 && destination->family != IP_FAMILY_V6) return ERR_INVAL;
    if (UDP_HEADER_LEN + length > net_ip_max_payload(stack, destination->family)) return ERR_MSGSIZE;
    /* the checksum covers the source address: learn it first */
    struct ip_addr source;
    if (destination->family == IP_FAMILY_V4) {
        source = ip_addr_from_v4(stack->ip); /* before an address is bound (DHCP): 0.0.0.0 */
    } else {
        int err = net_ip_source(stack, destination, &source);
        if (err != 0) return err;
    }
    /* built where the IP layer puts its payload in the scratch frame, so it is not moved again */
    size_t header_length = destination->family == IP_FAMILY_V4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    uint8_t *datagram = stack->frame + ETH_HEADER_LEN + header_length;
    __builtin_memmove(datagram + UDP_HEADER_LEN, data, length);
    udp_write(datagram, source_port, destination_port, length, &source, destination);
    stack->stats.udp_out++;
    return net_ip_output(stack, &source, destination, UDP_PROTOCOL, datagram, UDP_HEADER_LEN + length, now_ns);
}
