/*
 * test/net/tcp_wire_tests.c: the TCP header and option parser and builder (net/wire/tcp_wire.h):
 * every malformed option layout is refused, good ones parse, build → parse round-trips, and the
 * checksum catches every single-bit flip and covers the pseudo-header of either family; UDP's
 * checksum rules per family (net/wire/udp_wire.h).
 */
#include <string.h>

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"
#include "net/wire/tcp_wire.h"
#include "net/wire/udp_wire.h"
#include "net_test.h"

static struct ip_addr v4(uint32_t address) { return ip_addr_from_v4(address); }

static struct ip_addr v6(const char *text) {
    struct ip_addr addr;
    TEST_ASSERT(ip_addr_parse(text, &addr) == 0 && addr.family == IP_FAMILY_V6, "parse %s", text);
    return addr;
}

/* A 20-byte header plus `options` (already a multiple of 4 in length). */
static size_t make_segment(uint8_t *out, const uint8_t *options, size_t options_length, size_t payload) {
    memset(out, 0, TCP_HEADER_MIN);
    wire_put16(out, 1234);
    wire_put16(out + 2, 80);
    wire_put32(out + 4, 0x01020304);
    wire_put32(out + 8, 0x0a0b0c0d);
    out[12] = (uint8_t)((TCP_HEADER_MIN + options_length) / 4) << 4;
    out[13] = TCP_FLAG_SYN | TCP_FLAG_ACK;
    wire_put16(out + 14, 65535);
    if (options_length > 0) memcpy(out + TCP_HEADER_MIN, options, options_length);
    for (size_t i = 0; i < payload; i++) out[TCP_HEADER_MIN + options_length + i] = (uint8_t)i;
    return TCP_HEADER_MIN + options_length + payload;
}

static void test_parse_fixed_header(void) {
    uint8_t segment[64];
    size_t length = make_segment(segment, NULL, 0, 5);
    struct tcp_header header;
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_OK, "parse");
    TEST_ASSERT(header.src_port == 1234 && header.dst_port == 80, "ports %u %u", header.src_port, header.dst_port);
    TEST_ASSERT(header.seq == 0x01020304 && header.ack == 0x0a0b0c0d, "numbers");
    TEST_ASSERT(header.flags == (TCP_FLAG_SYN | TCP_FLAG_ACK) && header.window == 65535, "flags/window");
    TEST_ASSERT(header.header_length == 20, "header length %u", header.header_length);
    TEST_ASSERT(!header.options.has_mss && !header.options.has_timestamps, "no options");
}

static void test_parse_lengths(void) {
    uint8_t segment[64];
    size_t length = make_segment(segment, NULL, 0, 0);
    struct tcp_header header;
    for (size_t n = 0; n < TCP_HEADER_MIN; n++)
        TEST_ASSERT(tcp_wire_parse(segment, n, &header) == TCP_WIRE_SHORT, "%zu bytes accepted", n);
    for (int words = 0; words < 5; words++) {
        segment[12] = (uint8_t)(words << 4);
        TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_BAD_OFFSET, "offset %d accepted", words);
    }
    segment[12] = 6 << 4; /* 24 bytes of header in a 20-byte segment */
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_BAD_OFFSET, "offset beyond the segment");
    segment[12] = 15 << 4;
    TEST_ASSERT(tcp_wire_parse(segment, 59, &header) == TCP_WIRE_BAD_OFFSET, "60-byte header in 59 bytes");
}

static void test_parse_options(void) {
    static const uint8_t linux_syn[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0, 1, 3, 3, 7};
    uint8_t segment[80];
    size_t length = make_segment(segment, linux_syn, sizeof linux_syn, 0);
    struct tcp_header header;
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_OK, "Linux SYN options");
    const struct tcp_options *o = &header.options;
    TEST_ASSERT(o->has_mss && o->mss == 1460, "mss");
    TEST_ASSERT(o->sack_permitted, "sackOK");
    TEST_ASSERT(o->has_timestamps && o->ts_val == 100 && o->ts_ecr == 0, "timestamps");
    TEST_ASSERT(o->has_wscale && o->wscale == 7, "wscale");

    /* EOL ends the list: whatever follows is not parsed (even garbage) */
    static const uint8_t eol[] = {2, 4, 1, 0, 0, 0xff, 0xff, 0xff};
    length = make_segment(segment, eol, sizeof eol, 0);
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_OK, "EOL");
    TEST_ASSERT(header.options.mss == 256 && !header.options.has_wscale, "EOL mss");

    /* unknown options and SACK blocks are skipped by length */
    static const uint8_t unknown[] = {30, 6, 1, 2, 3, 4, 5, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 3, 3, 14, 0, 0, 0};
    length = make_segment(segment, unknown, sizeof unknown, 0);
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_OK, "unknown kinds");
    TEST_ASSERT(header.options.has_wscale && header.options.wscale == 14, "wscale after unknown");
}

