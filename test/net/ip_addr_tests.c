/*
 * test/net/ip_addr_tests.c: the address type of both families (net/ip_addr.h): parsing the text
 * forms of RFC 4291 §2.2 and dotted quads, rejecting everything else, and writing RFC 5952's
 * canonical text.
 */
#include <string.h>

#include "base/err.h"
#include "net/ip_addr.h"
#include "net_test.h"

/* `text` parses as IPv6 to these 16 bytes and formats back as `canonical`. */
static void expect_v6(const char *text, const uint8_t bytes[16], const char *canonical) {
    struct ip_addr addr;
    TEST_ASSERT(ip_addr_parse(text, &addr) == 0, "\"%s\" refused", text);
    TEST_ASSERT(addr.family == IP_FAMILY_V6, "\"%s\" parsed as family %u", text, addr.family);
    char got[IP_ADDR_TEXT_MAX];
    ip_addr_format(&addr, got, sizeof got);
    TEST_ASSERT(memcmp(addr.v6, bytes, 16) == 0, "\"%s\" parsed to other bytes (%s)", text, got);
    TEST_ASSERT(strcmp(got, canonical) == 0, "\"%s\" formats as \"%s\", not \"%s\"", text, got, canonical);
}

/* The canonical form of `text`, which must parse. */
static void expect_canonical(const char *text, const char *canonical) {
    struct ip_addr addr;
    TEST_ASSERT(ip_addr_parse(text, &addr) == 0, "\"%s\" refused", text);
    char got[IP_ADDR_TEXT_MAX];
    ip_addr_format(&addr, got, sizeof got);
    TEST_ASSERT(strcmp(got, canonical) == 0, "\"%s\" formats as \"%s\", not \"%s\"", text, got, canonical);
    /* and the canonical text is a fixed point */
    struct ip_addr again;
    TEST_ASSERT(ip_addr_parse(got, &again) == 0 && ip_addr_equal(&addr, &again), "\"%s\" does not parse back", got);
}

static void test_parse_ipv6_forms(void) {
    static const uint8_t zero[16] = {0};
    static const uint8_t loopback[16] = {[15] = 1};
    static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t full[16] = {0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0x08, 0xd3,
                                     0x13, 0x19, 0x8a, 0x2e, 0x03, 0x70, 0x73, 0x48};
    static const uint8_t slirp_host[16] = {0xfe, 0xc0, [15] = 2};
    static const uint8_t link_local[16] = {0xfe, 0x80, [8] = 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56};
    static const uint8_t mapped[16] = {[10] = 0xff, 0xff, 192, 0, 2, 128};
    static const uint8_t trailing[16] = {0, 1, [15] = 0};
    static const uint8_t one_gap[16] = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0};
    static const uint8_t embedded[16] = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 10, 0, 2, 15};
    expect_v6("::", zero, "::");
    expect_v6("::1", loopback, "::1");
    expect_v6("0:0:0:0:0:0:0:1", loopback, "::1");
    expect_v6("2001:db8::1", doc, "2001:db8::1");
    expect_v6("2001:0DB8:0000:0000:0000:0000:0000:0001", doc, "2001:db8::1");
    expect_v6("2001:db8:85a3:8d3:1319:8a2e:370:7348", full, "2001:db8:85a3:8d3:1319:8a2e:370:7348");
    expect_v6("fec0::2", slirp_host, "fec0::2");
    expect_v6("fe80::5054:ff:fe12:3456", link_local, "fe80::5054:ff:fe12:3456");
    expect_v6("::ffff:192.0.2.128", mapped, "::ffff:192.0.2.128");
    expect_v6("0:0:0:0:0:ffff:c000:0280", mapped, "::ffff:192.0.2.128");
    expect_v6("1::", trailing, "1::");
    /* "::" may stand for a single zero group when parsing (RFC 4291), never when writing */
    expect_v6("1:2:3:4:5:6:7::", one_gap, "1:2:3:4:5:6:7:0");
    expect_v6("1:2:3:4:5:6:10.0.2.15", embedded, "1:2:3:4:5:6:a00:20f");
}

