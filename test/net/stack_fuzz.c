/*
 * test/net/stack_fuzz.c: the frame fuzzer — random and mutated Ethernet frames into
 * net_stack_input of a whole stack (an address, a bound UDP port that answers, a TCP listener,
 * a DHCP client), interleaved with API calls (UDP and ICMP sends that start ARP resolutions,
 * TCP connects, accepts, sends and closes) and with simulated time (ARP retries, reassembly
 * timeouts, DHCP retransmissions, renewals and lease expiry).
 *
 * Frames: plausible ones built from templates (ARP requests and replies; ICMP echo requests,
 * replies and errors; UDP to bound, closed and DHCP ports; TCP SYNs and segments for the
 * connections the stack opened; whole sets of IPv4 fragments, shuffled, with duplicates and
 * gaps; DHCP OFFER/ACK/NAK with the transaction id the client is using), then mutated: bit
 * flips, byte stores, truncation, extension, edits of the IPv4 total length, IHL, TTL and
 * fragment offset/flags, of the UDP length, of DHCP option lengths, of the Ethernet type; the
 * IPv4 and transport checksums are usually fixed up afterwards so the mutations get through.
 * Some frames are plain random bytes, some re-mutate earlier ones.
 *
 * Every frame is handed over in a heap block of exactly its length (ASan catches a read past
 * it). Every frame the stack sends must be well formed (Ethernet source ours; ARP parses with
 * our address; IPv4 header exact, TTL 64, never fragmented, checksums right for IPv4, ICMP,
 * UDP and TCP, sized within the MTU). TCP's invariants (tcp_stack_check) hold after every
 * step, and at the end everything is freed and the native allocator must be back where it
 * started.
 *
 * NET_FUZZ_FRAMES=N sets the number of frames (default 100000, spread over the configurations
 * below); NET_FUZZ_SEED picks another seed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/stack_internal.h" /* to check the ARP and reassembly tables' invariants */
#include "net/tcp/tcp.h"
#include "net/wire/icmp_wire.h"
#include "net/wire/tcp_wire.h"
#include "net/wire/udp_wire.h"
#include "stack_fuzz6.h"
#include "stack_harness.h"
#include "net/wire/bytes.h"

#define ECHO_PORT 7
#define TCP_PORT 80
#define CORPUS 128
#define MAX_FRAME (ETH_FRAME_MAX + 64)
#define MAX_CONNS 8
#define MAX_FLOWS 16
#define MAX_PENDING 64
#define HISTORY 32

struct saved {
    size_t length;
    uint8_t bytes[MAX_FRAME];
};

/* What the fuzzer knows of a TCP connection from the segments the stack sent. */
struct flow {
    bool used;
    uint32_t remote_ip;
    uint16_t remote_port, local_port;
    uint32_t stack_next; /* the stack's SEQ + LEN: what to acknowledge */
    uint32_t peer_next;  /* what the stack acknowledged: our next sequence number */
};

struct fuzz {
    uint64_t rng;
    uint64_t now;
    uint16_t mtu;
    struct net_stack *stack;
    struct tcp_stack *tcp;
    struct dhcp_client *dhcp;
    struct tcp_listener *listener;
    struct tcp_conn *conns[MAX_CONNS];
    uint32_t dhcp_xid;
    uint32_t addresses[HISTORY]; /* every address the stack had (sources it may still use) */
    size_t address_count;
    struct flow flows[MAX_FLOWS];
    struct saved corpus[CORPUS];
    size_t corpus_count;
    struct saved pending[MAX_PENDING]; /* fragments waiting to be sent */
    size_t pending_count;
    size_t burst; /* pending fragments to send next, one after the other */
    uint64_t frames, sent, api_calls, timer_runs, udp_delivered, echoes, dhcp_bound, transmit_refused;
    uint8_t frame[MAX_FRAME];
};

static uint64_t rnd(struct fuzz *f, uint64_t n) { return rng_below(&f->rng, n); }
static bool chance(struct fuzz *f, unsigned percent) { return rng_below(&f->rng, 100) < percent; }


static uint32_t current_ip(struct fuzz *f) {
    uint32_t ip;
    net_stack_get_ipv4(f->stack, &ip, NULL, NULL);
    return ip;
}

static void remember_address(struct fuzz *f, uint32_t ip) {
    for (size_t i = 0; i < f->address_count; i++)
        if (f->addresses[i] == ip) return;
    if (f->address_count < HISTORY) f->addresses[f->address_count++] = ip;
    else f->addresses[rnd(f, HISTORY)] = ip; /* (a source this old would fail the check: unlikely) */
}

static bool known_address(struct fuzz *f, uint32_t ip) {
    if (ip == 0 || ip == current_ip(f)) return true;
    for (size_t i = 0; i < f->address_count; i++)
        if (f->addresses[i] == ip) return true;
    return false;
}

/* ---- what the stack sends ---------------------------------------------------------------- */

static void learn_flow(struct fuzz *f, uint32_t remote_ip, const uint8_t *segment, size_t length) {
    struct tcp_header h;
    if (tcp_wire_parse(segment, length, &h) != TCP_WIRE_OK) return;
    struct flow *flow = NULL, *free_flow = NULL;
    for (int i = 0; i < MAX_FLOWS; i++) {
        struct flow *c = &f->flows[i];
        if (c->used && c->remote_ip == remote_ip && c->remote_port == h.dst_port && c->local_port == h.src_port) flow = c;
        else if (!c->used && free_flow == NULL) free_flow = c;
    }
    if (flow == NULL) {
        flow = free_flow != NULL ? free_flow : &f->flows[rnd(f, MAX_FLOWS)];
        *flow = (struct flow){.used = true, .remote_ip = remote_ip, .remote_port = h.dst_port, .local_port = h.src_port,
                              .peer_next = (uint32_t)splitmix64(&f->rng)};
    }
    uint32_t end = h.seq + (uint32_t)(length - h.header_length) + ((h.flags & TCP_FLAG_SYN) ? 1 : 0) +
                   ((h.flags & TCP_FLAG_FIN) ? 1 : 0);
    flow->stack_next = end;
    if (h.flags & TCP_FLAG_ACK) flow->peer_next = h.ack;
    if (h.flags & TCP_FLAG_RST) flow->used = false;
}

