/*
 * net/wire/dhcp_wire.h: DHCP messages (RFC 2131) and their options (RFC 2132): the BOOTP fixed
 * part, the magic cookie, and a TLV option list ending in END.
 *
 * dhcp_parse checks the fixed part's length and the cookie, walks the options with every length
 * checked against the buffer (an option running past the end makes the message malformed), and
 * keeps the ones a client needs. Options 52 (overload) is not honoured: sname/file are ignored.
 */
#ifndef NET_WIRE_DHCP_WIRE_H
#define NET_WIRE_DHCP_WIRE_H

#include "base/base.h"

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236
#define DHCP_MIN_LEN (DHCP_FIXED_LEN + 4) /* with the cookie */
#define DHCP_MAX_MESSAGE 576

#define DHCP_BOOTREQUEST 1
#define DHCP_BOOTREPLY 2

#define DHCPDISCOVER 1
#define DHCPOFFER 2
#define DHCPREQUEST 3
#define DHCPDECLINE 4
#define DHCPACK 5
#define DHCPNAK 6
#define DHCPRELEASE 7

#define DHCP_OPT_PAD 0
#define DHCP_OPT_SUBNET_MASK 1
#define DHCP_OPT_ROUTER 3
#define DHCP_OPT_DNS 6
#define DHCP_OPT_REQUESTED_IP 50
#define DHCP_OPT_LEASE_TIME 51
#define DHCP_OPT_MESSAGE_TYPE 53
#define DHCP_OPT_SERVER_ID 54
#define DHCP_OPT_PARAMETER_LIST 55
#define DHCP_OPT_RENEWAL_TIME 58
#define DHCP_OPT_REBINDING_TIME 59
#define DHCP_OPT_CLIENT_ID 61
#define DHCP_OPT_END 255

struct dhcp_message {
    uint8_t op;
    uint32_t xid;
    uint32_t ciaddr, yiaddr, siaddr; /* host order */
    uint8_t chaddr[6];
    uint8_t message_type;            /* 0 when absent */
    uint32_t server_id, subnet_mask, router, dns, requested_ip;
    uint32_t lease_time, renewal_time, rebinding_time; /* seconds; 0 when absent */
    bool has_subnet_mask, has_lease_time;
};

bool dhcp_parse(const uint8_t *data, size_t length, struct dhcp_message *out);

/* Writes a client message (op BOOTREQUEST, Ethernet, broadcast flag set) into `out` (at least
 * DHCP_MAX_MESSAGE bytes) with the options a client sends: message type, requested IP and server
 * id when nonzero, client id (type 1 + MAC), the parameter request list. Returns its length. */
size_t dhcp_write_request(uint8_t *out, uint8_t message_type, uint32_t xid, const uint8_t mac[6], uint32_t ciaddr,
                          uint32_t requested_ip, uint32_t server_id);

#endif