static void test_malformed_options(void) {
    static const struct {
        uint8_t bytes[12];
        size_t length;
        const char *what;
    } bad[] = {
        {{2}, 4, "MSS kind with length 0"},
        {{1, 1, 1, 2}, 4, "kind without a length byte"},
        {{2, 1, 0, 0}, 4, "length 1"},
        {{2, 3, 5, 0}, 4, "MSS length 3"},
        {{2, 5, 5, 0, 0, 0, 0, 0}, 8, "MSS length 5"},
        {{3, 4, 7, 0}, 4, "wscale length 4"},
        {{4, 3, 0, 0}, 4, "SACK-permitted length 3"},
        {{8, 8, 0, 0, 0, 0, 0, 0}, 8, "timestamps length 8"},
        {{1, 1, 8, 10, 0, 0, 0, 0}, 8, "timestamps overrunning the area"},
        {{30, 5, 0, 0}, 4, "unknown kind overrunning"},
        {{30, 255, 0, 0}, 4, "length 255"},
        {{1, 1, 1, 30}, 4, "length byte missing at the end"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint8_t segment[80];
        size_t length = make_segment(segment, bad[i].bytes, bad[i].length, 3);
        struct tcp_header header;
        TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_BAD_OPTION, "%s: accepted", bad[i].what);
    }
}

static void test_build_round_trip(void) {
    struct tcp_header header;
    memset(&header, 0, sizeof header);
    header.src_port = 49152;
    header.dst_port = 80;
    header.seq = 0xfffffff0;
    header.ack = 17;
    header.flags = TCP_FLAG_SYN | TCP_FLAG_ACK;
    header.window = 29200;
    header.options = (struct tcp_options){.has_mss = true,
                                          .mss = 1460,
                                          .has_wscale = true,
                                          .wscale = 7,
                                          .has_timestamps = true,
                                          .ts_val = 0xdeadbeef,
                                          .ts_ecr = 42};
    uint8_t out[TCP_HEADER_MAX + 16];
    size_t length = tcp_wire_write_header(out, &header, true);
    TEST_ASSERT(length == 40, "SYN header length %zu", length);
    static const uint8_t expected_options[] = {2, 4, 5, 0xb4, 1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef,
                                               0, 0, 0, 42, 1, 3, 3, 7};
    TEST_ASSERT(memcmp(out + 20, expected_options, sizeof expected_options) == 0, "SYN option layout");
    memcpy(out + length, "hello", 5);
    struct ip_addr a = v4(0x0a000001), b = v4(0x0a000002);
    tcp_wire_set_checksum(&a, &b, out, length + 5);
    TEST_ASSERT(tcp_wire_checksum_ok(&a, &b, out, length + 5), "checksum");
    struct tcp_header parsed;
    TEST_ASSERT(tcp_wire_parse(out, length + 5, &parsed) == TCP_WIRE_OK, "parse back");
    TEST_ASSERT(parsed.seq == header.seq && parsed.ack == 17 && parsed.window == 29200 && parsed.flags == header.flags,
                "fields");
    TEST_ASSERT(parsed.options.mss == 1460 && parsed.options.wscale == 7 && parsed.options.ts_val == 0xdeadbeef &&
                    parsed.options.ts_ecr == 42,
                "options");
    /* a non-SYN carries only the timestamps */
    header.flags = TCP_FLAG_ACK;
    length = tcp_wire_write_header(out, &header, false);
    TEST_ASSERT(length == 32 && out[20] == 1 && out[21] == 1 && out[22] == 8, "non-SYN options");
}

