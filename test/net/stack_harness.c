/* test/net/stack_harness.c: a net_stack on a simulated link (stack_harness.h). */
#include <stdlib.h>
#include <string.h>

#include "net/wire/icmp_wire.h"
#include "net/wire/udp_wire.h"
#include "stack_harness.h"
#include "net/wire/bytes.h"

const uint8_t our_mac[ETH_ADDR_LEN] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const uint8_t gw_mac[ETH_ADDR_LEN] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};
const uint8_t peer_mac[ETH_ADDR_LEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x03};
const uint8_t other_mac[ETH_ADDR_LEN] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
const uint8_t zero_mac_addr[ETH_ADDR_LEN];


static char *mac_text(const uint8_t *mac, char text[18]) {
    eth_format(mac, text);
    return text;
}
static char *ip_text(uint32_t ip, char text[16]) {
    ipv4_format(ip, text);
    return text;
}

/* ---- the host ---- */

static int host_transmit(void *ctx, const uint8_t *frame, size_t length) {
    struct host *h = ctx;
    if (h->transmit_result != 0) return h->transmit_result;
    TEST_ASSERT(length >= ETH_HEADER_LEN && length <= ETH_HEADER_LEN + (size_t)h->mtu, "the stack sent a frame of %zu bytes",
                length);
    TEST_ASSERT(h->count < CAPTURE_MAX, "more than %d frames sent and not read", CAPTURE_MAX);
    struct captured *slot = &h->frames[(h->head + h->count++) % CAPTURE_MAX];
    slot->length = length;
    slot->at_ns = h->now;
    memcpy(slot->bytes, frame, length);
    h->sent++;
    return 0;
}

struct host *host_new_mtu(uint16_t mtu, uint32_t ip, unsigned prefix, uint32_t gateway) {
    struct host *h = calloc(1, sizeof *h);
    TEST_ASSERT(h != NULL, "calloc");
    h->blocks_before = net_native_blocks_in_use();
    h->now = SEC;
    h->mtu = mtu;
    h->stack = net_stack_new(our_mac, mtu, host_transmit, h);
    TEST_ASSERT(h->stack != NULL, "net_stack_new");
    h->blocks_idle = net_native_blocks_in_use();
    if (ip != 0) {
        net_stack_set_ipv4(h->stack, ip, prefix, gateway, h->now);
        host_clear(h);
    }
    host_mark(h);
    return h;
}

struct host *host_new(uint32_t ip, unsigned prefix, uint32_t gateway) { return host_new_mtu(HOST_MTU, ip, prefix, gateway); }

struct host *host_default(void) { return host_new(OUR_IP, OUR_PREFIX, GW_IP); }

void host_free(struct host *h, struct dhcp_client *dhcp) {
    dhcp_client_free(dhcp);
    net_stack_free(h->stack);
    uint64_t blocks = net_native_blocks_in_use();
    uint64_t before = h->blocks_before;
    free(h);
    TEST_ASSERT(blocks == before, "the stack left %lld blocks allocated", (long long)(blocks - before));
}

void host_input(struct host *h, const uint8_t *frame, size_t length) {
    uint8_t *copy = malloc(length == 0 ? 1 : length);
    TEST_ASSERT(copy != NULL, "malloc");
    memcpy(copy, frame, length);
    net_stack_input(h->stack, copy, length, h->now);
    free(copy);
}

void host_timers(struct host *h, uint64_t now) {
    TEST_ASSERT(now >= h->now, "time went back");
    h->now = now;
    net_stack_timers(h->stack, now);
}

const struct captured *host_next(struct host *h) {
    TEST_ASSERT(h->count > 0, "expected a frame from the stack, none was sent");
    const struct captured *frame = &h->frames[h->head];
    h->head = (h->head + 1) % CAPTURE_MAX;
    h->count--;
    return frame;
}

size_t host_pending(const struct host *h) { return h->count; }

void host_clear(struct host *h) {
    h->head = 0;
    h->count = 0;
}

void host_expect_quiet(struct host *h, const char *when) {
    if (h->count == 0) return;
    const struct captured *frame = &h->frames[h->head];
    char text[18];
    test_fail("%s: the stack sent %zu unexpected frame(s), the first %zu bytes to %s type %04x", when, h->count,
              frame->length, mac_text(frame->bytes, text), wire_get16(frame->bytes + 12));
}

/* ---- counters ---- */

