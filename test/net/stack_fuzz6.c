/*
 * test/net/stack_fuzz6.c: the IPv6 part of the frame fuzzer (stack_fuzz6.h).
 *
 * Checks on what the stack sends over IPv6: version 6 with traffic class and flow label 0, the
 * payload length exact; to the group MAC for a multicast destination, else to a unicast MAC; from
 * :: (DAD probes and early router solicitations only) or from an address with our interface
 * identifier or our static address; never to ::, loopback or IPv4-mapped; only ICMPv6, UDP or
 * TCP with right checksums; ND messages with hop limit 255; ICMPv6 errors never to a group.
 */
#include <string.h>

#include "net/stack_internal.h"
#include "net/tcp/tcp.h"
#include "net/wire/tcp_wire.h"
#include "stack_fuzz6.h"
#include "stack_harness.h"
#include "net/wire/bytes.h"

#define PENDING 48
#define FRAME_ROOM (ETH_FRAME_MAX + 64)

static uint8_t pending[PENDING][FRAME_ROOM];
static size_t pending_length[PENDING];
static size_t pending_count;

static const uint8_t router_ll[16] = {0xfe, 0x80, [15] = 2};
static const uint8_t router_mac[6] = {0x52, 0x56, 0x00, 0x00, 0x00, 0x02};
static const uint8_t peer_ll[16] = {0xfe, 0x80, [15] = 3};
static const uint8_t host6[16] = {0xfe, 0xc0, [15] = 2};
static const uint8_t static6[16] = {0xfe, 0xc0, [15] = 0x15};
static const uint8_t remote6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

void fuzz6_reset(void) { pending_count = 0; }

static uint64_t rnd(uint64_t *rng, uint64_t n) { return rng_below(rng, n); }
static bool chance(uint64_t *rng, unsigned percent) { return rng_below(rng, 100) < percent; }


static uint32_t pseudo6(const uint8_t source[16], const uint8_t destination[16], uint8_t next, size_t length) {
    uint32_t sum = 0;
    for (int i = 0; i < 16; i += 2) sum += wire_get16(source + i) + wire_get16(destination + i);
    return sum + (uint32_t)(length >> 16) + (uint32_t)(length & 0xffff) + next;
}

static void our_address(uint8_t out[16], bool global) {
    memset(out, 0, 16);
    out[0] = 0xfe;
    out[1] = global ? 0xc0 : 0x80;
    ipv6_interface_id(our_mac, out);
}

static void random_bytes(uint64_t *rng, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)splitmix64(rng);
}

/* A source: the router, a neighbor, the slirp host, ::, our own, a group (invalid), random. */
static void random_source(uint64_t *rng, uint8_t out[16]) {
    switch (rnd(rng, 9)) {
    case 0:
    case 1: memcpy(out, router_ll, 16); break;
    case 2: memcpy(out, peer_ll, 16); break;
    case 3: memcpy(out, host6, 16); break;
    case 4: memset(out, 0, 16); break;
    case 5: our_address(out, chance(rng, 50)); break;
    case 6: memcpy(out, ipv6_all_nodes, 16); break;
    default:
        memcpy(out, chance(rng, 50) ? peer_ll : host6, 16);
        random_bytes(rng, out + 8, 8);
        break;
    }
}

/* A destination: ours (link-local, SLAAC, static), all nodes, our solicited-node group, others. */
static void random_destination(uint64_t *rng, uint8_t out[16]) {
    uint8_t ours[16];
    switch (rnd(rng, 10)) {
    case 0:
    case 1:
    case 2: our_address(out, false); break;
    case 3:
    case 4: our_address(out, true); break;
    case 5: memcpy(out, static6, 16); break;
    case 6: memcpy(out, ipv6_all_nodes, 16); break;
    case 7:
        our_address(ours, chance(rng, 50));
        ipv6_solicited_node(ours, out);
        break;
    case 8: memcpy(out, ipv6_all_routers, 16); break;
    default: random_bytes(rng, out, 16); break;
    }
}

