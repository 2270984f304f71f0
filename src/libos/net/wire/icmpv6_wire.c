/* net/wire/icmpv6_wire.c: ICMPv6 and Neighbor Discovery messages (RFC 4443, 4861, 8106). */
#include "net/wire/icmpv6_wire.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

enum icmpv6_parse_result icmpv6_parse(const uint8_t *message, size_t length, const uint8_t source[IPV6_ADDRESS_LEN],
                                      const uint8_t destination[IPV6_ADDRESS_LEN], struct icmpv6_header *out) {
    if (length < ICMPV6_HEADER_LEN) return ICMPV6_TOO_SHORT;
    uint32_t sum = checksum_pseudo_ipv6(source, destination, IPV6_NEXT_ICMPV6, (uint32_t)length);
    if (checksum_finish(checksum_add(sum, message, length)) != 0) return ICMPV6_BAD_CHECKSUM;
    out->type = message[0];
    out->code = message[1];
    out->word = wire_get32(message + 4);
    out->body = message + ICMPV6_HEADER_LEN;
    out->body_length = length - ICMPV6_HEADER_LEN;
    return ICMPV6_OK;
}

void icmpv6_write_header(uint8_t *message, uint8_t type, uint8_t code, uint32_t word) {
    message[0] = type;
    message[1] = code;
    wire_put16(message + 2, 0);
    wire_put32(message + 4, word);
}

void icmpv6_set_checksum(uint8_t *message, size_t length, const uint8_t source[IPV6_ADDRESS_LEN],
                         const uint8_t destination[IPV6_ADDRESS_LEN]) {
    wire_put16(message + 2, 0);
    uint32_t sum = checksum_pseudo_ipv6(source, destination, IPV6_NEXT_ICMPV6, (uint32_t)length);
    wire_put16(message + 2, checksum_finish(checksum_add(sum, message, length)));
}

/* ---- Neighbor Discovery ---- */

bool ndp_options_parse(const uint8_t *options, size_t length, struct ndp_options *out) {
    __builtin_memset(out, 0, sizeof *out);
    size_t at = 0;
    while (at < length) {
        if (length - at < 2) return false;
        uint8_t type = options[at];
        size_t option_length = (size_t)options[at + 1] * 8;
        if (option_length == 0 || option_length > length - at) return false;
        const uint8_t *o = options + at;
        switch (type) {
        case NDP_OPTION_SOURCE_LINK_ADDRESS:
        case NDP_OPTION_TARGET_LINK_ADDRESS:
            if (option_length != 8) {
                out->ignored++;
                break;
            }
            if (type == NDP_OPTION_SOURCE_LINK_ADDRESS) out->source_mac = o + 2;
            else out->target_mac = o + 2;
            break;
        case NDP_OPTION_PREFIX_INFORMATION:
            if (option_length != 32 || out->prefix_count == NDP_MAX_PREFIXES) {
                out->ignored++;
                break;
            }
            {
                struct ndp_prefix *p = &out->prefixes[out->prefix_count++];
                p->length = o[2];
                p->on_link = (o[3] & 0x80) != 0;
                p->autonomous = (o[3] & 0x40) != 0;
                p->valid_s = wire_get32(o + 4);
                p->preferred_s = wire_get32(o + 8);
                __builtin_memcpy(p->prefix, o + 16, IPV6_ADDRESS_LEN);
            }
            break;
        case NDP_OPTION_MTU:
            if (option_length != 8) {
                out->ignored++;
                break;
            }
            out->has_mtu = true;
            out->mtu = wire_get32(o + 4);
            break;
        case NDP_OPTION_RDNSS:
            /* type, length, reserved (2), lifetime (4), then addresses: length 3, 5, 7, ... */
            if (option_length < 24 || (option_length - 8) % 16 != 0) {
                out->ignored++;
                break;
            }
            if (out->rdnss_count == 0) out->rdnss_lifetime_s = wire_get32(o + 4);
            for (size_t a = 8; a < option_length; a += 16) {
                if (out->rdnss_count == NDP_MAX_RDNSS) {
                    out->ignored++;
                    break;
                }
                __builtin_memcpy(out->rdnss[out->rdnss_count++], o + a, IPV6_ADDRESS_LEN);
            }
            break;
        default: out->ignored++; break;
        }
        at += option_length;
    }
    return true;
}

