/*
 * test/net/stack_tests.c: ARP, IPv4 input and reassembly, ICMP and UDP of net/stack.h, each case
 * a scripted exchange on a simulated link (stack_harness.h): frames in, and exact expectations
 * on every frame the stack sends (parsed with the wire parsers, checksums recomputed with a
 * reference implementation) and on its counters (every counter that moved, and by how much).
 */
#include <stdlib.h>
#include <string.h>

#include "net/stack_internal.h" /* only for the ephemeral-port cursor and the table sizes */
#include "net/wire/icmp_wire.h"
#include "net/wire/udp_wire.h"
#include "stack_harness.h"

#define BOUND_PORT 5000
#define CLOSED_PORT 9999
#define PEER_PORT 40000

/* ---- a UDP receiver that records what it got ---- */

struct udp_rx {
    int count;
    uint32_t source, destination;
    uint16_t source_port;
    uint64_t at;
    size_t length;
    uint8_t data[65536];
};
static struct udp_rx rx;

static void record_udp(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                       const uint8_t *data, size_t length, uint64_t now_ns) {
    struct udp_rx *r = ctx;
    TEST_ASSERT(source->family == IP_FAMILY_V4 && destination->family == IP_FAMILY_V4, "a datagram not from IPv4");
    r->count++;
    r->source = source->v4;
    r->source_port = source_port;
    r->destination = destination->v4;
    r->at = now_ns;
    TEST_ASSERT(length <= sizeof r->data, "datagram of %zu bytes", length);
    r->length = length;
    memcpy(r->data, data, length);
}

static void expect_received(uint32_t source, uint16_t source_port, uint32_t destination, const uint8_t *data, size_t length) {
    TEST_ASSERT(rx.count == 1, "%d datagrams delivered, expected 1", rx.count);
    TEST_ASSERT(rx.source == source && rx.source_port == source_port && rx.destination == destination,
                "delivered from %08x:%u to %08x", rx.source, rx.source_port, rx.destination);
    TEST_ASSERT(rx.length == length, "delivered %zu bytes, expected %zu", rx.length, length);
    TEST_ASSERT(memcmp(rx.data, data, length) == 0, "delivered data differs");
    rx.count = 0;
}

/* net_udp_send to an IPv4 address. */
static int udp_send_v4(struct net_stack *stack, uint16_t source_port, uint32_t destination, uint16_t destination_port,
                       const uint8_t *data, size_t length, uint64_t now_ns) {
    struct ip_addr to = ip_addr_from_v4(destination);
    return net_udp_send(stack, source_port, &to, destination_port, data, length, now_ns);
}

/* A default host with BOUND_PORT bound to the recorder. */
static struct host *udp_host(void) {
    struct host *h = host_default();
    memset(&rx, 0, sizeof rx);
    TEST_ASSERT(net_udp_bind(h->stack, BOUND_PORT, record_udp, &rx, NULL) == 0, "bind");
    return h;
}

/* The stack learns `mac` for `ip` from a request for our address (answered and discarded). */
static void learn(struct host *h, const uint8_t mac[ETH_ADDR_LEN], uint32_t ip) {
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, mac, ARP_REQUEST, mac, ip, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    expect_arp(host_next(h), mac, ARP_REPLY, OUR_IP, mac, ip);
    host_expect_quiet(h, "after learning");
    host_mark(h);
}

static void send_udp_to(struct host *h, uint32_t destination, unsigned seed) {
    uint8_t data[32];
    fill_pattern(data, sizeof data, seed);
    int err = udp_send_v4(h->stack, BOUND_PORT, destination, 53, data, sizeof data, h->now);
    TEST_ASSERT(err == 0, "net_udp_send: %s", err_name(err));
}

static void expect_udp_pattern(const struct captured *frame, const uint8_t mac[ETH_ADDR_LEN], uint32_t destination,
                               unsigned seed) {
    struct sent_udp udp;
    expect_udp(frame, mac, OUR_IP, destination, BOUND_PORT, 53, &udp);
    uint8_t data[32];
    fill_pattern(data, sizeof data, seed);
    TEST_ASSERT(udp.data_length == sizeof data && memcmp(udp.data, data, sizeof data) == 0,
                "datagram %u: wrong data (%zu bytes)", seed, udp.data_length);
}

static int host_transmit_unused(void *ctx, const uint8_t *frame, size_t length) {
    (void)ctx;
    (void)frame;
    (void)length;
    test_fail("transmit called");
}

/* ================================== ARP ================================== */

static void test_arp_request_for_us(void) {
    struct host *h = host_default();
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    /* reply: unicast to the asker, op 2, our MAC and address as sender, the asker as target */
    expect_arp(host_next(h), peer_mac, ARP_REPLY, OUR_IP, peer_mac, PEER_IP);
    host_expect_quiet(h, "after the reply");
    host_expect_stats(h, "arp_requests_in=1 arp_replies_out=1 frames_in=1 frames_out=1 bytes_out=42");
    /* and the asker's mapping was learned: traffic to it goes out without a request */
    send_udp_to(h, PEER_IP, 1);
    expect_udp_pattern(host_next(h), peer_mac, PEER_IP, 1);
    host_expect_stats(h, "udp_out=1 ipv4_out=1");
    /* a request padded to the Ethernet minimum (60 bytes) is answered the same */
    memset(frame + n, 0xee, 60 - n);
    host_input(h, frame, 60);
    expect_arp(host_next(h), peer_mac, ARP_REPLY, OUR_IP, peer_mac, PEER_IP);
    host_free(h, NULL);
}

static void test_arp_request_for_others(void) {
    struct host *h = host_default();
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac_addr, OTHER_IP);
    host_input(h, frame, n);
    host_expect_quiet(h, "a request for another host");
    host_expect_stats(h, "arp_requests_in=1");
    /* it taught nothing: the next hop still needs resolving */
    send_udp_to(h, PEER_IP, 1);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    host_expect_quiet(h, "queued");
    host_free(h, NULL);
}

static void test_arp_request_for_others_refreshes(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    /* the peer moved to another MAC and asks for someone else: the entry we hold is updated */
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, other_mac, ARP_REQUEST, other_mac, PEER_IP, zero_mac_addr, OTHER_IP);
    h->now += SEC;
    host_input(h, frame, n);
    host_expect_quiet(h, "a request for another host");
    send_udp_to(h, PEER_IP, 2);
    expect_udp_pattern(host_next(h), other_mac, PEER_IP, 2);
    host_expect_quiet(h, "after the datagram");
    host_free(h, NULL);
}