static int fuzz_transmit(void *ctx, const uint8_t *frame, size_t length) {
    struct fuzz *f = ctx;
    if (rnd(f, 1000) == 0) {
        f->transmit_refused++;
        return ERR_BUSY; /* a full device queue */
    }
    f->sent++;
    TEST_ASSERT(length >= ETH_HEADER_LEN && length <= ETH_HEADER_LEN + (size_t)f->mtu, "sent a frame of %zu bytes", length);
    struct eth_header eth;
    TEST_ASSERT(eth_parse(frame, length, &eth) && eth_equal(eth.source, our_mac), "sent a frame not from our MAC");
    if (eth.type == ETHERTYPE_IPV6) {
        fuzz6_check_sent(f->stack, frame, length);
        return 0;
    }
    TEST_ASSERT(!eth_is_multicast(eth.destination) || eth_is_broadcast(eth.destination), "sent to a multicast MAC");
    const uint8_t *p = frame + ETH_HEADER_LEN;
    size_t n = length - ETH_HEADER_LEN;
    if (eth.type == ETHERTYPE_ARP) {
        struct arp_packet arp;
        TEST_ASSERT(n == ARP_PACKET_LEN && arp_parse(p, n, &arp), "sent a malformed ARP packet");
        TEST_ASSERT(arp.operation == ARP_REQUEST || arp.operation == ARP_REPLY, "ARP operation %u", arp.operation);
        TEST_ASSERT(eth_equal(arp.sender_mac, our_mac) && arp.sender_ip == current_ip(f), "ARP sender");
        if (arp.operation == ARP_REPLY)
            TEST_ASSERT(eth_equal(arp.target_mac, eth.destination) && !eth_is_multicast(arp.target_mac), "ARP reply target");
        return 0;
    }
    TEST_ASSERT(eth.type == ETHERTYPE_IPV4, "sent Ethernet type %04x", eth.type);
    struct ipv4_header ip;
    TEST_ASSERT(ipv4_parse(p, n, &ip) == IPV4_OK, "sent a malformed IPv4 header");
    TEST_ASSERT(p[0] == 0x45 && ip.total_length == n && ip.ttl == 64 && ip.flags_offset == 0, "sent IPv4 header fields");
    TEST_ASSERT(ref_checksum(p, 20, 0) == 0, "sent IPv4 header checksum");
    TEST_ASSERT(known_address(f, ip.source), "sent from %08x, never our address", ip.source);
    if (ip.destination == 0 && ip.protocol == 6) {
        struct tcp_header th;
        tcp_wire_parse(p + 20, n - 20, &th);
        fprintf(stderr, "TCP to 0: ports %u->%u flags %02x seq %u ack %u len %zu\n", th.src_port, th.dst_port, th.flags, th.seq, th.ack, n - 20 - th.header_length);
    }
    TEST_ASSERT(ip.destination != 0, "sent protocol %u (%02x %02x...) to 0.0.0.0 after %" PRIu64 " frames", ip.protocol,
                n > 20 ? p[20] : 0, n > 21 ? p[21] : 0, f->frames);
    const uint8_t *payload = p + 20;
    size_t payload_length = n - 20;
    switch (ip.protocol) {
    case IPV4_PROTOCOL_ICMP:
        TEST_ASSERT(payload_length >= 8 && ref_checksum(payload, payload_length, 0) == 0, "sent ICMP checksum");
        TEST_ASSERT(payload[0] == ICMP_ECHO_REPLY || payload[0] == ICMP_ECHO_REQUEST || payload[0] == ICMP_DEST_UNREACHABLE,
                    "sent ICMP type %u", payload[0]);
        /* replies and errors go to single hosts only (RFC 1122 3.2.2, 3.2.2.6) */
        TEST_ASSERT(payload[0] == ICMP_ECHO_REQUEST ||
                        (ip.destination != 0 && ip.destination >> 24 != 127 && (ip.destination >> 28) != 14 &&
                         !net_is_local_broadcast(f->stack, ip.destination)),
                    "sent ICMP type %u to %08x", payload[0], ip.destination);
        break;
    case IPV4_PROTOCOL_UDP: {
        TEST_ASSERT(payload_length >= 8 && wire_get16(payload + 4) == payload_length, "sent UDP length");
        TEST_ASSERT(wire_get16(payload + 6) != 0 &&
                        ref_checksum(payload, payload_length, ref_pseudo(ip.source, ip.destination, 17, payload_length)) == 0,
                    "sent UDP checksum");
        if (wire_get16(payload) == DHCP_CLIENT_PORT && wire_get16(payload + 2) == DHCP_SERVER_PORT) {
            struct dhcp_message m;
            TEST_ASSERT(dhcp_parse(payload + 8, payload_length - 8, &m) && m.op == DHCP_BOOTREQUEST, "sent a bad DHCP message");
            f->dhcp_xid = m.xid;
        }
        break;
    }
    case IPV4_PROTOCOL_TCP: {
        struct ip_addr from = ip_addr_from_v4(ip.source), to = ip_addr_from_v4(ip.destination);
        TEST_ASSERT(tcp_wire_checksum_ok(&from, &to, payload, payload_length), "sent TCP checksum");
        struct tcp_header h;
        TEST_ASSERT(tcp_wire_parse(payload, payload_length, &h) == TCP_WIRE_OK, "sent a malformed TCP segment");
        learn_flow(f, ip.destination, payload, payload_length);
        break;
    }
    default: test_fail("sent IPv4 protocol %u", ip.protocol);
    }
    return 0;
}

/* ---- callbacks ------------------------------------------------------------------------- */

static void on_udp(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                   const uint8_t *data, size_t length, uint64_t now_ns) {
    struct fuzz *f = ctx;
    (void)destination;
    f->udp_delivered++;
    volatile uint8_t sum = 0; /* touch every byte: ASan checks the range handed over */
    for (size_t i = 0; i < length; i++) sum = (uint8_t)(sum + data[i]);
    (void)sum;
    /* an echo service: answering from inside the receive path */
    bool unspecified = source->family == IP_FAMILY_V4 && source->v4 == 0;
    if (!unspecified && source_port != 0 && chance(f, 30)) net_udp_send(f->stack, ECHO_PORT, source, source_port, data, length, now_ns);
}

static void on_echo(void *ctx, uint32_t from, uint16_t id, uint16_t sequence, const uint8_t *data, size_t length, uint8_t ttl,
                    uint64_t now_ns) {
    struct fuzz *f = ctx;
    (void)from, (void)id, (void)sequence, (void)ttl, (void)now_ns;
    f->echoes++;
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < length; i++) sum = (uint8_t)(sum + data[i]);
    (void)sum;
}

static void on_bound(void *ctx, const struct dhcp_lease *lease) {
    struct fuzz *f = ctx;
    f->dhcp_bound++;
    remember_address(f, lease->address);
}

/* ---- building frames ----------------------------------------------------------------------- */

static const uint8_t *random_peer_mac(struct fuzz *f, uint8_t scratch[6]) {
    switch (rnd(f, 5)) {
    case 0: return gw_mac;
    case 1: return peer_mac;
    case 2: return other_mac;
    case 3: return our_mac; /* our own MAC as a source */
    default:
        for (int i = 0; i < 6; i++) scratch[i] = (uint8_t)splitmix64(&f->rng);
        if (chance(f, 70)) scratch[0] &= 0xfe;
        return scratch;
    }
}

