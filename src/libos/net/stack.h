/*
 * net/stack.h: one host's network stack over one Ethernet interface — ARP, IPv4 (with
 * fragment reassembly), ICMP, IPv6 (with reassembly), ICMPv6, Neighbor Discovery, SLAAC and UDP
 * here, TCP in net/tcp/ — as portable, poll-driven C.
 *
 * The stack owns no thread and reads no clock. Its owner
 *   - hands it every received frame: net_stack_input(stack, frame, length, now_ns);
 *   - calls net_stack_timers(stack, now_ns) once net_stack_next_deadline(stack) has passed;
 *   - gives it a transmit function, which it calls with complete Ethernet frames (no FCS, not
 *     padded); the function copies the frame or sends it before returning.
 * Nothing the network sends can crash it: every parser checks lengths before reading a field,
 * every queue and cache is bounded, and a malformed frame is dropped and counted
 * (struct net_stack_stats). Callbacks into the owner (UDP receive, ping replies, TCP notify)
 * run inside net_stack_input/net_stack_timers and must not call net_stack_input themselves.
 *
 * IPv4 addresses are host-order uint32_t. UDP and TCP serve both families through one address
 * type, struct ip_addr (net/ip_addr.h). Until an address is configured (net_stack_set_ipv4)
 * the stack answers no ARP and accepts only UDP to its port-68 socket family (DHCP).
 */
#ifndef NET_STACK_H
#define NET_STACK_H

#include "net/ip_addr.h"
#include "net/net_env.h"
#include "net/wire/ethernet.h"

struct net_stack;
struct tcp_stack;

/* Sends one frame; 0, or an error if the device could not take it (counted as a drop). */
typedef int (*net_transmit_fn)(void *ctx, const uint8_t *frame, size_t length);

struct net_stack_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t malformed;          /* frames or packets whose headers did not parse (all layers) */
    uint64_t not_for_us;         /* frames or packets for another host, or of an unknown type */
    uint64_t transmit_errors;    /* the transmit function refused a frame */
    uint64_t arp_requests_in, arp_replies_in, arp_requests_out, arp_replies_out;
    uint64_t arp_unresolved;     /* packets dropped because their next hop never answered ARP */
    uint64_t ipv4_in, ipv4_out, ipv4_bad_checksum, ipv4_ttl_zero;
    uint64_t fragments_in, reassembled, reassembly_dropped; /* dropped: timeout, overlap, caps */
    uint64_t icmp_in, icmp_out, echo_requests_in, echo_replies_out, port_unreachable_out;
    uint64_t udp_in, udp_out, udp_bad_checksum, udp_no_port;
    /* IPv6: ipv6_dropped counts packets for us dropped by the extension-header walk (caps,
     * malformed or unknown headers and options, routing headers with segments left) */
    uint64_t ipv6_in, ipv6_out, ipv6_dropped, ipv6_no_route;
    uint64_t fragments6_in, reassembled6, reassembly6_dropped, atomic_fragments;
    uint64_t icmpv6_in, icmpv6_out, icmpv6_bad_checksum, icmpv6_errors_in, icmpv6_errors_out, icmpv6_rate_limited;
    uint64_t echo6_requests_in, echo6_replies_out;
    uint64_t nd_ns_in, nd_ns_out, nd_na_in, nd_na_out, nd_rs_out, nd_ra_in, nd_redirects_in;
    uint64_t nd_invalid;    /* ND messages failing RFC 4861's validity checks (hop limit 255, lengths, options) */
    uint64_t nd_unresolved; /* packets dropped because their next hop never answered NS */
    uint64_t dad_conflicts;
};

struct net_stack *net_stack_new(const uint8_t mac[ETH_ADDR_LEN], uint16_t mtu, net_transmit_fn transmit, void *ctx);
void net_stack_free(struct net_stack *stack);

/* Binds the interface's address: `prefix` bits of netmask; gateway 0 for none. Announces it with
 * a gratuitous ARP request. */
void net_stack_set_ipv4(struct net_stack *stack, uint32_t address, unsigned prefix, uint32_t gateway, uint64_t now_ns);
void net_stack_get_ipv4(const struct net_stack *stack, uint32_t *address, unsigned *prefix, uint32_t *gateway);
const uint8_t *net_stack_mac(const struct net_stack *stack);

void net_stack_input(struct net_stack *stack, const uint8_t *frame, size_t length, uint64_t now_ns);
void net_stack_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t net_stack_next_deadline(const struct net_stack *stack); /* UINT64_MAX: none */
void net_stack_get_stats(const struct net_stack *stack, struct net_stack_stats *stats);

/* The TCP layer of this stack (net/tcp/tcp.h), created with it: MSS = MTU - 40 (IPv6: MTU - 60), window scaling
 * and timestamps offered, these buffers per connection and this many TCBs at most. Whoever calls
 * the TCP API directly first tells the stack the time (net_stack_set_clock), so that segments
 * the call sends wait in ARP with the right timestamp. */
#define NET_TCP_SEND_BUFFER (128 * 1024)
#define NET_TCP_RECEIVE_BUFFER (128 * 1024)
#define NET_TCP_MAX_CONNECTIONS 1024
struct tcp_stack *net_stack_tcp(struct net_stack *stack);
void net_stack_set_clock(struct net_stack *stack, uint64_t now_ns);

/* ---- IPv4 output, for the layers above ---------------------------------------------------
 * Sends `length` bytes of `protocol` payload to `destination` (routed through the gateway when
 * outside the subnet; resolved with ARP, the packet waiting in the ARP entry meanwhile). The
 * payload must fit one frame (no fragmentation on output: ERR_MSGSIZE). `source` 0 means the
 * interface's address. Returns 0 (sent or queued for ARP) or an error. */