static void test_arp_resolve_queue_flush(void) {
    struct host *h = host_default();
    for (unsigned i = 0; i < 3; i++) send_udp_to(h, PEER_IP, i);
    /* one request for three packets */
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    host_expect_quiet(h, "while resolving");
    host_expect_stats(h, "arp_requests_out=1 udp_out=3 ipv4_out=3 frames_out=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == h->now + SEC, "retry deadline");
    h->now += 10 * MS;
    uint8_t frame[64];
    size_t n = build_arp(frame, our_mac, peer_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    host_input(h, frame, n);
    for (unsigned i = 0; i < 3; i++) expect_udp_pattern(host_next(h), peer_mac, PEER_IP, i);
    host_expect_quiet(h, "after the flush");
    host_expect_stats(h, "arp_replies_in=1 frames_out=3");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline is left");
    host_free(h, NULL);
}

static void test_arp_retries_then_drop(void) {
    struct host *h = host_default();
    uint64_t start = h->now;
    send_udp_to(h, PEER_IP, 0);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    for (unsigned request = 2; request <= 3; request++) {
        uint64_t due = start + (request - 1) * SEC;
        TEST_ASSERT(net_stack_next_deadline(h->stack) == due, "request %u due at %llu", request,
                    (unsigned long long)net_stack_next_deadline(h->stack));
        host_timers(h, due - 1);
        host_expect_quiet(h, "before the retry");
        host_timers(h, due);
        const struct captured *frame = host_next(h);
        expect_arp(frame, eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
        TEST_ASSERT(frame->at_ns == due, "retry sent at %llu", (unsigned long long)frame->at_ns);
    }
    host_expect_stats(h, "arp_requests_out=3 udp_out=1 ipv4_out=1");
    /* a second after the third request the packet is dropped, and nothing more is asked */
    TEST_ASSERT(net_stack_next_deadline(h->stack) == start + 3 * SEC, "give-up deadline");
    host_timers(h, start + 3 * SEC);
    host_expect_quiet(h, "giving up");
    host_expect_stats(h, "arp_unresolved=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline is left");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "queued packet not freed");
    /* a later packet starts a new resolution */
    host_timers(h, start + 10 * SEC);
    send_udp_to(h, PEER_IP, 1);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    host_free(h, NULL);
}

static void test_arp_queue_limit(void) {
    struct host *h = host_default();
    for (unsigned i = 0; i < 6; i++) send_udp_to(h, PEER_IP, i);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    host_expect_quiet(h, "while resolving");
    host_expect_stats(h, "arp_requests_out=1 udp_out=6 ipv4_out=6 arp_unresolved=2");
    uint8_t frame[64];
    size_t n = build_arp(frame, our_mac, peer_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    host_input(h, frame, n);
    /* the two oldest made room for the newer ones */
    for (unsigned i = 2; i < 6; i++) expect_udp_pattern(host_next(h), peer_mac, PEER_IP, i);
    host_expect_quiet(h, "after the flush");
    host_free(h, NULL);
}

static void test_arp_out_of_memory(void) {
    struct host *h = host_default();
    uint8_t data[8] = {0};
    /* no memory to queue the packet: no entry, no request, no deadline */
    net_native_fail_allocations(1);
    int err = udp_send_v4(h->stack, BOUND_PORT, PEER_IP, 53, data, sizeof data, h->now);
    net_native_fail_allocations(0);
    TEST_ASSERT(err == ERR_NOMEM, "send without memory: %s", err_name(err));
    host_expect_quiet(h, "no memory");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline for nothing: %llu",
                (unsigned long long)net_stack_next_deadline(h->stack));
    host_expect_stats(h, "udp_out=1 ipv4_out=1");
    /* a full queue keeps its packets when the newcomer cannot be copied */
    for (unsigned i = 0; i < RESOLVE_QUEUE_MAX; i++) send_udp_to(h, PEER_IP, i);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    net_native_fail_allocations(1);
    err = udp_send_v4(h->stack, BOUND_PORT, PEER_IP, 53, data, sizeof data, h->now);
    net_native_fail_allocations(0);
    TEST_ASSERT(err == ERR_NOMEM, "send without memory: %s", err_name(err));
    host_expect_stats(h, "udp_out=5 ipv4_out=5 arp_requests_out=1");
    uint8_t frame[64];
    size_t n = build_arp(frame, our_mac, peer_mac, ARP_REPLY, peer_mac, PEER_IP, our_mac, OUR_IP);
    host_input(h, frame, n);
    for (unsigned i = 0; i < RESOLVE_QUEUE_MAX; i++) expect_udp_pattern(host_next(h), peer_mac, PEER_IP, i);
    host_expect_quiet(h, "after the flush");
    host_free(h, NULL);
}

static void test_arp_announce(void) {
    struct host *h = host_new(0, 0, 0);
    /* no address: ARP is not answered */
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    host_expect_quiet(h, "ARP before an address");
    host_expect_stats(h, "arp_requests_in=1");
    net_stack_set_ipv4(h->stack, OUR_IP, OUR_PREFIX, GW_IP, h->now);
    /* the gratuitous request: sender and target are both the new address (RFC 5227) */
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, OUR_IP);
    host_expect_quiet(h, "after the announcement");
    host_expect_stats(h, "arp_requests_out=1");
    uint32_t address, gateway;
    unsigned prefix;
    net_stack_get_ipv4(h->stack, &address, &prefix, &gateway);
    TEST_ASSERT(address == OUR_IP && prefix == OUR_PREFIX && gateway == GW_IP, "get_ipv4");
    host_input(h, frame, n);
    expect_arp(host_next(h), peer_mac, ARP_REPLY, OUR_IP, peer_mac, PEER_IP);
    /* dropping the address announces nothing */
    net_stack_set_ipv4(h->stack, 0, 0, 0, h->now);
    host_expect_quiet(h, "dropping the address");
    host_free(h, NULL);
}

static void test_arp_off_link_via_gateway(void) {
    struct host *h = host_default();
    send_udp_to(h, REMOTE_IP, 7);
    /* resolved: the gateway, not the destination */
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, GW_IP);
    uint8_t frame[64];
    size_t n = build_arp(frame, our_mac, gw_mac, ARP_REPLY, gw_mac, GW_IP, our_mac, OUR_IP);
    host_input(h, frame, n);
    expect_udp_pattern(host_next(h), gw_mac, REMOTE_IP, 7);
    /* a second off-link destination uses the same entry */
    send_udp_to(h, IPV4_ADDR(8, 8, 8, 8), 8);
    expect_udp_pattern(host_next(h), gw_mac, IPV4_ADDR(8, 8, 8, 8), 8);
    /* broadcasts need no resolution */
    send_udp_to(h, IPV4_BROADCAST, 9);
    expect_udp_pattern(host_next(h), eth_broadcast, IPV4_BROADCAST, 9);
    send_udp_to(h, SUBNET_BROADCAST, 10);
    expect_udp_pattern(host_next(h), eth_broadcast, SUBNET_BROADCAST, 10);
    host_expect_quiet(h, "at the end");
    host_free(h, NULL);
}

static void test_arp_no_gateway(void) {
    struct host *h = host_new(OUR_IP, OUR_PREFIX, 0);
    uint8_t data[4] = {1, 2, 3, 4};
    int err = udp_send_v4(h->stack, BOUND_PORT, REMOTE_IP, 53, data, sizeof data, h->now);
    TEST_ASSERT(err == ERR_UNREACHABLE, "off-link without a gateway: %s", err_name(err));
    err = net_echo_send(h->stack, REMOTE_IP, 1, 1, data, sizeof data, h->now);
    TEST_ASSERT(err == ERR_UNREACHABLE, "ping off-link without a gateway: %s", err_name(err));
    host_expect_quiet(h, "unreachable");
    /* on-link still works */
    send_udp_to(h, PEER_IP, 1);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, PEER_IP);
    host_free(h, NULL);
}

static void test_arp_stale_reconfirmed(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    uint64_t learned = h->now;
    h->now = learned + 60 * SEC;
    send_udp_to(h, PEER_IP, 1);
    expect_udp_pattern(host_next(h), peer_mac, PEER_IP, 1);
    host_expect_quiet(h, "within 60 s");
    h->now = learned + 61 * SEC;
    /* stale: the old answer is still used, and a unicast request asks again */
    send_udp_to(h, PEER_IP, 2);
    expect_udp_pattern(host_next(h), peer_mac, PEER_IP, 2);
    expect_arp(host_next(h), peer_mac, ARP_REQUEST, OUR_IP, peer_mac, PEER_IP);
    send_udp_to(h, PEER_IP, 3); /* not again within the second */
    expect_udp_pattern(host_next(h), peer_mac, PEER_IP, 3);
    host_expect_quiet(h, "within the retry second");
    host_free(h, NULL);
}

static void test_arp_ignored_senders(void) {
    struct host *h = host_default();
    uint8_t frame[64];
    /* a probe (sender 0.0.0.0) and a multicast sender MAC teach nothing and get no answer */
    size_t n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, peer_mac, 0, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    static const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, multicast, PEER_IP, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    host_expect_quiet(h, "ignored senders");
    host_expect_stats(h, "arp_requests_in=2");
    /* other hardware/protocol types, short packets and unknown operations are malformed */
    n = build_arp(frame, eth_broadcast, peer_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac_addr, OUR_IP);
    frame[ETH_HEADER_LEN + 1] = 6; /* IEEE 802 */
    host_input(h, frame, n);
    frame[ETH_HEADER_LEN + 1] = 1;
    host_input(h, frame, n - 1);
    frame[ETH_HEADER_LEN + 7] = 3; /* RARP request */
    host_input(h, frame, n);
    host_expect_quiet(h, "malformed ARP");
    host_expect_stats(h, "malformed=3");
    /* frames for other MACs or of other types are not for us; a runt is malformed */
    n = build_arp(frame, other_mac, peer_mac, ARP_REQUEST, peer_mac, PEER_IP, zero_mac_addr, OUR_IP);
    host_input(h, frame, n);
    n = build_eth(frame, our_mac, peer_mac, ETHERTYPE_IPV6);
    host_input(h, frame, n + 40);
    host_input(h, frame, 13);
    host_expect_quiet(h, "not for us");
    host_expect_stats(h, "not_for_us=2 malformed=1");
    host_free(h, NULL);
}

/* ================================ IPv4 input ================================ */

/* A UDP frame from the peer to BOUND_PORT with 16 bytes of data. */
static size_t udp_to_bound(uint8_t *frame, uint32_t destination) {
    uint8_t data[16];
    fill_pattern(data, sizeof data, 3);
    return build_udp_frame(frame, peer_mac, PEER_IP, destination, PEER_PORT, BOUND_PORT, data, sizeof data);
}

static void expect_not_delivered(struct host *h, const char *what, const char *counters) {
    TEST_ASSERT(rx.count == 0, "%s: delivered", what);
    host_expect_quiet(h, what);
    host_expect_stats(h, counters);
}

