/*
 * test/net/ipv6_tests.c: IPv6 (extension headers, reassembly), ICMPv6 (echo, errors, rate
 * limit), Neighbor Discovery (NS/NA, the neighbor cache's states, DAD) and SLAAC of net/stack.h,
 * each a scripted exchange on a simulated link (stack_harness.h): frames built here byte by
 * byte, checksums by the reference sum, and exact expectations on what the stack sends.
 *
 * The link is slirp's IPv6 layout: the router fe80::2 (52:56:00:00:00:02) advertises fec0::/64,
 * the host is fec0::2; we are 52:54:00:12:34:56, so fe80::5054:ff:fe12:3456 and, by SLAAC,
 * fec0::5054:ff:fe12:3456; a neighbor fe80::3 has peer_mac.
 */
#include <stdlib.h>
#include <string.h>

#include "net/stack_internal.h" /* the neighbor cache's states and the caps */
#include "net/tcp/tcp.h"
#include "stack_harness.h"
#include "net/wire/bytes.h"

static const uint8_t our_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
static const uint8_t our_sn[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0x12, 0x34, 0x56};
static const uint8_t our_global[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
static const uint8_t router_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t router_mac[6] = {0x52, 0x56, 0x00, 0x00, 0x00, 0x02};
static const uint8_t peer_ll[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
static const uint8_t host6[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t dns6[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
static const uint8_t static6[16] = {0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15};
static const uint8_t remote6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t all_routers[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t unspecified[16];

#define ECHO_ID 0x4242


static const char *text6(const uint8_t address[16], char buffer[IP_ADDR_TEXT_MAX]) {
    struct ip_addr a = ip_addr_from_v6(address);
    return ip_addr_format(&a, buffer, IP_ADDR_TEXT_MAX);
}

static void group_mac(const uint8_t address[16], uint8_t mac[6]) {
    mac[0] = mac[1] = 0x33;
    memcpy(mac + 2, address + 12, 4);
}

static void solicited(const uint8_t address[16], uint8_t group[16]) {
    memcpy(group, our_sn, 13);
    memcpy(group + 13, address + 13, 3);
}

/* ---- building ---- */

static uint32_t ref_pseudo6(const uint8_t source[16], const uint8_t destination[16], uint8_t next, size_t length) {
    uint32_t sum = 0;
    for (int i = 0; i < 16; i += 2) sum += wire_get16(source + i) + wire_get16(destination + i);
    return sum + (uint32_t)(length >> 16) + (uint32_t)(length & 0xffff) + next;
}

/* An ICMPv6 message with a correct checksum for source -> destination. */
static size_t icmp6(uint8_t *out, const uint8_t source[16], const uint8_t destination[16], uint8_t type, uint8_t code,
                    uint32_t word, const uint8_t *body, size_t body_length) {
    memmove(out + 8, body, body_length);
    out[0] = type;
    out[1] = code;
    wire_put16(out + 2, 0);
    wire_put32(out + 4, word);
    wire_put16(out + 2, ref_checksum(out, 8 + body_length, ref_pseudo6(source, destination, 58, 8 + body_length)));
    return 8 + body_length;
}

/* A frame from `mac`/`source` to `destination` (our MAC, or the group's for multicast): the
 * header naming `next`, then `headers` (extension headers, their next fields already set), then
 * the upper layer. */
static size_t frame6(uint8_t *frame, const uint8_t mac[6], const uint8_t source[16], const uint8_t destination[16], uint8_t hop,
                     uint8_t next, const uint8_t *headers, size_t headers_length, const uint8_t *upper, size_t upper_length) {
    uint8_t destination_mac[6];
    if (destination[0] == 0xff) group_mac(destination, destination_mac);
    else memcpy(destination_mac, our_mac, 6);
    uint8_t *p = frame + build_eth(frame, destination_mac, mac, ETHERTYPE_IPV6);
    size_t payload = headers_length + upper_length;
    TEST_ASSERT(payload <= 65535 && payload + 54 <= ETH_FRAME_MAX + 64, "packet too long");
    p[0] = 0x60;
    p[1] = p[2] = p[3] = 0;
    wire_put16(p + 4, (uint16_t)payload);
    p[6] = next;
    p[7] = hop;
    memcpy(p + 8, source, 16);
    memcpy(p + 24, destination, 16);
    if (headers_length > 0) memcpy(p + 40, headers, headers_length);
    memmove(p + 40 + headers_length, upper, upper_length);
    return ETH_HEADER_LEN + 40 + payload;
}

static size_t echo_request_frame(uint8_t *frame, const uint8_t source[16], const uint8_t destination[16], uint16_t sequence,
                                 size_t data_length) {
    uint8_t data[1500], message[1600];
    fill_pattern(data, data_length, sequence);
    size_t m = icmp6(message, source, destination, ICMPV6_ECHO_REQUEST, 0, (uint32_t)ECHO_ID << 16 | sequence, data, data_length);
    return frame6(frame, peer_mac, source, destination, 64, 58, NULL, 0, message, m);
}

/* ND messages: the fixed part, then options (already laid out). */
static size_t nd_frame(uint8_t *frame, const uint8_t mac[6], const uint8_t source[16], const uint8_t destination[16], uint8_t hop,
                       uint8_t type, uint32_t word, const uint8_t *fixed, size_t fixed_length, const uint8_t *options,
                       size_t options_length) {
    uint8_t body[1400], message[1500];
    memcpy(body, fixed, fixed_length);
    if (options_length > 0) memcpy(body + fixed_length, options, options_length);
    size_t m = icmp6(message, source, destination, type, 0, word, body, fixed_length + options_length);
    return frame6(frame, mac, source, destination, hop, 58, NULL, 0, message, m);
}

static size_t link_option(uint8_t *out, uint8_t type, const uint8_t mac[6]) {
    out[0] = type;
    out[1] = 1;
    memcpy(out + 2, mac, 6);
    return 8;
}

static size_t ns_frame(uint8_t *frame, const uint8_t mac[6], const uint8_t source[16], const uint8_t destination[16],
                       const uint8_t target[16], const uint8_t *source_mac) {
    uint8_t options[8];
    size_t n = source_mac != NULL ? link_option(options, 1, source_mac) : 0;
    return nd_frame(frame, mac, source, destination, 255, ICMPV6_NEIGHBOR_SOLICITATION, 0, target, 16, options, n);
}

static size_t na_frame(uint8_t *frame, const uint8_t mac[6], const uint8_t source[16], const uint8_t destination[16],
                       uint32_t flags, const uint8_t target[16], const uint8_t *target_mac) {
    uint8_t options[8];
    size_t n = target_mac != NULL ? link_option(options, 2, target_mac) : 0;
    return nd_frame(frame, mac, source, destination, 255, ICMPV6_NEIGHBOR_ADVERTISEMENT, flags, target, 16, options, n);
}

struct ra_spec {
    uint16_t router_lifetime_s;
    uint32_t reachable_ms, retrans_ms;
    uint8_t hop_limit;
    bool has_prefix;
    uint8_t prefix_length, prefix_flags; /* 0xc0: L and A */
    uint32_t valid_s, preferred_s;
    const uint8_t *prefix;
    uint32_t mtu;                   /* 0: no option */
    uint32_t rdnss_lifetime_s;      /* 0 with rdnss NULL: no option */
    const uint8_t *rdnss;
};

/* slirp's RA: SLLA, prefix fec0::/64 L+A, RDNSS fec0::3 (and here an MTU option). */
static struct ra_spec slirp_ra(void) {
    return (struct ra_spec){.router_lifetime_s = 1800, .hop_limit = 64, .has_prefix = true, .prefix_length = 64,
                            .prefix_flags = 0xc0, .valid_s = 86400, .preferred_s = 14400, .prefix = host6, .mtu = 1500,
                            .rdnss_lifetime_s = 3600, .rdnss = dns6};
}

static size_t ra_frame(uint8_t *frame, const uint8_t source[16], const struct ra_spec *ra) {
    uint8_t fixed[8], options[128];
    wire_put32(fixed, ra->reachable_ms);
    wire_put32(fixed + 4, ra->retrans_ms);
    size_t n = link_option(options, 1, router_mac);
    if (ra->has_prefix) {
        uint8_t *o = options + n;
        memset(o, 0, 32);
        o[0] = 3, o[1] = 4, o[2] = ra->prefix_length, o[3] = ra->prefix_flags;
        wire_put32(o + 4, ra->valid_s);
        wire_put32(o + 8, ra->preferred_s);
        memcpy(o + 16, ra->prefix, 8); /* the prefix's first 64 bits, the rest zero */
        n += 32;
    }
    if (ra->mtu != 0) {
        uint8_t *o = options + n;
        o[0] = 5, o[1] = 1, o[2] = o[3] = 0;
        wire_put32(o + 4, ra->mtu);
        n += 8;
    }
    if (ra->rdnss != NULL) {
        uint8_t *o = options + n;
        o[0] = 25, o[1] = 3, o[2] = o[3] = 0;
        wire_put32(o + 4, ra->rdnss_lifetime_s);
        memcpy(o + 8, ra->rdnss, 16);
        n += 24;
    }
    uint32_t word = (uint32_t)ra->hop_limit << 24 | ra->router_lifetime_s;
    return nd_frame(frame, router_mac, source, all_nodes, 255, ICMPV6_ROUTER_ADVERTISEMENT, word, fixed, 8, options, n);
}

/* ---- checking ---- */

struct sent6 {
    const uint8_t *packet;
    uint8_t hop_limit, next;
    const uint8_t *payload; /* after the fixed header */
    size_t payload_length;
};

/* An IPv6 frame from us: Ethernet to `eth_destination` (NULL: the group's MAC), version 6 with
 * traffic class and flow label 0, the payload length equal to the frame's, the addresses, next
 * header and hop limit. */
static void expect6(const struct captured *frame, const uint8_t *eth_destination, const uint8_t source[16],
                    const uint8_t destination[16], uint8_t next, uint8_t hop_limit, struct sent6 *out) {
    char a[IP_ADDR_TEXT_MAX], b[IP_ADDR_TEXT_MAX];
    TEST_ASSERT(frame->length >= ETH_HEADER_LEN + 40, "IPv6 frame of %zu bytes", frame->length);
    const uint8_t *f = frame->bytes;
    TEST_ASSERT(wire_get16(f + 12) == ETHERTYPE_IPV6, "expected IPv6, got type %04x", wire_get16(f + 12));
    uint8_t mac[6];
    if (eth_destination == NULL) group_mac(destination, mac);
    else memcpy(mac, eth_destination, 6);
    TEST_ASSERT(memcmp(f, mac, 6) == 0, "IPv6 frame to %02x:%02x:%02x:%02x:%02x:%02x", f[0], f[1], f[2], f[3], f[4], f[5]);
    TEST_ASSERT(memcmp(f + 6, our_mac, 6) == 0, "IPv6 frame not from our MAC");
    const uint8_t *p = f + ETH_HEADER_LEN;
    TEST_ASSERT(p[0] == 0x60 && p[1] == 0 && p[2] == 0 && p[3] == 0, "version/class/flow %02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
    TEST_ASSERT(wire_get16(p + 4) == frame->length - ETH_HEADER_LEN - 40, "payload length %u in a %zu-byte frame", wire_get16(p + 4),
                frame->length);
    TEST_ASSERT(memcmp(p + 8, source, 16) == 0, "source %s, expected %s", text6(p + 8, a), text6(source, b));
    TEST_ASSERT(memcmp(p + 24, destination, 16) == 0, "destination %s, expected %s", text6(p + 24, a), text6(destination, b));
    TEST_ASSERT(p[6] == next, "next header %u, expected %u", p[6], next);
    TEST_ASSERT(p[7] == hop_limit, "hop limit %u, expected %u", p[7], hop_limit);
    out->packet = p;
    out->hop_limit = p[7];
    out->next = p[6];
    out->payload = p + 40;
    out->payload_length = wire_get16(p + 4);
}

struct sent_icmp6 {
    struct sent6 ip;
    uint32_t word;
    const uint8_t *body;
    size_t body_length;
};

static void expect_icmp6(const struct captured *frame, const uint8_t *eth_destination, const uint8_t source[16],
                         const uint8_t destination[16], uint8_t hop_limit, uint8_t type, uint8_t code, struct sent_icmp6 *out) {
    expect6(frame, eth_destination, source, destination, 58, hop_limit, &out->ip);
    const uint8_t *m = out->ip.payload;
    size_t n = out->ip.payload_length;
    TEST_ASSERT(n >= 8, "ICMPv6 message of %zu bytes", n);
    TEST_ASSERT(ref_checksum(m, n, ref_pseudo6(source, destination, 58, n)) == 0, "ICMPv6 checksum wrong (reference)");
    TEST_ASSERT(m[0] == type && m[1] == code, "ICMPv6 type %u code %u, expected %u/%u", m[0], m[1], type, code);
    out->word = wire_get32(m + 4);
    out->body = m + 8;
    out->body_length = n - 8;
}

/* A neighbor solicitation from us for `target`: multicast to its solicited-node group (unicast:
 * to the target at `unicast_mac`), from `source`, with our link-layer address unless from ::. */
static void expect_ns(const struct captured *frame, const uint8_t source[16], const uint8_t target[16], const uint8_t *unicast_mac) {
    uint8_t group[16];
    solicited(target, group);
    struct sent_icmp6 ns;
    expect_icmp6(frame, unicast_mac, source, unicast_mac != NULL ? target : group, 255, ICMPV6_NEIGHBOR_SOLICITATION, 0, &ns);
    TEST_ASSERT(ns.word == 0, "NS reserved word %08x", ns.word);
    bool from_unspecified = memcmp(source, unspecified, 16) == 0;
    TEST_ASSERT(ns.body_length == (from_unspecified ? 16u : 24u), "NS of %zu bytes", ns.body_length + 8);
    TEST_ASSERT(memcmp(ns.body, target, 16) == 0, "NS target");
    if (!from_unspecified)
        TEST_ASSERT(ns.body[16] == 1 && ns.body[17] == 1 && memcmp(ns.body + 18, our_mac, 6) == 0, "NS source link-layer option");
}

/* ---- hosts ---- */

static struct host *v6_host(bool autoconf) {
    struct host *h = host_default();
    int err = net_ipv6_start(h->stack, autoconf, h->now);
    TEST_ASSERT(err == 0, "net_ipv6_start: %s", err_name(err));
    return h;
}

static enum net_ipv6_state state_of(struct host *h, const uint8_t address[16]) {
    struct net_ipv6_address list[IPV6_ADDRESSES];
    size_t n = net_ipv6_addresses(h->stack, list, IPV6_ADDRESSES);
    for (size_t i = 0; i < n && i < IPV6_ADDRESSES; i++)
        if (memcmp(list[i].address, address, 16) == 0) return list[i].state;
    return NET_IPV6_FREE;
}

/* Runs the timers from deadline to deadline until `address` is PREFERRED (within 10 s). */
static void settle(struct host *h, const uint8_t address[16]) {
    uint64_t limit = h->now + 10 * SEC;
    while (state_of(h, address) != NET_IPV6_PREFERRED) {
        uint64_t next = net_stack_next_deadline(h->stack);
        TEST_ASSERT(next <= limit, "the address did not become preferred in 10 s");
        host_timers(h, MAX(next, h->now));
    }
}

/* A host without autoconfiguration whose link-local address is preferred; quiet, counters marked. */
static struct host *ready_host(void) {
    struct host *h = v6_host(false);
    settle(h, our_ll);
    host_clear(h);
    host_mark(h);
    return h;
}

/* Resolves `ip` at `mac`: the stack solicits (for a packet the test made it send), and a
 * solicited NA answers. */
static void answer_ns(struct host *h, const uint8_t source[16], const uint8_t ip[16], const uint8_t mac[6]) {
    expect_ns(host_next(h), source, ip, NULL);
    uint8_t frame[200];
    size_t n = na_frame(frame, mac, ip, source, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, ip, mac);
    host_input(h, frame, n);
}

/* The neighbor fe80::3 becomes REACHABLE (an echo request out and its resolution). */
static void reach_peer(struct host *h) {
    uint8_t data[4] = {1, 2, 3, 4};
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, 1, 1, data, sizeof data, h->now) == 0, "echo send");
    answer_ns(h, our_ll, peer_ll, peer_mac);
    struct sent_icmp6 request;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_ECHO_REQUEST, 0, &request);
    host_expect_quiet(h, "after resolving the peer");
    host_mark(h);
}

static struct ndp_entry *neighbor(struct host *h, const uint8_t ip[16]) {
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        struct ndp_entry *e = &h->stack->ipv6.neighbors[i];
        if (e->state != NDP_FREE && memcmp(e->ip, ip, 16) == 0) return e;
    }
    return NULL;
}

/* An echo reply from us to the peer for the request made by echo_request_frame. */
static void expect_echo_reply(struct host *h, const uint8_t source[16], uint16_t sequence, size_t data_length) {
    struct sent_icmp6 reply;
    expect_icmp6(host_next(h), peer_mac, source, peer_ll, 64, ICMPV6_ECHO_REPLY, 0, &reply);
    TEST_ASSERT(reply.word == ((uint32_t)ECHO_ID << 16 | sequence), "echo reply id/sequence %08x", reply.word);
    uint8_t data[1500];
    fill_pattern(data, data_length, sequence);
    TEST_ASSERT(reply.body_length == data_length && memcmp(reply.body, data, data_length) == 0, "echo reply data (%zu bytes)",
                reply.body_length);
}

/* A Parameter Problem from our link-local address to the peer about the `length`-byte packet. */
static void expect_parameter_problem(struct host *h, uint8_t code, uint32_t pointer, const uint8_t *frame, size_t length) {
    struct sent_icmp6 error;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_PARAMETER_PROBLEM, code, &error);
    TEST_ASSERT(error.word == pointer, "pointer %u, expected %u", error.word, pointer);
    size_t packet = length - ETH_HEADER_LEN;
    size_t quoted = MIN(packet, (size_t)1232);
    TEST_ASSERT(error.body_length == quoted && memcmp(error.body, frame + ETH_HEADER_LEN, quoted) == 0,
                "quoted %zu bytes, expected the packet's first %zu", error.body_length, quoted);
}

/* ================================ wire formats ================================ */

static void test_wire_extension_parsers(void) {
    uint8_t data[64] = {0};
    struct ipv6_ext ext;
    /* destination options: hdr ext len 1 = 16 bytes */
    data[0] = 58, data[1] = 1, data[2] = 1, data[3] = 12;
    TEST_ASSERT(ipv6_ext_parse(data, 16, IPV6_NEXT_DESTINATION, &ext), "16-byte options header");
    TEST_ASSERT(ext.length == 16 && ext.next_header == 58 && ext.options_length == 14, "options header fields");
    TEST_ASSERT(!ipv6_ext_parse(data, 15, IPV6_NEXT_DESTINATION, &ext), "a 16-byte header in 15 bytes");
    TEST_ASSERT(!ipv6_ext_parse(data, 7, IPV6_NEXT_HOP_BY_HOP, &ext), "7 bytes");
    TEST_ASSERT(!ipv6_ext_parse(data, 16, 58, &ext), "ICMPv6 is no extension header");
    /* routing: type, segments left */
    data[1] = 0, data[2] = 4, data[3] = 2;
    TEST_ASSERT(ipv6_ext_parse(data, 8, IPV6_NEXT_ROUTING, &ext) && ext.routing_type == 4 && ext.segments_left == 2, "routing");
    /* fragment: offset 185*8, M, id */
    data[0] = 17, data[1] = 0, wire_put16(data + 2, 185 << 3 | 1), wire_put32(data + 4, 0xdeadbeef);
    TEST_ASSERT(ipv6_ext_parse(data, 8, IPV6_NEXT_FRAGMENT, &ext), "fragment");
    TEST_ASSERT(ext.length == 8 && ext.fragment_offset == 1480 && ext.more_fragments && ext.fragment_id == 0xdeadbeef &&
                    ext.next_header == 17,
                "fragment fields");
    /* options: Pad1, PadN, one running past the area */
    uint8_t options[6] = {0, 1, 1, 0, 0xc2, 4};
    size_t at = 0;
    struct ipv6_option option;
    TEST_ASSERT(ipv6_option_next(options, 6, &at, &option) == IPV6_OPTION_OK && option.type == 0 && at == 1, "Pad1");
    TEST_ASSERT(ipv6_option_next(options, 6, &at, &option) == IPV6_OPTION_OK && option.type == 1 && at == 4, "PadN");
    TEST_ASSERT(ipv6_option_next(options, 6, &at, &option) == IPV6_OPTION_MALFORMED, "an option past the area");
    at = 6;
    TEST_ASSERT(ipv6_option_next(options, 6, &at, &option) == IPV6_OPTION_END, "end");
    TEST_ASSERT(ipv6_option_next(options, 5, &(size_t){4}, &option) == IPV6_OPTION_MALFORMED, "a type without a length");
    /* addresses */
    uint8_t address[16] = {0xfe, 0x80}, group[16], mac[6];
    ipv6_interface_id(our_mac, address);
    TEST_ASSERT(memcmp(address, our_ll, 16) == 0, "modified EUI-64");
    ipv6_solicited_node(our_ll, group);
    TEST_ASSERT(memcmp(group, our_sn, 16) == 0, "solicited-node group");
    ipv6_multicast_mac(our_sn, mac);
    static const uint8_t sn_mac[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
    TEST_ASSERT(memcmp(mac, sn_mac, 6) == 0, "group MAC");
    TEST_ASSERT(ipv6_common_prefix(our_ll, peer_ll) == 65 && ipv6_prefix_equal(our_global, host6, 64), "prefixes");
}

static void test_wire_nd_options(void) {
    uint8_t message[128] = {0};
    struct icmpv6_header icmp = {.type = ICMPV6_NEIGHBOR_ADVERTISEMENT, .word = NDP_NA_SOLICITED, .body = message};
    memcpy(message, peer_ll, 16);
    link_option(message + 16, 2, peer_mac);
    /* an unknown option (type 200, 16 bytes) is skipped */
    message[24] = 200, message[25] = 2;
    icmp.body_length = 40;
    struct ndp_message m;
    TEST_ASSERT(ndp_parse(&icmp, &m), "NA with options");
    TEST_ASSERT(m.solicited && !m.router && !m.override && m.options.target_mac != NULL && m.options.ignored == 1, "NA fields");
    /* an option of length 0, or one past the message, makes it invalid */
    message[25] = 0;
    TEST_ASSERT(!ndp_parse(&icmp, &m), "an option of length 0");
    message[25] = 3;
    TEST_ASSERT(!ndp_parse(&icmp, &m), "an option past the end");
    icmp.body_length = 15;
    TEST_ASSERT(!ndp_parse(&icmp, &m), "NA shorter than 24 bytes");
    /* an RDNSS option of even length is skipped, not taken */
    struct icmpv6_header ra = {.type = ICMPV6_ROUTER_ADVERTISEMENT, .body = message, .body_length = 8 + 32};
    memset(message, 0, sizeof message);
    message[8] = 25, message[9] = 4;
    TEST_ASSERT(ndp_parse(&ra, &m) && m.options.rdnss_count == 0 && m.options.ignored == 1, "RDNSS of length 4");
}

/* ================================ input ================================ */

static void test_echo_unicast_and_all_nodes(void) {
    struct host *h = ready_host();
    uint8_t frame[1600];
    size_t n = echo_request_frame(frame, peer_ll, our_ll, 1, 56);
    host_input(h, frame, n);
    /* the reply waits for the peer's address */
    answer_ns(h, our_ll, peer_ll, peer_mac);
    expect_echo_reply(h, our_ll, 1, 56);
    host_expect_quiet(h, "after the reply");
    host_expect_stats(h, "ipv6_in=2 ipv6_out=2 icmpv6_in=2 icmpv6_out=2 echo6_requests_in=1 echo6_replies_out=1 "
                         "nd_ns_out=1 nd_na_in=1");
    /* to all nodes: answered from our unicast address */
    n = echo_request_frame(frame, peer_ll, all_nodes, 2, 8);
    host_input(h, frame, n);
    expect_echo_reply(h, our_ll, 2, 8);
    /* to our solicited-node group: not answered */
    n = echo_request_frame(frame, peer_ll, our_sn, 3, 8);
    host_input(h, frame, n);
    host_expect_quiet(h, "echo to a solicited-node group");
    /* padding past the payload length is not data */
    n = echo_request_frame(frame, peer_ll, our_ll, 4, 2);
    memset(frame + n, 0xee, 20);
    host_input(h, frame, n + 20);
    expect_echo_reply(h, our_ll, 4, 2);
    host_expect_stats(h, "ipv6_in=3 ipv6_out=2 icmpv6_in=3 icmpv6_out=2 echo6_requests_in=3 echo6_replies_out=2");
    host_free(h, NULL);
}

struct echo6_rx {
    int count;
    uint8_t from[16];
    uint16_t id, sequence;
    size_t length;
    uint8_t hop_limit;
};

static void record_echo6(void *ctx, const uint8_t from[16], uint16_t id, uint16_t sequence, const uint8_t *data, size_t length,
                         uint8_t hop_limit, uint64_t now_ns) {
    (void)data, (void)now_ns;
    struct echo6_rx *rx = ctx;
    rx->count++;
    memcpy(rx->from, from, 16);
    rx->id = id;
    rx->sequence = sequence;
    rx->length = length;
    rx->hop_limit = hop_limit;
}

static void test_echo_client(void) {
    struct host *h = ready_host();
    reach_peer(h);
    struct echo6_rx rx = {0};
    TEST_ASSERT(net_echo6_listen(h->stack, ECHO_ID, record_echo6, &rx) == 0, "listen");
    uint8_t data[16];
    fill_pattern(data, sizeof data, 9);
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, ECHO_ID, 7, data, sizeof data, h->now) == 0, "send");
    struct sent_icmp6 request;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_ECHO_REQUEST, 0, &request);
    TEST_ASSERT(request.word == ((uint32_t)ECHO_ID << 16 | 7) && request.body_length == 16 && memcmp(request.body, data, 16) == 0,
                "echo request");
    uint8_t message[64], frame[200];
    size_t m = icmp6(message, peer_ll, our_ll, ICMPV6_ECHO_REPLY, 0, (uint32_t)ECHO_ID << 16 | 7, data, sizeof data);
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 63, 58, NULL, 0, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 1 && rx.id == ECHO_ID && rx.sequence == 7 && rx.length == 16 && rx.hop_limit == 63 &&
                    memcmp(rx.from, peer_ll, 16) == 0,
                "reply delivered: count %d seq %u length %zu hop %u", rx.count, rx.sequence, rx.length, rx.hop_limit);
    /* another id is nobody's */
    m = icmp6(message, peer_ll, our_ll, ICMPV6_ECHO_REPLY, 0, (uint32_t)(ECHO_ID + 1) << 16 | 7, data, sizeof data);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 63, 58, NULL, 0, message, m);
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 1, "a reply for another id delivered");
    /* too long for the MTU */
    static uint8_t big[1500];
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, ECHO_ID, 8, big, 1453, h->now) == ERR_MSGSIZE, "1453 bytes of data");
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, ECHO_ID, 8, big, 1452, h->now) == 0, "1452 bytes of data");
    struct sent6 sent;
    expect6(host_next(h), peer_mac, our_ll, peer_ll, 58, 64, &sent);
    TEST_ASSERT(sent.payload_length == 1460, "a full-size echo request");
    host_free(h, NULL);
}

