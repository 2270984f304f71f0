/*
 * test/net/stack_harness.h: a net_stack under test, the frames it sends, and the frames a test
 * sends it — for the tests of ARP, IPv4, ICMP, UDP and DHCP (stack_tests.c, dhcp_tests.c) and
 * the frame fuzzer (stack_fuzz.c).
 *
 * A host is one stack on a simulated link: its transmit function copies every frame into a
 * queue the test reads (host_next), and host_input hands the stack a frame in a heap block of
 * exactly its length (so ASan sees any read past the end). Frames are built here with the
 * test's own code (headers written byte by byte, checksums by a reference implementation that
 * shares nothing with src/libos/net/wire), and the frames the stack sends are parsed with the
 * wire parsers and checked field by field, their checksums recomputed independently.
 *
 * The link: we are 52:54:00:12:34:56, 10.0.2.15/24 with gateway 10.0.2.2 (slirp's layout); the
 * gateway is 52:55:0a:00:02:02; PEER_IP is another host on the subnet.
 */
#ifndef TEST_NET_STACK_HARNESS_H
#define TEST_NET_STACK_HARNESS_H

#include "net/dhcp.h"
#include "net/stack.h"
#include "net/wire/arp_wire.h"
#include "net/wire/dhcp_wire.h"
#include "net/wire/ipv4_wire.h"
#include "net_test.h"

extern const uint8_t our_mac[ETH_ADDR_LEN];     /* 52:54:00:12:34:56 */
extern const uint8_t gw_mac[ETH_ADDR_LEN];      /* 52:55:0a:00:02:02 (slirp's) */
extern const uint8_t peer_mac[ETH_ADDR_LEN];    /* 02:00:00:00:00:03 */
extern const uint8_t other_mac[ETH_ADDR_LEN];   /* 02:00:00:00:00:99: another host's */
extern const uint8_t zero_mac_addr[ETH_ADDR_LEN];

#define OUR_IP IPV4_ADDR(10, 0, 2, 15)
#define GW_IP IPV4_ADDR(10, 0, 2, 2)
#define DNS_IP IPV4_ADDR(10, 0, 2, 3)
#define PEER_IP IPV4_ADDR(10, 0, 2, 30)
#define OTHER_IP IPV4_ADDR(10, 0, 2, 77)
#define SUBNET_BROADCAST IPV4_ADDR(10, 0, 2, 255)
#define REMOTE_IP IPV4_ADDR(93, 184, 216, 34) /* off-link */
#define OUR_PREFIX 24
#define HOST_MTU 1500
#define SEC 1000000000ull
#define MS 1000000ull

#define CAPTURE_MAX 128

struct captured {
    size_t length;
    uint64_t at_ns; /* the host's clock when it was sent */
    uint8_t bytes[ETH_FRAME_MAX + 64];
};

struct host {
    struct net_stack *stack;
    uint64_t now;
    uint64_t blocks_before; /* the allocator's count before the stack */
    uint64_t blocks_idle;   /* ... and with the new stack holding no packets */
    uint16_t mtu;
    struct captured frames[CAPTURE_MAX];
    size_t head, count;
    uint64_t sent;          /* every frame the stack handed to transmit */
    int transmit_result;    /* what transmit returns (0, or an error to refuse frames) */
    struct net_stack_stats mark;
};

/* A stack at `ip`/`prefix` via `gateway` (ip 0: none configured) at time 1 s; the gratuitous
 * ARP announcing the address is discarded. */
struct host *host_new(uint32_t ip, unsigned prefix, uint32_t gateway);
struct host *host_new_mtu(uint16_t mtu, uint32_t ip, unsigned prefix, uint32_t gateway);
/* A stack with our default address, mask and gateway. */
struct host *host_default(void);
/* Frees the stack (and `dhcp` first, if not NULL) and checks that every block it allocated
 * was released. */
void host_free(struct host *h, struct dhcp_client *dhcp);

