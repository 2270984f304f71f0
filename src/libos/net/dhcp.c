/* net/dhcp.c: the DHCP client (RFC 2131); net/dhcp.h states its behaviour. */
#include "net/dhcp.h"
#include "net/wire/dhcp_wire.h"
#include "net/wire/ipv4_wire.h"

#define NS_PER_S 1000000000ull
#define RETRY_MAX_S 16

struct dhcp_client {
    struct net_stack *stack;
    void (*on_bound)(void *ctx, const struct dhcp_lease *lease);
    void *ctx;
    enum dhcp_state state;
    uint32_t xid;
    uint32_t offered, server;
    unsigned tries;           /* of the current message */
    uint64_t deadline_ns;     /* next retransmission or state change */
    uint64_t bound_at_ns;
    struct dhcp_lease lease;
    bool bound;
};

static void new_xid(struct dhcp_client *client) { net_env_random(&client->xid, sizeof client->xid); }

static uint64_t retry_delay_ns(unsigned tries) {
    unsigned seconds = tries >= 4 ? RETRY_MAX_S : 1u << tries;
    return (uint64_t)seconds * NS_PER_S;
}

static void send_message(struct dhcp_client *client, uint8_t type, uint32_t ciaddr, uint32_t requested, uint32_t server,
                         uint32_t destination, uint64_t now_ns) {
    uint8_t message[DHCP_MAX_MESSAGE];
    size_t length = dhcp_write_request(message, type, client->xid, net_stack_mac(client->stack), ciaddr, requested, server);
    struct ip_addr to = ip_addr_from_v4(destination);
    net_udp_send(client->stack, DHCP_CLIENT_PORT, &to, DHCP_SERVER_PORT, message, length, now_ns);
}

static void send_discover(struct dhcp_client *client, uint64_t now_ns) {
    client->state = DHCP_SELECTING;
    send_message(client, DHCPDISCOVER, 0, 0, 0, IPV4_BROADCAST, now_ns);
    client->deadline_ns = now_ns + retry_delay_ns(client->tries++);
}

static void send_request(struct dhcp_client *client, uint64_t now_ns) {
    switch (client->state) {
    case DHCP_REQUESTING: /* after an OFFER: broadcast, naming the server we chose */
        send_message(client, DHCPREQUEST, 0, client->offered, client->server, IPV4_BROADCAST, now_ns);
        break;
    case DHCP_RENEWING: /* unicast to the server, ciaddr filled, no server id (§4.3.2) */
        send_message(client, DHCPREQUEST, client->lease.address, 0, 0, client->lease.server, now_ns);
        break;
    case DHCP_REBINDING:
        send_message(client, DHCPREQUEST, client->lease.address, 0, 0, IPV4_BROADCAST, now_ns);
        break;
    default: return;
    }
    client->deadline_ns = now_ns + retry_delay_ns(client->tries++);
}

static void restart(struct dhcp_client *client, uint64_t now_ns) {
    if (client->bound) net_stack_set_ipv4(client->stack, 0, 0, 0, now_ns);
    client->bound = false;
    client->tries = 0;
    new_xid(client);
    send_discover(client, now_ns);
}

static unsigned prefix_of(uint32_t mask) {
    unsigned prefix = 0;
    while (prefix < 32 && (mask & (0x80000000u >> prefix))) prefix++;
    return prefix;
}

static void bind_lease(struct dhcp_client *client, const struct dhcp_message *ack, uint64_t now_ns) {
    struct dhcp_lease *lease = &client->lease;
    uint32_t old_address = lease->address, old_gateway = lease->gateway;
    unsigned old_prefix = lease->prefix;
    bool was_bound = client->bound;
    lease->address = ack->yiaddr;
    lease->server = ack->server_id != 0 ? ack->server_id : client->server;
    lease->prefix = ack->has_subnet_mask ? prefix_of(ack->subnet_mask) : 24;
    lease->gateway = ack->router;
    lease->dns = ack->dns;
    lease->lease_s = ack->has_lease_time ? ack->lease_time : 3600;
    if (lease->lease_s == 0xffffffffu) lease->lease_s = 0xfffffffeu; /* "infinite": a long time */
    lease->renew_s = ack->renewal_time != 0 && ack->renewal_time < lease->lease_s ? ack->renewal_time : lease->lease_s / 2;
    lease->rebind_s = ack->rebinding_time != 0 && ack->rebinding_time < lease->lease_s && ack->rebinding_time > lease->renew_s
                          ? ack->rebinding_time
                          : (uint32_t)((uint64_t)lease->lease_s * 7 / 8);
    client->bound = true;
    client->bound_at_ns = now_ns;
    client->state = DHCP_BOUND;
    client->tries = 0;
    client->deadline_ns = now_ns + (uint64_t)lease->renew_s * NS_PER_S;
    /* a renewal that changes nothing leaves the interface alone (no new announcement) */
    if (!was_bound || old_address != lease->address || old_prefix != lease->prefix || old_gateway != lease->gateway)
        net_stack_set_ipv4(client->stack, lease->address, lease->prefix, lease->gateway, now_ns);
    if (client->on_bound) client->on_bound(client->ctx, lease);
}