static void test_ipv4_valid(void) {
    struct host *h = udp_host();
    uint8_t frame[128];
    size_t n = udp_to_bound(frame, OUR_IP);
    host_input(h, frame, n);
    uint8_t data[16];
    fill_pattern(data, sizeof data, 3);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, data, sizeof data);
    host_expect_quiet(h, "delivery");
    host_expect_stats(h, "ipv4_in=1 udp_in=1 frames_in=1 bytes_in=58");
    host_free(h, NULL);
}

static void test_ipv4_bad_headers(void) {
    struct host *h = udp_host();
    uint8_t frame[128];
    size_t n = udp_to_bound(frame, OUR_IP);
    uint8_t copy[128];

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN] = 0x65; /* version 6 */
    fix_ipv4_checksum(copy);
    host_input(h, copy, n);
    expect_not_delivered(h, "version 6", "malformed=1");

    for (uint8_t ihl = 0; ihl < 5; ihl++) {
        memcpy(copy, frame, n);
        copy[ETH_HEADER_LEN] = (uint8_t)(0x40 | ihl);
        host_input(h, copy, n);
    }
    expect_not_delivered(h, "IHL < 5", "malformed=5");

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN] = 0x4f; /* 60-byte header in a 44-byte packet */
    fix_ipv4_checksum(copy);
    host_input(h, copy, n);
    expect_not_delivered(h, "header beyond the packet", "malformed=1");

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 3]++; /* total length one past the frame */
    fix_ipv4_checksum(copy);
    host_input(h, copy, n);
    expect_not_delivered(h, "total length beyond the frame", "malformed=1");

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 2] = 0;
    copy[ETH_HEADER_LEN + 3] = 19; /* total length below the header */
    fix_ipv4_checksum(copy);
    host_input(h, copy, n);
    expect_not_delivered(h, "total length below the header", "malformed=1");

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 10] ^= 0x01;
    host_input(h, copy, n);
    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 12] ^= 0x80; /* the source, checksum not updated */
    host_input(h, copy, n);
    expect_not_delivered(h, "bad checksum", "ipv4_bad_checksum=2");

    for (size_t length = ETH_HEADER_LEN; length < ETH_HEADER_LEN + 20; length++) host_input(h, frame, length);
    expect_not_delivered(h, "truncated header", "malformed=20");

    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 8] = 0; /* TTL 0 */
    fix_ipv4_checksum(copy);
    host_input(h, copy, n);
    expect_not_delivered(h, "TTL 0", "ipv4_in=1 ipv4_ttl_zero=1");
    host_free(h, NULL);
}

static void test_ipv4_addresses(void) {
    struct host *h = udp_host();
    uint8_t frame[128];
    size_t n = udp_to_bound(frame, OTHER_IP);
    host_input(h, frame, n);
    n = udp_to_bound(frame, IPV4_ADDR(10, 0, 3, 15));
    host_input(h, frame, n);
    n = udp_to_bound(frame, IPV4_ADDR(224, 0, 0, 251)); /* multicast: no groups joined */
    host_input(h, frame, n);
    expect_not_delivered(h, "not for us", "ipv4_in=3 not_for_us=3");

    uint8_t data[16];
    fill_pattern(data, sizeof data, 3);
    static const uint32_t bad_sources[] = {IPV4_ADDR(224, 0, 0, 1), IPV4_ADDR(239, 255, 255, 250), IPV4_BROADCAST,
                                           SUBNET_BROADCAST, 0, IPV4_ADDR(127, 0, 0, 1)};
    for (size_t i = 0; i < ARRAY_SIZE(bad_sources); i++) {
        n = build_udp_frame(frame, peer_mac, bad_sources[i], OUR_IP, PEER_PORT, BOUND_PORT, data, sizeof data);
        host_input(h, frame, n);
        char text[16];
        ipv4_format(bad_sources[i], text);
        expect_not_delivered(h, text, "ipv4_in=1 not_for_us=1");
    }

    /* broadcasts are ours: the limited one and the subnet's */
    n = udp_to_bound(frame, IPV4_BROADCAST);
    host_input(h, frame, n);
    expect_received(PEER_IP, PEER_PORT, IPV4_BROADCAST, data, sizeof data);
    n = udp_to_bound(frame, SUBNET_BROADCAST);
    host_input(h, frame, n);
    expect_received(PEER_IP, PEER_PORT, SUBNET_BROADCAST, data, sizeof data);
    host_expect_stats(h, "ipv4_in=2 udp_in=2");
    host_free(h, NULL);
}

static void test_ipv4_padding_and_options(void) {
    struct host *h = udp_host();
    uint8_t frame[256];
    uint8_t data[4] = {9, 8, 7, 6};
    size_t n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, PEER_PORT, BOUND_PORT, data, sizeof data);
    TEST_ASSERT(n == 46, "frame of %zu bytes", n);
    /* padded to the Ethernet minimum with junk: the junk is not data */
    memset(frame + n, 0xa5, 60 - n);
    host_input(h, frame, 60);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, data, sizeof data);
    /* a lot more padding than packet */
    memset(frame + n, 0x5a, 200);
    host_input(h, frame, n + 200);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, data, sizeof data);
    host_expect_stats(h, "ipv4_in=2 udp_in=2");

    /* IP options are skipped */
    uint8_t datagram[64];
    size_t d = build_udp(datagram, PEER_IP, OUR_IP, PEER_PORT, BOUND_PORT, data, sizeof data);
    struct ip_spec spec = IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP);
    spec.options_length = 40;
    n = build_ipv4(frame, our_mac, peer_mac, &spec, datagram, d);
    host_input(h, frame, n);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, data, sizeof data);

    /* an echo request with padding: the reply echoes the data only */
    learn(h, peer_mac, PEER_IP);
    uint8_t message[64];
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 0x0102, 1, data, 2);
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    memset(frame + n, 0xff, 60 - n);
    host_input(h, frame, 60);
    struct sent_icmp reply;
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.data_length == 2 && memcmp(reply.data, data, 2) == 0, "echo data (%zu bytes)", reply.data_length);
    host_free(h, NULL);
}

static void test_ipv4_before_address(void) {
    struct host *h = host_new(0, 0, 0);
    memset(&rx, 0, sizeof rx);
    TEST_ASSERT(net_udp_bind(h->stack, 68, record_udp, &rx, NULL) == 0, "bind 68");
    uint8_t frame[128];
    uint8_t data[8] = {1};
    /* UDP to any address reaches the DHCP port */
    size_t n = build_udp_frame(frame, gw_mac, GW_IP, IPV4_BROADCAST, 67, 68, data, sizeof data);
    host_input(h, frame, n);
    expect_received(GW_IP, 67, IPV4_BROADCAST, data, sizeof data);
    n = build_udp_frame(frame, gw_mac, GW_IP, OUR_IP, 67, 68, data, sizeof data);
    host_input(h, frame, n);
    expect_received(GW_IP, 67, OUR_IP, data, sizeof data);
    /* no port unreachable without an address */
    n = build_udp_frame(frame, gw_mac, GW_IP, OUR_IP, 67, 69, data, sizeof data);
    host_input(h, frame, n);
    /* nothing but UDP */
    uint8_t message[64];
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 1, 1, data, sizeof data);
    n = build_ipv4(frame, our_mac, gw_mac, &IP(GW_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    host_expect_quiet(h, "before an address");
    host_expect_stats(h, "ipv4_in=4 udp_in=3 udp_no_port=1 not_for_us=1");
    host_free(h, NULL);
}

/* ================================ reassembly ================================ */

/* Fragment [offset, offset+length) of `payload` (the IP payload of datagram `id`). */
static void send_fragment(struct host *h, uint8_t protocol, uint16_t id, const uint8_t *payload, size_t offset,
                          size_t length, bool more) {
    static uint8_t frame[ETH_FRAME_MAX + 64];
    struct ip_spec spec = IP(PEER_IP, OUR_IP, protocol);
    spec.id = id;
    spec.flags_offset = (uint16_t)((more ? IPV4_FLAG_MF : 0) | offset / 8);
    TEST_ASSERT(offset % 8 == 0, "fragment offset %zu", offset);
    size_t n = build_ipv4(frame, our_mac, peer_mac, &spec, payload + offset, length);
    host_input(h, frame, n);
}

static uint8_t big_data[70000], big_datagram[70000];

/* A UDP datagram from the peer to `port` with `length` bytes of data, in big_datagram. */
static size_t make_big_udp(uint16_t port, size_t length, unsigned seed) {
    fill_pattern(big_data, length, seed);
    return build_udp(big_datagram, PEER_IP, OUR_IP, PEER_PORT, port, big_data, length);
}

/* Sends `total` bytes of big_datagram in fragments of `piece` bytes, in the order `order` gives
 * (NULL: in order). */
static size_t send_in_pieces(struct host *h, uint16_t id, size_t total, size_t piece, const unsigned *order) {
    size_t count = (total + piece - 1) / piece;
    for (size_t k = 0; k < count; k++) {
        size_t i = order ? order[k] : k;
        size_t offset = i * piece;
        send_fragment(h, IPV4_PROTOCOL_UDP, id, big_datagram, offset, MIN(piece, total - offset), i + 1 < count);
    }
    return count;
}

static void test_reassembly_in_order(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 3000, 11);
    send_in_pieces(h, 0x77, total, 1480, NULL);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 3000);
    host_expect_quiet(h, "reassembly");
    host_expect_stats(h, "ipv4_in=3 fragments_in=3 reassembled=1 udp_in=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline is left");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "the slot was not freed");
    host_free(h, NULL);
}

