/* net/wire/ipv4_wire.c: IPv4 headers (RFC 791). */
#include "net/wire/ipv4_wire.h"
#include "net/wire/bytes.h"
#include "net/wire/checksum.h"

enum ipv4_parse_result ipv4_parse(const uint8_t *packet, size_t length, struct ipv4_header *out) {
    if (length < IPV4_HEADER_LEN) return IPV4_TOO_SHORT;
    if (packet[0] >> 4 != 4) return IPV4_BAD_VERSION;
    size_t header_length = (size_t)(packet[0] & 15) * 4;
    if (header_length < IPV4_HEADER_LEN) return IPV4_BAD_HEADER_LENGTH;
    if (header_length > length) return IPV4_TOO_SHORT;
    uint16_t total = wire_get16(packet + 2);
    if (total < header_length || total > length) return IPV4_BAD_TOTAL_LENGTH;
    if (checksum_finish(checksum_add(0, packet, header_length)) != 0) return IPV4_BAD_CHECKSUM;
    out->header_length = (uint8_t)header_length;
    out->tos = packet[1];
    out->total_length = total;
    out->id = wire_get16(packet + 4);
    out->flags_offset = wire_get16(packet + 6);
    out->ttl = packet[8];
    out->protocol = packet[9];
    out->source = wire_get32(packet + 12);
    out->destination = wire_get32(packet + 16);
    return IPV4_OK;
}

const char *ipv4_parse_result_name(enum ipv4_parse_result result) {
    switch (result) {
    case IPV4_OK: return "ok";
    case IPV4_TOO_SHORT: return "truncated";
    case IPV4_BAD_VERSION: return "not version 4";
    case IPV4_BAD_HEADER_LENGTH: return "header length below 20";
    case IPV4_BAD_TOTAL_LENGTH: return "total length outside the packet";
    case IPV4_BAD_CHECKSUM: return "bad header checksum";
    }
    return "?";
}

void ipv4_write(uint8_t *packet, const struct ipv4_header *header) {
    packet[0] = 0x45;
    packet[1] = header->tos;
    wire_put16(packet + 2, header->total_length);
    wire_put16(packet + 4, header->id);
    wire_put16(packet + 6, header->flags_offset);
    packet[8] = header->ttl;
    packet[9] = header->protocol;
    wire_put16(packet + 10, 0);
    wire_put32(packet + 12, header->source);
    wire_put32(packet + 16, header->destination);
    wire_put16(packet + 10, checksum_finish(checksum_add(0, packet, IPV4_HEADER_LEN)));
}

static char *put_decimal(char *at, unsigned value) {
    if (value >= 100) *at++ = (char)('0' + value / 100);
    if (value >= 10) *at++ = (char)('0' + value / 10 % 10);
    *at++ = (char)('0' + value % 10);
    return at;
}

void ipv4_format(uint32_t address, char text[16]) {
    char *at = text;
    for (int shift = 24; shift >= 0; shift -= 8) {
        at = put_decimal(at, (address >> shift) & 255);
        if (shift) *at++ = '.';
    }
    *at = 0;
}

bool ipv4_from_text(const char *text, uint32_t *out) {
    uint32_t address = 0;
    for (int part = 0; part < 4; part++) {
        if (*text < '0' || *text > '9') return false;
        unsigned value = 0;
        int digits = 0;
        while (*text >= '0' && *text <= '9') {
            value = value * 10 + (unsigned)(*text++ - '0');
            if (++digits > 3 || value > 255) return false;
        }
        address = address << 8 | value;
        if (part < 3 && *text++ != '.') return false;
    }
    if (*text != 0) return false;
    *out = address;
    return true;
}
