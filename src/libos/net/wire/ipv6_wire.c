/* net/wire/ipv6_wire.c: IPv6 headers, extension headers and address classes (RFC 8200, 4291). */
#include "net/wire/ipv6_wire.h"
#include "net/wire/bytes.h"

const uint8_t ipv6_unspecified[IPV6_ADDRESS_LEN];
const uint8_t ipv6_all_nodes[IPV6_ADDRESS_LEN] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t ipv6_all_routers[IPV6_ADDRESS_LEN] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

enum ipv6_parse_result ipv6_parse(const uint8_t *packet, size_t length, struct ipv6_header *out) {
    if (length < IPV6_HEADER_LEN) return IPV6_TOO_SHORT;
    if (packet[0] >> 4 != 6) return IPV6_BAD_VERSION;
    uint16_t payload_length = wire_get16(packet + 4);
    if ((size_t)payload_length > length - IPV6_HEADER_LEN) return IPV6_BAD_PAYLOAD_LENGTH;
    out->traffic_class = (uint8_t)((packet[0] & 15) << 4 | packet[1] >> 4);
    out->flow_label = (uint32_t)(packet[1] & 15) << 16 | wire_get16(packet + 2);
    out->payload_length = payload_length;
    out->next_header = packet[6];
    out->hop_limit = packet[7];
    __builtin_memcpy(out->source, packet + 8, IPV6_ADDRESS_LEN);
    __builtin_memcpy(out->destination, packet + 24, IPV6_ADDRESS_LEN);
    return IPV6_OK;
}

const char *ipv6_parse_result_name(enum ipv6_parse_result result) {
    switch (result) {
    case IPV6_OK: return "ok";
    case IPV6_TOO_SHORT: return "truncated";
    case IPV6_BAD_VERSION: return "not version 6";
    case IPV6_BAD_PAYLOAD_LENGTH: return "payload length past the packet";
    }
    return "?";
}

void ipv6_write(uint8_t *packet, const struct ipv6_header *header) {
    packet[0] = (uint8_t)(0x60 | header->traffic_class >> 4);
    packet[1] = (uint8_t)((header->traffic_class & 15) << 4 | ((header->flow_label >> 16) & 15));
    wire_put16(packet + 2, (uint16_t)header->flow_label);
    wire_put16(packet + 4, header->payload_length);
    packet[6] = header->next_header;
    packet[7] = header->hop_limit;
    __builtin_memcpy(packet + 8, header->source, IPV6_ADDRESS_LEN);
    __builtin_memcpy(packet + 24, header->destination, IPV6_ADDRESS_LEN);
}

/* ---- extension headers ---- */

bool ipv6_is_extension(uint8_t type) {
    return type == IPV6_NEXT_HOP_BY_HOP || type == IPV6_NEXT_ROUTING || type == IPV6_NEXT_FRAGMENT ||
           type == IPV6_NEXT_DESTINATION;
}

bool ipv6_ext_parse(const uint8_t *data, size_t length, uint8_t type, struct ipv6_ext *out) {
    if (!ipv6_is_extension(type) || length < 8) return false;
    __builtin_memset(out, 0, sizeof *out);
    out->type = type;
    out->next_header = data[0];
    if (type == IPV6_NEXT_FRAGMENT) {
        /* next header, reserved, offset (13 bits) | res (2) | M, identification */
        out->length = IPV6_FRAGMENT_HEADER_LEN;
        uint16_t offset_flags = wire_get16(data + 2);
        out->fragment_offset = (uint16_t)(offset_flags & 0xfff8);
        out->more_fragments = (offset_flags & 1) != 0;
        out->fragment_id = wire_get32(data + 4);
        return true;
    }
    out->length = ((size_t)data[1] + 1) * 8;
    if (out->length > length) return false;
    if (type == IPV6_NEXT_ROUTING) {
        out->routing_type = data[2];
        out->segments_left = data[3];
    } else {
        out->options = data + 2;
        out->options_length = out->length - 2;
    }
    return true;
}