static void test_reassembly_out_of_order(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 5000, 12);
    static const unsigned order[] = {3, 1, 0, 2};
    send_in_pieces(h, 0x78, total, 1480, order);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 5000);
    host_expect_stats(h, "ipv4_in=4 fragments_in=4 reassembled=1 udp_in=1");
    /* small pieces, last first, then the rest backwards */
    total = make_big_udp(BOUND_PORT, 200, 13);
    unsigned backwards[26];
    for (unsigned i = 0; i < 26; i++) backwards[i] = 25 - i;
    send_in_pieces(h, 0x79, total, 8, backwards);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 200);
    host_expect_stats(h, "ipv4_in=26 fragments_in=26 reassembled=1 udp_in=1");
    /* the same id in another protocol is another datagram: interleaved, both complete */
    learn(h, peer_mac, PEER_IP);
    total = make_big_udp(BOUND_PORT, 2000, 14);
    static uint8_t message[2100];
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 5, 6, big_data, 1000);
    send_fragment(h, IPV4_PROTOCOL_UDP, 0x7a, big_datagram, 0, 1480, true);
    send_fragment(h, IPV4_PROTOCOL_ICMP, 0x7a, message, 0, 504, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 0x7a, big_datagram, 1480, total - 1480, false);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 2000);
    send_fragment(h, IPV4_PROTOCOL_ICMP, 0x7a, message, 504, m - 504, false);
    struct sent_icmp reply;
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.id == 5 && reply.sequence == 6 && reply.data_length == 1000 && memcmp(reply.data, big_data, 1000) == 0,
                "echo of the interleaved datagram");
    host_expect_stats(h, "ipv4_in=4 fragments_in=4 reassembled=2 udp_in=1 icmp_in=1 echo_requests_in=1 echo_replies_out=1 "
                         "icmp_out=1 ipv4_out=1");
    host_free(h, NULL);
}

static void test_reassembly_udp_checksum(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 3000, 14);
    /* one data byte changed in the middle fragment: the IP headers are fine, UDP's sum is not */
    big_datagram[2000] ^= 0x40;
    send_in_pieces(h, 0x80, total, 1480, NULL);
    expect_not_delivered(h, "corrupted reassembled datagram", "ipv4_in=3 fragments_in=3 reassembled=1 udp_bad_checksum=1");
    /* a zero checksum (none computed) is accepted on a reassembled datagram too */
    total = make_big_udp(BOUND_PORT, 3000, 15);
    big_datagram[6] = big_datagram[7] = 0;
    send_in_pieces(h, 0x81, total, 1480, NULL);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 3000);
    host_free(h, NULL);
}

static void test_reassembly_overlap(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 3000, 16);
    send_fragment(h, IPV4_PROTOCOL_UDP, 1, big_datagram, 0, 1480, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 1, big_datagram, 1472, 1480, true); /* overlaps by 8 */
    expect_not_delivered(h, "overlap", "ipv4_in=2 fragments_in=2 reassembly_dropped=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "the datagram was not dropped");
    /* what comes after starts a new datagram that cannot complete */
    send_fragment(h, IPV4_PROTOCOL_UDP, 1, big_datagram, 2960, total - 2960, false);
    expect_not_delivered(h, "after the overlap", "ipv4_in=1 fragments_in=1");
    host_timers(h, h->now + 30 * SEC);
    host_expect_stats(h, "reassembly_dropped=1");

    /* an exact duplicate counts as an overlap too (RFC 5722) */
    send_fragment(h, IPV4_PROTOCOL_UDP, 2, big_datagram, 0, 1480, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 2, big_datagram, 0, 1480, true);
    expect_not_delivered(h, "duplicate", "ipv4_in=2 fragments_in=2 reassembly_dropped=1");
    /* two last fragments */
    send_fragment(h, IPV4_PROTOCOL_UDP, 3, big_datagram, 1480, 8, false);
    send_fragment(h, IPV4_PROTOCOL_UDP, 3, big_datagram, 1488, 8, false);
    expect_not_delivered(h, "two last fragments", "ipv4_in=2 fragments_in=2 reassembly_dropped=1");
    /* a fragment past the end of the datagram */
    send_fragment(h, IPV4_PROTOCOL_UDP, 4, big_datagram, 1480, 8, false);
    send_fragment(h, IPV4_PROTOCOL_UDP, 4, big_datagram, 1488, 8, true);
    expect_not_delivered(h, "past the end", "ipv4_in=2 fragments_in=2 reassembly_dropped=1");
    /* a last fragment that ends before data already received */
    send_fragment(h, IPV4_PROTOCOL_UDP, 5, big_datagram, 0, 1480, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 5, big_datagram, 2960, 16, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 5, big_datagram, 1480, 1480, false);
    expect_not_delivered(h, "last fragment before received data", "ipv4_in=3 fragments_in=3 reassembly_dropped=1");
    /* a non-final fragment whose length is not a multiple of 8, or empty */
    send_fragment(h, IPV4_PROTOCOL_UDP, 6, big_datagram, 0, 1479, true);
    send_fragment(h, IPV4_PROTOCOL_UDP, 6, big_datagram, 0, 0, true);
    expect_not_delivered(h, "odd fragment", "ipv4_in=2 fragments_in=2 reassembly_dropped=2");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a datagram is left");
    host_free(h, NULL);
}

static void test_reassembly_fragment_limit(void) {
    struct host *h = udp_host();
    /* 64 fragments of 8 bytes: accepted */
    size_t total = make_big_udp(BOUND_PORT, 64 * 8 - 8, 17);
    TEST_ASSERT(send_in_pieces(h, 0x90, total, 8, NULL) == 64, "64 pieces");
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 64 * 8 - 8);
    host_expect_stats(h, "ipv4_in=64 fragments_in=64 reassembled=1 udp_in=1");
    /* 65: the 65th drops the datagram */
    total = make_big_udp(BOUND_PORT, 65 * 8 - 8, 18);
    TEST_ASSERT(send_in_pieces(h, 0x91, total, 8, NULL) == 65, "65 pieces");
    expect_not_delivered(h, "65 fragments", "ipv4_in=65 fragments_in=65 reassembly_dropped=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a datagram is left");
    host_free(h, NULL);
}

static void test_reassembly_size_limit(void) {
    struct host *h = udp_host();
    /* exactly 65535 bytes with its 20-byte header: delivered */
    size_t total = make_big_udp(BOUND_PORT, 65535 - 20 - 8, 19);
    TEST_ASSERT(total == 65515, "total %zu", total);
    size_t pieces = send_in_pieces(h, 0xa0, total, 1480, NULL);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, total - 8);
    host_expect_stats(h, "ipv4_in=45 fragments_in=45 reassembled=1 udp_in=1");
    TEST_ASSERT(pieces == 45, "pieces %zu", pieces);
    /* one byte more: a 65536-byte datagram is dropped */
    total = make_big_udp(BOUND_PORT, 65535 - 20 - 8 + 1, 20);
    send_in_pieces(h, 0xa1, total, 1480, NULL);
    TEST_ASSERT(rx.count == 0, "a 65536-byte datagram was delivered");
    host_expect_quiet(h, "oversized");
    host_expect_stats(h, "ipv4_in=45 fragments_in=45 reassembly_dropped=1");
    /* a fragment reaching past 65535 payload bytes is refused at once */
    send_fragment(h, IPV4_PROTOCOL_UDP, 0xa2, big_datagram, 65528, 8, false);
    send_fragment(h, IPV4_PROTOCOL_UDP, 0xa3, big_datagram, 8184 * 8, 1400, true);
    expect_not_delivered(h, "past 65535", "ipv4_in=2 fragments_in=2 reassembly_dropped=2");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a datagram is left");
    host_free(h, NULL);
}