bool ndp_parse(const struct icmpv6_header *icmp, struct ndp_message *out) {
    __builtin_memset(out, 0, sizeof *out);
    out->type = icmp->type;
    const uint8_t *body = icmp->body; /* after type, code, checksum and the 32-bit word */
    size_t n = icmp->body_length;
    size_t fixed;
    switch (icmp->type) {
    case ICMPV6_ROUTER_SOLICITATION: fixed = 0; break;
    case ICMPV6_ROUTER_ADVERTISEMENT:
        fixed = 8;
        if (n < fixed) return false;
        out->cur_hop_limit = (uint8_t)(icmp->word >> 24);
        out->managed = (icmp->word & 0x00800000u) != 0;
        out->other_config = (icmp->word & 0x00400000u) != 0;
        out->router_lifetime_s = (uint16_t)icmp->word;
        out->reachable_time_ms = wire_get32(body);
        out->retrans_timer_ms = wire_get32(body + 4);
        break;
    case ICMPV6_NEIGHBOR_SOLICITATION:
    case ICMPV6_NEIGHBOR_ADVERTISEMENT:
        fixed = 16;
        if (n < fixed) return false;
        __builtin_memcpy(out->target, body, IPV6_ADDRESS_LEN);
        out->router = (icmp->word & NDP_NA_ROUTER) != 0;
        out->solicited = (icmp->word & NDP_NA_SOLICITED) != 0;
        out->override = (icmp->word & NDP_NA_OVERRIDE) != 0;
        if (icmp->type == ICMPV6_NEIGHBOR_SOLICITATION) out->router = out->solicited = out->override = false;
        break;
    case ICMPV6_REDIRECT:
        fixed = 32;
        if (n < fixed) return false;
        __builtin_memcpy(out->target, body, IPV6_ADDRESS_LEN);
        __builtin_memcpy(out->destination, body + 16, IPV6_ADDRESS_LEN);
        break;
    default: return false;
    }
    return ndp_options_parse(body + fixed, n - fixed, &out->options);
}

static size_t put_link_option(uint8_t *at, uint8_t type, const uint8_t *mac) {
    at[0] = type;
    at[1] = 1;
    __builtin_memcpy(at + 2, mac, 6);
    return 8;
}

size_t ndp_write_rs(uint8_t *message, const uint8_t *source_mac) {
    icmpv6_write_header(message, ICMPV6_ROUTER_SOLICITATION, 0, 0);
    size_t length = ICMPV6_HEADER_LEN;
    if (source_mac != NULL) length += put_link_option(message + length, NDP_OPTION_SOURCE_LINK_ADDRESS, source_mac);
    return length;
}

size_t ndp_write_ns(uint8_t *message, const uint8_t target[IPV6_ADDRESS_LEN], const uint8_t *source_mac) {
    icmpv6_write_header(message, ICMPV6_NEIGHBOR_SOLICITATION, 0, 0);
    __builtin_memcpy(message + ICMPV6_HEADER_LEN, target, IPV6_ADDRESS_LEN);
    size_t length = ICMPV6_HEADER_LEN + IPV6_ADDRESS_LEN;
    if (source_mac != NULL) length += put_link_option(message + length, NDP_OPTION_SOURCE_LINK_ADDRESS, source_mac);
    return length;
}

size_t ndp_write_na(uint8_t *message, uint32_t flags, const uint8_t target[IPV6_ADDRESS_LEN], const uint8_t *target_mac) {
    icmpv6_write_header(message, ICMPV6_NEIGHBOR_ADVERTISEMENT, 0, flags & (NDP_NA_ROUTER | NDP_NA_SOLICITED | NDP_NA_OVERRIDE));
    __builtin_memcpy(message + ICMPV6_HEADER_LEN, target, IPV6_ADDRESS_LEN);
    size_t length = ICMPV6_HEADER_LEN + IPV6_ADDRESS_LEN;
    if (target_mac != NULL) length += put_link_option(message + length, NDP_OPTION_TARGET_LINK_ADDRESS, target_mac);
    return length;
}
