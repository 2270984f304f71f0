/*
 * test/net/dhcp_tests.c: the DHCP client (net/dhcp.h) against a scripted server that answers
 * like libslirp's (590-byte frames from 52:55:0a:00:02:02, 10.0.2.2:67, options 53, 54, 1, 3, 6,
 * 51, end; stack_harness.c builds them). Every message the client sends is parsed and checked:
 * addresses, ports, the BOOTP fixed part, the options, and when it is sent (simulated time).
 */
#include <string.h>

#include "net/wire/icmp_wire.h"
#include "stack_harness.h"

#define LEASE_S 86400u
#define MASK_24 0xffffff00u

struct dhcp_env {
    struct host *h;
    struct dhcp_client *client;
    int bound_calls;
    struct dhcp_lease last_lease;
};

static void on_bound(void *ctx, const struct dhcp_lease *lease) {
    struct dhcp_env *env = ctx;
    env->bound_calls++;
    env->last_lease = *lease;
}

static struct dhcp_env *env_start(void) {
    static struct dhcp_env env;
    memset(&env, 0, sizeof env);
    env.h = host_new(0, 0, 0);
    env.client = dhcp_client_new(env.h->stack, on_bound, &env);
    TEST_ASSERT(env.client != NULL, "dhcp_client_new");
    TEST_ASSERT(dhcp_client_state(env.client) == DHCP_INIT, "state before start");
    TEST_ASSERT(dhcp_client_next_deadline(env.client) == UINT64_MAX, "deadline before start");
    host_expect_quiet(env.h, "before start");
    dhcp_client_start(env.client, env.h->now);
    return &env;
}

static void env_free(struct dhcp_env *env) { host_free(env->h, env->client); }

/* Runs the stack's and the client's timers at `t`. */
static void env_timers(struct dhcp_env *env, uint64_t t) {
    host_timers(env->h, t);
    dhcp_client_timers(env->client, t);
}

/* The next frame that is not the stack's ARP traffic with the gateway: requests for 10.0.2.2
 * are checked and answered as the gateway would. */
static const struct captured *next_dhcp_frame(struct dhcp_env *env) {
    for (;;) {
        const struct captured *frame = host_next(env->h);
        if (frame->length < 14 || frame->bytes[12] != 0x08 || frame->bytes[13] != 0x06) return frame;
        struct arp_packet arp;
        TEST_ASSERT(arp_parse(frame->bytes + 14, frame->length - 14, &arp) && arp.operation == ARP_REQUEST &&
                        arp.target_ip == GW_IP,
                    "unexpected ARP frame");
        bool unicast = !eth_is_broadcast(frame->bytes);
        expect_arp(frame, unicast ? gw_mac : eth_broadcast, ARP_REQUEST, OUR_IP, unicast ? gw_mac : zero_mac_addr, GW_IP);
        uint8_t reply[64];
        size_t n = build_arp(reply, our_mac, gw_mac, ARP_REPLY, gw_mac, GW_IP, our_mac, OUR_IP);
        host_input(env->h, reply, n);
    }
}

/* What slirp answers to `xid`. */
static struct dhcp_reply slirp_reply(uint8_t type, uint32_t xid) {
    struct dhcp_reply r = {
        .type = type,
        .xid = xid,
        .yiaddr = OUR_IP,
        .server = GW_IP,
        .mask = MASK_24,
        .router = GW_IP,
        .dns = DNS_IP,
        .lease_s = LEASE_S,
    };
    memcpy(r.chaddr, our_mac, 6);
    return r;
}

static void send_reply(struct dhcp_env *env, const struct dhcp_reply *reply) {
    uint8_t frame[1024];
    size_t n = build_dhcp_reply(frame, reply, NULL);
    TEST_ASSERT(n == 590, "a slirp reply is 590 bytes, built %zu", n);
    host_input(env->h, frame, n);
}