static void test_parse_ipv4(void) {
    struct ip_addr addr;
    TEST_ASSERT(ip_addr_parse("10.0.2.15", &addr) == 0 && addr.family == IP_FAMILY_V4 && addr.v4 == 0x0a00020f,
                "10.0.2.15");
    TEST_ASSERT(ip_addr_parse("255.255.255.255", &addr) == 0 && addr.v4 == 0xffffffffu, "broadcast");
    TEST_ASSERT(ip_addr_parse("0.0.0.0", &addr) == 0 && addr.family == IP_FAMILY_V4 && addr.v4 == 0, "0.0.0.0");
    char text[IP_ADDR_TEXT_MAX];
    struct ip_addr v4 = ip_addr_from_v4(0xc0a80001);
    TEST_ASSERT(strcmp(ip_addr_format(&v4, text, sizeof text), "192.168.0.1") == 0, "format: %s", text);
    v4 = ip_addr_from_v4(0);
    TEST_ASSERT(strcmp(ip_addr_format(&v4, text, sizeof text), "0.0.0.0") == 0, "format: %s", text);
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(strcmp(ip_addr_format(&any, text, sizeof text), "any") == 0, "format: %s", text);
}

static void test_parse_rejects(void) {
    static const char *const bad[] = {
        "",
        ":",
        ":::",
        "::::",
        "1::2::3",
        "::1::",
        "1:::2",
        "12345::",
        "::12345",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.4x",
        "1.2.3.",
        ".1.2.3",
        "1..2.3",
        "-1.2.3.4",
        "0x1.2.3.4",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1:2:3:4::5:6:7:8",
        ":1::",
        "1::2:",
        "1:",
        ":1",
        "::1 ",
        "fec0::2x",
        "g::1",
        "fe80::1%eth0",
        "fec0::/64",
        "[::1]",
        "::ffff:1.2.3",
        "::ffff:1.2.3.256",
        "::1.2.3.4:5",
        "1.2.3.4::",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::ffff:1.2.3.4.5",
        "::a.2.3.4",
        "::1234.1.1.1",
        "1:2:3:4:5:6:7:8:1.2.3.4",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct ip_addr addr = ip_addr_from_v4(0x01020304);
        TEST_ASSERT(ip_addr_parse(bad[i], &addr) == ERR_INVAL, "\"%s\" accepted", bad[i]);
    }
}