static const uint8_t *random_mac(uint64_t *rng) {
    switch (rnd(rng, 4)) {
    case 0: return router_mac;
    case 1: return peer_mac;
    case 2: return other_mac;
    default: return gw_mac;
    }
}

/* The frame around `payload`: our MAC or the group's, the IPv6 header naming `next`. */
static size_t wrap6(uint64_t *rng, uint8_t *frame, const uint8_t source[16], const uint8_t destination[16], uint8_t hop,
                    uint8_t next, const uint8_t *payload, size_t length) {
    uint8_t mac[6];
    if (destination[0] == 0xff && chance(rng, 95)) ipv6_multicast_mac(destination, mac);
    else memcpy(mac, chance(rng, 95) ? our_mac : eth_broadcast, 6);
    length = MIN(length, (size_t)ETH_MTU - 40);
    uint8_t *p = frame + build_eth(frame, mac, random_mac(rng), ETHERTYPE_IPV6);
    p[0] = 0x60;
    p[1] = p[2] = p[3] = 0;
    if (chance(rng, 5)) p[1] = (uint8_t)splitmix64(rng);
    wire_put16(p + 4, (uint16_t)length);
    p[6] = next;
    p[7] = hop;
    memcpy(p + 8, source, 16);
    memcpy(p + 24, destination, 16);
    memmove(p + 40, payload, length);
    return ETH_HEADER_LEN + 40 + length;
}

/* ND options: link-layer addresses, prefixes, MTU, RDNSS, unknown, sometimes broken. */
static size_t nd_options(uint64_t *rng, uint8_t *out, size_t room) {
    size_t n = 0;
    int count = (int)rnd(rng, 5);
    for (int i = 0; i < count && n + 32 <= room; i++) {
        uint8_t *o = out + n;
        switch (rnd(rng, 7)) {
        case 0:
        case 1:
            o[0] = (uint8_t)(1 + rnd(rng, 2)), o[1] = 1;
            memcpy(o + 2, chance(rng, 90) ? random_mac(rng) : eth_broadcast, 6);
            n += 8;
            break;
        case 2: { /* prefix information */
            memset(o, 0, 32);
            o[0] = 3, o[1] = 4;
            o[2] = chance(rng, 80) ? 64 : (uint8_t)rnd(rng, 256);
            o[3] = chance(rng, 70) ? 0xc0 : (uint8_t)splitmix64(rng);
            static const uint32_t lifetimes[] = {0, 1, 30, 7200, 86400, 14400, 0xffffffffu};
            wire_put32(o + 4, chance(rng, 80) ? lifetimes[rnd(rng, 7)] : (uint32_t)splitmix64(rng));
            wire_put32(o + 8, chance(rng, 80) ? lifetimes[rnd(rng, 7)] : (uint32_t)splitmix64(rng));
            if (chance(rng, 70)) memcpy(o + 16, host6, 8);
            else random_bytes(rng, o + 16, 16);
            n += 32;
            break;
        }
        case 3:
            o[0] = 5, o[1] = 1, o[2] = o[3] = 0;
            wire_put32(o + 4, chance(rng, 50) ? 1280 + (uint32_t)rnd(rng, 300) : (uint32_t)splitmix64(rng));
            n += 8;
            break;
        case 4:
            o[0] = 25, o[1] = (uint8_t)(chance(rng, 80) ? 3 : 1 + rnd(rng, 4)), o[2] = o[3] = 0;
            wire_put32(o + 4, chance(rng, 50) ? 3600 : (uint32_t)splitmix64(rng));
            memcpy(o + 8, host6, 16);
            n += MIN((size_t)o[1] * 8, (size_t)24);
            break;
        case 5: /* a length 0 or past the end */
            o[0] = (uint8_t)rnd(rng, 30), o[1] = chance(rng, 50) ? 0 : 200;
            memset(o + 2, 0, 6);
            n += 8;
            break;
        default:
            o[0] = (uint8_t)rnd(rng, 256), o[1] = 1;
            random_bytes(rng, o + 2, 6);
            n += 8;
            break;
        }
    }
    return n;
}