#define STAT(name) {#name, offsetof(struct net_stack_stats, name)}
static const struct {
    const char *name;
    size_t offset;
} stat_fields[] = {
    STAT(frames_in), STAT(frames_out), STAT(bytes_in), STAT(bytes_out), STAT(malformed), STAT(not_for_us),
    STAT(transmit_errors), STAT(arp_requests_in), STAT(arp_replies_in), STAT(arp_requests_out),
    STAT(arp_replies_out), STAT(arp_unresolved), STAT(ipv4_in), STAT(ipv4_out), STAT(ipv4_bad_checksum),
    STAT(ipv4_ttl_zero), STAT(fragments_in), STAT(reassembled), STAT(reassembly_dropped), STAT(icmp_in),
    STAT(icmp_out), STAT(echo_requests_in), STAT(echo_replies_out), STAT(port_unreachable_out), STAT(udp_in),
    STAT(udp_out), STAT(udp_bad_checksum), STAT(udp_no_port),
    STAT(ipv6_in), STAT(ipv6_out), STAT(ipv6_dropped), STAT(ipv6_no_route), STAT(fragments6_in), STAT(reassembled6),
    STAT(reassembly6_dropped), STAT(atomic_fragments), STAT(icmpv6_in), STAT(icmpv6_out), STAT(icmpv6_bad_checksum),
    STAT(icmpv6_errors_in), STAT(icmpv6_errors_out), STAT(icmpv6_rate_limited), STAT(echo6_requests_in),
    STAT(echo6_replies_out), STAT(nd_ns_in), STAT(nd_ns_out), STAT(nd_na_in), STAT(nd_na_out), STAT(nd_rs_out),
    STAT(nd_ra_in), STAT(nd_redirects_in), STAT(nd_invalid), STAT(nd_unresolved), STAT(dad_conflicts),
};

static uint64_t field(const struct net_stack_stats *stats, size_t i) {
    uint64_t value;
    memcpy(&value, (const char *)stats + stat_fields[i].offset, sizeof value);
    return value;
}

void host_mark(struct host *h) { net_stack_get_stats(h->stack, &h->mark); }

uint64_t host_stat(const struct host *h, const char *name) {
    struct net_stack_stats now;
    net_stack_get_stats(h->stack, &now);
    for (size_t i = 0; i < ARRAY_SIZE(stat_fields); i++)
        if (strcmp(stat_fields[i].name, name) == 0) return field(&now, i);
    test_fail("no counter %s", name);
}

void host_expect_stats(struct host *h, const char *changes) {
    struct net_stack_stats now;
    net_stack_get_stats(h->stack, &now);
    char problems[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_SIZE(stat_fields); i++) {
        const char *name = stat_fields[i].name;
        size_t name_length = strlen(name);
        bool named = false;
        int64_t expected = 0;
        for (const char *at = changes; (at = strstr(at, name)) != NULL; at += name_length) {
            if ((at == changes || at[-1] == ' ') && at[name_length] == '=') {
                named = true;
                expected = strtoll(at + name_length + 1, NULL, 10);
                break;
            }
        }
        bool optional = strncmp(name, "frames_", 7) == 0 || strncmp(name, "bytes_", 6) == 0;
        int64_t delta = (int64_t)(field(&now, i) - field(&h->mark, i));
        if ((named || !optional) && delta != expected && used < sizeof problems - 100)
            used += (size_t)snprintf(problems + used, sizeof problems - used, " %s %+lld (expected %+lld)", name,
                                     (long long)delta, (long long)expected);
    }
    if (used > 0) test_fail("counters:%s", problems);
    h->mark = now;
}

/* ---- reference checksums ---- */