static void test_reassembly_slots(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 3000, 21);
    for (uint16_t id = 1; id <= REASSEMBLY_SLOTS; id++) send_fragment(h, IPV4_PROTOCOL_UDP, id, big_datagram, 0, 1480, true);
    host_expect_stats(h, "ipv4_in=4 fragments_in=4");
    /* a fifth datagram finds no slot */
    send_fragment(h, IPV4_PROTOCOL_UDP, 5, big_datagram, 0, 1480, true);
    host_expect_stats(h, "ipv4_in=1 fragments_in=1 reassembly_dropped=1");
    /* the same ids of another protocol are other datagrams: no slot either */
    send_fragment(h, IPV4_PROTOCOL_ICMP, 1, big_datagram, 0, 1480, true);
    host_expect_stats(h, "ipv4_in=1 fragments_in=1 reassembly_dropped=1");
    /* the four complete */
    for (uint16_t id = 1; id <= REASSEMBLY_SLOTS; id++) {
        send_fragment(h, IPV4_PROTOCOL_UDP, id, big_datagram, 1480, 1480, true);
        send_fragment(h, IPV4_PROTOCOL_UDP, id, big_datagram, 2960, total - 2960, false);
        expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 3000);
    }
    host_expect_stats(h, "ipv4_in=8 fragments_in=8 reassembled=4 udp_in=4");
    /* and the fifth fits now */
    send_in_pieces(h, 5, total, 1480, NULL);
    expect_received(PEER_IP, PEER_PORT, OUR_IP, big_data, 3000);
    host_free(h, NULL);
}

static void test_reassembly_timeout(void) {
    struct host *h = udp_host();
    size_t total = make_big_udp(BOUND_PORT, 3000, 22);
    uint64_t first = h->now;
    send_fragment(h, IPV4_PROTOCOL_UDP, 7, big_datagram, 0, 1480, true);
    TEST_ASSERT(net_stack_next_deadline(h->stack) == first + 30 * SEC, "deadline %llu",
                (unsigned long long)net_stack_next_deadline(h->stack));
    h->now = first + 20 * SEC;
    send_fragment(h, IPV4_PROTOCOL_UDP, 7, big_datagram, 1480, 1480, true);
    /* the time limit counts from the first fragment */
    TEST_ASSERT(net_stack_next_deadline(h->stack) == first + 30 * SEC, "deadline moved");
    host_timers(h, first + 30 * SEC - 1);
    host_expect_stats(h, "ipv4_in=2 fragments_in=2");
    host_timers(h, first + 30 * SEC);
    host_expect_stats(h, "reassembly_dropped=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "deadline left");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "the slot was not freed");
    /* the last piece now starts a datagram of its own, which never completes */
    send_fragment(h, IPV4_PROTOCOL_UDP, 7, big_datagram, 2960, total - 2960, false);
    expect_not_delivered(h, "after the timeout", "ipv4_in=1 fragments_in=1");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == h->now + 30 * SEC, "new deadline");
    host_timers(h, h->now + 30 * SEC);
    host_expect_stats(h, "reassembly_dropped=1");
    host_free(h, NULL);
}

static void test_reassembly_echo(void) {
    struct host *h = udp_host();
    learn(h, peer_mac, PEER_IP);
    /* a 1400-byte ping in 3 fragments is answered in one frame */
    static uint8_t message[1500];
    uint8_t data[1400];
    fill_pattern(data, sizeof data, 23);
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 0xbeef, 9, data, sizeof data);
    send_fragment(h, IPV4_PROTOCOL_ICMP, 0x55, message, 1000, m - 1000, false);
    send_fragment(h, IPV4_PROTOCOL_ICMP, 0x55, message, 0, 600, true);
    send_fragment(h, IPV4_PROTOCOL_ICMP, 0x55, message, 600, 400, true);
    struct sent_icmp reply;
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.id == 0xbeef && reply.sequence == 9, "id/sequence");
    TEST_ASSERT(reply.data_length == sizeof data && memcmp(reply.data, data, sizeof data) == 0, "data");
    host_expect_quiet(h, "after the reply");
    host_expect_stats(h, "ipv4_in=3 fragments_in=3 reassembled=1 icmp_in=1 echo_requests_in=1 echo_replies_out=1 "
                         "icmp_out=1 ipv4_out=1");
    host_free(h, NULL);
}

/* ================================== ICMP ================================== */