static void test_checksums_and_bad_headers(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[300], copy[300];
    size_t n = echo_request_frame(frame, peer_ll, our_ll, 1, 32);
    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 40 + 8] ^= 1; /* data */
    host_input(h, copy, n);
    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN + 8 + 15] ^= 1; /* the source address: the pseudo-header's sum changes */
    host_input(h, copy, n);
    host_expect_quiet(h, "bad ICMPv6 checksums");
    host_expect_stats(h, "ipv6_in=2 icmpv6_bad_checksum=2");
    /* header errors: truncated, version, payload length past the frame */
    for (size_t length = ETH_HEADER_LEN; length < ETH_HEADER_LEN + 40; length += 7) host_input(h, frame, length);
    memcpy(copy, frame, n);
    copy[ETH_HEADER_LEN] = 0x40;
    host_input(h, copy, n);
    memcpy(copy, frame, n);
    wire_put16(copy + ETH_HEADER_LEN + 4, (uint16_t)(n - ETH_HEADER_LEN - 40 + 1));
    host_input(h, copy, n);
    host_expect_quiet(h, "malformed headers");
    host_expect_stats(h, "malformed=8");
    /* a message shorter than the ICMPv6 header */
    memcpy(copy, frame, n);
    wire_put16(copy + ETH_HEADER_LEN + 4, 4);
    host_input(h, copy, ETH_HEADER_LEN + 44);
    host_expect_stats(h, "ipv6_in=1 malformed=1");
    host_free(h, NULL);
}