/* An address near the stack's world: the gateway, a neighbour, ours, broadcasts, off-link. */
static uint32_t random_address(struct fuzz *f) {
    uint32_t ip = current_ip(f);
    uint32_t base = ip != 0 ? ip & 0xffffff00u : IPV4_ADDR(10, 0, 2, 0);
    switch (rnd(f, 10)) {
    case 0: return GW_IP;
    case 1: return PEER_IP;
    case 2: return ip;
    case 3: return IPV4_BROADCAST;
    case 4: return base | 0xff;
    case 5: return REMOTE_IP;
    case 6: return (uint32_t)splitmix64(&f->rng);
    case 7: return 0;
    default: return base | (uint32_t)rnd(f, 256);
    }
}

/* A destination for the API: never 0.0.0.0 (the caller's mistake, not the network's). */
static uint32_t api_address(struct fuzz *f) {
    uint32_t ip = random_address(f);
    return ip != 0 ? ip : PEER_IP;
}

static const uint8_t *destination_mac(struct fuzz *f) {
    switch (rnd(f, 10)) {
    case 0: return eth_broadcast;
    case 1: return other_mac;
    default: return our_mac;
    }
}

static size_t random_payload(struct fuzz *f, uint8_t *out, size_t max) {
    size_t length;
    switch (rnd(f, 4)) {
    case 0: length = 0; break;
    case 1: length = rnd(f, 16); break;
    case 2: length = rnd(f, max + 1); break;
    default: length = rnd(f, 128); break;
    }
    length = MIN(length, max);
    for (size_t i = 0; i < length; i++) out[i] = (uint8_t)splitmix64(&f->rng);
    return length;
}

static size_t wrap_ipv4(struct fuzz *f, uint8_t *frame, uint32_t source, uint32_t destination, uint8_t protocol,
                        const uint8_t *payload, size_t length) {
    uint8_t scratch[6];
    struct ip_spec spec = IP(source, destination, protocol);
    spec.id = (uint16_t)splitmix64(&f->rng);
    if (chance(f, 5)) spec.options_length = (uint8_t)(4 * rnd(f, 11));
    if (chance(f, 5)) spec.ttl = (uint8_t)rnd(f, 3);
    if (chance(f, 10)) spec.flags_offset = IPV4_FLAG_DF;
    spec.tos = chance(f, 10) ? (uint8_t)splitmix64(&f->rng) : 0;
    length = MIN(length, (size_t)ETH_MTU - 20 - spec.options_length);
    const uint8_t *dst_mac = destination == IPV4_BROADCAST ? eth_broadcast : destination_mac(f);
    return build_ipv4(frame, dst_mac, random_peer_mac(f, scratch), &spec, payload, length);
}

static size_t tcp_segment(struct fuzz *f, uint8_t *out, uint32_t source, uint32_t destination, size_t max) {
    struct flow *flow = &f->flows[rnd(f, MAX_FLOWS)];
    bool use_flow = flow->used && chance(f, 70);
    uint16_t sport = use_flow ? flow->remote_port : (uint16_t)(1024 + rnd(f, 60000));
    uint16_t dport = use_flow ? flow->local_port : chance(f, 70) ? TCP_PORT : (uint16_t)rnd(f, 65536);
    if (use_flow) source = flow->remote_ip;
    uint32_t seq = use_flow ? flow->peer_next + (chance(f, 80) ? 0 : (uint32_t)rnd(f, 100000) - 50000) : (uint32_t)splitmix64(&f->rng);
    uint32_t ack = use_flow ? flow->stack_next + (chance(f, 80) ? 0 : (uint32_t)rnd(f, 3000) - 1500) : (uint32_t)splitmix64(&f->rng);
    uint8_t flags;
    if (!use_flow) flags = chance(f, 80) ? TCP_FLAG_SYN : (uint8_t)splitmix64(&f->rng);
    else {
        static const uint8_t choices[] = {TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_PSH, TCP_FLAG_ACK | TCP_FLAG_FIN, TCP_FLAG_RST,
                                          TCP_FLAG_ACK | TCP_FLAG_RST, TCP_FLAG_SYN, TCP_FLAG_ACK};
        flags = chance(f, 90) ? choices[rnd(f, ARRAY_SIZE(choices))] : (uint8_t)splitmix64(&f->rng);
    }
    size_t header = 20;
    memset(out, 0, 20);
    if ((flags & TCP_FLAG_SYN) && chance(f, 70)) {
        uint8_t *o = out + 20;
        o[0] = 2, o[1] = 4, wire_put16(o + 2, (uint16_t)(chance(f, 80) ? 1460 : rnd(f, 65536)));
        o[4] = 1, o[5] = 3, o[6] = 3, o[7] = (uint8_t)rnd(f, 16);
        o[8] = 1, o[9] = 1, o[10] = 8, o[11] = 10;
        wire_put32(o + 12, (uint32_t)splitmix64(&f->rng));
        wire_put32(o + 16, 0);
        header = 40;
    }
    wire_put16(out, sport);
    wire_put16(out + 2, dport);
    wire_put32(out + 4, seq);
    wire_put32(out + 8, ack);
    out[12] = (uint8_t)(header / 4) << 4;
    out[13] = flags;
    wire_put16(out + 14, (uint16_t)(chance(f, 90) ? 65535 : rnd(f, 65536)));
    size_t data = (flags & TCP_FLAG_SYN) ? 0 : random_payload(f, out + header, max - header);
    size_t length = header + data;
    struct ip_addr from = ip_addr_from_v4(source), to = ip_addr_from_v4(destination);
    tcp_wire_set_checksum(&from, &to, out, length);
    return length;
}

/* A whole datagram (UDP, ICMP echo or TCP) split into fragments, queued in f->pending in a
 * random order, sometimes with a duplicate or a gap. */