uint16_t ref_checksum(const uint8_t *data, size_t length, uint32_t initial) {
    uint64_t sum = initial;
    for (size_t i = 0; i < length; i++) sum += i % 2 == 0 ? (uint32_t)data[i] << 8 : data[i];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t ref_pseudo(uint32_t source, uint32_t destination, uint8_t protocol, size_t length) {
    return (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) + protocol + (uint32_t)length;
}

/* ---- building ---- */

size_t build_eth(uint8_t *frame, const uint8_t destination[ETH_ADDR_LEN], const uint8_t source[ETH_ADDR_LEN], uint16_t type) {
    memcpy(frame, destination, 6);
    memcpy(frame + 6, source, 6);
    wire_put16(frame + 12, type);
    return ETH_HEADER_LEN;
}

size_t build_arp(uint8_t *frame, const uint8_t eth_destination[ETH_ADDR_LEN], const uint8_t eth_source[ETH_ADDR_LEN],
                 uint16_t operation, const uint8_t sender_mac[ETH_ADDR_LEN], uint32_t sender_ip,
                 const uint8_t target_mac[ETH_ADDR_LEN], uint32_t target_ip) {
    uint8_t *p = frame + build_eth(frame, eth_destination, eth_source, ETHERTYPE_ARP);
    wire_put16(p, 1);
    wire_put16(p + 2, 0x0800);
    p[4] = 6;
    p[5] = 4;
    wire_put16(p + 6, operation);
    memcpy(p + 8, sender_mac, 6);
    wire_put32(p + 14, sender_ip);
    memcpy(p + 18, target_mac, 6);
    wire_put32(p + 24, target_ip);
    return ETH_HEADER_LEN + 28;
}

size_t build_ipv4(uint8_t *frame, const uint8_t eth_destination[ETH_ADDR_LEN], const uint8_t eth_source[ETH_ADDR_LEN],
                  const struct ip_spec *ip, const uint8_t *payload, size_t length) {
    uint8_t *p = frame + build_eth(frame, eth_destination, eth_source, ETHERTYPE_IPV4);
    size_t header = 20 + ip->options_length;
    TEST_ASSERT(ip->options_length % 4 == 0 && ip->options_length <= 40, "bad options length");
    TEST_ASSERT(header + length <= 65535, "packet too long");
    p[0] = (uint8_t)(0x40 | header / 4);
    p[1] = ip->tos;
    wire_put16(p + 2, (uint16_t)(header + length));
    wire_put16(p + 4, ip->id);
    wire_put16(p + 6, ip->flags_offset);
    p[8] = ip->ttl;
    p[9] = ip->protocol;
    wire_put16(p + 10, 0);
    wire_put32(p + 12, ip->source);
    wire_put32(p + 16, ip->destination);
    memset(p + 20, 1, ip->options_length); /* NOP options */
    wire_put16(p + 10, ref_checksum(p, header, 0));
    memmove(p + header, payload, length);
    return ETH_HEADER_LEN + header + length;
}

void fix_ipv4_checksum(uint8_t *frame) {
    uint8_t *p = frame + ETH_HEADER_LEN;
    size_t header = (size_t)(p[0] & 15) * 4;
    wire_put16(p + 10, 0);
    wire_put16(p + 10, ref_checksum(p, header, 0));
}

void fix_udp_checksum(uint8_t *frame) {
    uint8_t *p = frame + ETH_HEADER_LEN;
    uint8_t *u = p + (size_t)(p[0] & 15) * 4;
    size_t length = wire_get16(u + 4);
    wire_put16(u + 6, 0);
    uint16_t sum = ref_checksum(u, length, ref_pseudo(wire_get32(p + 12), wire_get32(p + 16), 17, length));
    wire_put16(u + 6, sum == 0 ? 0xffff : sum);
}

size_t build_udp(uint8_t *out, uint32_t source, uint32_t destination, uint16_t source_port, uint16_t destination_port,
                 const uint8_t *data, size_t length) {
    size_t total = 8 + length;
    memmove(out + 8, data, length);
    wire_put16(out, source_port);
    wire_put16(out + 2, destination_port);
    wire_put16(out + 4, (uint16_t)total);
    wire_put16(out + 6, 0);
    uint16_t sum = ref_checksum(out, total, ref_pseudo(source, destination, 17, total));
    wire_put16(out + 6, sum == 0 ? 0xffff : sum);
    return total;
}

size_t build_icmp(uint8_t *out, uint8_t type, uint8_t code, uint16_t id, uint16_t sequence, const uint8_t *data,
                  size_t length) {
    memmove(out + 8, data, length);
    out[0] = type;
    out[1] = code;
    wire_put16(out + 2, 0);
    wire_put16(out + 4, id);
    wire_put16(out + 6, sequence);
    wire_put16(out + 2, ref_checksum(out, 8 + length, 0));
    return 8 + length;
}

size_t build_udp_frame(uint8_t *frame, const uint8_t mac[ETH_ADDR_LEN], uint32_t source, uint32_t destination,
                       uint16_t source_port, uint16_t destination_port, const uint8_t *data, size_t length) {
    uint8_t datagram[ETH_MTU];
    TEST_ASSERT(length <= ETH_MTU - 28, "datagram too long for a frame");
    size_t n = build_udp(datagram, source, destination, source_port, destination_port, data, length);
    const uint8_t *destination_mac = destination == IPV4_BROADCAST || destination == SUBNET_BROADCAST ? eth_broadcast : our_mac;
    return build_ipv4(frame, destination_mac, mac, &IP(source, destination, IPV4_PROTOCOL_UDP), datagram, n);
}

void fill_pattern(uint8_t *out, size_t length, unsigned seed) {
    for (size_t i = 0; i < length; i++) out[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

/* ---- checking ---- */

void expect_arp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint16_t operation,
                uint32_t sender_ip, const uint8_t target_mac[ETH_ADDR_LEN], uint32_t target_ip) {
    char a[18], b[18], c[16], d[16];
    struct eth_header eth;
    TEST_ASSERT(eth_parse(frame->bytes, frame->length, &eth), "frame too short");
    TEST_ASSERT(eth.type == ETHERTYPE_ARP, "expected ARP, got type %04x", eth.type);
    TEST_ASSERT(frame->length == ETH_HEADER_LEN + ARP_PACKET_LEN, "ARP frame of %zu bytes", frame->length);
    TEST_ASSERT(eth_equal(eth.destination, eth_destination), "ARP to %s, expected %s", mac_text(eth.destination, a),
                mac_text(eth_destination, b));
    TEST_ASSERT(eth_equal(eth.source, our_mac), "ARP from %s", mac_text(eth.source, a));
    struct arp_packet arp;
    TEST_ASSERT(arp_parse(frame->bytes + ETH_HEADER_LEN, frame->length - ETH_HEADER_LEN, &arp), "ARP does not parse");
    TEST_ASSERT(arp.operation == operation, "ARP operation %u, expected %u", arp.operation, operation);
    TEST_ASSERT(eth_equal(arp.sender_mac, our_mac), "ARP sender MAC %s", mac_text(arp.sender_mac, a));
    TEST_ASSERT(arp.sender_ip == sender_ip, "ARP sender IP %s, expected %s", ip_text(arp.sender_ip, c), ip_text(sender_ip, d));
    TEST_ASSERT(eth_equal(arp.target_mac, target_mac), "ARP target MAC %s, expected %s", mac_text(arp.target_mac, a),
                mac_text(target_mac, b));
    TEST_ASSERT(arp.target_ip == target_ip, "ARP target IP %s, expected %s", ip_text(arp.target_ip, c), ip_text(target_ip, d));
}

void expect_ipv4(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                 uint32_t destination, uint8_t protocol, struct sent_ipv4 *out) {
    char a[18], b[18], c[16], d[16];
    struct eth_header eth;
    TEST_ASSERT(eth_parse(frame->bytes, frame->length, &eth), "frame too short");
    TEST_ASSERT(eth.type == ETHERTYPE_IPV4, "expected IPv4, got type %04x", eth.type);
    TEST_ASSERT(eth_equal(eth.destination, eth_destination), "IPv4 frame to %s, expected %s", mac_text(eth.destination, a),
                mac_text(eth_destination, b));
    TEST_ASSERT(eth_equal(eth.source, our_mac), "IPv4 frame from %s", mac_text(eth.source, a));
    const uint8_t *p = frame->bytes + ETH_HEADER_LEN;
    size_t length = frame->length - ETH_HEADER_LEN;
    enum ipv4_parse_result result = ipv4_parse(p, length, &out->ip);
    TEST_ASSERT(result == IPV4_OK, "sent IPv4 does not parse: %s", ipv4_parse_result_name(result));
    TEST_ASSERT(p[0] == 0x45, "version/IHL byte %02x", p[0]);
    TEST_ASSERT(ref_checksum(p, 20, 0) == 0, "IPv4 header checksum wrong (reference)");
    TEST_ASSERT(out->ip.total_length == length, "total length %u in a %zu-byte packet", out->ip.total_length, length);
    TEST_ASSERT(out->ip.ttl == 64, "TTL %u", out->ip.ttl);
    TEST_ASSERT(out->ip.flags_offset == 0, "flags/offset %04x", out->ip.flags_offset);
    TEST_ASSERT(out->ip.source == source, "IPv4 source %s, expected %s", ip_text(out->ip.source, c), ip_text(source, d));
    TEST_ASSERT(out->ip.destination == destination, "IPv4 destination %s, expected %s", ip_text(out->ip.destination, c),
                ip_text(destination, d));
    TEST_ASSERT(out->ip.protocol == protocol, "protocol %u, expected %u", out->ip.protocol, protocol);
    out->packet = p;
    out->payload = p + 20;
    out->payload_length = length - 20;
}

void expect_udp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                uint32_t destination, uint16_t source_port, uint16_t destination_port, struct sent_udp *out) {
    expect_ipv4(frame, eth_destination, source, destination, IPV4_PROTOCOL_UDP, &out->ipv4);
    const uint8_t *u = out->ipv4.payload;
    size_t length = out->ipv4.payload_length;
    TEST_ASSERT(length >= 8, "UDP datagram of %zu bytes", length);
    TEST_ASSERT(wire_get16(u + 4) == length, "UDP length %u in a %zu-byte payload", wire_get16(u + 4), length);
    TEST_ASSERT(wire_get16(u + 6) != 0, "UDP checksum left out");
    TEST_ASSERT(ref_checksum(u, length, ref_pseudo(source, destination, 17, length)) == 0, "UDP checksum wrong (reference)");
    struct udp_header udp;
    struct ip_addr from = ip_addr_from_v4(source), to = ip_addr_from_v4(destination);
    TEST_ASSERT(udp_parse(u, length, &from, &to, &udp) == UDP_OK, "sent UDP does not parse");
    TEST_ASSERT(udp.source_port == source_port, "UDP source port %u, expected %u", udp.source_port, source_port);
    TEST_ASSERT(udp.destination_port == destination_port, "UDP destination port %u, expected %u", udp.destination_port,
                destination_port);
    out->source_port = udp.source_port;
    out->destination_port = udp.destination_port;
    out->data = udp.data;
    out->data_length = udp.data_length;
}

void expect_icmp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t destination,
                 uint8_t type, uint8_t code, struct sent_icmp *out) {
    expect_ipv4(frame, eth_destination, OUR_IP, destination, IPV4_PROTOCOL_ICMP, &out->ipv4);
    const uint8_t *m = out->ipv4.payload;
    size_t length = out->ipv4.payload_length;
    TEST_ASSERT(length >= 8, "ICMP message of %zu bytes", length);
    TEST_ASSERT(ref_checksum(m, length, 0) == 0, "ICMP checksum wrong (reference)");
    struct icmp_header icmp;
    TEST_ASSERT(icmp_parse(m, length, &icmp), "sent ICMP does not parse");
    TEST_ASSERT(icmp.type == type && icmp.code == code, "ICMP type %u code %u, expected %u/%u", icmp.type, icmp.code, type, code);
    out->type = icmp.type;
    out->code = icmp.code;
    out->id = icmp.id;
    out->sequence = icmp.sequence;
    out->data = icmp.data;
    out->data_length = icmp.data_length;
}

