/*
 * net/stack_internal.h: the state behind struct net_stack, shared by the protocol files of the
 * stack (stack.c, arp.c, ipv4.c, icmp.c, udp.c, ipv6.c, icmpv6.c, ndp.c, slaac.c, ip_output.c).
 * Not an interface for anything else.
 */
#ifndef NET_STACK_INTERNAL_H
#define NET_STACK_INTERNAL_H

#include "net/stack.h"
#include "net/wire/ipv4_wire.h"
#include "net/ip_addr.h"
#include "net/wire/icmpv6_wire.h"
#include "net/wire/ipv6_wire.h"

/* ---- Packets waiting for a neighbor's link-layer address (stack.c; used by arp.c, ndp.c) ----
 * At most RESOLVE_QUEUE_MAX per neighbor, each an IP packet without its Ethernet header,
 * net_env_alloc'd and owned by the queue. When it is full the oldest packet is dropped to make
 * room, as Linux's unresolved queue does. */
#define RESOLVE_QUEUE_MAX 4

struct resolve_queue {
    unsigned count;
    struct {
        uint8_t *packet;
        size_t length;
    } packets[RESOLVE_QUEUE_MAX];
};

/* Appends `packet` (the queue now owns it); returns how many older packets were dropped (0 or 1). */
unsigned resolve_queue_push(struct resolve_queue *queue, uint8_t *packet, size_t length);
/* Sends every waiting packet to `mac` as `ethertype` frames and empties the queue. */
void resolve_queue_flush(struct net_stack *stack, struct resolve_queue *queue, const uint8_t mac[ETH_ADDR_LEN],
                         uint16_t ethertype);
/* Frees every waiting packet; returns how many there were. */
unsigned resolve_queue_drop(struct resolve_queue *queue);

/* ---- ARP (arp.c) ----
 * A fixed table. An INCOMPLETE entry holds up to RESOLVE_QUEUE_MAX packets waiting for the answer;
 * requests are retransmitted once a second, ARP_MAX_REQUESTS times, then the queue is dropped.
 * A REACHABLE entry is trusted for ARP_REACHABLE_NS after the last reply or request it came from,
 * then resolved again (the old address is used meanwhile). When the table is full the oldest
 * entry that holds no queue is reused. */
#define ARP_ENTRIES 32
#define ARP_MAX_REQUESTS 3
#define ARP_RETRY_NS 1000000000ull
#define ARP_REACHABLE_NS 60000000000ull

enum arp_state { ARP_FREE = 0, ARP_INCOMPLETE, ARP_REACHABLE };