static void make_fragments(struct fuzz *f, uint32_t source, uint32_t destination) {
    static uint8_t payload[65536 + 64];
    size_t size;
    switch (rnd(f, 20)) {
    case 0: size = 8 + rnd(f, 65515 - 8 + 8); break; /* sometimes past 65535 in all */
    case 1: size = 8 + rnd(f, 64); break;
    default: size = 8 + rnd(f, 4000); break;
    }
    uint8_t protocol;
    switch (rnd(f, 4)) {
    case 0:
        protocol = IPV4_PROTOCOL_ICMP;
        for (size_t i = 8; i < size; i++) payload[i] = (uint8_t)i;
        build_icmp(payload, ICMP_ECHO_REQUEST, 0, (uint16_t)rnd(f, 65536), (uint16_t)rnd(f, 65536), payload + 8, size - 8);
        break;
    case 1:
        protocol = IPV4_PROTOCOL_TCP;
        size = tcp_segment(f, payload, source, destination, MIN(MAX(size, 60u), 65000u));
        break;
    default: {
        protocol = IPV4_PROTOCOL_UDP;
        size = MIN(size, 65507u + 8u + 8u);
        for (size_t i = 8; i < size; i++) payload[i] = (uint8_t)(i * 13);
        uint16_t port = chance(f, 60) ? ECHO_PORT : chance(f, 50) ? DHCP_CLIENT_PORT : (uint16_t)rnd(f, 65536);
        build_udp(payload, source, destination, (uint16_t)rnd(f, 65536), port, payload + 8, size - 8);
        break;
    }
    }
    size_t piece = 8 * (1 + rnd(f, chance(f, 50) ? 185 : 8));
    size_t count = (size + piece - 1) / piece;
    if (count > MAX_PENDING - f->pending_count) {
        piece = ALIGN_UP((size + (MAX_PENDING - f->pending_count) - 1) / (MAX_PENDING - f->pending_count), 8);
        if (piece > 1480) return; /* no room now */
        count = (size + piece - 1) / piece;
    }
    uint16_t id = (uint16_t)splitmix64(&f->rng);
    size_t first = f->pending_count;
    bool intact = chance(f, 50); /* every piece once: the datagram completes unless mutated */
    uint8_t scratch[6];
    const uint8_t *mac = random_peer_mac(f, scratch);
    for (size_t i = 0; i < count && f->pending_count < MAX_PENDING; i++) {
        size_t offset = i * piece, length = MIN(piece, size - offset);
        if (offset / 8 > IPV4_OFFSET_MASK) break;
        if (!intact && chance(f, 5)) continue; /* a gap */
        struct ip_spec spec = IP(source, destination, protocol);
        spec.id = id;
        spec.flags_offset = (uint16_t)((i + 1 < count ? IPV4_FLAG_MF : 0) | offset / 8);
        if (i == 0 && chance(f, 10)) spec.options_length = 8;
        struct saved *slot = &f->pending[f->pending_count++];
        slot->length = build_ipv4(slot->bytes, our_mac, mac, &spec, payload + offset, length);
        if (!intact && chance(f, 5) && f->pending_count < MAX_PENDING) { /* a duplicate */
            f->pending[f->pending_count] = *slot;
            f->pending_count++;
        }
    }
    if (chance(f, 60)) f->burst = f->pending_count;
    /* shuffle the new ones */
    if (chance(f, 50)) {
        for (size_t i = f->pending_count; i > first + 1; i--) {
            size_t j = first + rnd(f, i - first);
            struct saved t = f->pending[i - 1];
            f->pending[i - 1] = f->pending[j];
            f->pending[j] = t;
        }
    }
}

static size_t dhcp_reply_frame(struct fuzz *f, uint8_t *frame, size_t *options_at) {
    enum dhcp_state state = dhcp_client_state(f->dhcp);
    struct dhcp_reply r = {0};
    if (state == DHCP_SELECTING) r.type = chance(f, 80) ? DHCPOFFER : DHCPACK;
    else r.type = chance(f, 85) ? DHCPACK : chance(f, 50) ? DHCPNAK : DHCPOFFER;
    if (chance(f, 3)) r.type = (uint8_t)rnd(f, 10);
    r.xid = chance(f, 90) ? f->dhcp_xid : (uint32_t)splitmix64(&f->rng);
    memcpy(r.chaddr, chance(f, 95) ? our_mac : peer_mac, 6);
    r.yiaddr = chance(f, 85) ? OUR_IP : random_address(f);
    r.server = chance(f, 90) ? GW_IP : random_address(f);
    if (chance(f, 85)) r.mask = 0xffffff00u;
    else {
        unsigned shift = (unsigned)rnd(f, 33);
        r.mask = shift == 32 ? 0 : ~0u << shift;
    }
    r.router = chance(f, 90) ? GW_IP : random_address(f);
    r.dns = DNS_IP;
    switch (rnd(f, 20)) {
    case 0:
    case 1: r.lease_s = 86400; break;
    case 2: r.lease_s = (uint32_t)splitmix64(&f->rng); break;
    case 3: r.lease_s = chance(f, 50) ? 0 : 0xffffffffu; break;
    default: r.lease_s = (uint32_t)(1 + rnd(f, 120)); break; /* short: renewals and expiry within the run */
    }
    if (chance(f, 20)) r.renew_s = (uint32_t)rnd(f, 100);
    if (chance(f, 20)) r.rebind_s = (uint32_t)rnd(f, 150);
    r.ip_destination = chance(f, 70) ? 0 : current_ip(f);
    r.eth_destination = chance(f, 70) ? NULL : our_mac;
    if (chance(f, 3)) r.source_port = (uint16_t)rnd(f, 100);
    return build_dhcp_reply(frame, &r, options_at);
}

/* A plausible frame; *dhcp_options is the option area's offset for a DHCP reply, else 0;
 * *fragment tells whether it is one of a datagram's fragments. */