static void test_destinations(void) {
    struct host *h = ready_host();
    uint8_t frame[300];
    static const uint8_t other[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77};
    uint8_t other_group[16];
    solicited(other, other_group);
    size_t n = echo_request_frame(frame, peer_ll, other, 1, 8);
    host_input(h, frame, n);
    n = echo_request_frame(frame, peer_ll, other_group, 1, 8);
    host_input(h, frame, n);
    n = echo_request_frame(frame, peer_ll, all_routers, 1, 8);
    host_input(h, frame, n);
    /* sources that name no single host */
    n = echo_request_frame(frame, all_nodes, our_ll, 1, 8);
    host_input(h, frame, n);
    static const uint8_t loopback[16] = {[15] = 1};
    n = echo_request_frame(frame, loopback, our_ll, 1, 8);
    host_input(h, frame, n);
    host_expect_quiet(h, "not for us");
    host_expect_stats(h, "ipv6_in=5 not_for_us=5");
    /* and a host without IPv6 takes none */
    struct host *off = host_default();
    n = echo_request_frame(frame, peer_ll, our_ll, 1, 8);
    host_input(off, frame, n);
    host_expect_quiet(off, "IPv6 off");
    host_expect_stats(off, "not_for_us=1");
    host_free(off, NULL);
    host_free(h, NULL);
}