static void test_icmp_echo_reply(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    uint8_t data[56], message[64], frame[128];
    fill_pattern(data, sizeof data, 31);
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 0x4242, 7, data, sizeof data);
    struct ip_spec spec = IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP);
    spec.ttl = 1; /* a host does not drop TTL 1 (RFC 1122 3.2.1.7) */
    size_t n = build_ipv4(frame, our_mac, peer_mac, &spec, message, m);
    host_input(h, frame, n);
    struct sent_icmp reply;
    const struct captured *out = host_next(h);
    expect_icmp(out, peer_mac, PEER_IP, ICMP_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.id == 0x4242 && reply.sequence == 7, "id %04x sequence %u", reply.id, reply.sequence);
    TEST_ASSERT(reply.data_length == sizeof data && memcmp(reply.data, data, sizeof data) == 0, "echoed data");
    TEST_ASSERT(out->length == n, "reply of %zu bytes for a request of %zu", out->length, n);
    host_expect_quiet(h, "after the reply");
    host_expect_stats(h, "ipv4_in=1 icmp_in=1 echo_requests_in=1 echo_replies_out=1 icmp_out=1 ipv4_out=1 frames_out=1");
    /* odd data length: the checksum pads correctly */
    m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 1, 0xffff, data, 7);
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.id == 1 && reply.sequence == 0xffff && reply.data_length == 7 && memcmp(reply.data, data, 7) == 0,
                "odd echo");
    /* an unknown sender: the reply waits for ARP */
    n = build_ipv4(frame, our_mac, other_mac, &IP(OTHER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    expect_arp(host_next(h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, OTHER_IP);
    n = build_arp(frame, our_mac, other_mac, ARP_REPLY, other_mac, OTHER_IP, our_mac, OUR_IP);
    host_input(h, frame, n);
    expect_icmp(host_next(h), other_mac, OTHER_IP, ICMP_ECHO_REPLY, 0, &reply);
    host_free(h, NULL);
}

static void test_icmp_no_reply_to_broadcast(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    uint8_t data[8] = {0}, message[64], frame[128];
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 1, 1, data, sizeof data);
    size_t n = build_ipv4(frame, eth_broadcast, peer_mac, &IP(PEER_IP, IPV4_BROADCAST, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    n = build_ipv4(frame, eth_broadcast, peer_mac, &IP(PEER_IP, SUBNET_BROADCAST, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    /* to our address in a broadcast frame: answered (the IP destination decides) */
    host_expect_quiet(h, "broadcast pings");
    host_expect_stats(h, "ipv4_in=2 icmp_in=2 echo_requests_in=2");
    host_free(h, NULL);
}

static void test_icmp_bad_checksum(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    uint8_t data[20], message[64], frame[128];
    fill_pattern(data, sizeof data, 1);
    size_t m = build_icmp(message, ICMP_ECHO_REQUEST, 0, 1, 1, data, sizeof data);
    message[m - 1] ^= 1;
    size_t n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    /* shorter than an ICMP header */
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, 7);
    host_input(h, frame, n);
    host_expect_quiet(h, "bad ICMP");
    host_expect_stats(h, "ipv4_in=2 malformed=2");
    /* unknown types and errors are taken silently */
    m = build_icmp(message, ICMP_TIME_EXCEEDED, 0, 0, 0, data, sizeof data);
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    m = build_icmp(message, 42, 0, 0, 0, data, sizeof data);
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_ICMP), message, m);
    host_input(h, frame, n);
    host_expect_quiet(h, "other ICMP");
    host_expect_stats(h, "ipv4_in=2 icmp_in=2");
    host_free(h, NULL);
}

struct echo_rx {
    int count;
    uint32_t from;
    uint16_t id, sequence;
    uint8_t ttl;
    size_t length;
    uint8_t data[64];
};

static void record_echo(void *ctx, uint32_t from, uint16_t id, uint16_t sequence, const uint8_t *data, size_t length,
                        uint8_t ttl, uint64_t now_ns) {
    (void)now_ns;
    struct echo_rx *r = ctx;
    r->count++;
    r->from = from;
    r->id = id;
    r->sequence = sequence;
    r->ttl = ttl;
    r->length = MIN(length, sizeof r->data);
    memcpy(r->data, data, r->length);
}

static void test_icmp_echo_client(void) {
    struct host *h = host_default();
    learn(h, gw_mac, GW_IP);
    struct echo_rx a = {0}, b = {0};
    TEST_ASSERT(net_echo_listen(h->stack, 7, record_echo, &a) == 0, "listen 7");
    TEST_ASSERT(net_echo_listen(h->stack, 8, record_echo, &b) == 0, "listen 8");
    uint8_t data[24];
    fill_pattern(data, sizeof data, 5);
    /* the request */
    TEST_ASSERT(net_echo_send(h->stack, REMOTE_IP, 7, 3, data, sizeof data, h->now) == 0, "echo send");
    struct sent_icmp request;
    expect_icmp(host_next(h), gw_mac, REMOTE_IP, ICMP_ECHO_REQUEST, 0, &request);
    TEST_ASSERT(request.id == 7 && request.sequence == 3 && request.data_length == sizeof data &&
                    memcmp(request.data, data, sizeof data) == 0,
                "request fields");
    host_expect_stats(h, "icmp_out=1 ipv4_out=1");
    /* replies go to the listener of their id */
    uint8_t message[64], frame[128];
    size_t m = build_icmp(message, ICMP_ECHO_REPLY, 0, 7, 3, data, sizeof data);
    struct ip_spec spec = IP(REMOTE_IP, OUR_IP, IPV4_PROTOCOL_ICMP);
    spec.ttl = 55;
    size_t n = build_ipv4(frame, our_mac, gw_mac, &spec, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(a.count == 1 && b.count == 0, "delivered to %d/%d", a.count, b.count);
    TEST_ASSERT(a.from == REMOTE_IP && a.id == 7 && a.sequence == 3 && a.ttl == 55 && a.length == sizeof data &&
                    memcmp(a.data, data, sizeof data) == 0,
                "reply fields");
    m = build_icmp(message, ICMP_ECHO_REPLY, 0, 8, 1, data, 4);
    n = build_ipv4(frame, our_mac, gw_mac, &spec, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(a.count == 1 && b.count == 1 && b.sequence == 1 && b.length == 4, "second listener");
    /* nobody listens to 9; removing 7 stops its replies */
    m = build_icmp(message, ICMP_ECHO_REPLY, 0, 9, 1, data, 4);
    n = build_ipv4(frame, our_mac, gw_mac, &spec, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(net_echo_listen(h->stack, 7, NULL, NULL) == 0, "unlisten");
    m = build_icmp(message, ICMP_ECHO_REPLY, 0, 7, 4, data, 4);
    n = build_ipv4(frame, our_mac, gw_mac, &spec, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(a.count == 1 && b.count == 1, "delivered after unlisten");
    host_expect_quiet(h, "replies");
    host_expect_stats(h, "ipv4_in=4 icmp_in=4");
    /* eight listeners at most */
    for (uint16_t id = 100; id < 100 + ECHO_LISTENERS - 1; id++)
        TEST_ASSERT(net_echo_listen(h->stack, id, record_echo, &a) == 0, "listen %u", id);
    TEST_ASSERT(net_echo_listen(h->stack, 200, record_echo, &a) == ERR_BUSY, "ninth listener");
    TEST_ASSERT(net_echo_send(h->stack, PEER_IP, 1, 1, big_data, HOST_MTU - 28 + 1, h->now) == ERR_MSGSIZE, "msgsize");
    host_free(h, NULL);
}

static void test_icmp_port_unreachable(void) {
    struct host *h = udp_host();
    learn(h, peer_mac, PEER_IP);
    uint8_t data[20], frame[256];
    fill_pattern(data, sizeof data, 41);
    size_t n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, PEER_PORT, CLOSED_PORT, data, sizeof data);
    host_input(h, frame, n);
    struct sent_icmp error;
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_DEST_UNREACHABLE, ICMP_CODE_PORT_UNREACHABLE, &error);
    TEST_ASSERT(error.id == 0 && error.sequence == 0, "unused word %04x%04x", error.id, error.sequence);
    /* the offending IP header as received and the first 8 bytes of its data: the UDP header */
    TEST_ASSERT(error.data_length == 28, "quoted %zu bytes", error.data_length);
    TEST_ASSERT(memcmp(error.data, frame + ETH_HEADER_LEN, 28) == 0, "quote differs");
    host_expect_quiet(h, "after the error");
    host_expect_stats(h, "ipv4_in=1 udp_in=1 udp_no_port=1 port_unreachable_out=1 icmp_out=1 ipv4_out=1");

    /* with IP options: the whole header is quoted */
    uint8_t datagram[64];
    size_t d = build_udp(datagram, PEER_IP, OUR_IP, PEER_PORT, CLOSED_PORT, data, sizeof data);
    struct ip_spec spec = IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP);
    spec.options_length = 8;
    n = build_ipv4(frame, our_mac, peer_mac, &spec, datagram, d);
    host_input(h, frame, n);
    expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_DEST_UNREACHABLE, ICMP_CODE_PORT_UNREACHABLE, &error);
    TEST_ASSERT(error.data_length == 36 && memcmp(error.data, frame + ETH_HEADER_LEN, 36) == 0, "quote with options");
    host_mark(h);

    /* never about broadcasts */
    n = build_udp_frame(frame, peer_mac, PEER_IP, IPV4_BROADCAST, PEER_PORT, CLOSED_PORT, data, sizeof data);
    host_input(h, frame, n);
    n = build_udp_frame(frame, peer_mac, PEER_IP, SUBNET_BROADCAST, PEER_PORT, CLOSED_PORT, data, sizeof data);
    host_input(h, frame, n);
    host_expect_quiet(h, "broadcasts to closed ports");
    host_expect_stats(h, "ipv4_in=2 udp_in=2 udp_no_port=2");
    /* nor about datagrams from an address that names no host: dropped on the way in */
    n = build_udp_frame(frame, peer_mac, 0, OUR_IP, 68, CLOSED_PORT, data, sizeof data);
    host_input(h, frame, n);
    n = build_udp_frame(frame, peer_mac, IPV4_ADDR(127, 0, 0, 1), OUR_IP, 68, CLOSED_PORT, data, sizeof data);
    host_input(h, frame, n);
    host_expect_quiet(h, "from 0.0.0.0 and loopback");
    host_expect_stats(h, "ipv4_in=2 not_for_us=2");

    /* a fragmented datagram to a closed port, whatever the order it arrives in: the error
     * quotes the first fragment's header and the UDP header */
    size_t total = make_big_udp(CLOSED_PORT, 2000, 43);
    static const unsigned orders[2][2] = {{0, 1}, {1, 0}};
    for (int o = 0; o < 2; o++) {
        uint16_t id = (uint16_t)(0x300 + o);
        for (int k = 0; k < 2; k++) {
            size_t i = orders[o][k];
            send_fragment(h, IPV4_PROTOCOL_UDP, id, big_datagram, i * 1480, i == 0 ? 1480 : total - 1480, i == 0);
        }
        expect_icmp(host_next(h), peer_mac, PEER_IP, ICMP_DEST_UNREACHABLE, ICMP_CODE_PORT_UNREACHABLE, &error);
        TEST_ASSERT(error.data_length == 28, "order %d: quoted %zu bytes", o, error.data_length);
        struct ip_spec first = IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP);
        first.id = id;
        first.flags_offset = IPV4_FLAG_MF;
        uint8_t expected[ETH_FRAME_MAX];
        build_ipv4(expected, our_mac, peer_mac, &first, big_datagram, 1480);
        TEST_ASSERT(memcmp(error.data, expected + ETH_HEADER_LEN, 28) == 0, "order %d: the quote is not the first fragment's", o);
        host_expect_quiet(h, "after the error");
    }
    host_free(h, NULL);
}

/* =================================== UDP =================================== */

static void test_udp_bind(void) {
    struct host *h = host_default();
    uint16_t bound = 1;
    TEST_ASSERT(net_udp_bind(h->stack, 5000, record_udp, &rx, &bound) == 0 && bound == 5000, "bind 5000");
    TEST_ASSERT(net_udp_bind(h->stack, 5000, record_udp, &rx, NULL) == ERR_ADDRINUSE, "bind 5000 twice");
    TEST_ASSERT(net_udp_bind(h->stack, 5001, NULL, NULL, NULL) == ERR_INVAL, "no callback");
    net_udp_unbind(h->stack, 5000);
    net_udp_unbind(h->stack, 5000); /* harmless */
    net_udp_unbind(h->stack, 0);
    TEST_ASSERT(net_udp_bind(h->stack, 5000, record_udp, &rx, NULL) == 0, "bind 5000 again");
    for (uint16_t port = 1; port < UDP_SOCKETS; port++)
        TEST_ASSERT(net_udp_bind(h->stack, port, record_udp, &rx, NULL) == 0, "bind %u", port);
    TEST_ASSERT(net_udp_bind(h->stack, 6000, record_udp, &rx, NULL) == ERR_BUSY, "a 33rd socket");
    TEST_ASSERT(net_udp_bind(h->stack, 0, record_udp, &rx, NULL) == ERR_BUSY, "a 33rd ephemeral socket");
    TEST_ASSERT(net_udp_bind(h->stack, 5, record_udp, &rx, NULL) == ERR_ADDRINUSE, "taken beats full");
    host_free(h, NULL);
}

static void test_udp_ephemeral(void) {
    struct host *h = host_default();
    uint16_t seen[20];
    for (int i = 0; i < 20; i++) {
        TEST_ASSERT(net_udp_bind(h->stack, 0, record_udp, &rx, &seen[i]) == 0, "ephemeral %d", i);
        TEST_ASSERT(seen[i] >= 49152, "ephemeral port %u", seen[i]);
        for (int j = 0; j < i; j++) TEST_ASSERT(seen[i] != seen[j], "port %u twice", seen[i]);
    }
    for (int i = 0; i < 20; i++) net_udp_unbind(h->stack, seen[i]);
    /* the cursor wraps from 65535 to 49152 and skips ports in use */
    TEST_ASSERT(net_udp_bind(h->stack, 65535, record_udp, &rx, NULL) == 0, "bind 65535");
    TEST_ASSERT(net_udp_bind(h->stack, 49152, record_udp, &rx, NULL) == 0, "bind 49152");
    h->stack->next_ephemeral_port = 65534;
    uint16_t port;
    TEST_ASSERT(net_udp_bind(h->stack, 0, record_udp, &rx, &port) == 0 && port == 65534, "got %u", port);
    TEST_ASSERT(net_udp_bind(h->stack, 0, record_udp, &rx, &port) == 0 && port == 49153, "got %u", port);
    host_free(h, NULL);
}

static void test_udp_delivery(void) {
    struct host *h = udp_host();
    uint8_t data[100], frame[256];
    fill_pattern(data, sizeof data, 51);
    size_t n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, sizeof data);
    host_input(h, frame, n);
    expect_received(PEER_IP, 1234, OUR_IP, data, sizeof data);
    TEST_ASSERT(rx.at == h->now, "time");
    /* an empty datagram */
    n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, 0);
    host_input(h, frame, n);
    expect_received(PEER_IP, 1234, OUR_IP, data, 0);
    /* to another bound port: its own callback */
    struct udp_rx *other = calloc(1, sizeof *other);
    TEST_ASSERT(net_udp_bind(h->stack, 5001, record_udp, other, NULL) == 0, "bind 5001");
    n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, 1234, 5001, data, 10);
    host_input(h, frame, n);
    TEST_ASSERT(other->count == 1 && other->length == 10 && rx.count == 0, "port 5001");
    free(other);
    /* destination port 0 is nobody's */
    n = build_udp_frame(frame, peer_mac, PEER_IP, IPV4_BROADCAST, 1234, 0, data, 10);
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 0, "port 0");
    host_expect_quiet(h, "deliveries");
    host_expect_stats(h, "ipv4_in=4 udp_in=4 udp_no_port=1");
    host_free(h, NULL);
}