static void expect_parameter_list(const struct sent_dhcp *m) {
    size_t length;
    const uint8_t *list = dhcp_option(m, DHCP_OPT_PARAMETER_LIST, &length);
    static const uint8_t wanted[] = {1, 3, 6, 51, 58, 59};
    TEST_ASSERT(list != NULL, "no parameter request list");
    TEST_ASSERT(length == sizeof wanted && memcmp(list, wanted, sizeof wanted) == 0, "parameter list of %zu", length);
    const uint8_t *id = dhcp_option(m, DHCP_OPT_CLIENT_ID, &length);
    TEST_ASSERT(id != NULL && length == 7 && id[0] == 1 && memcmp(id + 1, our_mac, 6) == 0, "client id");
}

static uint8_t message_type(const struct sent_dhcp *m) {
    size_t length;
    const uint8_t *type = dhcp_option(m, DHCP_OPT_MESSAGE_TYPE, &length);
    TEST_ASSERT(type != NULL && length == 1, "message type option");
    return type[0];
}

static uint32_t address_option(const struct sent_dhcp *m, uint8_t code) {
    size_t length;
    const uint8_t *value = dhcp_option(m, code, &length);
    if (value == NULL) return 0;
    TEST_ASSERT(length == 4, "option %u of %zu bytes", code, length);
    return (uint32_t)value[0] << 24 | (uint32_t)value[1] << 16 | (uint32_t)value[2] << 8 | value[3];
}

/* A DISCOVER: broadcast from 0.0.0.0:68, our MAC, broadcast flag, the parameter list. */
static uint32_t expect_discover(struct dhcp_env *env, const struct captured *frame) {
    struct sent_dhcp m;
    expect_dhcp(frame, eth_broadcast, 0, IPV4_BROADCAST, &m);
    TEST_ASSERT(message_type(&m) == DHCPDISCOVER, "type %u, expected DISCOVER", message_type(&m));
    TEST_ASSERT(m.flags == 0x8000, "flags %04x", m.flags);
    TEST_ASSERT(m.secs == 0 && m.ciaddr == 0 && m.yiaddr == 0 && m.siaddr == 0 && m.giaddr == 0, "addresses not zero");
    TEST_ASSERT(address_option(&m, DHCP_OPT_REQUESTED_IP) == 0 && address_option(&m, DHCP_OPT_SERVER_ID) == 0,
                "DISCOVER names an address or server");
    expect_parameter_list(&m);
    TEST_ASSERT(frame->length == 14 + 20 + 8 + 300, "DISCOVER frame of %zu bytes", frame->length);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_SELECTING, "state %d", dhcp_client_state(env->client));
    return m.xid;
}

/* A REQUEST in REQUESTING: broadcast from 0.0.0.0, requested IP and server id. */
static void expect_selecting_request(const struct captured *frame, uint32_t xid) {
    struct sent_dhcp m;
    expect_dhcp(frame, eth_broadcast, 0, IPV4_BROADCAST, &m);
    TEST_ASSERT(message_type(&m) == DHCPREQUEST, "type %u, expected REQUEST", message_type(&m));
    TEST_ASSERT(m.xid == xid, "REQUEST xid %08x, the OFFER's %08x", m.xid, xid);
    TEST_ASSERT(m.flags == 0x8000 && m.ciaddr == 0 && m.yiaddr == 0, "flags/ciaddr");
    TEST_ASSERT(address_option(&m, DHCP_OPT_REQUESTED_IP) == OUR_IP, "requested IP");
    TEST_ASSERT(address_option(&m, DHCP_OPT_SERVER_ID) == GW_IP, "server id");
    expect_parameter_list(&m);
}

/* A REQUEST while bound (RENEWING: unicast to the server; REBINDING: broadcast): ciaddr set,
 * no requested IP or server id, no broadcast flag. Returns its xid. */
static uint32_t expect_bound_request(const struct captured *frame, bool renewing) {
    struct sent_dhcp m;
    expect_dhcp(frame, renewing ? gw_mac : eth_broadcast, OUR_IP, renewing ? GW_IP : IPV4_BROADCAST, &m);
    TEST_ASSERT(message_type(&m) == DHCPREQUEST, "type %u, expected REQUEST", message_type(&m));
    TEST_ASSERT(m.ciaddr == OUR_IP && m.flags == 0 && m.yiaddr == 0, "ciaddr %08x flags %04x", m.ciaddr, m.flags);
    TEST_ASSERT(address_option(&m, DHCP_OPT_REQUESTED_IP) == 0 && address_option(&m, DHCP_OPT_SERVER_ID) == 0,
                "a renewal names an address or server");
    expect_parameter_list(&m);
    return m.xid;
}

