/*
 * net/ip_addr.c: one address type for IPv4 and IPv6 (net/ip_addr.h): constructors, comparison,
 * and the text forms — dotted quads, RFC 4291 §2.2 input, RFC 5952 canonical output.
 */
#include "net/ip_addr.h"
#include "base/err.h"
#include "net/wire/ipv4_wire.h"

struct ip_addr ip_addr_any(void) {
    struct ip_addr addr;
    __builtin_memset(&addr, 0, sizeof addr);
    addr.family = IP_FAMILY_ANY;
    return addr;
}

struct ip_addr ip_addr_from_v4(uint32_t host_order) {
    struct ip_addr addr;
    __builtin_memset(&addr, 0, sizeof addr);
    addr.family = IP_FAMILY_V4;
    addr.v4 = host_order;
    return addr;
}

struct ip_addr ip_addr_from_v6(const uint8_t bytes[IPV6_ADDR_LEN]) {
    struct ip_addr addr;
    addr.family = IP_FAMILY_V6;
    __builtin_memcpy(addr.v6, bytes, IPV6_ADDR_LEN);
    return addr;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b) {
    if (a->family != b->family) return false;
    switch (a->family) {
    case IP_FAMILY_V4: return a->v4 == b->v4;
    case IP_FAMILY_V6: return __builtin_memcmp(a->v6, b->v6, IPV6_ADDR_LEN) == 0;
    default: return true; /* both ANY */
    }
}

/* ---- parsing ------------------------------------------------------------------------------ */

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool has_char(const char *text, char c) {
    for (; *text != 0; text++)
        if (*text == c) return true;
    return false;
}

/* RFC 4291 §2.2: x:x:x:x:x:x:x:x with 1-4 hex digits per group, at most one "::" standing for
 * one or more zero groups, and optionally the last 32 bits as a dotted quad. */
static bool parse_v6(const char *text, uint8_t out[IPV6_ADDR_LEN]) {
    uint16_t groups[8];
    int count = 0;    /* groups parsed */
    int gap = -1;     /* where "::" stands, as a group index */
    const char *p = text;
    if (p[0] == ':') {
        if (p[1] != ':') return false; /* a lone leading colon */
        gap = 0;
        p += 2;
    }
    while (*p != 0) { /* (nothing after a leading "::" is the address "::") */
        /* a group: hex digits, or (last) a dotted quad; which one shows at its end */
        const char *start = p;
        while (hex_value(*p) >= 0) p++;
        if (*p == '.') {
            uint32_t v4;
            if (count > 6 || !ipv4_from_text(start, &v4)) return false;
            groups[count++] = (uint16_t)(v4 >> 16);
            groups[count++] = (uint16_t)v4;
            break;
        }
        size_t digits = (size_t)(p - start);
        if (digits == 0 || digits > 4 || count == 8) return false;
        uint16_t value = 0;
        for (const char *d = start; d < p; d++) value = (uint16_t)(value << 4 | hex_value(*d));
        groups[count++] = value;
        if (*p == 0) break;
        if (*p != ':') return false;
        p++;
        if (*p == ':') {
            if (gap >= 0) return false; /* a second "::" (or ":::") */
            gap = count;
            p++;
        } else if (*p == 0) {
            return false; /* a lone trailing colon */
        }
    }
    if (gap >= 0 ? count > 7 : count != 8) return false;
    __builtin_memset(out, 0, IPV6_ADDR_LEN);
    /* groups before the gap at the front, those after it at the end */
    int tail = gap >= 0 ? count - gap : 0;
    for (int i = 0; i < count; i++) {
        int slot = (gap >= 0 && i >= gap) ? 8 - tail + (i - gap) : i;
        out[2 * slot] = (uint8_t)(groups[i] >> 8);
        out[2 * slot + 1] = (uint8_t)groups[i];
    }
    return true;
}

int ip_addr_parse(const char *text, struct ip_addr *out) {
    if (text == NULL || out == NULL) return ERR_INVAL;
    if (has_char(text, ':')) {
        uint8_t bytes[IPV6_ADDR_LEN];
        if (!parse_v6(text, bytes)) return ERR_INVAL;
        *out = ip_addr_from_v6(bytes);
        return 0;
    }
    uint32_t v4;
    if (!ipv4_from_text(text, &v4)) return ERR_INVAL;
    *out = ip_addr_from_v4(v4);
    return 0;
}

/* ---- formatting --------------------------------------------------------------------------- */

static char *put_decimal(char *p, unsigned value) {
    char digits[3];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) *p++ = digits[--n];
    return p;
}

static char *put_dotted_quad(char *p, uint32_t v4) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        p = put_decimal(p, (v4 >> shift) & 0xff);
        if (shift > 0) *p++ = '.';
    }
    return p;
}

/* RFC 5952 §4.1: no leading zeros; §4.3: lower case. */
static char *put_hex_group(char *p, uint16_t value) {
    static const char hex[] = "0123456789abcdef";
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned nibble = (value >> shift) & 0xf;
        if (nibble != 0 || started || shift == 0) {
            *p++ = hex[nibble];
            started = true;
        }
    }
    return p;
}

/* The RFC 5952 text of an IPv6 address into `text` (IP_ADDR_TEXT_MAX bytes); the end. */
static char *format_v6(const uint8_t bytes[IPV6_ADDR_LEN], char *text) {
    uint16_t groups[8];
    for (int i = 0; i < 8; i++) groups[i] = (uint16_t)(bytes[2 * i] << 8 | bytes[2 * i + 1]);
    /* §5: an IPv4-mapped address (::ffff:0:0/96) ends in its dotted quad */
    bool mapped = groups[5] == 0xffff;
    for (int i = 0; i < 5; i++) mapped = mapped && groups[i] == 0;
    int hex_groups = mapped ? 6 : 8;
    /* §4.2.2, §4.2.3: the longest run of two or more zero groups becomes "::", the first one
     * when two runs are as long */
    int best = -1, best_length = 1;
    for (int i = 0; i < hex_groups;) {
        if (groups[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < hex_groups && groups[j] == 0) j++;
        if (j - i > best_length) {
            best = i;
            best_length = j - i;
        }
        i = j;
    }
    char *p = text;
    for (int i = 0; i < hex_groups; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_length - 1;
            continue;
        }
        if (i > 0 && i != best + best_length) *p++ = ':';
        p = put_hex_group(p, groups[i]);
    }
    if (mapped) {
        if (best + best_length != hex_groups) *p++ = ':';
        p = put_dotted_quad(p, (uint32_t)groups[6] << 16 | groups[7]);
    }
    return p;
}

char *ip_addr_format(const struct ip_addr *addr, char *buffer, size_t size) {
    char text[IP_ADDR_TEXT_MAX];
    char *end;
    switch (addr->family) {
    case IP_FAMILY_V4: end = put_dotted_quad(text, addr->v4); break;
    case IP_FAMILY_V6: end = format_v6(addr->v6, text); break;
    default:
        __builtin_memcpy(text, "any", 3);
        end = text + 3;
        break;
    }
    size_t length = (size_t)(end - text);
    if (size == 0) return buffer;
    if (length > size - 1) length = size - 1;
    __builtin_memcpy(buffer, text, length);
    buffer[length] = 0;
    return buffer;
}