static size_t template_frame(struct fuzz *f, uint8_t *frame, size_t *dhcp_options, bool *fragment) {
    static uint8_t payload[ETH_MTU];
    uint8_t scratch[6];
    *dhcp_options = 0;
    *fragment = false;
    /* IPv6 (stack_fuzz6.c); a few even when it is off */
    if (chance(f, net_ipv6_enabled(f->stack) ? 25 : 3)) return fuzz6_frame(&f->rng, frame);
    uint32_t us = current_ip(f);
    if (us == 0 && chance(f, 50)) us = OUR_IP;
    uint32_t peer = random_address(f);
    switch (rnd(f, 16)) {
    case 0:
    case 1: { /* ARP */
        const uint8_t *mac = random_peer_mac(f, scratch);
        uint16_t op = chance(f, 50) ? ARP_REQUEST : chance(f, 95) ? ARP_REPLY : (uint16_t)rnd(f, 5);
        uint32_t target = chance(f, 70) ? us : random_address(f);
        const uint8_t *dst = op == ARP_REPLY && chance(f, 80) ? our_mac : destination_mac(f);
        return build_arp(frame, dst, mac, op, mac, chance(f, 90) ? peer : 0, op == ARP_REPLY ? our_mac : zero_mac_addr, target);
    }
    case 2:
    case 3: { /* ICMP echo request / reply / error */
        uint8_t type = chance(f, 60) ? ICMP_ECHO_REQUEST : chance(f, 60) ? ICMP_ECHO_REPLY : (uint8_t)rnd(f, 20);
        size_t data = random_payload(f, payload + 8, ETH_MTU - 28 - 8);
        size_t m = build_icmp(payload, type, (uint8_t)(chance(f, 90) ? 0 : rnd(f, 16)),
                              (uint16_t)(chance(f, 50) ? 1 + rnd(f, 3) : rnd(f, 65536)), (uint16_t)rnd(f, 65536), payload + 8,
                              data);
        return wrap_ipv4(f, frame, peer, chance(f, 85) ? us : random_address(f), IPV4_PROTOCOL_ICMP, payload, m);
    }
    case 4:
    case 5:
    case 6: { /* UDP */
        uint16_t port;
        switch (rnd(f, 4)) {
        case 0: port = DHCP_CLIENT_PORT; break;
        case 1: port = (uint16_t)rnd(f, 65536); break;
        default: port = ECHO_PORT; break;
        }
        size_t data = random_payload(f, payload + 8, ETH_MTU - 28 - 8);
        uint32_t destination = chance(f, 80) ? us : random_address(f);
        size_t u = build_udp(payload, peer, destination, (uint16_t)(chance(f, 90) ? 1 + rnd(f, 65535) : 0), port, payload + 8,
                             data);
        if (chance(f, 10)) payload[6] = payload[7] = 0;
        return wrap_ipv4(f, frame, peer, destination, IPV4_PROTOCOL_UDP, payload, u);
    }
    case 7:
    case 8:
    case 9: { /* TCP */
        uint32_t destination = chance(f, 90) ? us : random_address(f);
        size_t t = tcp_segment(f, payload, peer, destination, ETH_MTU - 20 - 40);
        return wrap_ipv4(f, frame, peer, destination, IPV4_PROTOCOL_TCP, payload, t);
    }
    case 10:
    case 11: /* fragments */
        if (f->pending_count == 0 || chance(f, 10)) {
            uint32_t source = chance(f, 85) ? (chance(f, 50) ? PEER_IP : REMOTE_IP) : peer;
            make_fragments(f, source, chance(f, 90) ? us : random_address(f));
        }
        if (f->pending_count == 0) return 0;
        *fragment = true;
        {
            size_t i = chance(f, 80) ? 0 : rnd(f, f->pending_count);
            size_t length = f->pending[i].length;
            memcpy(frame, f->pending[i].bytes, length);
            memmove(&f->pending[i], &f->pending[i + 1], (f->pending_count - i - 1) * sizeof f->pending[0]);
            f->pending_count--;
            return length;
        }
    case 12:
    case 13: /* DHCP */
        return dhcp_reply_frame(f, frame, dhcp_options);
    case 14: { /* another protocol, or an IPv4 header only */
        size_t data = random_payload(f, payload, 100);
        return wrap_ipv4(f, frame, peer, us, (uint8_t)rnd(f, 256), payload, data);
    }
    default: { /* another EtherType, or a runt */
        size_t length = rnd(f, 80);
        for (size_t i = 0; i < length; i++) frame[i] = (uint8_t)splitmix64(&f->rng);
        if (length >= 6) memcpy(frame, our_mac, 6);
        return length;
    }
    }
}

/* ---- mutations --------------------------------------------------------------------------------- */

static bool is_ipv4(const uint8_t *frame, size_t length) {
    return length >= ETH_HEADER_LEN + 20 && wire_get16(frame + 12) == ETHERTYPE_IPV4 && (frame[14] >> 4) == 4 &&
           (frame[14] & 15) >= 5 && ETH_HEADER_LEN + (size_t)(frame[14] & 15) * 4 <= length;
}

/* Recomputes the transport checksum when the headers say where it is and it fits. */
static void fix_transport_checksum(uint8_t *frame, size_t length) {
    if (!is_ipv4(frame, length)) return;
    uint8_t *p = frame + ETH_HEADER_LEN;
    size_t header = (size_t)(p[0] & 15) * 4;
    size_t total = wire_get16(p + 2);
    if (total < header || ETH_HEADER_LEN + total > length) return;
    if ((wire_get16(p + 6) & (IPV4_FLAG_MF | IPV4_OFFSET_MASK)) != 0) return; /* a fragment: the sum is the datagram's */
    uint8_t *t = p + header;
    size_t n = total - header;
    uint32_t source = wire_get32(p + 12), destination = wire_get32(p + 16);
    switch (p[9]) {
    case IPV4_PROTOCOL_ICMP:
        if (n < 8) return;
        wire_put16(t + 2, 0);
        wire_put16(t + 2, ref_checksum(t, n, 0));
        return;
    case IPV4_PROTOCOL_UDP: {
        if (n < 8) return;
        size_t u = wire_get16(t + 4);
        if (u < 8 || u > n) return;
        wire_put16(t + 6, 0);
        uint16_t sum = ref_checksum(t, u, ref_pseudo(source, destination, 17, u));
        wire_put16(t + 6, sum == 0 ? 0xffff : sum);
        return;
    }
    case IPV4_PROTOCOL_TCP: {
        if (n < 20) return;
        struct ip_addr from = ip_addr_from_v4(source), to = ip_addr_from_v4(destination);
        tcp_wire_set_checksum(&from, &to, t, n);
        return;
    }
    default: return;
    }
}