/* An ICMPv6 message (type decides the body); checksum right for the addresses. */
static size_t icmp_message(uint64_t *rng, uint8_t *out, const uint8_t source[16], const uint8_t destination[16], uint8_t *hop) {
    static const uint8_t types[] = {128, 128, 129, 133, 134, 134, 135, 135, 136, 136, 137, 1, 2, 3, 4};
    uint8_t type = chance(rng, 95) ? types[rnd(rng, sizeof types)] : (uint8_t)rnd(rng, 256);
    out[0] = type;
    out[1] = chance(rng, 90) ? 0 : (uint8_t)rnd(rng, 5);
    wire_put16(out + 2, 0);
    wire_put32(out + 4, (uint32_t)splitmix64(rng));
    size_t n = 8;
    *hop = type >= 133 && type <= 137 && chance(rng, 90) ? 255 : (uint8_t)(chance(rng, 80) ? 64 : rnd(rng, 256));
    switch (type) {
    case 128:
    case 129:
        out[4] = 0, out[5] = (uint8_t)rnd(rng, 3);
        n += rnd(rng, chance(rng, 90) ? 100 : 1400);
        random_bytes(rng, out + 8, n - 8);
        break;
    case 134:
        out[4] = (uint8_t)(chance(rng, 50) ? 64 : rnd(rng, 256));
        wire_put16(out + 6, (uint16_t)(chance(rng, 70) ? 1800 : rnd(rng, 65536)));
        wire_put32(out + 8, chance(rng, 70) ? 0 : (uint32_t)splitmix64(rng));
        wire_put32(out + 12, chance(rng, 70) ? 0 : (uint32_t)rnd(rng, 70000));
        n = 16 + nd_options(rng, out + 16, 400);
        break;
    case 135:
    case 136: {
        uint8_t target[16];
        switch (rnd(rng, 4)) {
        case 0: our_address(target, chance(rng, 50)); break;
        case 1: memcpy(target, source, 16); break;
        case 2: memcpy(target, chance(rng, 50) ? router_ll : host6, 16); break;
        default: random_source(rng, target); break;
        }
        out[4] = (uint8_t)(splitmix64(rng) & 0xe0);
        out[5] = out[6] = out[7] = 0;
        memcpy(out + 8, target, 16);
        n = 24 + nd_options(rng, out + 24, 200);
        break;
    }
    case 133: n = 8 + nd_options(rng, out + 8, 100); break;
    case 137:
        random_source(rng, out + 8);
        random_destination(rng, out + 24);
        n = 40 + nd_options(rng, out + 40, 100);
        break;
    default: { /* an error quoting some packet */
        size_t quoted = 40 + rnd(rng, 80);
        random_bytes(rng, out + 8, quoted);
        out[8] = 0x60;
        n = 8 + quoted;
        break;
    }
    }
    wire_put16(out + 2, ref_checksum(out, n, pseudo6(source, destination, 58, n)));
    return n;
}