struct arp_entry {
    enum arp_state state;
    uint32_t ip;
    uint8_t mac[ETH_ADDR_LEN];
    uint64_t updated_ns;      /* REACHABLE: when the mapping was last confirmed */
    uint64_t next_request_ns; /* INCOMPLETE: when to ask again */
    unsigned requests;        /* sent for this resolution */
    struct resolve_queue queue; /* IPv4 packets */
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

/* ---- IPv6 (ipv6.c, icmpv6.c, ndp.c, slaac.c) ----
 * Off until net_ipv6_start: then every IPv6 frame is dropped and counted as not for us.
 *
 * Addresses (slaac.c). At most IPV6_ADDRESSES, one of them the link-local fe80::/64 + modified
 * EUI-64 of the MAC. Each is TENTATIVE from the moment it is added until duplicate address
 * detection ends (one NS from :: to its solicited-node group, then retrans_ns of silence),
 * then PREFERRED, DEPRECATED once its preferred lifetime ran out, FREE once its valid lifetime
 * did; DUPLICATE for good when another host claimed it during DAD. Only PREFERRED and DEPRECATED
 * addresses are ours: packets to a tentative address are dropped, and only those two are ever a
 * source (DEPRECATED only when nothing PREFERRED fits). We listen to ff02::1 and to the
 * solicited-node group of every address that is not FREE or DUPLICATE. A duplicate link-local
 * address turns IPv6 off (RFC 4862 §5.4.5).
 *
 * Neighbors (ndp.c): RFC 4861's cache. An INCOMPLETE entry holds up to RESOLVE_QUEUE_MAX packets and
 * sends multicast NS every retrans_ns, NDP_MAX_MULTICAST_SOLICIT times, then drops them (counted
 * in nd_unresolved). REACHABLE lasts reachable_ns after a confirmation, then STALE; sending to a
 * STALE entry makes it DELAY for NDP_DELAY_NS, then PROBE: NDP_MAX_UNICAST_SOLICIT unicast NS
 * retrans_ns apart, then the entry is freed. Only INCOMPLETE entries hold packets. When the cache
 * is full the least recently used entry without packets is reused.
 *
 * Routers and prefixes (slaac.c): at most IPV6_ROUTERS default routers and IPV6_PREFIXES on-link
 * prefixes, each with its expiry (UINT64_MAX: static). Router solicitations: up to
 * IPV6_RS_MAX, the first after a random delay of at most 1 s, then IPV6_RS_INTERVAL_NS apart,
 * until an RA arrives.
 *
 * Reassembly (ipv6.c): as IPv4's (REASSEMBLY6_SLOTS datagrams of at most
 * REASSEMBLY_MAX_FRAGMENTS fragments and 65535 fragmentable bytes), completed within
 * REASSEMBLY6_TIMEOUT_NS of the first fragment, else dropped with Time Exceeded code 1 when the
 * first fragment (offset 0) arrived. Overlaps drop the whole datagram (RFC 5722); atomic
 * fragments (offset 0, M 0) skip reassembly (RFC 6946).
 *
 * Extension headers: at most IPV6_MAX_EXTENSIONS headers and IPV6_MAX_EXTENSION_BYTES bytes of
 * them before the upper-layer header; past either the packet is dropped (counted in
 * ipv6_dropped). */
#define IPV6_ADDRESSES 8
#define IPV6_ROUTERS 4
#define IPV6_PREFIXES 4
#define IPV6_MAX_EXTENSIONS 8
#define IPV6_MAX_EXTENSION_BYTES 512
#define IPV6_DEFAULT_HOP_LIMIT 64
#define IPV6_ND_HOP_LIMIT 255
#define IPV6_RS_MAX 3                         /* MAX_RTR_SOLICITATIONS */
#define IPV6_RS_INTERVAL_NS 4000000000ull     /* RTR_SOLICITATION_INTERVAL */
#define IPV6_RS_MAX_DELAY_NS 1000000000ull    /* MAX_RTR_SOLICITATION_DELAY */
#define IPV6_TWO_HOURS_NS 7200000000000ull    /* RFC 4862 §5.5.3 e) */
#define NDP_ENTRIES 32
#define NDP_MAX_MULTICAST_SOLICIT 3
#define NDP_MAX_UNICAST_SOLICIT 3
#define NDP_DELAY_NS 5000000000ull            /* DELAY_FIRST_PROBE_TIME */
#define NDP_RETRANS_NS 1000000000ull          /* RETRANS_TIMER */
#define NDP_BASE_REACHABLE_NS 30000000000ull  /* REACHABLE_TIME */
#define REASSEMBLY6_SLOTS 4
#define REASSEMBLY6_TIMEOUT_NS 60000000000ull
/* the reassembly buffer: the first fragment's unfragmentable part, then 65535 fragmentable bytes */
#define REASSEMBLY6_UNFRAGMENTABLE_MAX (40 + IPV6_MAX_EXTENSION_BYTES)
#define REASSEMBLY6_BUFFER (REASSEMBLY6_UNFRAGMENTABLE_MAX + REASSEMBLY_MAX_BYTES)
/* what an ICMPv6 error quotes at most: the minimum MTU less the error's IPv6 and ICMPv6 headers */
#define ICMPV6_QUOTE_MAX (1280 - 40 - 8)
#define ICMPV6_ERROR_BURST 10                 /* token bucket: errors in a burst ... */
#define ICMPV6_ERROR_INTERVAL_NS 100000000ull /* ... and one more token per 100 ms */

struct ipv6_address {
    enum net_ipv6_state state; /* NET_IPV6_FREE: unused slot */
    enum net_ipv6_origin origin;
    uint8_t address[16];
    uint8_t prefix_length;
    uint8_t router[16];          /* SLAAC: the router whose RA gave the prefix */
    uint64_t preferred_until_ns; /* UINT64_MAX: forever */
    uint64_t valid_until_ns;
    uint64_t dad_at_ns;          /* TENTATIVE: when to send the NS (dad_sent 0) or to end DAD */
    bool dad_sent;
};

enum ndp_state { NDP_FREE = 0, NDP_INCOMPLETE, NDP_REACHABLE, NDP_STALE, NDP_DELAY, NDP_PROBE };

struct ndp_entry {
    enum ndp_state state;
    uint8_t ip[16];
    uint8_t mac[ETH_ADDR_LEN];
    bool is_router;
    uint64_t timer_ns; /* INCOMPLETE/PROBE: next solicitation; REACHABLE: -> STALE; DELAY: -> PROBE */
    uint64_t used_ns;  /* last confirmed or used: picks the entry to reuse */
    unsigned probes;   /* solicitations sent in this INCOMPLETE or PROBE phase */
    struct resolve_queue queue; /* IPv6 packets */
};

struct ipv6_router {
    bool used;
    uint8_t address[16];
    uint64_t expires_ns;
};

struct ipv6_prefix {
    bool used;
    uint8_t prefix[16];
    uint8_t length;
    uint64_t expires_ns;
};

struct reassembly6 {
    bool used;
    uint8_t source[16], destination[16];
    uint32_t id;
    uint64_t expires_ns;
    unsigned fragments;
    uint32_t total_length; /* fragmentable bytes, once the last fragment (M=0) arrived; 0 before */
    uint32_t received_end;
    uint8_t *buffer;       /* REASSEMBLY6_BUFFER bytes: fragmentable data at REASSEMBLY6_UNFRAGMENTABLE_MAX */
    uint8_t *have;         /* one bit per 8-byte unit received */
    /* from the first fragment: its unfragmentable part's length (its fragment header's offset),
     * the offset of the next header field that named the fragment header, and the fragment as
     * received (what Time Exceeded quotes) */
    size_t unfragmentable;
    size_t next_field;
    uint8_t next_header;
    unsigned headers;    /* extension headers before the fragment header */
    size_t first_length; /* 0: the first fragment has not arrived */
    uint8_t first[ICMPV6_QUOTE_MAX];
};

/* ICMP and ICMPv6 echo listeners (icmp.c, icmpv6.c; stack.c): replies with a listener's id go to
 * its function, the one of its table's family. */
#define ECHO_LISTENERS 8
struct echo_listener {
    bool used;
    uint16_t id;
    union {
        net_echo_reply_fn v4;
        net_echo6_reply_fn v6;
    } fn;
    void *ctx;
};

/* The listener for `id` in `table` (ECHO_LISTENERS slots), or NULL. */
struct echo_listener *echo_listener_find(struct echo_listener *table, uint16_t id);
/* Gives `id` the function and context of `listener` (NULL: removes `id`'s); 0, or ERR_BUSY when
 * the table is full. */
int echo_listener_set(struct echo_listener *table, uint16_t id, const struct echo_listener *listener);

struct ipv6_state {
    bool enabled;
    bool autoconf;     /* router solicitation and SLAAC */
    uint16_t mtu;      /* the link MTU, or a smaller one from an RA */
    uint8_t hop_limit; /* for what we send, from RAs (default 64) */
    uint64_t reachable_ns, base_reachable_ns, retrans_ns;
    uint64_t random;   /* xorshift64 state, seeded from the MAC: delays and ReachableTime */
    struct ipv6_address addresses[IPV6_ADDRESSES];
    struct ndp_entry neighbors[NDP_ENTRIES];
    struct ipv6_router routers[IPV6_ROUTERS];
    struct ipv6_prefix prefixes[IPV6_PREFIXES];
    unsigned rs_sent;
    uint64_t rs_at_ns; /* the next RS (UINT64_MAX: none) */
    bool ra_received;
    uint8_t dns[16];   /* from RDNSS; :: when none */
    uint64_t dns_expires_ns;
    uint32_t next_fragment_id;
    struct reassembly6 reassembly[REASSEMBLY6_SLOTS];
    struct echo_listener echo[ECHO_LISTENERS];
    uint32_t error_tokens; /* ICMPv6 errors that may still be sent now */
    uint64_t error_refill_ns;
    net_ipv6_event_fn event;
    void *event_ctx;
};

#define UDP_SOCKETS 32
struct udp_binding {
    uint16_t port; /* 0: free slot */
    net_udp_receive_fn fn;
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
    struct ipv6_state ipv6;
    struct tcp_stack *tcp;
    /* the time of the latest entry point: TCP's output callback has none of its own */
    uint64_t clock_ns;