/* DISCOVER, OFFER, REQUEST, ACK with `ack`'s options; returns when bound (the gratuitous ARP
 * checked and consumed). */
static void bind_with(struct dhcp_env *env, struct dhcp_reply *ack) {
    uint32_t xid = expect_discover(env, host_next(env->h));
    struct dhcp_reply offer = slirp_reply(DHCPOFFER, xid);
    send_reply(env, &offer);
    expect_selecting_request(host_next(env->h), xid);
    ack->xid = xid;
    send_reply(env, ack);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_BOUND, "state %d after ACK", dhcp_client_state(env->client));
    expect_arp(host_next(env->h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, OUR_IP);
    host_expect_quiet(env->h, "after binding");
}

static void test_dhcp_discover(void) {
    struct dhcp_env *env = env_start();
    const struct captured *frame = host_next(env->h);
    uint32_t xid = expect_discover(env, frame);
    struct sent_dhcp m;
    expect_dhcp(frame, eth_broadcast, 0, IPV4_BROADCAST, &m);
    TEST_ASSERT(m.xid == xid, "xid");
    host_expect_quiet(env->h, "after DISCOVER");
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + SEC, "retry in 1 s");
    TEST_ASSERT(dhcp_client_lease(env->client) == NULL, "a lease before binding");
    uint32_t address;
    net_stack_get_ipv4(env->h->stack, &address, NULL, NULL);
    TEST_ASSERT(address == 0, "an address before binding");
    /* port 68 is the client's: a second client cannot have it */
    TEST_ASSERT(dhcp_client_new(env->h->stack, NULL, NULL) == NULL, "two clients on one stack");
    env_free(env);
}

static void test_dhcp_offer_request_ack(void) {
    struct dhcp_env *env = env_start();
    uint32_t xid = expect_discover(env, host_next(env->h));
    env->h->now += 3 * MS;
    struct dhcp_reply offer = slirp_reply(DHCPOFFER, xid);
    send_reply(env, &offer);
    expect_selecting_request(host_next(env->h), xid);
    host_expect_quiet(env->h, "after REQUEST");
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_REQUESTING, "state %d", dhcp_client_state(env->client));
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + SEC, "REQUEST retry in 1 s");
    TEST_ASSERT(env->bound_calls == 0, "bound by an OFFER");
    env->h->now += 2 * MS;
    struct dhcp_reply ack = slirp_reply(DHCPACK, xid);
    send_reply(env, &ack);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_BOUND, "state %d after ACK", dhcp_client_state(env->client));
    uint32_t address, gateway;
    unsigned prefix;
    net_stack_get_ipv4(env->h->stack, &address, &prefix, &gateway);
    TEST_ASSERT(address == OUR_IP && prefix == 24 && gateway == GW_IP, "stack configured %08x/%u gw %08x", address, prefix,
                gateway);
    TEST_ASSERT(env->bound_calls == 1, "on_bound called %d times", env->bound_calls);
    const struct dhcp_lease *l = &env->last_lease;
    TEST_ASSERT(l->address == OUR_IP && l->gateway == GW_IP && l->dns == DNS_IP && l->server == GW_IP && l->prefix == 24,
                "lease addresses");
    TEST_ASSERT(l->lease_s == LEASE_S && l->renew_s == LEASE_S / 2 && l->rebind_s == LEASE_S / 8 * 7, "lease times %u %u %u",
                l->lease_s, l->renew_s, l->rebind_s);
    const struct dhcp_lease *held = dhcp_client_lease(env->client);
    TEST_ASSERT(held != NULL && held->address == OUR_IP, "dhcp_client_lease");
    /* the new address is announced, and the renewal is due at T1 */
    expect_arp(host_next(env->h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, OUR_IP);
    host_expect_quiet(env->h, "after binding");
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + (uint64_t)LEASE_S / 2 * SEC, "T1 deadline");
    /* the stack now answers for the address */
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, gw_mac, ARP_REQUEST, gw_mac, GW_IP, zero_mac_addr, OUR_IP);
    host_input(env->h, frame, n);
    expect_arp(host_next(env->h), gw_mac, ARP_REPLY, OUR_IP, gw_mac, GW_IP);
    /* a late duplicate ACK changes nothing */
    send_reply(env, &ack);
    host_expect_quiet(env->h, "duplicate ACK");
    TEST_ASSERT(env->bound_calls == 1 && dhcp_client_state(env->client) == DHCP_BOUND, "duplicate ACK rebound");
    env_free(env);
}