void host_input(struct host *h, const uint8_t *frame, size_t length);
/* Runs net_stack_timers at `now` (which must not go back). */
void host_timers(struct host *h, uint64_t now);
/* The next frame the stack sent (fails if there is none). */
const struct captured *host_next(struct host *h);
size_t host_pending(const struct host *h);
void host_clear(struct host *h);
/* Fails if the stack sent something. */
void host_expect_quiet(struct host *h, const char *when);

/* Counters: host_mark remembers them; host_expect_stats checks that exactly the counters named
 * in `changes` ("malformed=1 ipv4_in=2", deltas) moved by those amounts and no other did
 * (frames_in, bytes_in, frames_out and bytes_out are only checked when named). */
void host_mark(struct host *h);
void host_expect_stats(struct host *h, const char *changes);
uint64_t host_stat(const struct host *h, const char *name);

/* ---- reference checksums (RFC 1071), independent of net/wire/checksum.c ---- */
uint16_t ref_checksum(const uint8_t *data, size_t length, uint32_t initial);
uint32_t ref_pseudo(uint32_t source, uint32_t destination, uint8_t protocol, size_t length);

/* ---- building frames ---- */
struct ip_spec {
    uint32_t source, destination;
    uint8_t protocol;
    uint8_t ttl;              /* 0 is a real TTL 0: use IP() for the default 64 */
    uint16_t id;
    uint16_t flags_offset;    /* MF | DF | offset in 8-byte units */
    uint8_t tos;
    uint8_t options_length;   /* bytes of IP options (NOPs), a multiple of 4, at most 40 */
};
#define IP(src, dst, proto) ((struct ip_spec){.source = (src), .destination = (dst), .protocol = (proto), .ttl = 64, .id = 0x1234})

size_t build_eth(uint8_t *frame, const uint8_t destination[ETH_ADDR_LEN], const uint8_t source[ETH_ADDR_LEN], uint16_t type);
size_t build_arp(uint8_t *frame, const uint8_t eth_destination[ETH_ADDR_LEN], const uint8_t eth_source[ETH_ADDR_LEN],
                 uint16_t operation, const uint8_t sender_mac[ETH_ADDR_LEN], uint32_t sender_ip,
                 const uint8_t target_mac[ETH_ADDR_LEN], uint32_t target_ip);
/* An IPv4 frame from `eth_source` to `eth_destination` carrying `payload`; returns its length. */
size_t build_ipv4(uint8_t *frame, const uint8_t eth_destination[ETH_ADDR_LEN], const uint8_t eth_source[ETH_ADDR_LEN],
                  const struct ip_spec *ip, const uint8_t *payload, size_t length);
/* Recomputes the IPv4 header checksum of the frame's packet (after a test edited the header). */
void fix_ipv4_checksum(uint8_t *frame);
/* Recomputes the UDP checksum of a UDP-in-IPv4 frame (after a test edited the datagram; the
 * UDP length field decides what is summed, and must fit the frame). */
void fix_udp_checksum(uint8_t *frame);
/* A UDP datagram (header + data) with a correct checksum for the addresses; returns its length. */
size_t build_udp(uint8_t *out, uint32_t source, uint32_t destination, uint16_t source_port, uint16_t destination_port,
                 const uint8_t *data, size_t length);
/* An ICMP message: type/code, the two 16-bit words (id/sequence), data, correct checksum. */
size_t build_icmp(uint8_t *out, uint8_t type, uint8_t code, uint16_t id, uint16_t sequence, const uint8_t *data,
                  size_t length);
/* A whole UDP frame from a host on the link (`mac`, `source`) to us. */
size_t build_udp_frame(uint8_t *frame, const uint8_t mac[ETH_ADDR_LEN], uint32_t source, uint32_t destination,
                       uint16_t source_port, uint16_t destination_port, const uint8_t *data, size_t length);