/* ================================ extension headers ================================ */

static void test_extension_chain_delivered(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t data[8], message[64], headers[64], frame[300];
    fill_pattern(data, sizeof data, 5);
    size_t m = icmp6(message, peer_ll, our_ll, ICMPV6_ECHO_REQUEST, 0, (uint32_t)ECHO_ID << 16 | 5, data, sizeof data);
    /* hop-by-hop (router alert, PadN) -> destination options (Pad1 x6) -> routing (segments left
     * 0) -> an atomic fragment -> destination options (an unknown option of action 00) -> ICMPv6 */
    uint8_t *x = headers;
    x[0] = 60, x[1] = 0, x[2] = 5, x[3] = 2, x[4] = 0, x[5] = 0, x[6] = 1, x[7] = 0; /* HBH */
    x += 8;
    x[0] = 43, x[1] = 0, memset(x + 2, 0, 6); /* destination options, Pad1s */
    x += 8;
    x[0] = 44, x[1] = 0, x[2] = 0, x[3] = 0, memset(x + 4, 0, 4); /* routing type 0, segments left 0 */
    x += 8;
    x[0] = 60, x[1] = 0, wire_put16(x + 2, 0), wire_put32(x + 4, 99); /* fragment, offset 0, M 0 */
    x += 8;
    x[0] = 58, x[1] = 0, x[2] = 0x3e, x[3] = 4, memset(x + 4, 0xab, 4); /* option type 0x3e: action 00 */
    x += 8;
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 0, headers, (size_t)(x - headers), message, m);
    host_input(h, frame, n);
    expect_echo_reply(h, our_ll, 5, 8);
    host_expect_quiet(h, "after the reply");
    host_expect_stats(h, "ipv6_in=1 ipv6_out=1 icmpv6_in=1 icmpv6_out=1 echo6_requests_in=1 echo6_replies_out=1 "
                         "atomic_fragments=1");
    host_free(h, NULL);
}

static void test_extension_unknown_next_header(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[300], body[16] = {0}, headers[8];
    /* right after the fixed header: the pointer names its next header field (6) */
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 253, NULL, 0, body, sizeof body);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, 6, frame, n);
    /* after a destination options header at 40: the pointer is 40 */
    headers[0] = 253, headers[1] = 0, memset(headers + 2, 0, 6);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 8, body, sizeof body);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, 40, frame, n);
    /* no next header (59): silently the end */
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 59, NULL, 0, body, sizeof body);
    host_input(h, frame, n);
    host_expect_quiet(h, "no next header");
    host_expect_stats(h, "ipv6_in=3 ipv6_out=2 ipv6_dropped=2 icmpv6_out=2 icmpv6_errors_out=2");
    /* never to a multicast destination (code 1 is not one of the exceptions) */
    n = frame6(frame, peer_mac, peer_ll, all_nodes, 64, 253, NULL, 0, body, sizeof body);
    host_input(h, frame, n);
    host_expect_quiet(h, "unknown next header to all nodes");
    host_expect_stats(h, "ipv6_in=1 ipv6_dropped=1");
    host_free(h, NULL);
}

/* A frame to `destination` with one destination options header holding an option of `type`. */
static size_t option_frame(uint8_t *frame, const uint8_t destination[16], uint8_t type) {
    uint8_t headers[8] = {58, 0, type, 4, 1, 2, 3, 4};
    uint8_t data[8] = {0}, message[32];
    size_t m = icmp6(message, peer_ll, destination, ICMPV6_ECHO_REQUEST, 0, (uint32_t)ECHO_ID << 16 | 1, data, sizeof data);
    return frame6(frame, peer_mac, peer_ll, destination, 64, 60, headers, sizeof headers, message, m);
}

static void test_extension_option_actions(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[300];
    /* 00: skipped, the packet is processed */
    size_t n = option_frame(frame, our_ll, 0x1f);
    host_input(h, frame, n);
    struct sent_icmp6 reply;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_ECHO_REPLY, 0, &reply);
    /* 01: dropped silently */
    n = option_frame(frame, our_ll, 0x5f);
    host_input(h, frame, n);
    host_expect_quiet(h, "action 01");
    host_expect_stats(h, "ipv6_in=2 ipv6_out=1 icmpv6_in=1 icmpv6_out=1 echo6_requests_in=1 echo6_replies_out=1 ipv6_dropped=1");
    /* 10: Parameter Problem code 2 pointing at the option (40 + 2), even to a multicast group */
    n = option_frame(frame, our_ll, 0x9f);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_OPTION, 42, frame, n);
    n = option_frame(frame, all_nodes, 0x9f);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_OPTION, 42, frame, n);
    /* 11: the same, but not to a multicast group */
    n = option_frame(frame, our_ll, 0xdf);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_OPTION, 42, frame, n);
    n = option_frame(frame, all_nodes, 0xdf);
    host_input(h, frame, n);
    host_expect_quiet(h, "action 11 to a group");
    host_expect_stats(h, "ipv6_in=4 ipv6_out=3 icmpv6_out=3 icmpv6_errors_out=3 ipv6_dropped=4");
    /* an option running past its header */
    uint8_t headers[8] = {58, 0, 0x1f, 9, 0, 0, 0, 0}, body[8] = {0};
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 8, body, 8);
    host_input(h, frame, n);
    host_expect_quiet(h, "a malformed option");
    host_expect_stats(h, "ipv6_in=1 ipv6_dropped=1");
    host_free(h, NULL);
}

static void test_extension_misplaced_and_routing(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[300], headers[16], body[16] = {0};
    /* hop-by-hop after a destination options header: code 1, the pointer names the field that
     * named it (40) */
    headers[0] = 0, headers[1] = 0, memset(headers + 2, 0, 6);
    headers[8] = 59, headers[9] = 0, memset(headers + 10, 0, 6);
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 16, body, 0);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, 40, frame, n);
    /* a routing header with segments left: code 0 at its routing type (42) */
    headers[0] = 59, headers[1] = 0, headers[2] = 0, headers[3] = 1, memset(headers + 4, 0, 4);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 43, headers, 8, body, 0);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_BAD_HEADER_FIELD, 42, frame, n);
    host_expect_stats(h, "ipv6_in=2 ipv6_out=2 icmpv6_out=2 icmpv6_errors_out=2 ipv6_dropped=2");
    host_free(h, NULL);
}

static void test_extension_truncated_and_caps(void) {
    struct host *h = ready_host();
    reach_peer(h);
    static uint8_t frame[2000], headers[1024];
    uint8_t body[8] = {0};
    /* a header whose length runs past the packet, and a packet ending inside a header */
    headers[0] = 59, headers[1] = 3; /* 32 bytes, 8 present */
    memset(headers + 2, 0, 6);
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 8, body, 0);
    host_input(h, frame, n);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 4, body, 0);
    host_input(h, frame, n);
    /* nine headers: one over IPV6_MAX_EXTENSIONS */
    for (int i = 0; i < 9; i++) {
        uint8_t *x = headers + 8 * i;
        x[0] = i == 8 ? 59 : 60, x[1] = 0;
        memset(x + 2, 0, 6);
    }
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 72, body, 0);
    host_input(h, frame, n);
    /* eight are fine */
    headers[7 * 8] = 58;
    uint8_t message[32];
    size_t m = icmp6(message, peer_ll, our_ll, ICMPV6_ECHO_REQUEST, 0, (uint32_t)ECHO_ID << 16 | 3, body, 8);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 64, message, m);
    host_input(h, frame, n);
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_ECHO_REPLY, 0, &(struct sent_icmp6){0});
    /* one header of 520 bytes: past IPV6_MAX_EXTENSION_BYTES */
    memset(headers, 0, 520);
    headers[0] = 58, headers[1] = 64, headers[2] = 1, headers[3] = 255 - 1;
    headers[258] = 1, headers[259] = 255 - 1 - 2; /* PadN to fill, then Pad1s (0) */
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 520, message, m);
    host_input(h, frame, n);
    host_expect_quiet(h, "over the caps");
    host_expect_stats(h, "ipv6_in=5 ipv6_out=1 icmpv6_in=1 icmpv6_out=1 echo6_requests_in=1 echo6_replies_out=1 ipv6_dropped=4");
    host_free(h, NULL);
}