static void test_dhcp_ignores_strangers(void) {
    struct dhcp_env *env = env_start();
    uint32_t xid = expect_discover(env, host_next(env->h));
    struct dhcp_reply r = slirp_reply(DHCPOFFER, xid + 1);
    send_reply(env, &r); /* another transaction */
    r = slirp_reply(DHCPOFFER, xid);
    r.chaddr[5] ^= 1;
    send_reply(env, &r); /* another client's */
    r = slirp_reply(DHCPOFFER, xid);
    r.op = 1;
    send_reply(env, &r); /* a request, not a reply */
    r = slirp_reply(DHCPOFFER, xid);
    r.source_port = 1067;
    send_reply(env, &r); /* not from the server port */
    r = slirp_reply(DHCPOFFER, xid);
    r.yiaddr = 0;
    send_reply(env, &r); /* offers nothing */
    r = slirp_reply(DHCPACK, xid);
    send_reply(env, &r); /* an ACK before any REQUEST */
    host_expect_quiet(env->h, "ignored replies in SELECTING");
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_SELECTING, "state %d", dhcp_client_state(env->client));
    /* malformed (UDP checksums fixed): no cookie; an option whose length swallows END */
    uint8_t frame[1024];
    size_t options_at;
    r = slirp_reply(DHCPOFFER, xid);
    size_t n = build_dhcp_reply(frame, &r, &options_at);
    uint8_t bad[1024];
    memcpy(bad, frame, n);
    bad[options_at - 1] ^= 0xff;
    fix_udp_checksum(bad);
    host_input(env->h, bad, n);
    memcpy(bad, frame, n);
    bad[options_at + 4] = 200; /* option 54's length */
    memset(bad + options_at + 6, 0, n - options_at - 6);
    fix_udp_checksum(bad);
    host_input(env->h, bad, n);
    host_expect_quiet(env->h, "malformed replies");
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_SELECTING, "state %d", dhcp_client_state(env->client));
    /* the real one */
    r = slirp_reply(DHCPOFFER, xid);
    send_reply(env, &r);
    expect_selecting_request(host_next(env->h), xid);
    /* REQUESTING: the same filters for the ACK, and offers are not taken any more */
    r = slirp_reply(DHCPACK, xid ^ 0x80000000u);
    send_reply(env, &r);
    r = slirp_reply(DHCPACK, xid);
    memcpy(r.chaddr, peer_mac, 6);
    send_reply(env, &r);
    r = slirp_reply(DHCPOFFER, xid);
    r.yiaddr = OTHER_IP;
    send_reply(env, &r);
    r = slirp_reply(DHCPNAK, xid + 7);
    send_reply(env, &r);
    host_expect_quiet(env->h, "ignored replies in REQUESTING");
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_REQUESTING, "state %d", dhcp_client_state(env->client));
    TEST_ASSERT(env->bound_calls == 0, "bound by a stranger");
    r = slirp_reply(DHCPACK, xid);
    send_reply(env, &r);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_BOUND, "state %d", dhcp_client_state(env->client));
    env_free(env);
}

