/*
 * net/stack_internal.h: the state behind struct net_stack, shared by the protocol files of the
 * stack (stack.c, arp.c, ipv4.c, icmp.c, udp.c). Not an interface for anything else.
 */
#ifndef NET_STACK_INTERNAL_H
#define NET_STACK_INTERNAL_H

#include "net/stack.h"
#include "net/wire/ipv4_wire.h"

/* ---- ARP (arp.c) ----
 * A fixed table. An INCOMPLETE entry holds up to ARP_QUEUE_MAX packets waiting for the answer;
 * requests are retransmitted once a second, ARP_MAX_REQUESTS times, then the queue is dropped.
 * A REACHABLE entry is trusted for ARP_REACHABLE_NS after the last reply or request it came from,
 * then resolved again (the old address is used meanwhile). When the table is full the oldest
 * entry that holds no queue is reused. */
#define ARP_ENTRIES 32
#define ARP_QUEUE_MAX 4
#define ARP_MAX_REQUESTS 3
#define ARP_RETRY_NS 1000000000ull
#define ARP_REACHABLE_NS 60000000000ull

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_pending {
    uint8_t *packet; /* an IPv4 packet (no Ethernet header), net_env_alloc'd */
    size_t length;
};

struct arp_entry {
    enum arp_state state;
    uint32_t ip;
    uint8_t mac[ETH_ADDR_LEN];
    uint64_t updated_ns;      /* REACHABLE: when the mapping was last confirmed */
    uint64_t next_request_ns; /* INCOMPLETE: when to ask again */
    unsigned requests;        /* sent for this resolution */
    unsigned queued;
    struct arp_pending queue[ARP_QUEUE_MAX];
};

/* ---- IPv4 reassembly (ipv4.c) ----
 * At most REASSEMBLY_SLOTS datagrams at a time, each at most 65535 bytes in at most
 * REASSEMBLY_MAX_FRAGMENTS fragments, completed within REASSEMBLY_TIMEOUT_NS of its first
 * fragment; otherwise, on overlapping fragments (RFC 5722's rule, applied to IPv4 too) or when no
 * slot is free, the datagram is dropped and counted. */
#define REASSEMBLY_SLOTS 4
#define REASSEMBLY_MAX_FRAGMENTS 64
#define REASSEMBLY_TIMEOUT_NS 30000000000ull
#define REASSEMBLY_MAX_BYTES 65535

struct reassembly {
    bool used;
    uint32_t source, destination;
    uint16_t id;
    uint8_t protocol;
    uint64_t expires_ns;
    unsigned fragments;
    uint32_t total_length; /* of the payload, once the last fragment (MF=0) arrived; 0 before */
    uint32_t received_end; /* the highest fragment end received so far */
    uint8_t *data;         /* REASSEMBLY_MAX_BYTES payload bytes */
    uint8_t *have;         /* one bit per 8-byte unit received */
    struct ipv4_header first_header;
    /* the first fragment's header and first 8 data bytes as received: what an ICMP error about
     * the datagram quotes */
    uint8_t first_bytes[60 + 8];
};

#define UDP_SOCKETS 32
struct udp_binding {
    uint16_t port; /* 0: free slot */
    net_udp_receive_fn fn;
    void *ctx;
};

#define ECHO_LISTENERS 8
struct echo_listener {
    bool used;
    uint16_t id;
    net_echo_reply_fn fn;
    void *ctx;
};

struct net_stack {
    uint8_t mac[ETH_ADDR_LEN];
    uint16_t mtu;
    net_transmit_fn transmit;
    void *transmit_ctx;

    uint32_t ip, netmask, gateway;
    unsigned prefix;

    struct arp_entry arp[ARP_ENTRIES];
    uint16_t next_ip_id;
    struct reassembly reassembly[REASSEMBLY_SLOTS];
    struct udp_binding udp[UDP_SOCKETS];
    uint16_t next_ephemeral_port;
    struct echo_listener echo[ECHO_LISTENERS];
    struct tcp_stack *tcp;
    /* the time of the latest entry point: TCP's output callback has none of its own */
    uint64_t clock_ns;

    struct net_stack_stats stats;
    uint8_t frame[ETH_FRAME_MAX]; /* output scratch: one frame is built at a time */
};

/* stack.c */
void net_send_frame(struct net_stack *stack, const uint8_t *frame, size_t length);
bool net_is_local_broadcast(const struct net_stack *stack, uint32_t address);

/* arp.c */
void arp_input(struct net_stack *stack, const uint8_t *data, size_t length, uint64_t now_ns);
/* Sends IPv4 `packet` (header included) to next hop `next_hop`, resolving it first if needed. */
int arp_output(struct net_stack *stack, uint32_t next_hop, const uint8_t *packet, size_t length, uint64_t now_ns);
void arp_announce(struct net_stack *stack);
void arp_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t arp_next_deadline(const struct net_stack *stack);
void arp_free(struct net_stack *stack);

/* ipv4.c */
void ipv4_input(struct net_stack *stack, const uint8_t *packet, size_t length, uint64_t now_ns);
void ipv4_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t ipv4_next_deadline(const struct net_stack *stack);
void ipv4_free(struct net_stack *stack);

/* icmp.c */
void icmp_input(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *message, size_t length, uint64_t now_ns);
/* Sends destination-unreachable `code` about the datagram `packet` (its IP header and data). */
void icmp_send_unreachable(struct net_stack *stack, uint8_t code, const uint8_t *packet, size_t length, uint64_t now_ns);

/* udp.c */
void udp_input(struct net_stack *stack, const struct ipv4_header *ip, const uint8_t *packet, const uint8_t *datagram,
               size_t length, uint64_t now_ns);

#endif