static void test_no_error_about_errors(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[300], message[64], body[48] = {0};
    /* an ICMPv6 error behind an option of action 10: dropped, no Parameter Problem (RFC 4443
     * §2.4 e.1) */
    uint8_t headers[8] = {58, 0, 0x9f, 4, 0, 0, 0, 0};
    size_t m = icmp6(message, peer_ll, our_ll, ICMPV6_DEST_UNREACHABLE, 4, 0, body, sizeof body);
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 8, message, m);
    host_input(h, frame, n);
    /* nor about a redirect */
    m = icmp6(message, peer_ll, our_ll, ICMPV6_REDIRECT, 0, 0, body, 32);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 60, headers, 8, message, m);
    host_input(h, frame, n);
    host_expect_quiet(h, "errors about errors");
    host_expect_stats(h, "ipv6_in=2 ipv6_dropped=2");
    /* an error received is counted */
    m = icmp6(message, peer_ll, our_ll, ICMPV6_DEST_UNREACHABLE, 4, 0, body, sizeof body);
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 58, NULL, 0, message, m);
    host_input(h, frame, n);
    host_expect_quiet(h, "an error received");
    host_expect_stats(h, "ipv6_in=1 icmpv6_in=1 icmpv6_errors_in=1");
    host_free(h, NULL);
}

static void test_error_rate_limit(void) {
    struct host *h = ready_host();
    reach_peer(h);
    uint8_t frame[200], body[8] = {0};
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 253, NULL, 0, body, sizeof body);
    for (int i = 0; i < 15; i++) host_input(h, frame, n);
    for (int i = 0; i < ICMPV6_ERROR_BURST; i++) expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, 6, frame, n);
    host_expect_quiet(h, "past the burst");
    host_expect_stats(h, "ipv6_in=15 ipv6_dropped=15 ipv6_out=10 icmpv6_out=10 icmpv6_errors_out=10 icmpv6_rate_limited=5");
    /* one token per 100 ms */
    h->now += ICMPV6_ERROR_INTERVAL_NS - 1;
    host_input(h, frame, n);
    host_expect_quiet(h, "before the next token");
    h->now += 1;
    host_input(h, frame, n);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_UNKNOWN_NEXT_HEADER, 6, frame, n);
    host_expect_quiet(h, "one token");
    host_free(h, NULL);
}

/* ================================ reassembly ================================ */

/* An echo request of `data_length` bytes of data cut into fragments of `piece` bytes (a multiple
 * of 8); fragment i into frames[i]. Returns the count. */
static size_t fragments(uint8_t frames[][1600], size_t *lengths, uint16_t sequence, size_t data_length, size_t piece, uint32_t id) {
    static uint8_t data[65536], message[65536 + 8];
    fill_pattern(data, data_length, sequence);
    size_t m = icmp6(message, peer_ll, our_ll, ICMPV6_ECHO_REQUEST, 0, (uint32_t)ECHO_ID << 16 | sequence, data, data_length);
    size_t count = 0;
    for (size_t offset = 0; offset < m; offset += piece, count++) {
        size_t length = MIN(piece, m - offset);
        uint8_t header[8] = {58, 0};
        wire_put16(header + 2, (uint16_t)(offset | (offset + length < m ? 1 : 0)));
        wire_put32(header + 4, id);
        lengths[count] = frame6(frames[count], peer_mac, peer_ll, our_ll, 64, 44, header, 8, message + offset, length);
    }
    return count;
}

static uint8_t pieces[80][1600];
static size_t piece_lengths[80];

static void test_reassembly_in_and_out_of_order(void) {
    struct host *h = ready_host();
    reach_peer(h);
    size_t count = fragments(pieces, piece_lengths, 1, 1200, 400, 77);
    TEST_ASSERT(count == 4, "%zu fragments", count);
    for (size_t i = 0; i < count; i++) host_input(h, pieces[i], piece_lengths[i]);
    expect_echo_reply(h, our_ll, 1, 1200);
    host_expect_stats(h, "ipv6_in=4 fragments6_in=4 reassembled6=1 icmpv6_in=1 echo6_requests_in=1 echo6_replies_out=1 "
                         "ipv6_out=1 icmpv6_out=1");
    /* last first, then the middle ones, then the first */
    count = fragments(pieces, piece_lengths, 2, 1200, 400, 78);
    static const int order[] = {3, 2, 1, 0};
    for (size_t i = 0; i < count; i++) {
        host_expect_quiet(h, "before the datagram is whole");
        host_input(h, pieces[order[i]], piece_lengths[order[i]]);
    }
    expect_echo_reply(h, our_ll, 2, 1200);
    TEST_ASSERT(net_stack_next_deadline(h->stack) == neighbor(h, peer_ll)->timer_ns, "a reassembly deadline is left");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "reassembly buffers not freed");
    host_free(h, NULL);
}

static void test_reassembly_overlap_and_limits(void) {
    struct host *h = ready_host();
    reach_peer(h);
    /* RFC 5722: an overlap drops the whole datagram, and later pieces start a new one */
    size_t count = fragments(pieces, piece_lengths, 1, 1200, 400, 90);
    host_input(h, pieces[0], piece_lengths[0]);
    uint8_t overlapping[1600];
    memcpy(overlapping, pieces[1], piece_lengths[1]);
    wire_put16(overlapping + ETH_HEADER_LEN + 40 + 2, (uint16_t)(392 | 1)); /* offset 392: 8 bytes over the first */
    host_input(h, overlapping, piece_lengths[1]);
    for (size_t i = 1; i < count; i++) host_input(h, pieces[i], piece_lengths[i]);
    host_expect_quiet(h, "overlap");
    host_expect_stats(h, "ipv6_in=5 fragments6_in=5 reassembly6_dropped=1");
    host_free(h, NULL);

    /* too many fragments */
    h = ready_host();
    reach_peer(h);
    count = fragments(pieces, piece_lengths, 2, 520, 8, 91);
    TEST_ASSERT(count > REASSEMBLY_MAX_FRAGMENTS, "%zu fragments", count);
    for (size_t i = 0; i <= REASSEMBLY_MAX_FRAGMENTS; i++) host_input(h, pieces[i], piece_lengths[i]);
    host_expect_quiet(h, "too many fragments");
    host_expect_stats(h, "ipv6_in=65 fragments6_in=65 reassembly6_dropped=1");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle + 0, "a slot kept its buffers");

    /* a fragment reaching past 65535: Parameter Problem code 0 at the fragment offset (42) */
    uint8_t frame[200], header[8] = {58, 0}, data[16] = {0};
    wire_put16(header + 2, (uint16_t)(65528 | 1));
    wire_put32(header + 4, 92);
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 44, header, 8, data, 16);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_BAD_HEADER_FIELD, 42, frame, n);
    /* a non-last fragment whose length is no multiple of 8: code 0 at the payload length (4) */
    wire_put16(header + 2, (uint16_t)(8 | 1));
    n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 44, header, 8, data, 12);
    host_input(h, frame, n);
    expect_parameter_problem(h, ICMPV6_CODE_BAD_HEADER_FIELD, 4, frame, n);
    host_expect_stats(h, "ipv6_in=2 fragments6_in=2 reassembly6_dropped=2 ipv6_dropped=2 ipv6_out=2 icmpv6_out=2 "
                         "icmpv6_errors_out=2");
    /* all slots busy: the next datagram's fragments are dropped */
    for (uint32_t id = 0; id < REASSEMBLY6_SLOTS + 1; id++) {
        fragments(pieces, piece_lengths, 3, 100, 56, 200 + id);
        host_input(h, pieces[1], piece_lengths[1]);
    }
    host_expect_stats(h, "ipv6_in=5 fragments6_in=5 reassembly6_dropped=1");
    host_free(h, NULL);
}

static void test_reassembly_timeout(void) {
    struct host *h = ready_host();
    reach_peer(h);
    size_t count = fragments(pieces, piece_lengths, 1, 1200, 400, 60);
    TEST_ASSERT(count == 4, "fragments");
    uint64_t start = h->now;
    host_input(h, pieces[0], piece_lengths[0]); /* the first fragment: Time Exceeded on timeout */
    fragments(pieces + 10, piece_lengths + 10, 1, 1200, 400, 61);
    host_input(h, pieces[12], piece_lengths[12]); /* no first fragment: no error */
    host_timers(h, start + REASSEMBLY6_TIMEOUT_NS - 1);
    host_expect_quiet(h, "before the timeout");
    host_timers(h, start + REASSEMBLY6_TIMEOUT_NS);
    struct sent_icmp6 error;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_TIME_EXCEEDED, ICMPV6_CODE_REASSEMBLY_TIMEOUT, &error);
    TEST_ASSERT(error.word == 0, "unused word %08x", error.word);
    TEST_ASSERT(error.body_length == piece_lengths[0] - ETH_HEADER_LEN &&
                    memcmp(error.body, pieces[0] + ETH_HEADER_LEN, error.body_length) == 0,
                "the error quotes the first fragment");
    host_expect_quiet(h, "one error only");
    host_expect_stats(h, "ipv6_in=2 fragments6_in=2 reassembly6_dropped=2 ipv6_out=1 icmpv6_out=1 icmpv6_errors_out=1");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "reassembly buffers not freed");
    host_free(h, NULL);
}

/* ================================ NDP ================================ */