static void test_dhcp_nak_restarts(void) {
    struct dhcp_env *env = env_start();
    uint32_t xid = expect_discover(env, host_next(env->h));
    struct dhcp_reply r = slirp_reply(DHCPOFFER, xid);
    send_reply(env, &r);
    expect_selecting_request(host_next(env->h), xid);
    env->h->now += 5 * MS;
    r = slirp_reply(DHCPNAK, xid);
    send_reply(env, &r);
    uint32_t xid2 = expect_discover(env, host_next(env->h));
    TEST_ASSERT(xid2 != xid, "the new exchange reuses xid %08x", xid);
    host_expect_quiet(env->h, "after NAK");
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + SEC, "the retry schedule starts over");
    TEST_ASSERT(env->bound_calls == 0, "bound");
    /* bound, then NAKed at renewal: the address goes */
    r = slirp_reply(DHCPOFFER, xid2);
    send_reply(env, &r);
    expect_selecting_request(host_next(env->h), xid2);
    r = slirp_reply(DHCPACK, xid2);
    r.lease_s = 100;
    send_reply(env, &r);
    expect_arp(host_next(env->h), eth_broadcast, ARP_REQUEST, OUR_IP, zero_mac_addr, OUR_IP);
    uint64_t bound_at = env->h->now;
    env_timers(env, bound_at + 50 * SEC);
    uint32_t xid3 = expect_bound_request(next_dhcp_frame(env), true);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_RENEWING, "state %d", dhcp_client_state(env->client));
    r = slirp_reply(DHCPNAK, xid3);
    r.ip_destination = OUR_IP;
    r.eth_destination = our_mac;
    send_reply(env, &r);
    expect_discover(env, host_next(env->h));
    uint32_t address;
    net_stack_get_ipv4(env->h->stack, &address, NULL, NULL);
    TEST_ASSERT(address == 0, "the address survived a NAK");
    TEST_ASSERT(dhcp_client_lease(env->client) == NULL, "the lease survived a NAK");
    host_expect_quiet(env->h, "after NAK");
    env_free(env);
}

static void test_dhcp_retransmission(void) {
    struct dhcp_env *env = env_start();
    uint64_t t = env->h->now;
    uint32_t xid = expect_discover(env, host_next(env->h));
    /* DISCOVER again after 1, 2, 4, 8, 16, 16, 16 s, same transaction */
    static const unsigned gaps[] = {1, 2, 4, 8, 16, 16, 16};
    for (size_t i = 0; i < ARRAY_SIZE(gaps); i++) {
        uint64_t due = t + gaps[i] * SEC;
        TEST_ASSERT(dhcp_client_next_deadline(env->client) == due, "DISCOVER %zu due %llu, deadline %llu", i + 2,
                    (unsigned long long)due, (unsigned long long)dhcp_client_next_deadline(env->client));
        env_timers(env, due - 1);
        host_expect_quiet(env->h, "before the retry");
        env_timers(env, due);
        const struct captured *frame = host_next(env->h);
        TEST_ASSERT(frame->at_ns == due, "sent at %llu", (unsigned long long)frame->at_ns);
        TEST_ASSERT(expect_discover(env, frame) == xid, "retransmission changed the xid");
        host_expect_quiet(env->h, "after the retry");
        t = due;
    }
    /* REQUEST after 1, 2, 4, 8 s, then the client chooses again */
    struct dhcp_reply r = slirp_reply(DHCPOFFER, xid);
    send_reply(env, &r);
    expect_selecting_request(host_next(env->h), xid);
    static const unsigned request_gaps[] = {1, 2, 4};
    for (size_t i = 0; i < ARRAY_SIZE(request_gaps); i++) {
        uint64_t due = t + request_gaps[i] * SEC;
        TEST_ASSERT(dhcp_client_next_deadline(env->client) == due, "REQUEST %zu deadline", i + 2);
        env_timers(env, due - 1);
        host_expect_quiet(env->h, "before the retry");
        env_timers(env, due);
        expect_selecting_request(host_next(env->h), xid);
        t = due;
    }
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == t + 8 * SEC, "last REQUEST deadline");
    env_timers(env, t + 8 * SEC);
    uint32_t xid2 = expect_discover(env, host_next(env->h));
    TEST_ASSERT(xid2 != xid, "restart reused the xid");
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == t + 9 * SEC, "restart schedule");
    host_expect_quiet(env->h, "after restart");
    env_free(env);
}