static size_t mutate(struct fuzz *f, uint8_t *frame, size_t length, size_t dhcp_options) {
    int count = 1 + (int)rnd(f, 4);
    bool ip_edit = false;
    for (int k = 0; k < count; k++) {
        switch (rnd(f, 14)) {
        case 0:
        case 1: /* bit flips */
            if (length > 0) {
                int flips = 1 + (int)rnd(f, 3);
                for (int i = 0; i < flips; i++) {
                    size_t at = rnd(f, length);
                    frame[at] ^= (uint8_t)(1u << rnd(f, 8));
                }
            }
            break;
        case 2: /* a byte stored */
            if (length > 0) frame[rnd(f, length)] = chance(f, 50) ? (uint8_t)splitmix64(&f->rng) : chance(f, 50) ? 0 : 0xff;
            break;
        case 3: /* truncation */
            if (length > 0) {
                size_t cut = 1 + rnd(f, 8);
                length = chance(f, 50) ? rnd(f, length) : length - MIN(length, cut);
            }
            break;
        case 4: { /* extension: padding or junk */
            size_t more = rnd(f, 64);
            more = MIN(more, (size_t)MAX_FRAME - length);
            uint8_t fill = (uint8_t)(chance(f, 50) ? 0 : splitmix64(&f->rng));
            for (size_t i = 0; i < more; i++) frame[length + i] = chance(f, 50) ? fill : (uint8_t)splitmix64(&f->rng);
            length += more;
            break;
        }
        case 5: /* IPv4 total length */
            if (length >= ETH_HEADER_LEN + 4) {
                uint16_t total = wire_get16(frame + 16);
                switch (rnd(f, 4)) {
                case 0: total = (uint16_t)splitmix64(&f->rng); break;
                case 1: total = (uint16_t)(total + rnd(f, 17) - 8); break;
                case 2: total = (uint16_t)(length - ETH_HEADER_LEN + rnd(f, 3) - 1); break;
                default: total = (uint16_t)rnd(f, 60); break;
                }
                wire_put16(frame + 16, total);
                ip_edit = true;
            }
            break;
        case 6: /* IHL / version */
            if (length > ETH_HEADER_LEN) {
                frame[14] = chance(f, 80) ? (uint8_t)((frame[14] & 0xf0) | rnd(f, 16)) : (uint8_t)splitmix64(&f->rng);
                ip_edit = true;
            }
            break;
        case 7: /* fragment flags and offset (not too often: a fragment holds a slot for 30 s) */
            if (length >= ETH_HEADER_LEN + 8 && chance(f, 40)) {
                uint16_t fo = wire_get16(frame + 20);
                switch (rnd(f, 5)) {
                case 0: fo ^= IPV4_FLAG_MF; break;
                case 1: fo = (uint16_t)((fo & 0xe000) | rnd(f, 8192)); break;
                case 2: fo = (uint16_t)((fo & 0xe000) | ((fo + rnd(f, 5) - 2) & IPV4_OFFSET_MASK)); break;
                case 3: fo = (uint16_t)(IPV4_FLAG_MF | (8191 - rnd(f, 4))); break;
                default: fo = (uint16_t)splitmix64(&f->rng); break;
                }
                wire_put16(frame + 20, fo);
                ip_edit = true;
            }
            break;
        case 8: /* TTL, protocol, id, addresses */
            if (length >= ETH_HEADER_LEN + 20) {
                switch (rnd(f, 4)) {
                case 0: frame[22] = (uint8_t)rnd(f, 3); break;
                case 1: frame[23] = chance(f, 70) ? (uint8_t)(chance(f, 50) ? 17 : 1) : (uint8_t)rnd(f, 256); break;
                case 2: wire_put16(frame + 18, (uint16_t)rnd(f, 4)); break;
                default: wire_put32(frame + (chance(f, 50) ? 26 : 30), random_address(f)); break;
                }
                ip_edit = true;
            }
            break;
        case 9: /* the UDP length field */
            if (is_ipv4(frame, length)) {
                size_t at = ETH_HEADER_LEN + (size_t)(frame[14] & 15) * 4 + 4;
                if (at + 2 <= length) {
                    uint16_t u = wire_get16(frame + at);
                    wire_put16(frame + at, chance(f, 50) ? (uint16_t)(u + rnd(f, 17) - 8) : (uint16_t)rnd(f, 65536));
                }
            }
            break;
        case 10: /* a DHCP option's length (or code) */
            if (dhcp_options != 0 && dhcp_options < length) {
                size_t at = dhcp_options, chosen = 0, seen = 0;
                while (at + 1 < length && frame[at] != 255) {
                    if (frame[at] == 0) {
                        at++;
                        continue;
                    }
                    if (rnd(f, ++seen) == 0) chosen = at;
                    at += 2 + frame[at + 1];
                }
                if (chosen != 0 && chosen + 1 < length) {
                    if (chance(f, 80)) frame[chosen + 1] = chance(f, 50) ? (uint8_t)(frame[chosen + 1] + rnd(f, 9) - 4) : (uint8_t)rnd(f, 256);
                    else frame[chosen] = (uint8_t)rnd(f, 256);
                }
            }
            break;
        case 11: /* the EtherType or destination */
            if (length >= ETH_HEADER_LEN) {
                if (chance(f, 50)) wire_put16(frame + 12, chance(f, 50) ? ETHERTYPE_ARP : chance(f, 50) ? ETHERTYPE_IPV4 : (uint16_t)rnd(f, 65536));
                else memcpy(frame, chance(f, 50) ? eth_broadcast : other_mac, 6);
            }
            break;
        case 12: /* the ARP fields */
            if (length >= ETH_HEADER_LEN + 28 && wire_get16(frame + 12) == ETHERTYPE_ARP) {
                size_t at = ETH_HEADER_LEN + rnd(f, 28);
                frame[at] = (uint8_t)splitmix64(&f->rng);
            }
            break;
        default: /* a run of random bytes */
            if (length > 0) {
                size_t at = rnd(f, length), n = 1 + rnd(f, 16);
                n = MIN(n, length - at);
                for (size_t i = 0; i < n; i++) frame[at + i] = (uint8_t)splitmix64(&f->rng);
            }
            break;
        }
    }
    if (length >= ETH_HEADER_LEN && wire_get16(frame + 12) == ETHERTYPE_IPV6) {
        if (chance(f, 40)) fuzz6_mutate(&f->rng, frame, length);
        if (chance(f, 70)) fuzz6_fix_checksum(frame, length);
    }
    if (chance(f, 70)) fix_transport_checksum(frame, length);
    if ((ip_edit || chance(f, 50)) && chance(f, 85) && is_ipv4(frame, length)) fix_ipv4_checksum(frame);
    return length;
}

static void save(struct fuzz *f, const uint8_t *frame, size_t length) {
    struct saved *slot = &f->corpus[f->corpus_count < CORPUS ? f->corpus_count++ : rnd(f, CORPUS)];
    slot->length = length;
    memcpy(slot->bytes, frame, length);
}

/* ---- the run ---------------------------------------------------------------------------------- */

static void check(struct fuzz *f) {
    const char *what;
    TEST_ASSERT(tcp_stack_check(f->tcp, &what) == 0, "TCP invariant broken after %" PRIu64 " frames: %s", f->frames, what);
    const struct net_stack *s = f->stack;
    for (size_t i = 0; i < ARP_ENTRIES; i++) {
        const struct arp_entry *e = &s->arp[i];
        TEST_ASSERT(e->queue.count <= RESOLVE_QUEUE_MAX, "ARP entry with %u packets", e->queue.count);
        TEST_ASSERT(e->state != ARP_FREE || e->queue.count == 0, "a free ARP entry holds packets");
        TEST_ASSERT(e->state != ARP_REACHABLE || e->queue.count == 0, "a resolved ARP entry holds packets");
        TEST_ASSERT(e->requests <= ARP_MAX_REQUESTS, "ARP entry after %u requests", e->requests);
    }
    fuzz6_check_state(s, f->now);
    for (size_t i = 0; i < REASSEMBLY_SLOTS; i++) {
        const struct reassembly *r = &s->reassembly[i];
        if (!r->used) continue;
        TEST_ASSERT(r->data != NULL && r->have != NULL, "a reassembly slot without buffers");
        TEST_ASSERT(r->fragments <= REASSEMBLY_MAX_FRAGMENTS, "a slot with %u fragments", r->fragments);
        TEST_ASSERT(r->total_length <= REASSEMBLY_MAX_BYTES && r->expires_ns <= f->now + REASSEMBLY_TIMEOUT_NS, "slot state");
    }
}