/* ---- DHCP ---- */

#define BOOTP_LEN 548 /* libslirp's struct bootp_t: 236 fixed + 312 vendor bytes */

size_t build_dhcp_reply(uint8_t *frame, const struct dhcp_reply *reply, size_t *options_at) {
    uint8_t m[BOOTP_LEN];
    memset(m, 0, sizeof m);
    m[0] = reply->op != 0 ? reply->op : 2; /* BOOTREPLY */
    m[1] = 1;
    m[2] = 6;
    wire_put32(m + 4, reply->xid);
    wire_put32(m + 16, reply->type == DHCPNAK ? 0 : reply->yiaddr);
    wire_put32(m + 20, reply->server);
    memcpy(m + 28, reply->chaddr, 6);
    static const uint8_t cookie[4] = {99, 130, 83, 99};
    memcpy(m + 236, cookie, 4);
    uint8_t *q = m + 240;
    *q++ = 53, *q++ = 1, *q++ = reply->type;
    *q++ = 54, *q++ = 4, wire_put32(q, reply->server), q += 4;
    if (reply->type != DHCPNAK) {
        if (reply->mask) *q++ = 1, *q++ = 4, wire_put32(q, reply->mask), q += 4;
        if (reply->router) *q++ = 3, *q++ = 4, wire_put32(q, reply->router), q += 4;
        if (reply->dns) *q++ = 6, *q++ = 4, wire_put32(q, reply->dns), q += 4;
        if (reply->lease_s) *q++ = 51, *q++ = 4, wire_put32(q, reply->lease_s), q += 4;
        if (reply->renew_s) *q++ = 58, *q++ = 4, wire_put32(q, reply->renew_s), q += 4;
        if (reply->rebind_s) *q++ = 59, *q++ = 4, wire_put32(q, reply->rebind_s), q += 4;
    } else {
        static const char text[] = "requested address not available";
        *q++ = 56, *q++ = (uint8_t)(sizeof text - 1);
        memcpy(q, text, sizeof text - 1);
        q += sizeof text - 1;
    }
    *q = 255;
    uint8_t datagram[8 + BOOTP_LEN];
    uint32_t destination = reply->ip_destination != 0 ? reply->ip_destination : IPV4_BROADCAST;
    size_t n = build_udp(datagram, reply->server, destination, reply->source_port != 0 ? reply->source_port : 67, 68, m,
                         sizeof m);
    struct ip_spec ip = IP(reply->server, destination, IPV4_PROTOCOL_UDP);
    ip.tos = 0x10; /* slirp's IPTOS_LOWDELAY */
    size_t length = build_ipv4(frame, reply->eth_destination ? reply->eth_destination : eth_broadcast, gw_mac, &ip, datagram, n);
    if (options_at) *options_at = ETH_HEADER_LEN + 20 + 8 + 240;
    return length;
}