static void test_dhcp_renew_rebind_expire(void) {
    struct dhcp_env *env = env_start();
    struct dhcp_reply ack = slirp_reply(DHCPACK, 0);
    ack.lease_s = 100; /* T1 50 s, T2 87 s */
    bind_with(env, &ack);
    uint64_t bound = env->h->now;
    TEST_ASSERT(env->last_lease.renew_s == 50 && env->last_lease.rebind_s == 87, "T1 %u T2 %u", env->last_lease.renew_s,
                env->last_lease.rebind_s);
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == bound + 50 * SEC, "T1");
    env_timers(env, bound + 50 * SEC - 1);
    host_expect_quiet(env->h, "before T1");
    /* RENEWING: unicast to the server, retried after 1, 2, 4, 8, 16 s, never past T2 */
    static const unsigned renew_at[] = {50, 51, 53, 57, 65, 81};
    uint32_t renew_xid = 0;
    for (size_t i = 0; i < ARRAY_SIZE(renew_at); i++) {
        uint64_t due = bound + renew_at[i] * SEC;
        TEST_ASSERT(dhcp_client_next_deadline(env->client) == due, "renewal %zu at %u s: deadline %+lld ms", i, renew_at[i],
                    (long long)(dhcp_client_next_deadline(env->client) - due) / 1000000);
        env_timers(env, due);
        const struct captured *frame = next_dhcp_frame(env);
        TEST_ASSERT(frame->at_ns == due, "sent late");
        uint32_t xid = expect_bound_request(frame, true);
        if (i == 0) renew_xid = xid;
        TEST_ASSERT(xid == renew_xid, "renewal retransmission changed the xid");
        TEST_ASSERT(dhcp_client_state(env->client) == DHCP_RENEWING, "state %d", dhcp_client_state(env->client));
        host_expect_quiet(env->h, "after a renewal request");
    }
    /* REBINDING at T2: broadcast, a new transaction, retried up to the end of the lease */
    static const unsigned rebind_at[] = {87, 88, 90, 94};
    uint32_t rebind_xid = 0;
    for (size_t i = 0; i < ARRAY_SIZE(rebind_at); i++) {
        uint64_t due = bound + rebind_at[i] * SEC;
        TEST_ASSERT(dhcp_client_next_deadline(env->client) == due, "rebinding %zu at %u s", i, rebind_at[i]);
        env_timers(env, due);
        uint32_t xid = expect_bound_request(next_dhcp_frame(env), false);
        if (i == 0) rebind_xid = xid;
        TEST_ASSERT(xid == rebind_xid && xid != renew_xid, "rebinding xid");
        TEST_ASSERT(dhcp_client_state(env->client) == DHCP_REBINDING, "state %d", dhcp_client_state(env->client));
        host_expect_quiet(env->h, "after a rebinding request");
    }
    /* the lease ends: the address goes and DISCOVER starts over */
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == bound + 100 * SEC, "expiry deadline");
    uint32_t address;
    net_stack_get_ipv4(env->h->stack, &address, NULL, NULL);
    TEST_ASSERT(address == OUR_IP, "address lost early");
    env_timers(env, bound + 100 * SEC);
    expect_discover(env, host_next(env->h));
    host_expect_quiet(env->h, "after expiry");
    net_stack_get_ipv4(env->h->stack, &address, NULL, NULL);
    TEST_ASSERT(address == 0, "the address outlived its lease");
    TEST_ASSERT(dhcp_client_lease(env->client) == NULL, "the lease outlived itself");
    TEST_ASSERT(env->bound_calls == 1, "on_bound %d", env->bound_calls);
    /* and the stack no longer answers for it */
    uint8_t frame[64];
    size_t n = build_arp(frame, eth_broadcast, gw_mac, ARP_REQUEST, gw_mac, GW_IP, zero_mac_addr, OUR_IP);
    host_input(env->h, frame, n);
    host_expect_quiet(env->h, "ARP after expiry");
    env_free(env);
}

