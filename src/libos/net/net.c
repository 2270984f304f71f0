/* net/net.c: bringing the network up and driving the stack from the scheduler. */
#include "net/net.h"
#include "net/dhcp.h"
#include "cmdline/cmdline.h"
#include "log/log.h"
#include "net/wire/ipv4_wire.h"
#include "sched/sched.h"
#include "time/time.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LOG_SOURCE(log_src, "net");

static struct netdev *device;
static struct net_stack *stack;
static struct sched_poller poller;
static struct dhcp_client *dhcp;

static uint64_t next_deadline(void) {
    uint64_t next = net_stack_next_deadline(stack);
    if (dhcp != NULL) next = MIN(next, dhcp_client_next_deadline(dhcp));
    return next;
}

static int transmit(void *ctx, const uint8_t *frame, size_t length) { return netdev_transmit(ctx, frame, length); }

static void receive(void *ctx, const uint8_t *frame, size_t length) { net_stack_input(ctx, frame, length, time_now_ns()); }

static bool poll_pending(struct sched_poller *p) {
    (void)p;
    return device->event_pending || time_now_ns() >= next_deadline();
}

static void poll_run(struct sched_poller *p) {
    (void)p;
    if (device->event_pending) netdev_poll(device);
    uint64_t now = time_now_ns();
    if (now >= net_stack_next_deadline(stack)) net_stack_timers(stack, now);
    if (dhcp != NULL && now >= dhcp_client_next_deadline(dhcp)) dhcp_client_timers(dhcp, now);
}

/* "ADDRESS[/PREFIX]" of `family`: "10.0.2.15/24" (the prefix defaults to 24, 0..32) or
 * "fec0::15/64" (defaults to 64, 1..128). */
static bool parse_prefixed_address(const char *text, enum ip_family family, struct ip_addr *address, unsigned *prefix) {
    char copy[IP_ADDR_TEXT_MAX + 4];
    size_t length = strlen(text);
    if (length >= sizeof copy) return false;
    memcpy(copy, text, length + 1);
    long lowest = family == IP_FAMILY_V4 ? 0 : 1, highest = family == IP_FAMILY_V4 ? 32 : 128;
    *prefix = family == IP_FAMILY_V4 ? 24 : 64;
    char *slash = strchr(copy, '/');
    if (slash) {
        *slash = 0;
        char *end;
        long value = strtol(slash + 1, &end, 10);
        if (*end != 0 || end == slash + 1 || value < lowest || value > highest) return false;
        *prefix = (unsigned)value;
    }
    return ip_addr_parse(copy, address) == 0 && address->family == family;
}

/* ---- IPv6 ---------------------------------------------------------------------------------- */

static const char *origin_text(const struct net_ipv6_address *a, char *buffer, size_t size) {
    char router[IP_ADDR_TEXT_MAX], dns[IP_ADDR_TEXT_MAX];
    switch (a->origin) {
    case NET_IPV6_LINK_LOCAL: return "link-local";
    case NET_IPV6_STATIC: return "static";
    default: break;
    }
    struct ip_addr r = ip_addr_from_v6(a->router);
    ip_addr_format(&r, router, sizeof router);
    uint8_t server[16];
    if (net_ipv6_dns(stack, server)) {
        struct ip_addr d = ip_addr_from_v6(server);
        ip_addr_format(&d, dns, sizeof dns);
        snprintf(buffer, size, "slaac from %s, dns %s", router, dns);
    } else {
        snprintf(buffer, size, "slaac from %s", router);
    }
    return buffer;
}

/* The boot log's IPv6 lines: each address as it becomes usable, or why it never will. */
static void log_ipv6_address(void *ctx, const struct net_ipv6_address *a) {
    (void)ctx;
    char text[IP_ADDR_TEXT_MAX], how[128];
    struct ip_addr address = ip_addr_from_v6(a->address);
    ip_addr_format(&address, text, sizeof text);
    if (a->state == NET_IPV6_PREFERRED)
        LOG_INFO(log_src, "%s %s/%u (%s)", device->name, text, a->prefix_length, origin_text(a, how, sizeof how));
    else if (a->state == NET_IPV6_DUPLICATE)
        LOG_WARN(log_src, "%s %s/%u is a duplicate (another host on the link has it): not used", device->name, text,
                 a->prefix_length);
}