static size_t upper_layer(uint64_t *rng, uint8_t *out, const uint8_t source[16], const uint8_t destination[16], uint8_t *next,
                          uint8_t *hop) {
    *hop = 64;
    switch (rnd(rng, 6)) {
    case 0: { /* UDP */
        *next = 17;
        size_t data = rnd(rng, 200);
        wire_put16(out, (uint16_t)(1 + rnd(rng, 65535)));
        wire_put16(out + 2, chance(rng, 60) ? 7 : (uint16_t)rnd(rng, 65536));
        wire_put16(out + 4, (uint16_t)(8 + data));
        wire_put16(out + 6, 0);
        random_bytes(rng, out + 8, data);
        uint16_t sum = ref_checksum(out, 8 + data, pseudo6(source, destination, 17, 8 + data));
        wire_put16(out + 6, sum == 0 ? 0xffff : sum);
        return 8 + data;
    }
    case 1: { /* TCP */
        *next = 6;
        memset(out, 0, 20);
        wire_put16(out, (uint16_t)(1024 + rnd(rng, 60000)));
        wire_put16(out + 2, chance(rng, 70) ? 80 : (uint16_t)rnd(rng, 65536));
        wire_put32(out + 4, (uint32_t)splitmix64(rng));
        wire_put32(out + 8, (uint32_t)splitmix64(rng));
        out[12] = 5 << 4;
        out[13] = chance(rng, 70) ? TCP_FLAG_SYN : (uint8_t)splitmix64(rng);
        wire_put16(out + 14, 65535);
        struct ip_addr from = ip_addr_from_v6(source), to = ip_addr_from_v6(destination);
        tcp_wire_set_checksum(&from, &to, out, 20);
        return 20;
    }
    case 2: /* an unknown upper layer, or none */
        *next = chance(rng, 50) ? 59 : (uint8_t)rnd(rng, 256);
        random_bytes(rng, out, 16);
        return rnd(rng, 17);
    default: *next = 58; return icmp_message(rng, out, source, destination, hop);
    }
}

/* Random extension headers before `next`: written at `out`, returns their length and sets
 * *first to the type that starts the chain. */
static size_t extension_chain(uint64_t *rng, uint8_t *out, uint8_t next, uint8_t *first) {
    int count = chance(rng, 60) ? 0 : (int)(1 + rnd(rng, chance(rng, 90) ? 3 : 10));
    size_t at = 0;
    uint8_t types[12];
    for (int i = 0; i < count; i++) {
        static const uint8_t kinds[] = {0, 60, 60, 43, 44};
        types[i] = kinds[rnd(rng, sizeof kinds)];
    }
    for (int i = 0; i < count && at < 600; i++) {
        uint8_t *x = out + at;
        uint8_t following = i + 1 < count ? types[i + 1] : next;
        x[0] = following;
        switch (types[i]) {
        case 44:
            x[1] = 0;
            wire_put16(x + 2, (uint16_t)(chance(rng, 80) ? 0 : splitmix64(rng) & 0xfff9));
            wire_put32(x + 4, (uint32_t)splitmix64(rng));
            at += 8;
            break;
        case 43:
            x[1] = (uint8_t)(chance(rng, 80) ? 0 : rnd(rng, 3));
            x[2] = (uint8_t)rnd(rng, 5);
            x[3] = (uint8_t)(chance(rng, 70) ? 0 : rnd(rng, 3));
            memset(x + 4, 0, (size_t)(x[1] + 1) * 8 - 4);
            at += (size_t)(x[1] + 1) * 8;
            break;
        default: {
            size_t units = chance(rng, 90) ? rnd(rng, 2) : rnd(rng, 70);
            size_t area = (units + 1) * 8 - 2;
            x[1] = (uint8_t)units;
            memset(x + 2, 0, area);
            size_t o = 0;
            while (o + 2 <= area && chance(rng, 60)) {
                static const uint8_t option_types[] = {1, 5, 0x1e, 0x5e, 0x9e, 0xde, 0xc2};
                size_t length = rnd(rng, MIN(area - o - 2, (size_t)8) + 1);
                x[2 + o] = chance(rng, 80) ? option_types[rnd(rng, sizeof option_types)] : (uint8_t)splitmix64(rng);
                x[3 + o] = (uint8_t)(chance(rng, 90) ? length : rnd(rng, 256));
                o += 2 + length;
            }
            at += area + 2;
            break;
        }
        }
    }
    *first = count > 0 ? types[0] : next;
    return at;
}