static void test_dhcp_renewal_acked(void) {
    struct dhcp_env *env = env_start();
    struct dhcp_reply ack = slirp_reply(DHCPACK, 0);
    ack.lease_s = 100;
    bind_with(env, &ack);
    uint64_t bound = env->h->now;
    env_timers(env, bound + 50 * SEC);
    uint32_t xid = expect_bound_request(next_dhcp_frame(env), true);
    TEST_ASSERT(xid != ack.xid, "renewal reused the binding's xid");
    env->h->now += 4 * MS;
    /* the server answers by unicast */
    struct dhcp_reply renewed = slirp_reply(DHCPACK, xid);
    renewed.lease_s = 100;
    renewed.ip_destination = OUR_IP;
    renewed.eth_destination = our_mac;
    send_reply(env, &renewed);
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_BOUND, "state %d", dhcp_client_state(env->client));
    TEST_ASSERT(env->bound_calls == 2, "on_bound %d", env->bound_calls);
    host_expect_quiet(env->h, "renewed: no announcement for the same address");
    uint32_t address;
    net_stack_get_ipv4(env->h->stack, &address, NULL, NULL);
    TEST_ASSERT(address == OUR_IP, "address");
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + 50 * SEC, "next T1 from the renewal");
    /* the old lease's expiry passes harmlessly */
    env_timers(env, bound + 100 * SEC);
    host_expect_quiet(env->h, "the old expiry");
    TEST_ASSERT(dhcp_client_state(env->client) == DHCP_BOUND, "state %d", dhcp_client_state(env->client));
    env_free(env);
}

static void test_dhcp_lease_options(void) {
    struct dhcp_env *env = env_start();
    struct dhcp_reply ack = slirp_reply(DHCPACK, 0);
    ack.lease_s = 1000;
    ack.renew_s = 300;
    ack.rebind_s = 600;
    ack.mask = 0xfffff000u;
    ack.router = IPV4_ADDR(10, 0, 0, 1);
    bind_with(env, &ack);
    const struct dhcp_lease *l = &env->last_lease;
    TEST_ASSERT(l->lease_s == 1000 && l->renew_s == 300 && l->rebind_s == 600, "times %u %u %u", l->lease_s, l->renew_s,
                l->rebind_s);
    uint32_t address, gateway;
    unsigned prefix;
    net_stack_get_ipv4(env->h->stack, &address, &prefix, &gateway);
    TEST_ASSERT(address == OUR_IP && prefix == 20 && gateway == IPV4_ADDR(10, 0, 0, 1), "prefix %u gateway %08x", prefix, gateway);
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + 300 * SEC, "T1 from option 58");
    env_free(env);

    /* no lease time, no mask: an hour, /24; T1/T2 out of order are replaced by the defaults */
    env = env_start();
    ack = slirp_reply(DHCPACK, 0);
    ack.lease_s = 0;
    ack.mask = 0;
    ack.renew_s = 5000;
    ack.rebind_s = 100;
    bind_with(env, &ack);
    l = &env->last_lease;
    TEST_ASSERT(l->lease_s == 3600 && l->renew_s == 1800 && l->rebind_s == 3150 && l->prefix == 24, "defaults %u %u %u /%u",
                l->lease_s, l->renew_s, l->rebind_s, l->prefix);
    env_free(env);

    /* an infinite lease */
    env = env_start();
    ack = slirp_reply(DHCPACK, 0);
    ack.lease_s = 0xffffffffu;
    bind_with(env, &ack);
    TEST_ASSERT(env->last_lease.lease_s == 0xfffffffeu, "infinite lease %u", env->last_lease.lease_s);
    TEST_ASSERT(dhcp_client_next_deadline(env->client) == env->h->now + (uint64_t)(0xfffffffeu / 2) * SEC, "T1");
    env_free(env);
}

const struct test_case dhcp_tests[] = {
    {"discover", test_dhcp_discover},
    {"offer-request-ack", test_dhcp_offer_request_ack},
    {"ignores-strangers", test_dhcp_ignores_strangers},
    {"nak-restarts", test_dhcp_nak_restarts},
    {"retransmission", test_dhcp_retransmission},
    {"renew-rebind-expire", test_dhcp_renew_rebind_expire},
    {"renewal-acked", test_dhcp_renewal_acked},
    {"lease-options", test_dhcp_lease_options},
};
const size_t dhcp_test_count = ARRAY_SIZE(dhcp_tests);