static void inject(struct fuzz *f) {
    size_t length, dhcp_options = 0;
    uint64_t kind = rnd(f, 100);
    if (kind < 5) { /* random bytes */
        length = rnd(f, MAX_FRAME);
        for (size_t i = 0; i < length; i++) f->frame[i] = (uint8_t)splitmix64(&f->rng);
        if (length >= 14 && chance(f, 80)) {
            memcpy(f->frame, chance(f, 70) ? our_mac : eth_broadcast, 6);
            wire_put16(f->frame + 12, chance(f, 70) ? ETHERTYPE_IPV4 : ETHERTYPE_ARP);
            if (length > 14 && chance(f, 70)) f->frame[14] = 0x45;
        }
    } else if (f->burst > 0 && f->pending_count > 0) { /* the next fragment of a burst */
        f->burst--;
        length = f->pending[0].length;
        memcpy(f->frame, f->pending[0].bytes, length);
        memmove(&f->pending[0], &f->pending[1], (f->pending_count - 1) * sizeof f->pending[0]);
        f->pending_count--;
        if (chance(f, 10)) length = mutate(f, f->frame, length, 0);
    } else if (kind < 25 && f->corpus_count > 0) { /* an earlier frame, mutated again */
        const struct saved *s = &f->corpus[rnd(f, f->corpus_count)];
        length = s->length;
        memcpy(f->frame, s->bytes, length);
        length = mutate(f, f->frame, length, 0);
    } else {
        bool fragment;
        length = template_frame(f, f->frame, &dhcp_options, &fragment);
        /* fragments are mutated less: a datagram needs all of its pieces */
        if (chance(f, fragment ? 10 : 60)) length = mutate(f, f->frame, length, dhcp_options);
        if (chance(f, 5)) save(f, f->frame, length);
    }
    uint8_t *copy = malloc(length == 0 ? 1 : length);
    TEST_ASSERT(copy != NULL, "malloc");
    memcpy(copy, f->frame, length);
    net_stack_input(f->stack, copy, length, f->now);
    free(copy);
    f->frames++;
    check(f);
}

static void api_call(struct fuzz *f) {
    static uint8_t data[4096];
    f->api_calls++;
    net_stack_set_clock(f->stack, f->now);
    switch (rnd(f, 10)) {
    case 0:
    case 1: { /* UDP: to neighbours that may never answer ARP, the gateway, broadcasts */
        size_t length = chance(f, 95) ? rnd(f, 200) : rnd(f, sizeof data);
        struct ip_addr to = ip_addr_from_v4(api_address(f));
        int err = net_udp_send(f->stack, ECHO_PORT, &to, (uint16_t)rnd(f, 65536), data, length, f->now);
        TEST_ASSERT(err == 0 || err == ERR_MSGSIZE || err == ERR_UNREACHABLE || err == ERR_NOMEM, "net_udp_send: %s",
                    err_name(err));
        break;
    }
    case 2: {
        if (chance(f, 50)) {
            fuzz6_api(&f->rng, f->stack, f->now);
            break;
        }
        int err = net_echo_send(f->stack, api_address(f), (uint16_t)(1 + rnd(f, 3)), (uint16_t)rnd(f, 65536), data,
                                rnd(f, 100), f->now);
        TEST_ASSERT(err == 0 || err == ERR_UNREACHABLE || err == ERR_NOMEM, "net_echo_send: %s", err_name(err));
        break;
    }
    case 3: { /* an ephemeral UDP socket comes or goes */
        uint16_t port;
        if (chance(f, 50) && net_udp_bind(f->stack, 0, on_udp, f, &port) == 0) {
            TEST_ASSERT(port >= 49152, "ephemeral port %u", port);
            if (chance(f, 70)) net_udp_unbind(f->stack, port);
        }
        break;
    }
    case 4: /* ping listeners */
        net_echo_listen(f->stack, (uint16_t)(1 + rnd(f, 3)), chance(f, 70) ? on_echo : NULL, f);
        break;
    case 5:
    case 6: { /* accept */
        int i = (int)rnd(f, MAX_CONNS);
        if (f->conns[i] == NULL && f->listener != NULL) {
            struct tcp_conn *conn;
            if (tcp_accept(f->listener, &conn) == 0) f->conns[i] = conn;
        }
        break;
    }
    case 7: { /* connect */
        int i = (int)rnd(f, MAX_CONNS);
        uint32_t us = current_ip(f);
        uint32_t to = api_address(f);
        if (f->conns[i] == NULL && us != 0 && to != IPV4_BROADCAST && (to & 0xff) != 0xff) {
            struct tcp_conn *conn;
            struct ip_addr from = ip_addr_from_v4(us), dst = ip_addr_from_v4(to);
            if (tcp_connect(f->tcp, &from, &dst, (uint16_t)(1 + rnd(f, 65535)), f->now, &conn) == 0) f->conns[i] = conn;
        }
        break;
    }
    default: { /* use or close a connection */
        struct tcp_conn **conn = &f->conns[rnd(f, MAX_CONNS)];
        if (*conn == NULL) break;
        switch (rnd(f, 5)) {
        case 0: tcp_send(*conn, data, rnd(f, 3000), f->now); break;
        case 1: tcp_recv(*conn, data, sizeof data, f->now); break;
        case 2: tcp_shutdown(*conn, f->now); break;
        case 3: tcp_close(*conn, f->now), *conn = NULL; break;
        default: tcp_abort(*conn, f->now), *conn = NULL; break;
        }
        break;
    }
    }
    check(f);
}

static void advance_time(struct fuzz *f) {
    uint64_t step;
    switch (rnd(f, 12)) {
    case 0: step = rnd(f, 70 * SEC); break; /* reassembly timeouts, leases, TIME_WAIT */
    case 1:
    case 2: step = rnd(f, 2 * SEC); break; /* ARP retries */
    case 3: { /* exactly the next deadline */
        uint64_t next = MIN(net_stack_next_deadline(f->stack), dhcp_client_next_deadline(f->dhcp));
        step = next != UINT64_MAX && next > f->now ? next - f->now : 0;
        break;
    }
    default: step = rnd(f, 100 * MS); break;
    }
    f->now += step;
    if (net_stack_next_deadline(f->stack) <= f->now || chance(f, 10)) {
        net_stack_timers(f->stack, f->now);
        /* what was due has run (ARP and reassembly; TCP checks its own) */
        if (arp_next_deadline(f->stack) <= f->now) {
            for (size_t i = 0; i < ARP_ENTRIES; i++) {
                const struct arp_entry *e = &f->stack->arp[i];
                if (e->state == ARP_INCOMPLETE && e->next_request_ns <= f->now)
                    test_fail("ARP entry %08x still due after timers: %u requests, %u queued, next %" PRIu64 " now %" PRIu64,
                              e->ip, e->requests, e->queue.count, e->next_request_ns, f->now);
            }
        }
        TEST_ASSERT(ipv4_next_deadline(f->stack) > f->now, "a reassembly timer still due");
        TEST_ASSERT(ipv6_next_deadline(f->stack) > f->now, "an IPv6 timer still due");
    }
    if (dhcp_client_next_deadline(f->dhcp) <= f->now || chance(f, 10)) dhcp_client_timers(f->dhcp, f->now);
    f->timer_runs++;
    check(f);
}