/* RFC 5952 §4: the one canonical text, from every form in its examples. */
static void test_format_rfc5952(void) {
    /* §2.1 leading zeros, §4.1 */
    expect_canonical("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("2001:db8::1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("2001:0db8::1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("2001:db8:0:0:1::1", "2001:db8::1:0:0:1");
    expect_canonical("2001:DB8:0:0:1::1", "2001:db8::1:0:0:1");
    expect_canonical("2001:db8:0000:0:1::1", "2001:db8::1:0:0:1");
    /* §2.2 */
    expect_canonical("2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    expect_canonical("2001:db8:aaaa:bbbb:cccc:dddd:eeee:001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    expect_canonical("2001:db8:aaaa:bbbb:cccc:dddd:eeee:01", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
    /* §2.2 and §4.2.1: "::" as short as possible */
    expect_canonical("2001:db8::0:1", "2001:db8::1");
    expect_canonical("2001:db8:0:0:0::1", "2001:db8::1");
    expect_canonical("2001:db8:0:0::1", "2001:db8::1");
    /* §4.2.2: not for one zero group */
    expect_canonical("2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    expect_canonical("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    /* §4.2.3: the longest run, the first of equal ones */
    expect_canonical("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
    expect_canonical("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    expect_canonical("1:0:0:2:0:0:3:4", "1::2:0:0:3:4");
    /* §4.3 lower case; §5 IPv4-mapped addresses end in their dotted quad */
    expect_canonical("2001:DB8:ABCD:EF::", "2001:db8:abcd:ef::");
    expect_canonical("::FFFF:C000:0280", "::ffff:192.0.2.128");
    /* the runs at either end, and no run at all */
    expect_canonical("0:0:1:2:3:4:5:6", "::1:2:3:4:5:6");
    expect_canonical("1:2:3:4:5:6:0:0", "1:2:3:4:5:6::");
    expect_canonical("0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1");
    expect_canonical("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* the longest text fits IP_ADDR_TEXT_MAX */
    expect_canonical("::ffff:255.255.255.255", "::ffff:255.255.255.255");
    char text[IP_ADDR_TEXT_MAX];
    uint8_t longest[16] = {0x10, 0, 0x10, 0, 0x10, 0, 0x10, 0, 0x10, 0, 0x10, 0, 0x10, 0, 0x10, 0};
    struct ip_addr addr = ip_addr_from_v6(longest);
    TEST_ASSERT(strcmp(ip_addr_format(&addr, text, sizeof text), "1000:1000:1000:1000:1000:1000:1000:1000") == 0,
                "%s", text);
}

static void test_round_trips(void) {
    /* random addresses, with zero groups likely: format, parse back, the same bytes */
    uint64_t rng = 15;
    for (int round = 0; round < 20000; round++) {
        uint8_t bytes[16];
        for (int g = 0; g < 8; g++) {
            uint64_t r = splitmix64(&rng);
            uint16_t group = (r & 3) != 0 ? 0 : (r & 4) ? (uint16_t)(r >> 8 & 0xf) : (uint16_t)(r >> 16);
            bytes[2 * g] = (uint8_t)(group >> 8);
            bytes[2 * g + 1] = (uint8_t)group;
        }
        if (round % 7 == 0) { /* IPv4-mapped */
            memset(bytes, 0, 10);
            bytes[10] = bytes[11] = 0xff;
        }
        struct ip_addr addr = ip_addr_from_v6(bytes), back;
        char text[IP_ADDR_TEXT_MAX];
        ip_addr_format(&addr, text, sizeof text);
        TEST_ASSERT(strlen(text) < IP_ADDR_TEXT_MAX, "too long: %s", text);
        TEST_ASSERT(ip_addr_parse(text, &back) == 0, "\"%s\" does not parse", text);
        TEST_ASSERT(ip_addr_equal(&addr, &back), "\"%s\" parses to another address", text);
        /* "::" exactly when two or more zero groups follow each other (before a dotted quad) */
        int groups = round % 7 == 0 ? 6 : 8, run = 0, longest = 0;
        for (int g = 0; g < groups; g++) {
            run = bytes[2 * g] == 0 && bytes[2 * g + 1] == 0 ? run + 1 : 0;
            if (run > longest) longest = run;
        }
        TEST_ASSERT((strstr(text, "::") != NULL) == (longest >= 2), "\"%s\": \"::\" for a longest run of %d", text,
                    longest);
        TEST_ASSERT(strstr(text, ":::") == NULL, "\"%s\"", text);
        struct ip_addr v4 = ip_addr_from_v4((uint32_t)splitmix64(&rng));
        ip_addr_format(&v4, text, sizeof text);
        TEST_ASSERT(ip_addr_parse(text, &back) == 0 && ip_addr_equal(&v4, &back), "\"%s\" round trip", text);
    }
}

static void test_equal_and_truncation(void) {
    struct ip_addr a, b;
    TEST_ASSERT(ip_addr_parse("10.0.0.1", &a) == 0 && ip_addr_parse("::ffff:10.0.0.1", &b) == 0, "parse");
    TEST_ASSERT(!ip_addr_equal(&a, &b), "an IPv4 address equals its IPv4-mapped IPv6 form");
    struct ip_addr any1 = ip_addr_any(), any2 = ip_addr_any(), zero4 = ip_addr_from_v4(0), zero6;
    TEST_ASSERT(ip_addr_parse("::", &zero6) == 0, "parse ::");
    TEST_ASSERT(ip_addr_equal(&any1, &any2), "ANY equals ANY");
    TEST_ASSERT(!ip_addr_equal(&any1, &zero4) && !ip_addr_equal(&any1, &zero6) && !ip_addr_equal(&zero4, &zero6),
                "ANY, 0.0.0.0 and :: are three addresses");
    /* the member a family does not use does not count */
    struct ip_addr x, y;
    memset(&x, 0xaa, sizeof x);
    memset(&y, 0x55, sizeof y);
    x.family = y.family = IP_FAMILY_V4;
    x.v4 = y.v4 = 0x0a000001;
    TEST_ASSERT(ip_addr_equal(&x, &y), "padding compared");
    /* a short buffer truncates, NUL-terminated */
    char small[8];
    memset(small, 'x', sizeof small);
    TEST_ASSERT(ip_addr_parse("2001:db8::1", &a) == 0, "parse");
    TEST_ASSERT(strcmp(ip_addr_format(&a, small, sizeof small), "2001:db") == 0, "truncated: %s", small);
    char one[1] = {'x'};
    TEST_ASSERT(ip_addr_format(&a, one, 1)[0] == 0, "size 1");
}

const struct test_case addr_tests[] = {
    {"parse-ipv6-forms", test_parse_ipv6_forms},
    {"parse-ipv4", test_parse_ipv4},
    {"parse-rejects", test_parse_rejects},
    {"format-rfc5952", test_format_rfc5952},
    {"round-trips", test_round_trips},
    {"equal-and-truncation", test_equal_and_truncation},
};
const size_t addr_test_count = ARRAY_SIZE(addr_tests);