static void test_checksum_catches_bit_flips(void) {
    uint8_t segment[80];
    size_t length = make_segment(segment, NULL, 0, 41); /* odd length: the padded last byte */
    struct ip_addr a = v4(0xc0a80001), b = v4(0xc0a80002), c = v4(0xc0a80003);
    tcp_wire_set_checksum(&a, &b, segment, length);
    TEST_ASSERT(tcp_wire_checksum_ok(&a, &b, segment, length), "good checksum");
    for (size_t bit = 0; bit < length * 8; bit++) {
        segment[bit / 8] ^= (uint8_t)(1 << (bit % 8));
        TEST_ASSERT(!tcp_wire_checksum_ok(&a, &b, segment, length), "flip of bit %zu missed", bit);
        segment[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    }
    TEST_ASSERT(!tcp_wire_checksum_ok(&a, &c, segment, length), "pseudo-header address");
    TEST_ASSERT(!tcp_wire_checksum_ok(&a, &b, segment, length - 1), "pseudo-header length");
}

/* The IPv6 pseudo-header (RFC 8200 §8.1) laid out byte by byte, summed by RFC 1071's definition. */
static uint32_t ipv6_pseudo_by_definition(const struct ip_addr *src, const struct ip_addr *dst, uint8_t next_header,
                                          uint32_t length) {
    uint8_t pseudo[40];
    memcpy(pseudo, src->v6, 16);
    memcpy(pseudo + 16, dst->v6, 16);
    wire_put32(pseudo + 32, length);
    pseudo[36] = pseudo[37] = pseudo[38] = 0;
    pseudo[39] = next_header;
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof pseudo; i += 2) total += (uint32_t)pseudo[i] << 8 | pseudo[i + 1];
    while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
    return (uint32_t)total;
}

static void test_checksum_ipv6_pseudo_header(void) {
    struct ip_addr a = v6("2001:db8::1"), b = v6("fe80::5054:ff:fe12:3456"), c = v6("2001:db8::2");
    /* the partial sums agree with the definition whatever the length's upper half holds */
    static const uint32_t lengths[] = {0, 20, 1440, 65535, 65536, 0x12345678u};
    for (size_t i = 0; i < ARRAY_SIZE(lengths); i++)
        TEST_ASSERT(checksum_finish(checksum_pseudo_ipv6(a.v6, b.v6, TCP_PROTOCOL, lengths[i])) ==
                        checksum_finish(ipv6_pseudo_by_definition(&a, &b, TCP_PROTOCOL, lengths[i])),
                    "pseudo-header sum for length %u", lengths[i]);
    uint8_t segment[80];
    size_t length = make_segment(segment, NULL, 0, 41);
    tcp_wire_set_checksum(&a, &b, segment, length);
    uint32_t sum = checksum_add(ipv6_pseudo_by_definition(&a, &b, TCP_PROTOCOL, (uint32_t)length), segment, length);
    TEST_ASSERT(checksum_finish(sum) == 0, "the checksum is not over the RFC 8200 pseudo-header");
    TEST_ASSERT(tcp_wire_checksum_ok(&a, &b, segment, length), "good checksum");
    TEST_ASSERT(!tcp_wire_checksum_ok(&a, &c, segment, length), "pseudo-header destination");
    TEST_ASSERT(!tcp_wire_checksum_ok(&c, &b, segment, length), "pseudo-header source");
    TEST_ASSERT(!tcp_wire_checksum_ok(&a, &b, segment, length - 1), "pseudo-header length");
    /* the same segment checksummed for IPv4 addresses is wrong over IPv6, and families never mix */
    struct ip_addr a4 = v4(0x0a000001), b4 = v4(0x0a000002);
    tcp_wire_set_checksum(&a4, &b4, segment, length);
    TEST_ASSERT(!tcp_wire_checksum_ok(&a, &b, segment, length), "an IPv4 pseudo-header passed over IPv6");
    TEST_ASSERT(!tcp_wire_checksum_ok(&a4, &b, segment, length), "mixed families");
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(!tcp_wire_checksum_ok(&any, &any, segment, length), "IP_FAMILY_ANY");
}