/* A datagram (an echo request or UDP) in fragments, queued in `pending` shuffled, sometimes
 * with a duplicate or a gap, sometimes overlapping. */
static void make_fragments(uint64_t *rng, const uint8_t source[16], const uint8_t destination[16]) {
    static uint8_t datagram[4096];
    size_t size = 8 + rnd(rng, 3000);
    uint8_t upper;
    if (chance(rng, 50)) {
        upper = 58; /* an echo request */
        datagram[0] = 128, datagram[1] = 0, wire_put16(datagram + 2, 0), wire_put32(datagram + 4, (uint32_t)splitmix64(rng));
        random_bytes(rng, datagram + 8, size - 8);
        wire_put16(datagram + 2, ref_checksum(datagram, size, pseudo6(source, destination, 58, size)));
    } else {
        upper = 17; /* UDP to the echo port */
        wire_put16(datagram, 1000), wire_put16(datagram + 2, 7), wire_put16(datagram + 4, (uint16_t)size), wire_put16(datagram + 6, 0);
        random_bytes(rng, datagram + 8, size - 8);
        wire_put16(datagram + 6, ref_checksum(datagram, size, pseudo6(source, destination, 17, size)));
    }
    size_t piece = 8 * (1 + rnd(rng, chance(rng, 50) ? 150 : 16));
    uint32_t id = (uint32_t)splitmix64(rng);
    bool intact = chance(rng, 50);
    size_t first = pending_count;
    for (size_t offset = 0; offset < size && pending_count < PENDING; offset += piece) {
        if (!intact && chance(rng, 5)) continue;
        size_t length = MIN(piece, size - offset);
        uint8_t payload[FRAME_ROOM];
        payload[0] = upper, payload[1] = 0;
        size_t start = offset;
        if (!intact && chance(rng, 5) && start >= 8) start -= 8; /* overlapping */
        wire_put16(payload + 2, (uint16_t)(start | (offset + length < size ? 1 : 0)));
        wire_put32(payload + 4, id);
        memcpy(payload + 8, datagram + start, MIN(length, size - start));
        pending_length[pending_count] =
            wrap6(rng, pending[pending_count], source, destination, 64, 44, payload, 8 + MIN(length, size - start));
        pending_count++;
        if (!intact && chance(rng, 5) && pending_count < PENDING) {
            memcpy(pending[pending_count], pending[pending_count - 1], pending_length[pending_count - 1]);
            pending_length[pending_count] = pending_length[pending_count - 1];
            pending_count++;
        }
    }
    for (size_t i = pending_count; i > first + 1 && chance(rng, 50); i--) {
        size_t j = first + rnd(rng, i - first);
        static uint8_t swap[FRAME_ROOM];
        size_t l = pending_length[i - 1];
        memcpy(swap, pending[i - 1], l);
        memcpy(pending[i - 1], pending[j], pending_length[j]);
        pending_length[i - 1] = pending_length[j];
        memcpy(pending[j], swap, l);
        pending_length[j] = l;
    }
}

size_t fuzz6_frame(uint64_t *rng, uint8_t *frame) {
    uint8_t source[16], destination[16];
    random_source(rng, source);
    random_destination(rng, destination);
    if (chance(rng, 15)) {
        if (pending_count == 0 || chance(rng, 10)) {
            uint8_t ours[16];
            our_address(ours, chance(rng, 30));
            make_fragments(rng, chance(rng, 80) ? peer_ll : source, chance(rng, 80) ? ours : destination);
        }
        if (pending_count > 0) {
            size_t i = chance(rng, 80) ? 0 : rnd(rng, pending_count);
            size_t length = pending_length[i];
            memcpy(frame, pending[i], length);
            for (size_t j = i + 1; j < pending_count; j++) {
                memcpy(pending[j - 1], pending[j], pending_length[j]);
                pending_length[j - 1] = pending_length[j];
            }
            pending_count--;
            return length;
        }
    }
    /* ND from the router mostly comes from fe80::2 */
    static uint8_t upper[1600], packet[2400];
    uint8_t next, hop, first;
    size_t u = upper_layer(rng, upper, source, destination, &next, &hop);
    size_t e = extension_chain(rng, packet, next, &first);
    memcpy(packet + e, upper, u);
    if (chance(rng, 3)) hop = (uint8_t)rnd(rng, 256);
    return wrap6(rng, frame, source, destination, hop, first, packet, e + u);
}