/* `length` bytes of a recognizable pattern starting at `seed`. */
void fill_pattern(uint8_t *out, size_t length, unsigned seed);

/* ---- checking what the stack sent ---- */
void expect_arp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint16_t operation,
                uint32_t sender_ip, const uint8_t target_mac[ETH_ADDR_LEN], uint32_t target_ip);

struct sent_ipv4 {
    struct ipv4_header ip;
    const uint8_t *packet;   /* the IP header */
    const uint8_t *payload;
    size_t payload_length;
};
/* Checks an IPv4 frame from us to `eth_destination`: Ethernet type and source, version 4,
 * IHL 5, total length equal to the frame's, TTL 64, not a fragment (DF clear, MF clear, offset
 * 0), the header checksum (wire parser and the reference), addresses and protocol. */
void expect_ipv4(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                 uint32_t destination, uint8_t protocol, struct sent_ipv4 *out);

struct sent_udp {
    struct sent_ipv4 ipv4;
    uint16_t source_port, destination_port;
    const uint8_t *data;
    size_t data_length;
};
/* expect_ipv4 plus the UDP header: ports, length equal to the IP payload, a nonzero checksum
 * that the reference and udp_parse both accept. */
void expect_udp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                uint32_t destination, uint16_t source_port, uint16_t destination_port, struct sent_udp *out);

struct sent_icmp {
    struct sent_ipv4 ipv4;
    uint8_t type, code;
    uint16_t id, sequence;
    const uint8_t *data;
    size_t data_length;
};
void expect_icmp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t destination,
                 uint8_t type, uint8_t code, struct sent_icmp *out);

/* ---- DHCP (libslirp's server, as the guest meets it) ---- */
struct dhcp_reply {
    uint8_t type;             /* DHCPOFFER, DHCPACK, DHCPNAK */
    uint32_t xid;
    uint8_t chaddr[ETH_ADDR_LEN];
    uint32_t yiaddr;
    uint32_t server;          /* option 54 and the IP source */
    uint32_t mask, router, dns, lease_s; /* options 1, 3, 6, 51 (0: left out) */
    uint32_t renew_s, rebind_s;          /* options 58, 59 (0: left out) */
    uint32_t ip_destination;  /* 0: 255.255.255.255 */
    uint8_t op;               /* 0: BOOTREPLY */
    uint16_t source_port;     /* 0: 67 */
    const uint8_t *eth_destination; /* NULL: broadcast */
};
/* A 590-byte frame like libslirp's (14 + 20 + 8 + 548-byte BOOTP message): from 52:55:0a:00:02:02,
 * server:67 to ip_destination:68, options 53, 54, 1, 3, 6, 51, [58, 59,] end. Returns its length;
 * *options_at is the offset of the first option in the frame (for the fuzzer's edits). */
size_t build_dhcp_reply(uint8_t *frame, const struct dhcp_reply *reply, size_t *options_at);

/* A client message the stack sent, parsed: the UDP checks of expect_udp (68 -> 67) plus the
 * BOOTP fixed part; `options`/`options_length` is the option area after the cookie. */
struct sent_dhcp {
    struct sent_udp udp;
    uint8_t op, htype, hlen, hops;
    uint32_t xid;
    uint16_t secs, flags;
    uint32_t ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    const uint8_t *options;
    size_t options_length;
};
void expect_dhcp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                 uint32_t destination, struct sent_dhcp *out);
/* An option's value in a client message (NULL if absent); checks the option list is well formed
 * and ends in END. */
const uint8_t *dhcp_option(const struct sent_dhcp *message, uint8_t code, size_t *length);

/* A net_udp_receive_fn for tests: counts the datagrams bound to it and keeps the last one's
 * addresses, source port and length in the struct udp_received given as ctx. */
struct udp_received {
    int count;
    struct ip_addr source, destination;
    uint16_t source_port;
    size_t length;
};
void record_udp_any_family(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                const uint8_t *data, size_t length, uint64_t now_ns);

#endif