    struct net_stack_stats stats;
    uint8_t frame[ETH_FRAME_MAX]; /* output scratch: one frame is built at a time */
};

/* stack.c */
void net_send_frame(struct net_stack *stack, const uint8_t *frame, size_t length);
/* Sends IP `packet` (no Ethernet header; it may lie in stack->frame already) to `mac`. */
void net_send_ip_frame(struct net_stack *stack, const uint8_t mac[ETH_ADDR_LEN], uint16_t ethertype, const uint8_t *packet,
                       size_t length);
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

/* ipv6.c */
void ipv6_input(struct net_stack *stack, const uint8_t *packet, size_t length, uint64_t now_ns);
/* source NULL: RFC 6724-style selection (link-local for link-local/multicast-link-scope
 * destinations, else a preferred global address); ERR_* when none is usable */
int net_ipv6_output(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t next_header,
                    const uint8_t *payload, size_t length, uint64_t now_ns);
size_t net_ipv6_max_payload(const struct net_stack *stack); /* MTU - 40 */

size_t ipv6_output_mtu(const struct net_stack *stack);
/* Sends with `hop_limit` (NDP: 255); source NULL selects one; ipv6_send_from_unspecified is the
 * DAD NS's and early RS's way to send from ::. */
int ipv6_send(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t next_header,
              uint8_t hop_limit, const uint8_t *payload, size_t length, uint64_t now_ns);
void ipv6_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t ipv6_next_deadline(const struct net_stack *stack);
void ipv6_free(struct net_stack *stack);
/* The scratch frame's payload area for an ICMPv6 message: where ipv6_send expects it. */
uint8_t *ipv6_payload_buffer(struct net_stack *stack);

/* icmpv6.c */
/* Sends the `length`-byte ICMPv6 message built at ipv6_payload_buffer (checksum filled in here);
 * source NULL selects one. */
int icmpv6_send(struct net_stack *stack, const uint8_t *source, const uint8_t destination[16], uint8_t hop_limit, size_t length,
                uint64_t now_ns);
void icmpv6_input(struct net_stack *stack, const struct ipv6_header *ip, const uint8_t *packet, size_t packet_length,
                  const uint8_t *message, size_t length, uint64_t now_ns);

/* ndp.c */
void ndp_input(struct net_stack *stack, const struct ipv6_header *ip, const struct icmpv6_header *icmp, uint64_t now_ns);
/* Sends IPv6 `packet` (header included) to the neighbor `next_hop`, resolving it first if needed. */
int ndp_output(struct net_stack *stack, const uint8_t next_hop[16], const uint8_t *packet, size_t length, uint64_t now_ns);
void ndp_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t ndp_next_deadline(const struct net_stack *stack);
void ndp_free(struct net_stack *stack);
/* A router's RA or a neighbor's NS named its link-layer address: create or update a STALE entry. */
void ndp_learn(struct net_stack *stack, const uint8_t address[16], const uint8_t mac[ETH_ADDR_LEN], bool is_router,
               uint64_t now_ns);
uint64_t ndp_random_reachable(struct net_stack *stack);

/* slaac.c: addresses, DAD, router discovery */
struct ipv6_address *ipv6_find_address(struct net_stack *stack, const uint8_t address[16]);
/* The destination is ours: a PREFERRED/DEPRECATED address, ff02::1 or a solicited-node group we
 * are in. */
bool ipv6_is_our_destination(const struct net_stack *stack, const uint8_t address[16]);
/* RFC 6724-style source for `destination`, or NULL. */
const uint8_t *ipv6_select_source(const struct net_stack *stack, const uint8_t destination[16]);
/* The next hop for `destination` (itself when on-link), or false: no route. */
bool ipv6_next_hop(const struct net_stack *stack, const uint8_t destination[16], uint8_t next_hop[16]);
void slaac_router_advertisement(struct net_stack *stack, const struct ipv6_header *ip, const struct ndp_message *ra,
                                uint64_t now_ns);
/* A neighbor advertisement said `address` is no longer a router: out of the default list. */
void slaac_router_gone(struct net_stack *stack, const uint8_t address[16]);
/* DAD heard of another host using `address` (its NA, or its own DAD NS). */
void slaac_dad_conflict(struct net_stack *stack, struct ipv6_address *address, const char *how);
void slaac_timers(struct net_stack *stack, uint64_t now_ns);
uint64_t slaac_next_deadline(const struct net_stack *stack);
uint64_t ipv6_random(struct net_stack *stack);
void ipv6_format(const uint8_t address[16], char text[IP_ADDR_TEXT_MAX]);

/* icmpv6.c: an ICMPv6 error about `packet` (its IPv6 header and data), RFC 4443 §2.4 rules (never
 * about an error, a multicast destination except Packet Too Big / Parameter Problem code 2, or an
 * unspecified/multicast source; rate limited; quoted to fit the minimum MTU 1280) */
void icmpv6_send_error(struct net_stack *stack, uint8_t type, uint8_t code, uint32_t parameter, const uint8_t *packet,
                       size_t length, uint64_t now_ns);

/* ip_output.c: the output of the layers that serve both families (UDP, TCP). Sends `length`
 * bytes of `protocol` (IPv4 protocol number, IPv6 next header) to `destination`: IPv4 through
 * net_ipv4_output, IPv6 through net_ipv6_output. `source` NULL or IP_FAMILY_ANY: the interface's
 * address of the destination's family; otherwise of that family (ERR_INVAL if not). */
int net_ip_output(struct net_stack *stack, const struct ip_addr *source, const struct ip_addr *destination,
                  uint8_t protocol, const uint8_t *payload, size_t length, uint64_t now_ns);
/* The largest payload net_ip_output takes to a destination of `family`. */
size_t net_ip_max_payload(const struct net_stack *stack, uint8_t family);

/* udp.c: a datagram from IPv4 or IPv6. `packet` (`packet_length` bytes) is the IP packet as
 * received, header included, which an ICMP or ICMPv6 port unreachable quotes; `datagram` the UDP
 * header and data. */
void udp_input(struct net_stack *stack, const struct ip_addr *source, const struct ip_addr *destination,
               const uint8_t *packet, size_t packet_length, const uint8_t *datagram, size_t length, uint64_t now_ns);

#endif