/* No address still in duplicate address detection, and router discovery over (or not asked for). */
static bool ipv6_settled(bool autoconf) {
    if (!net_ipv6_enabled(stack)) return true;
    if (autoconf && !net_ipv6_router_discovery_done(stack)) return false;
    struct net_ipv6_address list[8];
    size_t n = net_ipv6_addresses(stack, list, 8);
    for (size_t i = 0; i < n && i < 8; i++)
        if (list[i].state == NET_IPV6_TENTATIVE) return false;
    return true;
}


/* Brings IPv6 up after IPv4: the link-local address, then SLAAC from the router's advertisements
 * (`ip6=auto`, the default) or a static address (`ip6=ADDR/PREFIX gw6=ADDR`); `ip6=off` leaves
 * it off. Waits at most `ip6_timeout=` seconds (default 3) for the addresses to leave DAD and a
 * router to answer, so that boot goes on without one. */
static int start_ipv6(void) {
    const char *ip6_text = arg_str("ip6", "auto");
    const char *gw6_text = arg_str("gw6", "");
    int64_t timeout_s = arg_int("ip6_timeout", 3);
    if (strcmp(ip6_text, "off") == 0) return 0;
    bool autoconf = strcmp(ip6_text, "auto") == 0;
    struct ip_addr address;
    uint8_t gateway[16];
    unsigned prefix = 64;
    if (!autoconf && !parse_prefixed_address(ip6_text, IP_FAMILY_V6, &address, &prefix)) {
        LOG_ERROR(log_src, "ip6=%s: expected an address like fec0::15/64, auto or off", ip6_text);
        return ERR_INVAL;
    }
    struct ip_addr parsed;
    bool has_gateway = gw6_text[0] != 0;
    if (has_gateway) {
        if (ip_addr_parse(gw6_text, &parsed) != 0 || parsed.family != IP_FAMILY_V6) {
            LOG_ERROR(log_src, "gw6=%s: expected an address like fe80::2", gw6_text);
            return ERR_INVAL;
        }
        memcpy(gateway, parsed.v6, 16);
    }
    net_ipv6_set_event(stack, log_ipv6_address, NULL);
    int err = net_ipv6_start(stack, autoconf, time_now_ns());
    if (err != 0) {
        LOG_WARN(log_src, "%s: IPv6 not started (MTU %u below 1280?): %s", device->name, device->mtu, err_name(err));
        return 0;
    }
    if (!autoconf) {
        err = net_ipv6_add_static(stack, address.v6, prefix, has_gateway ? gateway : NULL, time_now_ns());
        if (err != 0) {
            LOG_ERROR(log_src, "ip6=%s: %s", ip6_text, err_name(err));
            return err;
        }
    }
    uint64_t deadline = time_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    while (!ipv6_settled(autoconf) && time_now_ns() < deadline) {
        err = fiber_sleep_ns(1000000);
        if (err != 0) return err;
    }
    if (autoconf && !net_ipv6_router_discovery_done(stack))
        LOG_INFO(log_src, "%s: no IPv6 router advertisement within %ld s (link-local only for now)", device->name, timeout_s);
    return 0;
}

static void log_lease(void *ctx, const struct dhcp_lease *lease) {
    (void)ctx;
    char a[16], g[16], d[16], server[16];
    ipv4_format(lease->address, a);
    ipv4_format(lease->gateway, g);
    ipv4_format(lease->dns, d);
    ipv4_format(lease->server, server);
    LOG_INFO(log_src, "%s %s/%u gw %s dns %s (dhcp from %s, lease %u s, renewal in %u s)", device->name, a, lease->prefix,
             lease->gateway ? g : "none", d, server, lease->lease_s, lease->renew_s);
}

