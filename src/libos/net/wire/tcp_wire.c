/* net/wire/tcp_wire.c: TCP header and option parsing and building (see tcp_wire.h). */
#include "net/wire/tcp_wire.h"

#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

int tcp_wire_parse_options(const uint8_t *area, size_t length, struct tcp_options *out) {
    __builtin_memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < length) {
        uint8_t kind = area[i];
        if (kind == TCP_OPT_EOL) break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        /* every other option has a length byte counting kind and length */
        if (i + 2 > length) return TCP_WIRE_BAD_OPTION;
        uint8_t olen = area[i + 1];
        if (olen < 2 || olen > length - i) return TCP_WIRE_BAD_OPTION;
        const uint8_t *value = area + i + 2;
        switch (kind) {
        case TCP_OPT_MSS:
            if (olen != 4) return TCP_WIRE_BAD_OPTION;
            out->has_mss = true;
            out->mss = wire_get16(value);
            break;
        case TCP_OPT_WSCALE:
            if (olen != 3) return TCP_WIRE_BAD_OPTION;
            out->has_wscale = true;
            out->wscale = value[0];
            break;
        case TCP_OPT_SACK_PERMITTED:
            if (olen != 2) return TCP_WIRE_BAD_OPTION;
            out->sack_permitted = true;
            break;
        case TCP_OPT_TIMESTAMPS:
            if (olen != 10) return TCP_WIRE_BAD_OPTION;
            out->has_timestamps = true;
            out->ts_val = wire_get32(value);
            out->ts_ecr = wire_get32(value + 4);
            break;
        default: /* SACK blocks and unknown kinds: skipped by length */
            break;
        }
        i += olen;
    }
    return TCP_WIRE_OK;
}

int tcp_wire_parse(const uint8_t *segment, size_t length, struct tcp_header *out) {
    if (length < TCP_HEADER_MIN) return TCP_WIRE_SHORT;
    size_t header_length = (size_t)(segment[12] >> 4) * 4;
    if (header_length < TCP_HEADER_MIN || header_length > length) return TCP_WIRE_BAD_OFFSET;
    out->src_port = wire_get16(segment);
    out->dst_port = wire_get16(segment + 2);
    out->seq = wire_get32(segment + 4);
    out->ack = wire_get32(segment + 8);
    out->flags = segment[13];
    out->window = wire_get16(segment + 14);
    out->checksum = wire_get16(segment + 16);
    out->urgent = wire_get16(segment + 18);
    out->header_length = (uint16_t)header_length;
    return tcp_wire_parse_options(segment + TCP_HEADER_MIN, header_length - TCP_HEADER_MIN, &out->options);
}

size_t tcp_wire_write_options(uint8_t *out, const struct tcp_options *options, bool syn) {
    size_t n = 0;
    if (syn && options->has_mss) {
        out[n++] = TCP_OPT_MSS;
        out[n++] = 4;
        wire_put16(out + n, options->mss);
        n += 2;
    }
    if (syn && options->sack_permitted) {
        out[n++] = TCP_OPT_NOP;
        out[n++] = TCP_OPT_NOP;
        out[n++] = TCP_OPT_SACK_PERMITTED;
        out[n++] = 2;
    }
    if (options->has_timestamps) {
        out[n++] = TCP_OPT_NOP;
        out[n++] = TCP_OPT_NOP;
        out[n++] = TCP_OPT_TIMESTAMPS;
        out[n++] = 10;
        wire_put32(out + n, options->ts_val);
        wire_put32(out + n + 4, options->ts_ecr);
        n += 8;
    }
    if (syn && options->has_wscale) {
        out[n++] = TCP_OPT_NOP;
        out[n++] = TCP_OPT_WSCALE;
        out[n++] = 3;
        out[n++] = options->wscale;
    }
    return n; /* each piece above is a whole number of words */
}

size_t tcp_wire_write_header(uint8_t *out, const struct tcp_header *header, bool syn_options) {
    size_t header_length = TCP_HEADER_MIN + tcp_wire_write_options(out + TCP_HEADER_MIN, &header->options, syn_options);
    wire_put16(out, header->src_port);
    wire_put16(out + 2, header->dst_port);
    wire_put32(out + 4, header->seq);
    wire_put32(out + 8, header->ack);
    out[12] = (uint8_t)(header_length / 4) << 4;
    out[13] = header->flags;
    wire_put16(out + 14, header->window);
    wire_put16(out + 16, 0);
    wire_put16(out + 18, header->urgent);
    return header_length;
}

static uint32_t segment_sum(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment, size_t length) {
    /* no jumbograms (RFC 2675): a segment is at most 65535 bytes in either family */
    uint32_t sum = checksum_pseudo(src, dst, TCP_PROTOCOL, (uint32_t)length);
    return checksum_add(sum, segment, length);
}

bool tcp_wire_checksum_ok(const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment, size_t length) {
    if (length > 0xffff || src->family != dst->family || src->family == IP_FAMILY_ANY) return false;
    return checksum_finish(segment_sum(src, dst, segment, length)) == 0;
}

void tcp_wire_set_checksum(const struct ip_addr *src, const struct ip_addr *dst, uint8_t *segment, size_t length) {
    wire_put16(segment + 16, 0);
    wire_put16(segment + 16, checksum_finish(segment_sum(src, dst, segment, length)));
}