static void test_ns_answered(void) {
    struct host *h = ready_host();
    uint8_t frame[200];
    /* a unicast-resolution NS from a neighbor, with its link-layer address */
    size_t n = ns_frame(frame, peer_mac, peer_ll, our_sn, our_ll, peer_mac);
    host_input(h, frame, n);
    struct sent_icmp6 na;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 255, ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, &na);
    TEST_ASSERT(na.word == (NDP_NA_SOLICITED | NDP_NA_OVERRIDE), "NA flags %08x", na.word);
    TEST_ASSERT(na.body_length == 24 && memcmp(na.body, our_ll, 16) == 0 && na.body[16] == 2 && na.body[17] == 1 &&
                    memcmp(na.body + 18, our_mac, 6) == 0,
                "NA target and target link-layer option");
    host_expect_stats(h, "ipv6_in=1 ipv6_out=1 icmpv6_in=1 icmpv6_out=1 nd_ns_in=1 nd_na_out=1");
    /* another host's DAD probe for our address: the answer goes to all nodes, not solicited */
    n = ns_frame(frame, other_mac, unspecified, our_sn, our_ll, NULL);
    host_input(h, frame, n);
    expect_icmp6(host_next(h), NULL, our_ll, all_nodes, 255, ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, &na);
    TEST_ASSERT(na.word == NDP_NA_OVERRIDE, "NA flags %08x", na.word);
    host_expect_stats(h, "ipv6_in=1 ipv6_out=1 icmpv6_in=1 icmpv6_out=1 nd_ns_in=1 nd_na_out=1");
    /* invalid: hop limit not 255; from :: with a link-layer option; an option of length 0 */
    n = ns_frame(frame, peer_mac, peer_ll, our_sn, our_ll, peer_mac);
    frame[ETH_HEADER_LEN + 7] = 254;
    host_input(h, frame, n);
    n = ns_frame(frame, other_mac, unspecified, our_sn, our_ll, other_mac);
    host_input(h, frame, n);
    uint8_t bad_option[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    n = nd_frame(frame, peer_mac, peer_ll, our_sn, 255, ICMPV6_NEIGHBOR_SOLICITATION, 0, our_ll, 16, bad_option, 8);
    host_input(h, frame, n);
    host_expect_quiet(h, "invalid solicitations");
    host_expect_stats(h, "ipv6_in=3 icmpv6_in=3 nd_ns_in=1 nd_invalid=3");
    /* for someone else's address (sent to our group by a host with a colliding low 24 bits) */
    static const uint8_t near[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x12, 0x34, 0x56};
    n = ns_frame(frame, peer_mac, peer_ll, our_sn, near, peer_mac);
    host_input(h, frame, n);
    host_expect_quiet(h, "a solicitation for another address");
    host_free(h, NULL);
}

static void test_dad(void) {
    /* the link-local address: one NS from :: after a delay of at most 1 s, preferred 1 s later */
    struct host *h = v6_host(false);
    uint64_t start = h->now;
    TEST_ASSERT(state_of(h, our_ll) == NET_IPV6_TENTATIVE, "link-local not tentative at start");
    uint64_t probe_at = net_stack_next_deadline(h->stack);
    TEST_ASSERT(probe_at >= start && probe_at < start + SEC, "DAD probe at +%llu ns", (unsigned long long)(probe_at - start));
    /* tentative: not ours yet */
    uint8_t frame[200];
    size_t n = echo_request_frame(frame, peer_ll, our_ll, 1, 8);
    host_input(h, frame, n);
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, 1, 1, frame, 8, h->now) == ERR_UNREACHABLE, "send from a tentative address");
    host_expect_quiet(h, "tentative");
    host_timers(h, probe_at);
    expect_ns(host_next(h), unspecified, our_ll, NULL);
    host_expect_quiet(h, "one probe");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == probe_at + SEC, "DAD ends 1 s after the probe");
    host_timers(h, probe_at + SEC - 1);
    TEST_ASSERT(state_of(h, our_ll) == NET_IPV6_TENTATIVE, "preferred too early");
    host_timers(h, probe_at + SEC);
    TEST_ASSERT(state_of(h, our_ll) == NET_IPV6_PREFERRED, "link-local not preferred after DAD");
    host_expect_quiet(h, "after DAD");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline is left");

    /* a static address: a conflicting NA during DAD makes it DUPLICATE, for good */
    host_mark(h);
    TEST_ASSERT(net_ipv6_add_static(h->stack, static6, 64, NULL, h->now) == 0, "add static");
    TEST_ASSERT(net_ipv6_add_static(h->stack, static6, 64, NULL, h->now) == ERR_EXIST, "added twice");
    host_timers(h, h->now);
    expect_ns(host_next(h), unspecified, static6, NULL);
    n = na_frame(frame, other_mac, static6, all_nodes, NDP_NA_OVERRIDE, static6, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(state_of(h, static6) == NET_IPV6_DUPLICATE, "not duplicate after a conflicting NA");
    host_timers(h, h->now + 2 * SEC);
    TEST_ASSERT(state_of(h, static6) == NET_IPV6_DUPLICATE, "a duplicate came back");
    host_expect_stats(h, "ipv6_in=1 icmpv6_in=1 nd_na_in=1 nd_ns_out=1 ipv6_out=1 icmpv6_out=1 dad_conflicts=1");
    /* never used: not a destination, not a source */
    n = echo_request_frame(frame, peer_ll, static6, 1, 8);
    host_input(h, frame, n);
    TEST_ASSERT(net_echo6_send(h->stack, host6, 1, 1, frame, 8, h->now) == ERR_UNREACHABLE, "a duplicate used as a source");
    host_expect_quiet(h, "a duplicate address");
    host_free(h, NULL);

    /* a DAD probe from another host for the same tentative address: DUPLICATE too */
    h = ready_host();
    TEST_ASSERT(net_ipv6_add_static(h->stack, static6, 64, NULL, h->now) == 0, "add static");
    uint8_t group[16];
    solicited(static6, group);
    n = ns_frame(frame, other_mac, unspecified, group, static6, NULL);
    host_input(h, frame, n);
    TEST_ASSERT(state_of(h, static6) == NET_IPV6_DUPLICATE, "not duplicate after another host's probe");
    TEST_ASSERT(host_stat(h, "dad_conflicts") == 1, "conflict not counted");
    host_free(h, NULL);

    /* a duplicate link-local address turns IPv6 off */
    h = v6_host(false);
    n = ns_frame(frame, other_mac, unspecified, our_sn, our_ll, NULL);
    host_input(h, frame, n);
    TEST_ASSERT(state_of(h, our_ll) == NET_IPV6_DUPLICATE && !net_ipv6_enabled(h->stack), "IPv6 still on");
    host_timers(h, h->now + 5 * SEC);
    host_expect_quiet(h, "IPv6 off");
    host_free(h, NULL);
}

static void test_neighbor_unreachable(void) {
    struct host *h = ready_host();
    static const uint8_t absent[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
    uint8_t data[8] = {0};
    uint64_t start = h->now;
    for (int i = 0; i < 6; i++) TEST_ASSERT(net_echo6_send(h->stack, absent, 1, (uint16_t)i, data, 8, h->now) == 0, "send");
    /* one solicitation for six packets; the queue keeps the newest RESOLVE_QUEUE_MAX */
    expect_ns(host_next(h), our_ll, absent, NULL);
    host_expect_quiet(h, "while resolving");
    host_expect_stats(h, "ipv6_out=7 icmpv6_out=7 nd_ns_out=1 nd_unresolved=2");
    TEST_ASSERT(neighbor(h, absent)->state == NDP_INCOMPLETE, "not INCOMPLETE");
    for (unsigned k = 2; k <= NDP_MAX_MULTICAST_SOLICIT; k++) {
        uint64_t due = start + (k - 1) * SEC;
        TEST_ASSERT(net_stack_next_deadline(h->stack) == due, "solicitation %u due at +%llu", k,
                    (unsigned long long)(net_stack_next_deadline(h->stack) - start));
        host_timers(h, due - 1);
        host_expect_quiet(h, "before the retransmission");
        host_timers(h, due);
        expect_ns(host_next(h), our_ll, absent, NULL);
    }
    host_timers(h, start + 3 * SEC);
    host_expect_quiet(h, "giving up");
    host_expect_stats(h, "ipv6_out=2 icmpv6_out=2 nd_ns_out=2 nd_unresolved=4");
    TEST_ASSERT(neighbor(h, absent) == NULL, "the entry is left");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "a deadline is left");
    TEST_ASSERT(net_native_blocks_in_use() == h->blocks_idle, "queued packets not freed");
    host_free(h, NULL);
}

static void test_neighbor_states(void) {
    struct host *h = ready_host();
    reach_peer(h);
    struct ndp_entry *e = neighbor(h, peer_ll);
    TEST_ASSERT(e != NULL && e->state == NDP_REACHABLE, "not REACHABLE after a solicited NA");
    uint64_t reachable = h->stack->ipv6.reachable_ns;
    TEST_ASSERT(reachable >= NDP_BASE_REACHABLE_NS / 2 && reachable < NDP_BASE_REACHABLE_NS * 3 / 2, "reachable time %llu",
                (unsigned long long)reachable);
    uint64_t confirmed = h->now;
    host_timers(h, confirmed + reachable - 1);
    TEST_ASSERT(e->state == NDP_REACHABLE, "STALE too early");
    host_timers(h, confirmed + reachable);
    TEST_ASSERT(e->state == NDP_STALE, "not STALE after the reachable time");
    /* a packet to a STALE entry goes at once, and the entry waits DELAY before probing */
    uint8_t data[8] = {0};
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, 1, 2, data, 8, h->now) == 0, "send");
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_ECHO_REQUEST, 0, &(struct sent_icmp6){0});
    TEST_ASSERT(e->state == NDP_DELAY, "not DELAY after use");
    uint64_t used = h->now;
    host_timers(h, used + NDP_DELAY_NS - 1);
    host_expect_quiet(h, "in DELAY");
    /* PROBE: unicast solicitations to the cached address, 1 s apart */
    for (unsigned k = 0; k < NDP_MAX_UNICAST_SOLICIT; k++) {
        host_timers(h, used + NDP_DELAY_NS + k * SEC);
        expect_ns(host_next(h), our_ll, peer_ll, peer_mac);
        TEST_ASSERT(e->state == NDP_PROBE, "not PROBE");
    }
    host_timers(h, used + NDP_DELAY_NS + NDP_MAX_UNICAST_SOLICIT * SEC);
    host_expect_quiet(h, "after the probes");
    TEST_ASSERT(neighbor(h, peer_ll) == NULL, "the entry outlived its probes");
    /* resolution starts over with a multicast solicitation */
    TEST_ASSERT(net_echo6_send(h->stack, peer_ll, 1, 3, data, 8, h->now) == 0, "send");
    expect_ns(host_next(h), our_ll, peer_ll, NULL);
    host_free(h, NULL);

    /* a solicited NA during PROBE makes the entry REACHABLE again */
    h = ready_host();
    reach_peer(h);
    e = neighbor(h, peer_ll);
    host_timers(h, h->now + h->stack->ipv6.reachable_ns);
    net_echo6_send(h->stack, peer_ll, 1, 2, data, 8, h->now);
    host_clear(h);
    host_timers(h, h->now + NDP_DELAY_NS);
    expect_ns(host_next(h), our_ll, peer_ll, peer_mac);
    uint8_t frame[200];
    size_t n = na_frame(frame, peer_mac, peer_ll, our_ll, NDP_NA_SOLICITED, peer_ll, NULL);
    host_input(h, frame, n);
    TEST_ASSERT(e->state == NDP_REACHABLE && e->probes == 0, "not REACHABLE after answering a probe");
    host_timers(h, h->now + SEC);
    host_expect_quiet(h, "no more probes");
    host_free(h, NULL);
}