int net_start(void) {
    if (stack != NULL) return 0;
    const char *ip_text = arg_str("ip", "dhcp");
    const char *gateway_text = arg_str("gw", "");
    int64_t dhcp_timeout_s = arg_int("dhcp_timeout", 10);
    struct ip_addr address = ip_addr_from_v4(0);
    uint32_t gateway = 0;
    unsigned prefix = 24;
    bool use_dhcp = strcmp(ip_text, "dhcp") == 0;
    if (!use_dhcp && !parse_prefixed_address(ip_text, IP_FAMILY_V4, &address, &prefix)) {
        LOG_ERROR(log_src, "ip=%s: expected an address like 10.0.2.15/24, or dhcp", ip_text);
        return ERR_INVAL;
    }
    if (gateway_text[0] != 0 && !ipv4_from_text(gateway_text, &gateway)) {
        LOG_ERROR(log_src, "gw=%s: expected an address like 10.0.2.2", gateway_text);
        return ERR_INVAL;
    }
    netdev_probe_all();
    device = netdev_first();
    if (device == NULL) {
        LOG_ERROR(log_src, "no network device (QEMU: -netdev user,id=n0 -device virtio-net-pci,netdev=n0)");
        return ERR_NOENT;
    }
    stack = net_stack_new(device->mac, device->mtu, transmit, device);
    if (stack == NULL) return ERR_NOMEM;
    device->receive = receive;
    device->receive_ctx = stack;
    int err = netdev_start(device);
    if (err != 0) {
        LOG_ERROR(log_src, "%s: could not start: %s", device->name, err_name(err));
        return err;
    }
    sched_poller_add(&poller, poll_pending, poll_run);
    if (!use_dhcp) {
        net_stack_set_ipv4(stack, address.v4, prefix, gateway, time_now_ns());
        char a[16], g[16];
        ipv4_format(address.v4, a);
        ipv4_format(gateway, g);
        LOG_INFO(log_src, "%s %s/%u gw %s (static)", device->name, a, prefix, gateway ? g : "none");
        return start_ipv6();
    }
    dhcp = dhcp_client_new(stack, log_lease, NULL);
    if (dhcp == NULL) return ERR_NOMEM;
    uint64_t deadline = time_now_ns() + (uint64_t)dhcp_timeout_s * 1000000000ull;
    dhcp_client_start(dhcp, time_now_ns());
    while (dhcp_client_lease(dhcp) == NULL) {
        if (time_now_ns() >= deadline) {
            LOG_ERROR(log_src, "%s: no DHCP lease after %ld s (is the NIC on a network with a DHCP server? or give ip=)",
                      device->name, dhcp_timeout_s);
            return ERR_TIMEOUT;
        }
        err = fiber_sleep_ns(1000000);
        if (err != 0) return err;
    }
    return start_ipv6();
}

struct net_stack *net_stack(void) { return stack; }
struct netdev *net_device(void) { return device; }

void net_print_stats(void) {
    if (device == NULL) return;
    char line[256];
    netdev_format_stats(device, line, sizeof line);
    printf("netstat: %s\n", line);
    struct net_stack_stats s;
    net_stack_get_stats(stack, &s);
    printf("netstat: ip in %lu out %lu bad-checksum %lu malformed %lu not-for-us %lu, frags %lu reassembled %lu dropped %lu, "
           "arp req %lu/%lu rep %lu/%lu unresolved %lu, icmp in %lu out %lu, udp in %lu out %lu no-port %lu\n",
           s.ipv4_in, s.ipv4_out, s.ipv4_bad_checksum, s.malformed, s.not_for_us, s.fragments_in, s.reassembled,
           s.reassembly_dropped, s.arp_requests_in, s.arp_requests_out, s.arp_replies_in, s.arp_replies_out, s.arp_unresolved,
           s.icmp_in, s.icmp_out, s.udp_in, s.udp_out, s.udp_no_port);
    if (net_ipv6_enabled(stack))
        printf("netstat: ipv6 in %lu out %lu dropped %lu no-route %lu, frags %lu reassembled %lu dropped %lu, icmpv6 in %lu "
               "out %lu bad-checksum %lu errors %lu/%lu rate-limited %lu, nd ns %lu/%lu na %lu/%lu rs %lu ra %lu invalid %lu "
               "unresolved %lu, dad conflicts %lu\n",
               s.ipv6_in, s.ipv6_out, s.ipv6_dropped, s.ipv6_no_route, s.fragments6_in, s.reassembled6, s.reassembly6_dropped,
               s.icmpv6_in, s.icmpv6_out, s.icmpv6_bad_checksum, s.icmpv6_errors_in, s.icmpv6_errors_out,
               s.icmpv6_rate_limited, s.nd_ns_in, s.nd_ns_out, s.nd_na_in, s.nd_na_out, s.nd_rs_out, s.nd_ra_in, s.nd_invalid,
               s.nd_unresolved, s.dad_conflicts);
}