static void test_udp_checksums(void) {
    struct host *h = udp_host();
    uint8_t data[33], frame[256];
    fill_pattern(data, sizeof data, 61);
    size_t n = build_udp_frame(frame, peer_mac, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, sizeof data);
    uint8_t *udp = frame + ETH_HEADER_LEN + 20;
    /* 0: no checksum computed, accepted */
    uint8_t saved[2] = {udp[6], udp[7]};
    udp[6] = udp[7] = 0;
    host_input(h, frame, n);
    expect_received(PEER_IP, 1234, OUR_IP, data, sizeof data);
    udp[6] = saved[0];
    udp[7] = saved[1];
    /* one bit anywhere in the datagram, or in the pseudo-header */
    size_t flips = 0;
    for (size_t bit = 0; bit < (8 + sizeof data) * 8; bit++) {
        if (bit / 8 == 4 || bit / 8 == 5) continue; /* the length field: a length error instead */
        flips++;
        udp[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        host_input(h, frame, n);
        udp[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    TEST_ASSERT(rx.count == 0, "a corrupted datagram was delivered");
    char counters[80];
    snprintf(counters, sizeof counters, "ipv4_in=%zu udp_in=1 udp_bad_checksum=%zu", flips + 1, flips);
    host_expect_stats(h, counters);
    frame[ETH_HEADER_LEN + 12] ^= 0x01; /* the source address, with the IP checksum fixed */
    fix_ipv4_checksum(frame);
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 0, "pseudo-header not covered");
    host_expect_quiet(h, "bad checksums");
    host_expect_stats(h, "ipv4_in=1 udp_bad_checksum=1");
    host_free(h, NULL);
}

static void test_udp_length_field(void) {
    struct host *h = udp_host();
    uint8_t data[30], frame[256];
    fill_pattern(data, sizeof data, 71);
    /* a datagram of 8 + 10 bytes carried in an IP payload of 8 + 30: the length field rules */
    uint8_t datagram[64];
    build_udp(datagram, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, 10);
    fill_pattern(datagram + 18, 20, 99); /* trailing junk inside the IP payload */
    size_t n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP), datagram, 38);
    host_input(h, frame, n);
    expect_received(PEER_IP, 1234, OUR_IP, data, 10);
    host_expect_stats(h, "ipv4_in=1 udp_in=1");
    /* a length field past the IP payload is refused, even with a matching checksum */
    build_udp(datagram, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, 30);
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP), datagram, 37);
    host_input(h, frame, n);
    /* below the header */
    for (uint8_t length = 0; length < 8; length++) {
        build_udp(datagram, PEER_IP, OUR_IP, 1234, BOUND_PORT, data, 10);
        datagram[4] = 0;
        datagram[5] = length;
        datagram[6] = datagram[7] = 0;
        n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP), datagram, 18);
        host_input(h, frame, n);
    }
    /* shorter than a header */
    n = build_ipv4(frame, our_mac, peer_mac, &IP(PEER_IP, OUR_IP, IPV4_PROTOCOL_UDP), datagram, 7);
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 0, "a bad length was delivered");
    host_expect_quiet(h, "bad lengths");
    host_expect_stats(h, "ipv4_in=10 malformed=10");
    host_free(h, NULL);
}

/* UDP's own handling of IPv6 datagrams, given straight to udp_input as the IPv6 layer would:
 * delivery with the addresses, RFC 8200 §8.1's mandatory checksum, and who gets a port
 * unreachable. (Frames over IPv6 are the IPv6 layer's tests.) */

/* An IPv6 packet (a bare 40-byte header and the datagram) from `source` to `destination`. */
static size_t build_udp6(uint8_t *packet, const struct ip_addr *source, const struct ip_addr *destination,
                         uint16_t destination_port, size_t data_length) {
    memset(packet, 0, 40);
    packet[0] = 0x60;
    packet[4] = (uint8_t)((UDP_HEADER_LEN + data_length) >> 8);
    packet[5] = (uint8_t)(UDP_HEADER_LEN + data_length);
    packet[6] = 17;
    packet[7] = 64;
    memcpy(packet + 8, source->v6, 16);
    memcpy(packet + 24, destination->v6, 16);
    fill_pattern(packet + 40 + UDP_HEADER_LEN, data_length, 7);
    udp_write(packet + 40, PEER_PORT, destination_port, data_length, source, destination);
    return 40 + UDP_HEADER_LEN + data_length;
}

static void test_udp_ipv6_input(void) {
    struct host *h = host_default();
    struct udp_received got = {0};
    TEST_ASSERT(net_udp_bind(h->stack, BOUND_PORT, record_udp_any_family, &got, NULL) == 0, "bind");
    struct ip_addr peer, us, group, peer4 = ip_addr_from_v4(PEER_IP), us4 = ip_addr_from_v4(OUR_IP);
    TEST_ASSERT(ip_addr_parse("fec0::2", &peer) == 0 && ip_addr_parse("fec0::15", &us) == 0 &&
                    ip_addr_parse("ff02::1", &group) == 0,
                "parse");
    uint8_t packet[40 + UDP_HEADER_LEN + 100];
    struct net_stack_stats before, after;
    net_stack_get_stats(h->stack, &before);
    size_t n = build_udp6(packet, &peer, &us, BOUND_PORT, 100);
    udp_input(h->stack, &peer, &us, packet, n, packet + 40, n - 40, h->now);
    TEST_ASSERT(got.count == 1 && got.length == 100 && got.source_port == PEER_PORT, "not delivered");
    TEST_ASSERT(ip_addr_equal(&got.source, &peer) && ip_addr_equal(&got.destination, &us), "addresses");
    /* a zero checksum is refused over IPv6, so is one over the IPv4 pseudo-header */
    packet[40 + 6] = packet[40 + 7] = 0;
    udp_input(h->stack, &peer, &us, packet, n, packet + 40, n - 40, h->now);
    n = build_udp6(packet, &peer, &us, BOUND_PORT, 100);
    udp_write(packet + 40, PEER_PORT, BOUND_PORT, 100, &peer4, &us4);
    udp_input(h->stack, &peer, &us, packet, n, packet + 40, n - 40, h->now);
    TEST_ASSERT(got.count == 1, "a datagram with a bad checksum was delivered");
    net_stack_get_stats(h->stack, &after);
    TEST_ASSERT(after.udp_in - before.udp_in == 1 && after.udp_bad_checksum - before.udp_bad_checksum == 2,
                "udp_in +%llu, udp_bad_checksum +%llu", (unsigned long long)(after.udp_in - before.udp_in),
                (unsigned long long)(after.udp_bad_checksum - before.udp_bad_checksum));
    /* a closed port: port unreachable (ICMPv6) for a unicast destination, nothing for multicast */
    n = build_udp6(packet, &peer, &us, CLOSED_PORT, 10);
    udp_input(h->stack, &peer, &us, packet, n, packet + 40, n - 40, h->now);
    n = build_udp6(packet, &peer, &group, CLOSED_PORT, 10);
    udp_input(h->stack, &peer, &group, packet, n, packet + 40, n - 40, h->now);
    net_stack_get_stats(h->stack, &before);
    TEST_ASSERT(before.udp_no_port - after.udp_no_port == 2 && before.port_unreachable_out - after.port_unreachable_out == 1,
                "udp_no_port +%llu, port_unreachable_out +%llu", (unsigned long long)(before.udp_no_port - after.udp_no_port),
                (unsigned long long)(before.port_unreachable_out - after.port_unreachable_out));
    TEST_ASSERT(got.count == 1, "delivered to the wrong port");
    /* sending to IP_FAMILY_ANY is the caller's mistake */
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(net_udp_send(h->stack, BOUND_PORT, &any, 53, packet, 10, h->now) == ERR_INVAL, "send to ANY");
    net_udp_unbind(h->stack, BOUND_PORT);
    host_free(h, NULL);
}