enum setup { STATIC_AND_DHCP, DHCP_ONLY, SMALL_MTU };

static void fuzz_run(const char *name, enum setup setup, uint64_t frames, uint32_t alloc_fail) {
    uint64_t blocks = net_native_blocks_in_use();
    uint64_t seed = test_env_number("NET_FUZZ_SEED", 1);
    struct fuzz *f = calloc(1, sizeof *f);
    TEST_ASSERT(f != NULL, "calloc");
    f->rng = seed * 0x9e3779b97f4a7c15ull + frames + setup * 7919 + alloc_fail;
    net_native_seed(f->rng ^ 0xabcdef);
    f->now = SEC;
    f->mtu = setup == SMALL_MTU ? 576 : HOST_MTU;
    f->stack = net_stack_new(our_mac, f->mtu, fuzz_transmit, f);
    TEST_ASSERT(f->stack != NULL, "net_stack_new");
    f->tcp = net_stack_tcp(f->stack);
    if (setup != DHCP_ONLY) {
        net_stack_set_ipv4(f->stack, OUR_IP, OUR_PREFIX, GW_IP, f->now);
        remember_address(f, OUR_IP);
    }
    TEST_ASSERT(net_udp_bind(f->stack, ECHO_PORT, on_udp, f, NULL) == 0, "bind");
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(tcp_listen(f->tcp, &any, TCP_PORT, 4, &f->listener) == 0, "listen");
    f->dhcp = dhcp_client_new(f->stack, on_bound, f);
    TEST_ASSERT(f->dhcp != NULL, "dhcp_client_new");
    TEST_ASSERT(net_echo_listen(f->stack, 1, on_echo, f) == 0, "echo listen");
    dhcp_client_start(f->dhcp, f->now);
    fuzz6_reset();
    if (f->mtu >= 1280) TEST_ASSERT(net_ipv6_start(f->stack, true, f->now) == 0, "net_ipv6_start");
    net_native_fail_allocations(alloc_fail);
    while (f->frames < frames) {
        uint64_t what = rnd(f, 100);
        if (what < 86) inject(f);
        else if (what < 93) api_call(f);
        else advance_time(f);
    }
    net_native_fail_allocations(0);
    struct net_stack_stats st;
    net_stack_get_stats(f->stack, &st);
    test_note("%s: %" PRIu64 " frames in, %" PRIu64 " out (%" PRIu64 " refused), %" PRIu64 " API calls, %" PRIu64
              " timer runs, %.0f s simulated; malformed %" PRIu64 " not for us %" PRIu64 " ipv4 %" PRIu64
              " bad sums %" PRIu64 "/%" PRIu64 " fragments %" PRIu64 " reassembled %" PRIu64 " dropped %" PRIu64
              " arp in %" PRIu64 "+%" PRIu64 " unresolved %" PRIu64 " echo replies %" PRIu64 " unreachables %" PRIu64
              " udp delivered %" PRIu64 " dhcp bound %" PRIu64,
              name, f->frames, f->sent, f->transmit_refused, f->api_calls, f->timer_runs, (double)(f->now - SEC) / 1e9,
              st.malformed, st.not_for_us, st.ipv4_in, st.ipv4_bad_checksum, st.udp_bad_checksum, st.fragments_in,
              st.reassembled, st.reassembly_dropped, st.arp_requests_in, st.arp_replies_in, st.arp_unresolved,
              st.echo_replies_out, st.port_unreachable_out, f->udp_delivered, f->dhcp_bound);
    test_note("%s: ipv6 in %" PRIu64 " out %" PRIu64 " dropped %" PRIu64 " fragments %" PRIu64 " reassembled %" PRIu64
              " dropped %" PRIu64 " icmpv6 in %" PRIu64 " errors out %" PRIu64 " rate-limited %" PRIu64 " nd ns %" PRIu64
              "/%" PRIu64 " na %" PRIu64 "/%" PRIu64 " ra %" PRIu64 " invalid %" PRIu64 " unresolved %" PRIu64
              " dad conflicts %" PRIu64 "%s",
              name, st.ipv6_in, st.ipv6_out, st.ipv6_dropped, st.fragments6_in, st.reassembled6, st.reassembly6_dropped,
              st.icmpv6_in, st.icmpv6_errors_out, st.icmpv6_rate_limited, st.nd_ns_in, st.nd_ns_out, st.nd_na_in, st.nd_na_out,
              st.nd_ra_in, st.nd_invalid, st.nd_unresolved, st.dad_conflicts, net_ipv6_enabled(f->stack) ? "" : " (IPv6 off)");
    /* everything is released: connections, the listener, the client, the stack */
    for (int i = 0; i < MAX_CONNS; i++)
        if (f->conns[i] != NULL) tcp_abort(f->conns[i], f->now);
    tcp_listener_close(f->listener);
    dhcp_client_free(f->dhcp);
    net_stack_free(f->stack);
    uint64_t left = net_native_blocks_in_use() - blocks;
    free(f);
    TEST_ASSERT(left == 0, "%" PRIu64 " blocks left allocated after net_stack_free", left);
}

static uint64_t share(uint64_t percent) {
    return test_env_number("NET_FUZZ_FRAMES", 100000) * percent / 100;
}

static void test_frames_static_and_dhcp(void) { fuzz_run("static-and-dhcp", STATIC_AND_DHCP, share(50), 0); }
static void test_frames_dhcp_only(void) { fuzz_run("dhcp-only", DHCP_ONLY, share(25), 0); }
static void test_frames_small_mtu(void) { fuzz_run("mtu-576", SMALL_MTU, share(10), 0); }
static void test_frames_out_of_memory(void) { fuzz_run("allocations-fail", STATIC_AND_DHCP, share(15), 40); }

const struct test_case frame_fuzz_tests[] = {
    {"static-and-dhcp", test_frames_static_and_dhcp},
    {"dhcp-only", test_frames_dhcp_only},
    {"mtu-576", test_frames_small_mtu},
    {"allocations-fail", test_frames_out_of_memory},
};
const size_t frame_fuzz_test_count = ARRAY_SIZE(frame_fuzz_tests);