static void test_udp_checksum_per_family(void) {
    uint8_t datagram[UDP_HEADER_LEN + 5];
    memcpy(datagram + UDP_HEADER_LEN, "hello", 5);
    struct ip_addr a4 = v4(0x0a000001), b4 = v4(0x0a000002);
    struct ip_addr a6 = v6("fec0::15"), b6 = v6("fec0::2");
    struct udp_header udp;
    udp_write(datagram, 1000, 53, 5, &a6, &b6);
    TEST_ASSERT(udp_parse(datagram, sizeof datagram, &a6, &b6, &udp) == UDP_OK && udp.source_port == 1000 &&
                    udp.destination_port == 53 && udp.data_length == 5,
                "IPv6 round trip");
    uint32_t sum = checksum_add(ipv6_pseudo_by_definition(&a6, &b6, UDP_PROTOCOL, sizeof datagram), datagram,
                                sizeof datagram);
    TEST_ASSERT(checksum_finish(sum) == 0, "the UDP checksum is not over the RFC 8200 pseudo-header");
    TEST_ASSERT(udp_parse(datagram, sizeof datagram, &a4, &b4, &udp) == UDP_BAD_CHECKSUM, "IPv6 sum taken over IPv4");
    /* a zero checksum: "none computed" over IPv4, invalid over IPv6 (RFC 8200 §8.1) */
    wire_put16(datagram + 6, 0);
    TEST_ASSERT(udp_parse(datagram, sizeof datagram, &a4, &b4, &udp) == UDP_OK, "zero checksum over IPv4");
    TEST_ASSERT(udp_parse(datagram, sizeof datagram, &a6, &b6, &udp) == UDP_BAD_CHECKSUM, "zero checksum over IPv6");
    TEST_ASSERT(udp_parse(datagram, sizeof datagram, &a4, &b6, &udp) == UDP_BAD_CHECKSUM, "mixed families");
}

/* RFC 1071's definition, a big-endian 16-bit word at a time: what checksum_add computes faster. */
static uint32_t checksum_by_words(uint32_t sum, const uint8_t *bytes, size_t length) {
    uint64_t total = sum;
    size_t i = 0;
    for (; i + 1 < length; i += 2) total += (uint32_t)bytes[i] << 8 | bytes[i + 1];
    if (i < length) total += (uint32_t)bytes[i] << 8;
    while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
    return (uint32_t)total;
}

static void test_checksum_matches_definition(void) {
    static uint8_t buffer[1600 + 8];
    uint32_t seed = 12345;
    for (unsigned round = 0; round < 20000; round++) {
        size_t length = round % 1600, offset = round % 8; /* every alignment, odd and even lengths */
        for (size_t i = 0; i < length + offset; i++) {
            seed = seed * 1103515245u + 12345u;
            buffer[i] = round % 5 == 0 ? 0xff : round % 7 == 0 ? 0 : (uint8_t)(seed >> 16);
        }
        uint32_t sum = round % 3 == 0 ? 0 : seed;
        size_t split = (length / 3) & ~(size_t)1; /* a header and a payload summed apart */
        uint16_t fast = checksum_finish(checksum_add(checksum_add(sum, buffer + offset, split), buffer + offset + split, length - split));
        uint16_t slow = checksum_finish(checksum_by_words(checksum_by_words(sum, buffer + offset, split), buffer + offset + split, length - split));
        TEST_ASSERT(fast == slow, "length %zu offset %zu: %04x, RFC 1071 says %04x", length, offset, fast, slow);
    }
}

const struct test_case wire_tests[] = {
    {"parse-fixed-header", test_parse_fixed_header},
    {"parse-lengths", test_parse_lengths},
    {"parse-options", test_parse_options},
    {"malformed-options", test_malformed_options},
    {"build-round-trip", test_build_round_trip},
    {"checksum-bit-flips", test_checksum_catches_bit_flips},
    {"checksum-definition", test_checksum_matches_definition},
    {"checksum-ipv6-pseudo-header", test_checksum_ipv6_pseudo_header},
    {"udp-checksum-per-family", test_udp_checksum_per_family},
};
const size_t wire_test_count = ARRAY_SIZE(wire_tests);