static void test_udp_send(void) {
    struct host *h = host_default();
    learn(h, peer_mac, PEER_IP);
    uint8_t data[HOST_MTU];
    fill_pattern(data, sizeof data, 81);
    TEST_ASSERT(udp_send_v4(h->stack, 5353, PEER_IP, 53, data, 101, h->now) == 0, "send");
    struct sent_udp udp;
    const struct captured *frame = host_next(h);
    expect_udp(frame, peer_mac, OUR_IP, PEER_IP, 5353, 53, &udp);
    TEST_ASSERT(udp.data_length == 101 && memcmp(udp.data, data, 101) == 0, "data");
    TEST_ASSERT(frame->length == 14 + 20 + 8 + 101, "frame length %zu", frame->length);
    host_expect_stats(h, "udp_out=1 ipv4_out=1 frames_out=1");
    /* successive datagrams get successive IP ids */
    TEST_ASSERT(udp_send_v4(h->stack, 5353, PEER_IP, 53, data, 0, h->now) == 0, "empty datagram");
    struct sent_udp second;
    expect_udp(host_next(h), peer_mac, OUR_IP, PEER_IP, 5353, 53, &second);
    TEST_ASSERT(second.data_length == 0, "empty");
    TEST_ASSERT(second.ipv4.ip.id == (uint16_t)(udp.ipv4.ip.id + 1), "ids %u %u", udp.ipv4.ip.id, second.ipv4.ip.id);
    /* data whose checksum computes to 0 is sent with 0xffff */
    uint8_t zero_sum[10] = {1, 2, 3, 4, 5, 6, 7, 8, 0, 0};
    uint8_t probe[18];
    build_udp(probe, OUR_IP, PEER_IP, 5353, 53, zero_sum, sizeof zero_sum);
    probe[6] = probe[7] = 0;
    uint16_t sum = ref_checksum(probe, sizeof probe, ref_pseudo(OUR_IP, PEER_IP, 17, sizeof probe));
    zero_sum[8] = (uint8_t)(sum >> 8);
    zero_sum[9] = (uint8_t)sum;
    TEST_ASSERT(udp_send_v4(h->stack, 5353, PEER_IP, 53, zero_sum, sizeof zero_sum, h->now) == 0, "send");
    expect_udp(host_next(h), peer_mac, OUR_IP, PEER_IP, 5353, 53, &udp);
    TEST_ASSERT(udp.ipv4.payload[6] == 0xff && udp.ipv4.payload[7] == 0xff, "checksum 0 not sent as ffff: %02x%02x",
                udp.ipv4.payload[6], udp.ipv4.payload[7]);
    /* the largest datagram fills the MTU; one byte more is refused */
    TEST_ASSERT(udp_send_v4(h->stack, 5353, PEER_IP, 53, data, HOST_MTU - 28, h->now) == 0, "MTU-28");
    frame = host_next(h);
    expect_udp(frame, peer_mac, OUR_IP, PEER_IP, 5353, 53, &udp);
    TEST_ASSERT(frame->length == ETH_FRAME_MAX && memcmp(udp.data, data, HOST_MTU - 28) == 0, "full frame");
    int err = udp_send_v4(h->stack, 5353, PEER_IP, 53, data, HOST_MTU - 27, h->now);
    TEST_ASSERT(err == ERR_MSGSIZE, "MTU-27: %s", err_name(err));
    host_expect_quiet(h, "after ERR_MSGSIZE");
    host_expect_stats(h, "udp_out=3 ipv4_out=3 frames_out=3");
    /* a transmit error is counted, and the send still succeeded as far as UDP knows */
    h->transmit_result = ERR_BUSY;
    TEST_ASSERT(udp_send_v4(h->stack, 5353, PEER_IP, 53, data, 10, h->now) == 0, "send into a busy device");
    h->transmit_result = 0;
    host_expect_stats(h, "udp_out=1 ipv4_out=1 transmit_errors=1 frames_out=0");
    host_free(h, NULL);
}

static void test_udp_smaller_mtu(void) {
    TEST_ASSERT(net_stack_new(our_mac, 575, host_transmit_unused, NULL) == NULL, "MTU 575 accepted");
    TEST_ASSERT(net_stack_new(our_mac, 1501, host_transmit_unused, NULL) == NULL, "MTU 1501 accepted");
    /* a 576-byte link: 548 bytes of UDP data at most (frames are checked against the MTU) */
    struct host *h = host_new_mtu(576, OUR_IP, OUR_PREFIX, GW_IP);
    TEST_ASSERT(net_ipv4_max_payload(h->stack) == 556, "max payload %zu", net_ipv4_max_payload(h->stack));
    uint8_t data[600] = {0};
    TEST_ASSERT(udp_send_v4(h->stack, 1, IPV4_BROADCAST, 2, data, 548, h->now) == 0, "548");
    struct sent_udp udp;
    expect_udp(host_next(h), eth_broadcast, OUR_IP, IPV4_BROADCAST, 1, 2, &udp);
    TEST_ASSERT(udp_send_v4(h->stack, 1, IPV4_BROADCAST, 2, data, 549, h->now) == ERR_MSGSIZE, "549");
    host_expect_quiet(h, "after ERR_MSGSIZE");
    host_free(h, NULL);
}

const struct test_case stack_tests[] = {
    {"arp-request-for-us", test_arp_request_for_us},
    {"arp-request-for-others", test_arp_request_for_others},
    {"arp-request-for-others-refreshes", test_arp_request_for_others_refreshes},
    {"arp-resolve-queue-flush", test_arp_resolve_queue_flush},
    {"arp-retries-then-drop", test_arp_retries_then_drop},
    {"arp-queue-limit", test_arp_queue_limit},
    {"arp-out-of-memory", test_arp_out_of_memory},
    {"arp-announce", test_arp_announce},
    {"arp-off-link-via-gateway", test_arp_off_link_via_gateway},
    {"arp-no-gateway", test_arp_no_gateway},
    {"arp-stale-reconfirmed", test_arp_stale_reconfirmed},
    {"arp-ignored-senders", test_arp_ignored_senders},
    {"ipv4-valid", test_ipv4_valid},
    {"ipv4-bad-headers", test_ipv4_bad_headers},
    {"ipv4-addresses", test_ipv4_addresses},
    {"ipv4-padding-and-options", test_ipv4_padding_and_options},
    {"ipv4-before-address", test_ipv4_before_address},
    {"reassembly-in-order", test_reassembly_in_order},
    {"reassembly-out-of-order", test_reassembly_out_of_order},
    {"reassembly-udp-checksum", test_reassembly_udp_checksum},
    {"reassembly-overlap", test_reassembly_overlap},
    {"reassembly-fragment-limit", test_reassembly_fragment_limit},
    {"reassembly-size-limit", test_reassembly_size_limit},
    {"reassembly-slots", test_reassembly_slots},
    {"reassembly-timeout", test_reassembly_timeout},
    {"reassembly-echo", test_reassembly_echo},
    {"icmp-echo-reply", test_icmp_echo_reply},
    {"icmp-no-reply-to-broadcast", test_icmp_no_reply_to_broadcast},
    {"icmp-bad-checksum", test_icmp_bad_checksum},
    {"icmp-echo-client", test_icmp_echo_client},
    {"icmp-port-unreachable", test_icmp_port_unreachable},
    {"udp-bind", test_udp_bind},
    {"udp-ephemeral", test_udp_ephemeral},
    {"udp-delivery", test_udp_delivery},
    {"udp-checksums", test_udp_checksums},
    {"udp-length-field", test_udp_length_field},
    {"udp-send", test_udp_send},
    {"udp-ipv6-input", test_udp_ipv6_input},
    {"udp-smaller-mtu", test_udp_smaller_mtu},
};
const size_t stack_test_count = ARRAY_SIZE(stack_tests);
