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

/* "10.0.2.15/24" (the prefix defaults to 24) */
static bool parse_address(const char *text, uint32_t *address, unsigned *prefix) {
    char copy[24];
    size_t length = strlen(text);
    if (length >= sizeof copy) return false;
    memcpy(copy, text, length + 1);
    *prefix = 24;
    char *slash = strchr(copy, '/');
    if (slash) {
        *slash = 0;
        char *end;
        long value = strtol(slash + 1, &end, 10);
        if (*end != 0 || end == slash + 1 || value < 0 || value > 32) return false;
        *prefix = (unsigned)value;
    }
    return ipv4_from_text(copy, address);
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
    uint32_t address = 0, gateway = 0;
    unsigned prefix = 24;
    bool use_dhcp = strcmp(ip_text, "dhcp") == 0;
    if (!use_dhcp && !parse_address(ip_text, &address, &prefix)) {
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
        net_stack_set_ipv4(stack, address, prefix, gateway, time_now_ns());
        char a[16], g[16];
        ipv4_format(address, a);
        ipv4_format(gateway, g);
        LOG_INFO(log_src, "%s %s/%u gw %s (static)", device->name, a, prefix, gateway ? g : "none");
        return 0;
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
    return 0;
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
}