static void receive(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                    const uint8_t *data, size_t length, uint64_t now_ns) {
    (void)destination;
    struct dhcp_client *client = ctx;
    struct dhcp_message message;
    /* port 68 is bound for both families: DHCP is IPv4's */
    if (source->family != IP_FAMILY_V4) return;
    if (source_port != DHCP_SERVER_PORT || !dhcp_parse(data, length, &message)) return;
    if (message.op != DHCP_BOOTREPLY || message.xid != client->xid) return;
    if (__builtin_memcmp(message.chaddr, net_stack_mac(client->stack), 6) != 0) return;
    switch (client->state) {
    case DHCP_SELECTING:
        if (message.message_type != DHCPOFFER || message.yiaddr == 0) return;
        client->offered = message.yiaddr;
        client->server = message.server_id != 0 ? message.server_id : message.siaddr;
        client->state = DHCP_REQUESTING;
        client->tries = 0;
        send_request(client, now_ns);
        return;
    case DHCP_REQUESTING:
    case DHCP_RENEWING:
    case DHCP_REBINDING:
        if (message.message_type == DHCPACK && message.yiaddr != 0) bind_lease(client, &message, now_ns);
        else if (message.message_type == DHCPNAK) {
            net_env_log(NET_LOG_WARN, "dhcp", "the server refused the address (NAK): starting over");
            restart(client, now_ns);
        }
        return;
    default: return;
    }
}

struct dhcp_client *dhcp_client_new(struct net_stack *stack, void (*on_bound)(void *ctx, const struct dhcp_lease *lease),
                                    void *ctx) {
    struct dhcp_client *client = net_env_alloc(sizeof *client);
    if (client == NULL) return NULL;
    __builtin_memset(client, 0, sizeof *client);
    client->stack = stack;
    client->on_bound = on_bound;
    client->ctx = ctx;
    client->state = DHCP_INIT;
    client->deadline_ns = UINT64_MAX;
    if (net_udp_bind(stack, DHCP_CLIENT_PORT, receive, client, NULL) != 0) {
        net_env_free(client, sizeof *client);
        return NULL;
    }
    return client;
}

void dhcp_client_free(struct dhcp_client *client) {
    if (client == NULL) return;
    net_udp_unbind(client->stack, DHCP_CLIENT_PORT);
    net_env_free(client, sizeof *client);
}

void dhcp_client_start(struct dhcp_client *client, uint64_t now_ns) { restart(client, now_ns); }

void dhcp_client_timers(struct dhcp_client *client, uint64_t now_ns) {
    if (now_ns < client->deadline_ns) return;
    uint64_t since_bound = now_ns - client->bound_at_ns;
    switch (client->state) {
    case DHCP_INIT:
    case DHCP_SELECTING: send_discover(client, now_ns); return;
    case DHCP_REQUESTING:
        if (client->tries >= 4) restart(client, now_ns); /* the server went quiet: choose again */
        else send_request(client, now_ns);
        return;
    case DHCP_BOUND:
    case DHCP_RENEWING:
    case DHCP_REBINDING:
        if (since_bound >= (uint64_t)client->lease.lease_s * NS_PER_S) {
            net_env_log(NET_LOG_WARN, "dhcp", "lease expired without renewal: dropping the address");
            restart(client, now_ns);
            return;
        }
        if (since_bound >= (uint64_t)client->lease.rebind_s * NS_PER_S && client->state != DHCP_REBINDING) {
            client->state = DHCP_REBINDING;
            client->tries = 0;
            new_xid(client);
        } else if (client->state == DHCP_BOUND) {
            client->state = DHCP_RENEWING;
            client->tries = 0;
            new_xid(client);
        }
        send_request(client, now_ns);
        /* never past the next milestone */
        uint64_t milestone = client->bound_at_ns +
                             (uint64_t)(client->state == DHCP_RENEWING ? client->lease.rebind_s : client->lease.lease_s) * NS_PER_S;
        if (client->deadline_ns > milestone) client->deadline_ns = milestone;
        return;
    }
}

uint64_t dhcp_client_next_deadline(const struct dhcp_client *client) { return client->deadline_ns; }
enum dhcp_state dhcp_client_state(const struct dhcp_client *client) { return client->state; }
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *client) { return client->bound ? &client->lease : NULL; }