enum ipv6_option_result ipv6_option_next(const uint8_t *options, size_t length, size_t *at, struct ipv6_option *out) {
    if (*at >= length) return IPV6_OPTION_END;
    out->type = options[*at];
    out->offset = *at;
    if (out->type == IPV6_OPTION_PAD1) {
        out->data = options + *at + 1;
        out->data_length = 0;
        *at += 1;
        return IPV6_OPTION_OK;
    }
    if (length - *at < 2) return IPV6_OPTION_MALFORMED;
    size_t data_length = options[*at + 1];
    if (data_length > length - *at - 2) return IPV6_OPTION_MALFORMED;
    out->data = options + *at + 2;
    out->data_length = data_length;
    *at += 2 + data_length;
    return IPV6_OPTION_OK;
}

/* ---- addresses ---- */

bool ipv6_equal(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN]) {
    return __builtin_memcmp(a, b, IPV6_ADDRESS_LEN) == 0;
}

bool ipv6_is_unspecified(const uint8_t address[IPV6_ADDRESS_LEN]) { return ipv6_equal(address, ipv6_unspecified); }

bool ipv6_is_loopback(const uint8_t address[IPV6_ADDRESS_LEN]) {
    for (int i = 0; i < 15; i++)
        if (address[i] != 0) return false;
    return address[15] == 1;
}

bool ipv6_is_multicast(const uint8_t address[IPV6_ADDRESS_LEN]) { return address[0] == 0xff; }

bool ipv6_is_link_local(const uint8_t address[IPV6_ADDRESS_LEN]) {
    return address[0] == 0xfe && (address[1] & 0xc0) == 0x80;
}

bool ipv6_is_multicast_link_scope(const uint8_t address[IPV6_ADDRESS_LEN]) {
    return address[0] == 0xff && ((address[1] & 15) == 1 || (address[1] & 15) == 2);
}

bool ipv6_is_v4_mapped(const uint8_t address[IPV6_ADDRESS_LEN]) {
    for (int i = 0; i < 10; i++)
        if (address[i] != 0) return false;
    return address[10] == 0xff && address[11] == 0xff;
}

unsigned ipv6_common_prefix(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN]) {
    unsigned bits = 0;
    for (int i = 0; i < IPV6_ADDRESS_LEN; i++) {
        uint8_t differ = a[i] ^ b[i];
        if (differ == 0) {
            bits += 8;
            continue;
        }
        while ((differ & 0x80) == 0) {
            bits++;
            differ = (uint8_t)(differ << 1);
        }
        break;
    }
    return bits;
}

bool ipv6_prefix_equal(const uint8_t a[IPV6_ADDRESS_LEN], const uint8_t b[IPV6_ADDRESS_LEN], unsigned bits) {
    return ipv6_common_prefix(a, b) >= MIN(bits, 128u);
}

void ipv6_solicited_node(const uint8_t address[IPV6_ADDRESS_LEN], uint8_t out[IPV6_ADDRESS_LEN]) {
    static const uint8_t base[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    __builtin_memcpy(out, base, sizeof base);
    out[13] = address[13];
    out[14] = address[14];
    out[15] = address[15];
}

void ipv6_multicast_mac(const uint8_t address[IPV6_ADDRESS_LEN], uint8_t mac[6]) {
    mac[0] = 0x33;
    mac[1] = 0x33;
    __builtin_memcpy(mac + 2, address + 12, 4);
}

void ipv6_interface_id(const uint8_t mac[6], uint8_t address[IPV6_ADDRESS_LEN]) {
    address[8] = (uint8_t)(mac[0] ^ 0x02); /* the universal/local bit inverted */
    address[9] = mac[1];
    address[10] = mac[2];
    address[11] = 0xff;
    address[12] = 0xfe;
    address[13] = mac[3];
    address[14] = mac[4];
    address[15] = mac[5];
}