void fuzz6_mutate(uint64_t *rng, uint8_t *frame, size_t length) {
    if (length < ETH_HEADER_LEN + 40) return;
    uint8_t *p = frame + ETH_HEADER_LEN;
    int count = 1 + (int)rnd(rng, 3);
    for (int k = 0; k < count; k++) {
        switch (rnd(rng, 5)) {
        case 0: wire_put16(p + 4, (uint16_t)(chance(rng, 50) ? wire_get16(p + 4) + rnd(rng, 17) - 8 : rnd(rng, 65536))); break;
        case 1: p[6] = chance(rng, 70) ? (uint8_t)(chance(rng, 50) ? 60 : 44) : (uint8_t)rnd(rng, 256); break;
        case 2: p[7] = chance(rng, 50) ? 255 : (uint8_t)rnd(rng, 256); break;
        case 3: /* a byte of the first extension header or upper layer */
            if (length > ETH_HEADER_LEN + 40) p[40 + rnd(rng, MIN(length - ETH_HEADER_LEN - 40, (size_t)64))] = (uint8_t)splitmix64(rng);
            break;
        default: p[8 + rnd(rng, 32)] ^= (uint8_t)(1u << rnd(rng, 8)); break;
        }
    }
}

void fuzz6_fix_checksum(uint8_t *frame, size_t length) {
    if (length < ETH_HEADER_LEN + 40 || wire_get16(frame + 12) != ETHERTYPE_IPV6) return;
    uint8_t *p = frame + ETH_HEADER_LEN;
    size_t total = 40 + (size_t)wire_get16(p + 4);
    if (ETH_HEADER_LEN + total > length) return;
    uint8_t next = p[6];
    size_t at = 40;
    for (int i = 0; i < 12; i++) {
        if (next == 58 || next == 17 || next == 6) break;
        if (next != 0 && next != 60 && next != 43 && next != 44) return;
        if (at + 8 > total) return;
        if (next == 44 && (wire_get16(p + at + 2) & 0xfff9) != 0) return; /* a real fragment: the datagram's sum */
        size_t l = next == 44 ? 8 : ((size_t)p[at + 1] + 1) * 8;
        next = p[at];
        at += l;
    }
    if (at > total) return;
    uint8_t *t = p + at;
    size_t n = total - at;
    switch (next) {
    case 58:
        if (n < 8) return;
        wire_put16(t + 2, 0);
        wire_put16(t + 2, ref_checksum(t, n, pseudo6(p + 8, p + 24, 58, n)));
        return;
    case 17: {
        if (n < 8) return;
        size_t l = wire_get16(t + 4);
        if (l < 8 || l > n) return;
        wire_put16(t + 6, 0);
        uint16_t sum = ref_checksum(t, l, pseudo6(p + 8, p + 24, 17, l));
        wire_put16(t + 6, sum == 0 ? 0xffff : sum);
        return;
    }
    case 6: {
        if (n < 20) return;
        struct ip_addr from = ip_addr_from_v6(p + 8), to = ip_addr_from_v6(p + 24);
        tcp_wire_set_checksum(&from, &to, t, n);
        return;
    }
    default: return;
    }
}

static bool ours_or_unspecified(const uint8_t address[16]) {
    uint8_t iid[16];
    ipv6_interface_id(our_mac, iid);
    return ipv6_is_unspecified(address) || ipv6_equal(address, static6) || memcmp(address + 8, iid + 8, 8) == 0;
}

