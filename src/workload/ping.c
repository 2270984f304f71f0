/*
 * workload/ping.c: ICMP echo, like ping(8).
 *
 *   ping host=10.0.2.2 count=4 size=56 interval_ms=1000 timeout_ms=1000 ip=10.0.2.15/24 gw=10.0.2.2
 *   ping host=fec0::2 ...   (ICMPv6 echo; the address from SLAAC, or ip6=ADDR/PREFIX gw6=ADDR)
 *
 * Prints ping's lines (one per reply, then the statistics) and exits 0 when at least one reply
 * came back, 1 otherwise.
 */
#include "arch/arch.h"
#include "cmdline/cmdline.h"
#include "net/net.h"
#include "net/wire/ipv4_wire.h"
#include "sched/sched.h"
#include "time/time.h"
#include "workload.h"
#include <stdio.h>
#include <string.h>

#define PING_ID 0x7078 /* "px" */
#define MAX_SIZE 1472

struct ping_state {
    uint16_t waiting_for;   /* the sequence number in flight */
    bool answered;
    uint64_t sent_ns;
    uint64_t rtt_ns;
    uint8_t ttl;
    size_t bytes;
    struct ip_addr from;
};

static void on_reply(void *ctx, uint32_t from, uint16_t id, uint16_t sequence, const uint8_t *data, size_t length, uint8_t ttl,
                     uint64_t now_ns) {
    (void)id;
    (void)data;
    struct ping_state *state = ctx;
    if (sequence != state->waiting_for || state->answered) return; /* a late or duplicate reply */
    state->answered = true;
    state->rtt_ns = now_ns - state->sent_ns;
    state->ttl = ttl;
    state->bytes = length + 8;
    state->from = ip_addr_from_v4(from);
}

static void on_reply6(void *ctx, const uint8_t from[16], uint16_t id, uint16_t sequence, const uint8_t *data, size_t length,
                      uint8_t hop_limit, uint64_t now_ns) {
    struct ping_state *state = ctx;
    on_reply(ctx, 0, id, sequence, data, length, hop_limit, now_ns);
    if (state->answered && state->waiting_for == sequence) state->from = ip_addr_from_v6(from);
}

static void print_ms(const char *label, uint64_t ns) { printf("%s%lu.%03lu", label, ns / 1000000, ns / 1000 % 1000); }

int ping_main(void) {
    const char *host_text = arg_str("host", "10.0.2.2");
    int64_t count = arg_int("count", 4);
    int64_t size = arg_int("size", 56);
    int64_t interval_ms = arg_int("interval_ms", 1000);
    int64_t timeout_ms = arg_int("timeout_ms", 1000);
    struct ip_addr address;
    if (ip_addr_parse(host_text, &address) != 0)
        cmdline_usage_error("ping: host=%s is not an IPv4 or IPv6 address", host_text);
    bool v6 = address.family == IP_FAMILY_V6;
    /* the IP and ICMP headers: 20 + 8, or 40 + 8 */
    int64_t headers = v6 ? 48 : 28, max_size = 1500 - headers;
    if (count < 1 || size < 0 || size > max_size || interval_ms < 0 || timeout_ms < 1)
        cmdline_usage_error("ping: count >= 1, 0 <= size <= %ld, interval_ms >= 0, timeout_ms >= 1", max_size);
    if (net_start() != 0) return EXIT_FAIL;
    args_done();

    struct net_stack *stack = net_stack();
    struct ping_state state = {0};
    if (v6) net_echo6_listen(stack, PING_ID, on_reply6, &state);
    else net_echo_listen(stack, PING_ID, on_reply, &state);
    static uint8_t payload[MAX_SIZE];
    for (int64_t i = 0; i < size; i++) payload[i] = (uint8_t)i;
    printf("PING %s (%s) %ld(%ld) bytes of data.\n", host_text, host_text, size, size + headers);
    uint64_t started = time_now_ns(), rtt_min = UINT64_MAX, rtt_max = 0, rtt_sum = 0;
    long received = 0;
    for (int64_t sequence = 1; sequence <= count; sequence++) {
        state.waiting_for = (uint16_t)sequence;
        state.answered = false;
        state.sent_ns = time_now_ns();
        int err = v6 ? net_echo6_send(stack, address.v6, PING_ID, (uint16_t)sequence, payload, (size_t)size, state.sent_ns)
                     : net_echo_send(stack, address.v4, PING_ID, (uint16_t)sequence, payload, (size_t)size, state.sent_ns);
        if (err != 0) printf("ping: sendmsg: %s\n", err_name(err));
        uint64_t deadline = state.sent_ns + (uint64_t)timeout_ms * 1000000;
        while (!state.answered && time_now_ns() < deadline)
            if (fiber_sleep_ns(200000) != 0) return EXIT_FAIL;
        if (state.answered) {
            received++;
            rtt_min = MIN(rtt_min, state.rtt_ns);
            rtt_max = MAX(rtt_max, state.rtt_ns);
            rtt_sum += state.rtt_ns;
            char from[IP_ADDR_TEXT_MAX];
            ip_addr_format(&state.from, from, sizeof from);
            printf("%lu bytes from %s: icmp_seq=%ld ttl=%u", (unsigned long)state.bytes, from, sequence, state.ttl);
            print_ms(" time=", state.rtt_ns);
            printf(" ms\n");
        }
        if (sequence < count) {
            uint64_t next = state.sent_ns + (uint64_t)interval_ms * 1000000;
            if (time_now_ns() < next && fiber_sleep_until(next) != 0) return EXIT_FAIL;
        }
    }
    uint64_t elapsed = time_now_ns() - started;
    printf("\n--- %s ping statistics ---\n", host_text);
    printf("%ld packets transmitted, %ld received, %ld%% packet loss, time %lums\n", count, received,
           (count - received) * 100 / count, elapsed / 1000000);
    if (received > 0) {
        print_ms("rtt min/avg/max = ", rtt_min);
        print_ms("/", rtt_sum / (uint64_t)received);
        print_ms("/", rtt_max);
        printf(" ms\n");
    }
    if (v6) net_echo6_listen(stack, PING_ID, NULL, NULL);
    else net_echo_listen(stack, PING_ID, NULL, NULL);
    net_print_stats();
    return received > 0 ? EXIT_OK : EXIT_FAIL;
}
