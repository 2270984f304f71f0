/* net/wire/dhcp_wire.c: DHCP messages (RFC 2131, 2132). */
#include "net/wire/dhcp_wire.h"
#include "net/wire/bytes.h"

static const uint8_t cookie[4] = {99, 130, 83, 99};

bool dhcp_parse(const uint8_t *data, size_t length, struct dhcp_message *out) {
    if (length < DHCP_MIN_LEN) return false;
    if (data[1] != 1 || data[2] != 6) return false; /* htype Ethernet, hlen 6 */
    if (__builtin_memcmp(data + DHCP_FIXED_LEN, cookie, 4) != 0) return false;
    __builtin_memset(out, 0, sizeof *out);
    out->op = data[0];
    out->xid = wire_get32(data + 4);
    out->ciaddr = wire_get32(data + 12);
    out->yiaddr = wire_get32(data + 16);
    out->siaddr = wire_get32(data + 20);
    __builtin_memcpy(out->chaddr, data + 28, 6);
    size_t at = DHCP_MIN_LEN;
    while (at < length) {
        uint8_t code = data[at++];
        if (code == DHCP_OPT_PAD) continue;
        if (code == DHCP_OPT_END) return true;
        if (at >= length) return false;
        size_t option_length = data[at++];
        if (option_length > length - at) return false;
        const uint8_t *value = data + at;
        at += option_length;
        switch (code) {
        case DHCP_OPT_MESSAGE_TYPE: if (option_length == 1) out->message_type = value[0]; break;
        case DHCP_OPT_SUBNET_MASK:
            if (option_length == 4) {
                out->subnet_mask = wire_get32(value);
                out->has_subnet_mask = true;
            }
            break;
        case DHCP_OPT_ROUTER: if (option_length >= 4) out->router = wire_get32(value); break;
        case DHCP_OPT_DNS: if (option_length >= 4) out->dns = wire_get32(value); break;
        case DHCP_OPT_SERVER_ID: if (option_length == 4) out->server_id = wire_get32(value); break;
        case DHCP_OPT_REQUESTED_IP: if (option_length == 4) out->requested_ip = wire_get32(value); break;
        case DHCP_OPT_LEASE_TIME:
            if (option_length == 4) {
                out->lease_time = wire_get32(value);
                out->has_lease_time = true;
            }
            break;
        case DHCP_OPT_RENEWAL_TIME: if (option_length == 4) out->renewal_time = wire_get32(value); break;
        case DHCP_OPT_REBINDING_TIME: if (option_length == 4) out->rebinding_time = wire_get32(value); break;
        default: break;
        }
    }
    return false; /* no END */
}

static uint8_t *put_option(uint8_t *at, uint8_t code, const void *value, uint8_t length) {
    *at++ = code;
    *at++ = length;
    __builtin_memcpy(at, value, length);
    return at + length;
}

static uint8_t *put_address_option(uint8_t *at, uint8_t code, uint32_t address) {
    uint8_t value[4];
    wire_put32(value, address);
    return put_option(at, code, value, 4);
}

size_t dhcp_write_request(uint8_t *out, uint8_t message_type, uint32_t xid, const uint8_t mac[6], uint32_t ciaddr,
                          uint32_t requested_ip, uint32_t server_id) {
    __builtin_memset(out, 0, DHCP_MAX_MESSAGE);
    out[0] = DHCP_BOOTREQUEST;
    out[1] = 1;
    out[2] = 6;
    wire_put32(out + 4, xid);
    /* broadcast flag: we cannot take unicast before we have an address (RFC 2131 §4.1) */
    if (ciaddr == 0) wire_put16(out + 10, 0x8000);
    wire_put32(out + 12, ciaddr);
    __builtin_memcpy(out + 28, mac, 6);
    __builtin_memcpy(out + DHCP_FIXED_LEN, cookie, 4);
    uint8_t *at = out + DHCP_MIN_LEN;
    at = put_option(at, DHCP_OPT_MESSAGE_TYPE, &message_type, 1);
    uint8_t client_id[7] = {1};
    __builtin_memcpy(client_id + 1, mac, 6);
    at = put_option(at, DHCP_OPT_CLIENT_ID, client_id, sizeof client_id);
    if (requested_ip != 0) at = put_address_option(at, DHCP_OPT_REQUESTED_IP, requested_ip);
    if (server_id != 0) at = put_address_option(at, DHCP_OPT_SERVER_ID, server_id);
    static const uint8_t wanted[] = {DHCP_OPT_SUBNET_MASK, DHCP_OPT_ROUTER, DHCP_OPT_DNS, DHCP_OPT_LEASE_TIME,
                                     DHCP_OPT_RENEWAL_TIME, DHCP_OPT_REBINDING_TIME};
    at = put_option(at, DHCP_OPT_PARAMETER_LIST, wanted, sizeof wanted);
    *at++ = DHCP_OPT_END;
    /* BOOTP's minimum message: 300 bytes (RFC 1542 §3.2) */
    size_t length = (size_t)(at - out);
    return length < 300 ? 300 : length;
}