void fuzz6_check_sent(const struct net_stack *stack, const uint8_t *frame, size_t length) {
    (void)stack;
    TEST_ASSERT(length >= ETH_HEADER_LEN + 40, "sent an IPv6 frame of %zu bytes", length);
    const uint8_t *p = frame + ETH_HEADER_LEN;
    size_t n = length - ETH_HEADER_LEN;
    TEST_ASSERT(p[0] == 0x60 && p[1] == 0 && p[2] == 0 && p[3] == 0, "sent IPv6 version/class/flow");
    TEST_ASSERT(wire_get16(p + 4) == n - 40, "sent IPv6 payload length %u in %zu bytes", wire_get16(p + 4), n);
    const uint8_t *source = p + 8, *destination = p + 24;
    bool group = ipv6_is_multicast(destination);
    if (group) {
        uint8_t mac[6];
        ipv6_multicast_mac(destination, mac);
        TEST_ASSERT(memcmp(frame, mac, 6) == 0, "sent to a group with the wrong MAC");
    } else {
        TEST_ASSERT(!eth_is_multicast(frame), "sent unicast IPv6 to a multicast MAC");
    }
    TEST_ASSERT(ours_or_unspecified(source), "sent from an address that was never ours");
    TEST_ASSERT(!ipv6_is_unspecified(destination) && !ipv6_is_loopback(destination) && !ipv6_is_v4_mapped(destination),
                "sent to ::, loopback or an IPv4-mapped address");
    TEST_ASSERT(p[7] != 0, "sent with hop limit 0");
    const uint8_t *t = p + 40;
    size_t tl = n - 40;
    switch (p[6]) {
    case 58: {
        TEST_ASSERT(tl >= 8 && ref_checksum(t, tl, pseudo6(source, destination, 58, tl)) == 0, "sent ICMPv6 checksum");
        uint8_t type = t[0];
        TEST_ASSERT(type == 1 || type == 3 || type == 4 || type == 128 || type == 129 || type == 133 || type == 135 || type == 136,
                    "sent ICMPv6 type %u", type);
        if (type >= 133) TEST_ASSERT(p[7] == 255, "sent ND type %u with hop limit %u", type, p[7]);
        if (type < 128) TEST_ASSERT(!group && tl <= 1240, "sent an ICMPv6 error to a group, or too long");
        if (type == 133) TEST_ASSERT(ipv6_equal(destination, ipv6_all_routers), "RS not to all routers");
        if (ipv6_is_unspecified(source)) TEST_ASSERT(type == 133 || type == 135, "sent type %u from ::", type);
        if (type == 135 || type == 136) TEST_ASSERT(tl >= 24 && !ipv6_is_multicast(t + 8), "sent NS/NA target");
        break;
    }
    case 17:
        TEST_ASSERT(tl >= 8 && wire_get16(t + 4) == tl, "sent UDP length over IPv6");
        TEST_ASSERT(wire_get16(t + 6) != 0 && ref_checksum(t, tl, pseudo6(source, destination, 17, tl)) == 0, "sent UDP checksum over IPv6");
        break;
    case 6: {
        struct ip_addr from = ip_addr_from_v6(source), to = ip_addr_from_v6(destination);
        TEST_ASSERT(tcp_wire_checksum_ok(&from, &to, t, tl), "sent TCP checksum over IPv6");
        struct tcp_header h;
        TEST_ASSERT(tcp_wire_parse(t, tl, &h) == TCP_WIRE_OK, "sent a malformed TCP segment over IPv6");
        TEST_ASSERT(!group, "sent TCP to a group");
        break;
    }
    default: test_fail("sent IPv6 next header %u", p[6]);
    }
}