static void test_neighbor_advertisement_flags(void) {
    struct host *h = ready_host();
    reach_peer(h);
    struct ndp_entry *e = neighbor(h, peer_ll);
    uint8_t frame[200];
    /* a different address without override: only a hint, REACHABLE -> STALE, address kept */
    size_t n = na_frame(frame, other_mac, peer_ll, all_nodes, 0, peer_ll, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(e->state == NDP_STALE && memcmp(e->mac, peer_mac, 6) == 0, "no-override NA: state %d", e->state);
    /* with override: the address changes, unsolicited -> STALE */
    n = na_frame(frame, other_mac, peer_ll, all_nodes, NDP_NA_OVERRIDE, peer_ll, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(e->state == NDP_STALE && memcmp(e->mac, other_mac, 6) == 0, "override NA did not update");
    /* solicited, same address -> REACHABLE */
    n = na_frame(frame, other_mac, peer_ll, our_ll, NDP_NA_SOLICITED, peer_ll, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(e->state == NDP_REACHABLE, "solicited NA: state %d", e->state);
    /* solicited to a multicast group is invalid */
    n = na_frame(frame, other_mac, peer_ll, all_nodes, NDP_NA_SOLICITED, peer_ll, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(host_stat(h, "nd_invalid") == 1, "solicited NA to a group not invalid");
    /* an NA for an address with no entry makes none */
    n = na_frame(frame, other_mac, host6, all_nodes, NDP_NA_OVERRIDE, host6, other_mac);
    host_input(h, frame, n);
    TEST_ASSERT(neighbor(h, host6) == NULL, "an unsolicited NA made an entry");
    host_expect_quiet(h, "advertisements");
    host_free(h, NULL);
}

/* ================================ routers and SLAAC ================================ */

/* Runs the timers until the stack sends a frame (within `limit` ns). */
static const struct captured *next_sent(struct host *h, uint64_t limit) {
    uint64_t end = h->now + limit;
    while (host_pending(h) == 0) {
        uint64_t next = net_stack_next_deadline(h->stack);
        TEST_ASSERT(next <= end, "nothing sent within %llu ms", (unsigned long long)(limit / MS));
        host_timers(h, MAX(next, h->now));
    }
    return host_next(h);
}

static void expect_rs(const struct captured *frame, bool from_link_local) {
    struct sent_icmp6 rs;
    expect_icmp6(frame, NULL, from_link_local ? our_ll : unspecified, all_routers, 255, ICMPV6_ROUTER_SOLICITATION, 0, &rs);
    if (from_link_local)
        TEST_ASSERT(rs.body_length == 8 && rs.body[0] == 1 && rs.body[1] == 1 && memcmp(rs.body + 2, our_mac, 6) == 0,
                    "RS source link-layer option");
    else TEST_ASSERT(rs.body_length == 0, "RS from :: with options");
}

static void test_router_solicitations(void) {
    struct host *h = v6_host(true);
    uint64_t start = h->now;
    /* the first within 1 s (before the link-local address is ours: from ::), then every 4 s */
    const struct captured *frame = next_sent(h, 2 * SEC);
    uint64_t first_rs = 0;
    bool dad_seen = false;
    for (int i = 0; i < 2; i++) {
        if (wire_get16(frame->bytes + ETH_HEADER_LEN + 40) >> 8 == ICMPV6_ROUTER_SOLICITATION) {
            expect_rs(frame, false);
            first_rs = frame->at_ns;
        } else {
            expect_ns(frame, unspecified, our_ll, NULL);
            dad_seen = true;
        }
        if (i == 0) frame = next_sent(h, 2 * SEC);
    }
    TEST_ASSERT(dad_seen && first_rs >= start && first_rs < start + SEC, "first RS at +%llu ms", (unsigned long long)((first_rs - start) / MS));
    for (int k = 1; k < IPV6_RS_MAX; k++) {
        frame = next_sent(h, 5 * SEC);
        expect_rs(frame, true);
        TEST_ASSERT(frame->at_ns == first_rs + (uint64_t)k * IPV6_RS_INTERVAL_NS, "RS %d at +%llu ms", k + 1,
                    (unsigned long long)((frame->at_ns - first_rs) / MS));
    }
    TEST_ASSERT(!net_ipv6_router_discovery_done(h->stack), "done before the last interval");
    host_timers(h, first_rs + IPV6_RS_MAX * IPV6_RS_INTERVAL_NS);
    TEST_ASSERT(net_ipv6_router_discovery_done(h->stack), "not done after the last interval");
    TEST_ASSERT(net_stack_next_deadline(h->stack) == UINT64_MAX, "more to do");
    host_expect_quiet(h, "after the solicitations");
    TEST_ASSERT(host_stat(h, "nd_rs_out") == IPV6_RS_MAX, "%llu RS", (unsigned long long)host_stat(h, "nd_rs_out"));
    host_free(h, NULL);
}

struct events {
    int count;
    struct net_ipv6_address last;
};
static void record_event(void *ctx, const struct net_ipv6_address *address) {
    struct events *e = ctx;
    e->count++;
    e->last = *address;
}

static void test_ra_slaac(void) {
    struct host *h = v6_host(true);
    struct events events = {0};
    net_ipv6_set_event(h->stack, record_event, &events);
    settle(h, our_ll);
    TEST_ASSERT(events.count == 1 && events.last.state == NET_IPV6_PREFERRED && events.last.origin == NET_IPV6_LINK_LOCAL,
                "event for the link-local address");
    events.count = 0;
    host_clear(h);
    host_mark(h);
    struct ra_spec spec = slirp_ra();
    uint8_t frame[300];
    size_t n = ra_frame(frame, router_ll, &spec);
    uint64_t ra_at = h->now;
    host_input(h, frame, n);
    TEST_ASSERT(net_ipv6_router_discovery_done(h->stack), "an RA did not end router discovery");
    TEST_ASSERT(state_of(h, our_global) == NET_IPV6_TENTATIVE, "no tentative SLAAC address");
    TEST_ASSERT(events.count == 1 && events.last.origin == NET_IPV6_SLAAC && memcmp(events.last.router, router_ll, 16) == 0,
                "event for the new address");
    uint8_t dns[16];
    TEST_ASSERT(net_ipv6_dns(h->stack, dns) && memcmp(dns, dns6, 16) == 0, "RDNSS");
    host_timers(h, h->now);
    expect_ns(host_next(h), unspecified, our_global, NULL);
    host_timers(h, h->now + SEC);
    TEST_ASSERT(state_of(h, our_global) == NET_IPV6_PREFERRED, "SLAAC address not preferred after DAD");
    TEST_ASSERT(events.count == 2 && events.last.state == NET_IPV6_PREFERRED && events.last.prefix_length == 64 &&
                    events.last.valid_until_ns == ra_at + 86400 * SEC && events.last.preferred_until_ns == ra_at + 14400 * SEC,
                "event for the preferred address");
    host_expect_quiet(h, "after SLAAC");
    host_expect_stats(h, "ipv6_in=1 icmpv6_in=1 nd_ra_in=1 nd_ns_out=1 ipv6_out=1 icmpv6_out=1");
    /* fec0::/64 is on-link: fec0::2 is resolved directly, from the global address */
    uint8_t data[8] = {0};
    TEST_ASSERT(net_echo6_send(h->stack, host6, 1, 1, data, 8, h->now) == 0, "ping fec0::2");
    expect_ns(host_next(h), our_global, host6, NULL);
    /* off-link goes to the router, whose address the RA gave (a STALE entry: no solicitation) */
    TEST_ASSERT(net_echo6_send(h->stack, remote6, 1, 1, data, 8, h->now) == 0, "ping off-link");
    struct sent6 sent;
    expect6(host_next(h), router_mac, our_global, remote6, 58, 64, &sent);
    host_expect_quiet(h, "after the pings");
    /* a forged short valid lifetime is raised to two hours (RFC 4862 §5.5.3 e) */
    h->now += 100 * SEC;
    spec.valid_s = 60;
    spec.preferred_s = 30;
    n = ra_frame(frame, router_ll, &spec);
    host_input(h, frame, n);
    uint64_t second_ra = h->now;
    struct net_ipv6_address list[IPV6_ADDRESSES];
    size_t count = net_ipv6_addresses(h->stack, list, IPV6_ADDRESSES);
    TEST_ASSERT(count == 2, "%zu addresses", count);
    const struct net_ipv6_address *global = memcmp(list[0].address, our_global, 16) == 0 ? &list[0] : &list[1];
    TEST_ASSERT(global->valid_until_ns == second_ra + IPV6_TWO_HOURS_NS, "valid lifetime not two hours");
    TEST_ASSERT(global->preferred_until_ns == second_ra + 30 * SEC, "preferred lifetime not taken");
    host_timers(h, second_ra + 30 * SEC);
    TEST_ASSERT(state_of(h, our_global) == NET_IPV6_DEPRECATED, "not deprecated after the preferred lifetime");
    /* deprecated: still a destination, still a source when nothing better exists */
    TEST_ASSERT(net_echo6_send(h->stack, remote6, 1, 2, data, 8, h->now) == 0, "ping from a deprecated address");
    host_clear(h);
    host_timers(h, second_ra + IPV6_TWO_HOURS_NS);
    TEST_ASSERT(state_of(h, our_global) == NET_IPV6_FREE, "the address outlived its valid lifetime");
    TEST_ASSERT(net_echo6_send(h->stack, remote6, 1, 3, data, 8, h->now) == ERR_UNREACHABLE, "a global source is left");
    host_free(h, NULL);
}

static void test_ra_ignored_parts(void) {
    struct host *h = v6_host(true);
    settle(h, our_ll);
    host_clear(h);
    host_mark(h);
    uint8_t frame[300];
    struct ra_spec spec = slirp_ra();
    /* not from a link-local address; hop limit not 255 */
    size_t n = ra_frame(frame, host6, &spec);
    host_input(h, frame, n);
    n = ra_frame(frame, router_ll, &spec);
    frame[ETH_HEADER_LEN + 7] = 64;
    host_input(h, frame, n);
    host_expect_stats(h, "ipv6_in=2 icmpv6_in=2 nd_ra_in=1 nd_invalid=2");
    TEST_ASSERT(!net_ipv6_router_discovery_done(h->stack), "an invalid RA counted");
    /* preferred > valid; a /48; no A flag: no address; an MTU below 1280 ignored */
    spec.preferred_s = spec.valid_s + 1;
    n = ra_frame(frame, router_ll, &spec);
    host_input(h, frame, n);
    spec = slirp_ra();
    spec.prefix_length = 48;
    n = ra_frame(frame, router_ll, &spec);
    host_input(h, frame, n);
    spec = slirp_ra();
    spec.prefix_flags = 0x80;
    spec.mtu = 1000;
    n = ra_frame(frame, router_ll, &spec);
    host_input(h, frame, n);
    TEST_ASSERT(net_ipv6_addresses(h->stack, NULL, 0) == 1, "an address from an unusable prefix");
    TEST_ASSERT(net_ipv6_max_payload(h->stack) == 1460, "MTU 1000 taken");
    /* an MTU option within the link's is taken; router lifetime 0 removes the router */
    spec.mtu = 1400;
    spec.router_lifetime_s = 0;
    n = ra_frame(frame, router_ll, &spec);
    host_input(h, frame, n);
    TEST_ASSERT(net_ipv6_max_payload(h->stack) == 1360, "MTU 1400 not taken");
    uint8_t data[8] = {0};
    TEST_ASSERT(net_echo6_send(h->stack, remote6, 1, 1, data, 8, h->now) == ERR_UNREACHABLE, "routed without a router");
    host_free(h, NULL);
}

static void test_static_configuration(void) {
    struct host *h = ready_host();
    TEST_ASSERT(net_ipv6_add_static(h->stack, static6, 64, router_ll, h->now) == 0, "add static");
    TEST_ASSERT(net_ipv6_add_static(h->stack, all_nodes, 64, NULL, h->now) == ERR_INVAL, "a multicast address");
    TEST_ASSERT(net_ipv6_add_static(h->stack, remote6, 0, NULL, h->now) == ERR_INVAL, "prefix 0");
    settle(h, static6);
    host_clear(h);
    uint8_t data[8] = {0};
    /* off-link: through the gateway, resolved from the link-local address */
    TEST_ASSERT(net_echo6_send(h->stack, remote6, 1, 1, data, 8, h->now) == 0, "ping off-link");
    answer_ns(h, our_ll, router_ll, router_mac);
    struct sent6 sent;
    expect6(host_next(h), router_mac, static6, remote6, 58, 64, &sent);
    /* on-link: fec0::2 directly */
    TEST_ASSERT(net_echo6_send(h->stack, host6, 1, 2, data, 8, h->now) == 0, "ping on-link");
    expect_ns(host_next(h), static6, host6, NULL);
    host_expect_quiet(h, "after the pings");
    host_free(h, NULL);
}

/* ================================ transports ================================ */


static size_t udp6_frame(uint8_t *frame, uint16_t port, const uint8_t *data, size_t length) {
    uint8_t datagram[256];
    wire_put16(datagram, 40000);
    wire_put16(datagram + 2, port);
    wire_put16(datagram + 4, (uint16_t)(8 + length));
    wire_put16(datagram + 6, 0);
    memcpy(datagram + 8, data, length);
    uint16_t sum = ref_checksum(datagram, 8 + length, ref_pseudo6(peer_ll, our_ll, 17, 8 + length));
    wire_put16(datagram + 6, sum == 0 ? 0xffff : sum);
    return frame6(frame, peer_mac, peer_ll, our_ll, 64, 17, NULL, 0, datagram, 8 + length);
}

static void test_udp_over_ipv6(void) {
    struct host *h = ready_host();
    reach_peer(h);
    struct udp_received rx = {0};
    TEST_ASSERT(net_udp_bind(h->stack, 5000, record_udp_any_family, &rx, NULL) == 0, "bind");
    uint8_t data[12], frame[300];
    fill_pattern(data, sizeof data, 1);
    size_t n = udp6_frame(frame, 5000, data, sizeof data);
    host_input(h, frame, n);
    struct ip_addr peer = ip_addr_from_v6(peer_ll), us = ip_addr_from_v6(our_ll);
    TEST_ASSERT(rx.count == 1 && ip_addr_equal(&rx.source, &peer) && ip_addr_equal(&rx.destination, &us) &&
                    rx.source_port == 40000 && rx.length == sizeof data,
                "datagram not delivered (%d)", rx.count);
    /* a bad checksum is counted and dropped */
    frame[n - 1] ^= 1;
    host_input(h, frame, n);
    TEST_ASSERT(rx.count == 1 && host_stat(h, "udp_bad_checksum") == 1, "bad UDP checksum");
    /* a closed port: ICMPv6 port unreachable quoting the datagram */
    n = udp6_frame(frame, 5001, data, sizeof data);
    host_input(h, frame, n);
    struct sent_icmp6 error;
    expect_icmp6(host_next(h), peer_mac, our_ll, peer_ll, 64, ICMPV6_DEST_UNREACHABLE, ICMPV6_CODE_PORT_UNREACHABLE, &error);
    TEST_ASSERT(error.body_length == n - ETH_HEADER_LEN && memcmp(error.body, frame + ETH_HEADER_LEN, error.body_length) == 0,
                "port unreachable quotes the datagram");
    host_expect_quiet(h, "after UDP");
    host_free(h, NULL);
}

static void test_tcp_syn_over_ipv6(void) {
    struct host *h = ready_host();
    reach_peer(h);
    struct tcp_listener *listener;
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(tcp_listen(net_stack_tcp(h->stack), &any, 80, 4, &listener) == 0, "listen");
    uint8_t segment[20] = {0}, frame[200];
    wire_put16(segment, 40000);
    wire_put16(segment + 2, 80);
    wire_put32(segment + 4, 1000);
    segment[12] = 5 << 4;
    segment[13] = 0x02; /* SYN */
    wire_put16(segment + 14, 65535);
    wire_put16(segment + 16, ref_checksum(segment, 20, ref_pseudo6(peer_ll, our_ll, 6, 20)));
    size_t n = frame6(frame, peer_mac, peer_ll, our_ll, 64, 6, NULL, 0, segment, 20);
    net_stack_set_clock(h->stack, h->now);
    host_input(h, frame, n);
    struct sent6 sent;
    expect6(host_next(h), peer_mac, our_ll, peer_ll, 6, 64, &sent);
    const uint8_t *t = sent.payload;
    TEST_ASSERT(ref_checksum(t, sent.payload_length, ref_pseudo6(our_ll, peer_ll, 6, sent.payload_length)) == 0,
                "SYN-ACK checksum (reference)");
    TEST_ASSERT(wire_get16(t) == 80 && wire_get16(t + 2) == 40000 && (t[13] & 0x12) == 0x12 && wire_get32(t + 8) == 1001, "SYN-ACK fields");
    tcp_listener_close(listener);
    host_free(h, NULL);
}

const struct test_case ipv6_tests[] = {
    {"wire-extension-parsers", test_wire_extension_parsers},
    {"wire-nd-options", test_wire_nd_options},
    {"echo-unicast-and-all-nodes", test_echo_unicast_and_all_nodes},
    {"echo-client", test_echo_client},
    {"checksums-and-bad-headers", test_checksums_and_bad_headers},
    {"destinations", test_destinations},
    {"extension-chain-delivered", test_extension_chain_delivered},
    {"extension-unknown-next-header", test_extension_unknown_next_header},
    {"extension-option-actions", test_extension_option_actions},
    {"extension-misplaced-and-routing", test_extension_misplaced_and_routing},
    {"extension-truncated-and-caps", test_extension_truncated_and_caps},
    {"no-error-about-errors", test_no_error_about_errors},
    {"error-rate-limit", test_error_rate_limit},
    {"reassembly-in-and-out-of-order", test_reassembly_in_and_out_of_order},
    {"reassembly-overlap-and-limits", test_reassembly_overlap_and_limits},
    {"reassembly-timeout", test_reassembly_timeout},
    {"ns-answered", test_ns_answered},
    {"dad", test_dad},
    {"neighbor-unreachable", test_neighbor_unreachable},
    {"neighbor-states", test_neighbor_states},
    {"neighbor-advertisement-flags", test_neighbor_advertisement_flags},
    {"router-solicitations", test_router_solicitations},
    {"ra-slaac", test_ra_slaac},
    {"ra-ignored-parts", test_ra_ignored_parts},
    {"static-configuration", test_static_configuration},
    {"udp-over-ipv6", test_udp_over_ipv6},
    {"tcp-syn-over-ipv6", test_tcp_syn_over_ipv6},
};
const size_t ipv6_test_count = ARRAY_SIZE(ipv6_tests);
