/*
 * net/stack.h: one host's IPv4 network stack over one Ethernet interface — ARP, IPv4 (with
 * fragment reassembly), ICMP and UDP here, TCP in net/tcp/ — as portable, poll-driven C.
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
 * Addresses are host-order uint32_t. Until an address is configured (net_stack_set_ipv4) the
 * stack answers no ARP and accepts only UDP to its port-68 socket family (DHCP).
 */
#ifndef NET_STACK_H
#define NET_STACK_H

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

/* The TCP layer of this stack (net/tcp/tcp.h), created with it: MSS = MTU - 40, window scaling
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

/* ---- ICMP echo (ping) -------------------------------------------------------------------- */
typedef void (*net_echo_reply_fn)(void *ctx, uint32_t from, uint16_t id, uint16_t sequence, const uint8_t *data,
                                  size_t length, uint8_t ttl, uint64_t now_ns);
/* Replies with this id go to `fn` (one handler per id; fn NULL removes it). */
int net_echo_listen(struct net_stack *stack, uint16_t id, net_echo_reply_fn fn, void *ctx);
int net_echo_send(struct net_stack *stack, uint32_t destination, uint16_t id, uint16_t sequence, const uint8_t *data,
                  size_t length, uint64_t now_ns);

/* ---- UDP ---------------------------------------------------------------------------------- */
typedef void (*net_udp_receive_fn)(void *ctx, uint32_t source, uint16_t source_port, uint32_t destination,
                                   const uint8_t *data, size_t length, uint64_t now_ns);
/* Delivers datagrams to `port` to `fn`. ERR_ADDRINUSE if taken; port 0 picks a free ephemeral
 * port (49152..65535), written to *bound. */
int net_udp_bind(struct net_stack *stack, uint16_t port, net_udp_receive_fn fn, void *ctx, uint16_t *bound);
void net_udp_unbind(struct net_stack *stack, uint16_t port);
int net_udp_send(struct net_stack *stack, uint16_t source_port, uint32_t destination, uint16_t destination_port,
                 const uint8_t *data, size_t length, uint64_t now_ns);

#endif