void expect_dhcp(const struct captured *frame, const uint8_t eth_destination[ETH_ADDR_LEN], uint32_t source,
                 uint32_t destination, struct sent_dhcp *out) {
    expect_udp(frame, eth_destination, source, destination, 68, 67, &out->udp);
    const uint8_t *m = out->udp.data;
    size_t length = out->udp.data_length;
    TEST_ASSERT(length >= 300 && length <= DHCP_MAX_MESSAGE, "DHCP message of %zu bytes", length);
    out->op = m[0];
    out->htype = m[1];
    out->hlen = m[2];
    out->hops = m[3];
    out->xid = wire_get32(m + 4);
    out->secs = wire_get16(m + 8);
    out->flags = wire_get16(m + 10);
    out->ciaddr = wire_get32(m + 12);
    out->yiaddr = wire_get32(m + 16);
    out->siaddr = wire_get32(m + 20);
    out->giaddr = wire_get32(m + 24);
    memcpy(out->chaddr, m + 28, 16);
    TEST_ASSERT(out->op == 1 && out->htype == 1 && out->hlen == 6 && out->hops == 0, "op/htype/hlen/hops %u/%u/%u/%u",
                out->op, out->htype, out->hlen, out->hops);
    TEST_ASSERT(memcmp(out->chaddr, our_mac, 6) == 0, "chaddr is not our MAC");
    for (int i = 6; i < 16; i++) TEST_ASSERT(out->chaddr[i] == 0, "chaddr padding not zero");
    for (int i = 44; i < 236; i++) TEST_ASSERT(m[i] == 0, "sname/file byte %d not zero", i);
    TEST_ASSERT(m[236] == 99 && m[237] == 130 && m[238] == 83 && m[239] == 99, "no magic cookie");
    out->options = m + 240;
    out->options_length = length - 240;
    size_t end_length;
    (void)dhcp_option(out, 255, &end_length); /* checks the list's form */
}

const uint8_t *dhcp_option(const struct sent_dhcp *message, uint8_t code, size_t *length) {
    const uint8_t *o = message->options;
    size_t n = message->options_length, at = 0;
    const uint8_t *found = NULL;
    while (at < n) {
        uint8_t c = o[at++];
        if (c == 0) continue;
        if (c == 255) {
            for (size_t i = at; i < n; i++) TEST_ASSERT(o[i] == 0, "bytes after END not zero");
            if (code == 255) *length = 0;
            return code == 255 ? o + at - 1 : found;
        }
        TEST_ASSERT(at < n, "option %u without a length", c);
        size_t l = o[at++];
        TEST_ASSERT(l <= n - at, "option %u runs past the message", c);
        if (c == code) {
            TEST_ASSERT(found == NULL, "option %u twice", c);
            found = o + at;
            *length = l;
        }
        at += l;
    }
    test_fail("the options do not end in END");
}

void record_udp_any_family(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                const uint8_t *data, size_t length, uint64_t now_ns) {
    (void)data, (void)now_ns;
    struct udp_received *received = ctx;
    received->count++;
    received->source = *source;
    received->destination = *destination;
    received->source_port = source_port;
    received->length = length;
}