int net_ipv4_output(struct net_stack *stack, uint32_t source, uint32_t destination, uint8_t protocol, const uint8_t *payload,
                    size_t length, uint64_t now_ns);
/* The largest payload net_ipv4_output takes (MTU minus the 20-byte header). */
size_t net_ipv4_max_payload(const struct net_stack *stack);

/* The interface's address that packets to `destination` leave from, in *source: the IPv4
 * address (0.0.0.0 before one is bound), or the IPv6 source address selection's choice. 0, or
 * ERR_UNREACHABLE when the family has no usable address, ERR_INVAL for IP_FAMILY_ANY. */
int net_ip_source(struct net_stack *stack, const struct ip_addr *destination, struct ip_addr *source);

/* ---- ICMP echo (ping) -------------------------------------------------------------------- */
typedef void (*net_echo_reply_fn)(void *ctx, uint32_t from, uint16_t id, uint16_t sequence, const uint8_t *data,
                                  size_t length, uint8_t ttl, uint64_t now_ns);
/* Replies with this id go to `fn` (one handler per id; fn NULL removes it). */
int net_echo_listen(struct net_stack *stack, uint16_t id, net_echo_reply_fn fn, void *ctx);
int net_echo_send(struct net_stack *stack, uint32_t destination, uint16_t id, uint16_t sequence, const uint8_t *data,
                  size_t length, uint64_t now_ns);

/* ---- IPv6 ----------------------------------------------------------------------------------
 * Off until net_ipv6_start, which forms the link-local address fe80::/64 + the MAC's modified
 * EUI-64 and starts duplicate address detection on it; with `autoconf`, router solicitation and
 * stateless address autoconfiguration from the router advertisements' prefixes (RFC 4862).
 * net_ipv6_add_static adds an address (DAD first) with its on-link prefix and, optionally, a
 * default router. Addresses are 16 bytes in network order. */
enum net_ipv6_state {
    NET_IPV6_FREE = 0,
    NET_IPV6_TENTATIVE,  /* duplicate address detection running: not usable yet */
    NET_IPV6_PREFERRED,
    NET_IPV6_DEPRECATED, /* preferred lifetime over: kept for existing traffic, not chosen for new */
    NET_IPV6_DUPLICATE,  /* another host has it: never used */
};
enum net_ipv6_origin { NET_IPV6_LINK_LOCAL, NET_IPV6_SLAAC, NET_IPV6_STATIC };

struct net_ipv6_address {
    uint8_t address[16];
    unsigned prefix_length;
    enum net_ipv6_state state;
    enum net_ipv6_origin origin;
    uint8_t router[16];          /* SLAAC: the router that advertised the prefix */
    uint64_t preferred_until_ns; /* UINT64_MAX: forever */
    uint64_t valid_until_ns;
};

/* Called (inside net_stack_input/net_stack_timers) when an address changes state. */
typedef void (*net_ipv6_event_fn)(void *ctx, const struct net_ipv6_address *address);

int net_ipv6_start(struct net_stack *stack, bool autoconf, uint64_t now_ns);
bool net_ipv6_enabled(const struct net_stack *stack);
void net_ipv6_set_event(struct net_stack *stack, net_ipv6_event_fn fn, void *ctx);
/* prefix_length 1..128; gateway NULL for none. ERR_INVAL, ERR_BUSY (table full), ERR_EXIST. */
int net_ipv6_add_static(struct net_stack *stack, const uint8_t address[16], unsigned prefix_length, const uint8_t *gateway,
                        uint64_t now_ns);
/* Copies up to `max` addresses (every state but FREE); returns how many there are. */
size_t net_ipv6_addresses(const struct net_stack *stack, struct net_ipv6_address *out, size_t max);
/* True when a router was heard (an RA) or the solicitations are over without one. */
bool net_ipv6_router_discovery_done(const struct net_stack *stack);
/* The DNS server an RA named (RDNSS), or false. */
bool net_ipv6_dns(const struct net_stack *stack, uint8_t out[16]);

/* ICMPv6 echo (ping), like net_echo_listen/net_echo_send. */
typedef void (*net_echo6_reply_fn)(void *ctx, const uint8_t from[16], uint16_t id, uint16_t sequence, const uint8_t *data,
                                   size_t length, uint8_t hop_limit, uint64_t now_ns);
int net_echo6_listen(struct net_stack *stack, uint16_t id, net_echo6_reply_fn fn, void *ctx);
int net_echo6_send(struct net_stack *stack, const uint8_t destination[16], uint16_t id, uint16_t sequence,
                   const uint8_t *data, size_t length, uint64_t now_ns);

/* ---- UDP ----------------------------------------------------------------------------------
 * One port table for both families: a bound port takes datagrams over IPv4 and IPv6, and the
 * receive function sees which from the addresses. */
typedef void (*net_udp_receive_fn)(void *ctx, const struct ip_addr *source, uint16_t source_port,
                                   const struct ip_addr *destination, const uint8_t *data, size_t length, uint64_t now_ns);
/* Delivers datagrams to `port` to `fn`. ERR_ADDRINUSE if taken; port 0 picks a free ephemeral
 * port (49152..65535), written to *bound. */
int net_udp_bind(struct net_stack *stack, uint16_t port, net_udp_receive_fn fn, void *ctx, uint16_t *bound);
void net_udp_unbind(struct net_stack *stack, uint16_t port);
/* Sends one datagram from the interface's address of the destination's family: it must fit
 * one packet (ERR_MSGSIZE); ERR_INVAL for IP_FAMILY_ANY. */
int net_udp_send(struct net_stack *stack, uint16_t source_port, const struct ip_addr *destination,
                 uint16_t destination_port, const uint8_t *data, size_t length, uint64_t now_ns);

#endif