void fuzz6_check_state(const struct net_stack *stack, uint64_t now_ns) {
    const struct ipv6_state *v6 = &stack->ipv6;
    for (size_t i = 0; i < NDP_ENTRIES; i++) {
        const struct ndp_entry *e = &v6->neighbors[i];
        TEST_ASSERT(e->queue.count <= RESOLVE_QUEUE_MAX, "neighbor entry with %u packets", e->queue.count);
        TEST_ASSERT(e->state == NDP_INCOMPLETE || e->queue.count == 0, "a neighbor entry in state %d holds packets", e->state);
        TEST_ASSERT(e->probes <= MAX(NDP_MAX_MULTICAST_SOLICIT, NDP_MAX_UNICAST_SOLICIT), "neighbor entry after %u probes", e->probes);
    }
    for (size_t i = 0; i < REASSEMBLY6_SLOTS; i++) {
        const struct reassembly6 *r = &v6->reassembly[i];
        if (!r->used) continue;
        TEST_ASSERT(r->buffer != NULL && r->have != NULL, "an IPv6 reassembly slot without buffers");
        TEST_ASSERT(r->fragments <= REASSEMBLY_MAX_FRAGMENTS && r->total_length <= REASSEMBLY_MAX_BYTES, "IPv6 slot state");
        TEST_ASSERT(r->expires_ns <= now_ns + REASSEMBLY6_TIMEOUT_NS && r->first_length <= ICMPV6_QUOTE_MAX, "IPv6 slot times");
        TEST_ASSERT(r->unfragmentable <= REASSEMBLY6_UNFRAGMENTABLE_MAX, "IPv6 slot unfragmentable part");
    }
    TEST_ASSERT(v6->error_tokens <= ICMPV6_ERROR_BURST, "ICMPv6 tokens %u", v6->error_tokens);
    TEST_ASSERT(!v6->enabled || (v6->mtu >= IPV6_MIN_MTU && v6->mtu <= stack->mtu), "IPv6 MTU %u", v6->mtu);
}

void fuzz6_api(uint64_t *rng, struct net_stack *stack, uint64_t now_ns) {
    static uint8_t data[1600];
    uint8_t destination[16];
    switch (rnd(rng, 6)) {
    case 0: memcpy(destination, router_ll, 16); break;
    case 1: memcpy(destination, host6, 16); break;
    case 2: memcpy(destination, remote6, 16); break;
    case 3: memcpy(destination, ipv6_all_nodes, 16); break;
    case 4:
        memcpy(destination, peer_ll, 16);
        destination[15] = (uint8_t)rnd(rng, 256);
        break;
    default: random_source(rng, destination); break;
    }
    if (ipv6_is_unspecified(destination) || ipv6_is_loopback(destination)) memcpy(destination, peer_ll, 16);
    switch (rnd(rng, 5)) {
    case 0:
    case 1: {
        int err = net_echo6_send(stack, destination, (uint16_t)(1 + rnd(rng, 3)), (uint16_t)rnd(rng, 65536), data,
                                 chance(rng, 95) ? rnd(rng, 100) : rnd(rng, 1500), now_ns);
        TEST_ASSERT(err == 0 || err == ERR_UNREACHABLE || err == ERR_NOMEM || err == ERR_MSGSIZE || err == ERR_INVAL,
                    "net_echo6_send: %s", err_name(err));
        break;
    }
    case 2:
    case 3: {
        struct ip_addr to = ip_addr_from_v6(destination);
        int err = net_udp_send(stack, 7, &to, (uint16_t)rnd(rng, 65536), data, rnd(rng, 300), now_ns);
        TEST_ASSERT(err == 0 || err == ERR_UNREACHABLE || err == ERR_NOMEM || err == ERR_MSGSIZE || err == ERR_INVAL,
                    "net_udp_send over IPv6: %s", err_name(err));
        break;
    }
    default:
        if (chance(rng, 20)) net_ipv6_add_static(stack, static6, 64, chance(rng, 50) ? router_ll : NULL, now_ns);
        break;
    }
}
