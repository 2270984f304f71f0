/*
 * test/net/tcp_link_tests.c: two TCP stacks over a simulated lossy link.
 *
 * Host A (10.0.0.1) connects to host B (10.0.0.2:80); each sends its own byte pattern (megabytes)
 * while reading the other's, shuts down when all is sent, and closes once it has read the end
 * of the stream. The test passes when both received exactly what the other sent, saw no error,
 * and both stacks end with no TCB (TIME_WAIT over) and no memory in use.
 *
 * The link, per direction: an optional bottleneck (rate and drop-tail queue), then a delay
 * with jitter, and loss, duplication, reordering (extra delay), corruption (bit flips) and
 * truncation with per-scenario probabilities, from a seeded PRNG: a run is exactly
 * repeatable. Corrupted and truncated segments must be refused by the checksum; the harness
 * checks that each one really is detectable (a mutation that happens to keep the checksum is
 * dropped instead, since no checksum can catch it) and that the stack counted them.
 *
 * The applications act only when the stack notifies them (tcp_set_notify,
 * tcp_listener_set_notify) or when their own read-pacing timer fires, so a missing
 * notification shows up as a stalled transfer.
 *
 * NET_LINK_SEEDS=N runs N seeds per scenario (default 2).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/tcp/tcp.h"
#include "net/wire/tcp_wire.h"
#include "net_test.h"

#define IP_A 0x0a000001u
#define IP_B 0x0a000002u
#define IP6_A "fd00::a"
#define IP6_B "fd00::b"
#define PORT_B 80
#define MS 1000000ull
#define SEC 1000000000ull

struct scenario {
    const char *name;
    uint32_t a_sends, b_sends;      /* bytes */
    uint32_t loss, duplicate, reorder, corrupt, truncate; /* per million segments */
    uint64_t delay, jitter;         /* ns */
    uint64_t rate;                  /* bytes per second at the bottleneck (0: none) */
    uint32_t queue_limit;           /* bottleneck queue, segments */
    uint32_t read_chunk;            /* the reader takes at most this per turn (0: all) */
    uint64_t read_interval;         /* ns between paced reads */
    struct tcp_config config_a, config_b;
    uint64_t time_limit;            /* simulated */
    bool no_retransmissions;        /* a perfect link: any retransmission is a bug */
    bool ipv6;                      /* the hosts are IP6_A and IP6_B, not IP_A and IP_B */
};

struct packet {
    struct packet *next;
    uint64_t at;
    uint64_t order; /* ties: first sent, first delivered */
    int to;         /* 0: A, 1: B */
    struct ip_addr src, dst;
    size_t length;
    uint8_t bytes[];
};

struct host {
    struct sim *sim;
    int index;
    struct tcp_stack *stack;
    struct tcp_listener *listener;
    struct tcp_conn *conn;
    bool woken;
    uint64_t to_send, sent, received;
    bool shut, eof, closed;
    uint64_t next_read; /* paced reads: earliest time of the next read */
    uint64_t bottleneck_free; /* when this host's outgoing bottleneck is idle */
};

struct sim {
    const struct scenario *scenario;
    uint64_t rng;
    uint64_t now;
    uint64_t order;
    struct packet *queue; /* sorted by (at, order) */
    struct host hosts[2];
    uint64_t sent_segments, lost, duplicated, reordered, corrupted, truncated, undetectable, queue_drops;
};

/* Host X's byte k. */
static uint8_t stream_byte(int host, uint64_t k) { return (uint8_t)((k * 131 + (k >> 9) * 7 + (uint64_t)host * 91) >> 1); }

static void enqueue(struct sim *sim, int to, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *bytes,
                    size_t length, uint64_t at) {
    struct packet *p = malloc(sizeof *p + length);
    p->at = at;
    p->order = sim->order++;
    p->to = to;
    p->src = *src;
    p->dst = *dst;
    p->length = length;
    memcpy(p->bytes, bytes, length);
    struct packet **link = &sim->queue;
    while (*link != NULL && ((*link)->at < at || ((*link)->at == at && (*link)->order < p->order)))
        link = &(*link)->next;
    p->next = *link;
    *link = p;
}

/* A mutated copy goes on only if the checksum can tell (else it is dropped: undetectable). */
static bool detectable(struct sim *sim, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *bytes,
                       size_t length) {
    if (length >= TCP_HEADER_MIN && tcp_wire_checksum_ok(src, dst, bytes, length)) {
        sim->undetectable++;
        return false;
    }
    return true;
}

static void link_output(void *ctx, const struct ip_addr *src_ip, const struct ip_addr *dst_ip, const uint8_t *segment,
                        size_t length) {
    struct host *host = ctx;
    struct sim *sim = host->sim;
    const struct scenario *sc = sim->scenario;
    sim->sent_segments++;
    int to = 1 - host->index;
    /* no segment may be larger than the receiver announced: its config's MSS, 20 less over IPv6 */
    struct tcp_header header;
    TEST_ASSERT(tcp_wire_parse(segment, length, &header) == TCP_WIRE_OK, "a malformed segment was sent");
    const struct tcp_config *receiver = to == 0 ? &sc->config_a : &sc->config_b;
    size_t largest = (size_t)receiver->mss - (sc->ipv6 ? 20 : 0);
    TEST_ASSERT(length - header.header_length <= largest, "%zu bytes in a segment, above the MSS %zu",
                length - header.header_length, largest);
    uint64_t departs = sim->now;
    if (sc->rate != 0) {
        /* the bottleneck: serialize, drop when the queue is full */
        uint64_t serialize = (uint64_t)(length + 40) * SEC / sc->rate;
        uint64_t start = host->bottleneck_free > sim->now ? host->bottleneck_free : sim->now;
        if ((start - sim->now) / (serialize ? serialize : 1) >= sc->queue_limit) {
            sim->queue_drops++;
            return;
        }
        host->bottleneck_free = start + serialize;
        departs = host->bottleneck_free;
    }
    if (rng_chance(&sim->rng, sc->loss)) {
        sim->lost++;
        return;
    }
    int copies = rng_chance(&sim->rng, sc->duplicate) ? 2 : 1;
    if (copies == 2) sim->duplicated++;
    for (int copy = 0; copy < copies; copy++) {
        uint64_t at = departs + sc->delay + (sc->jitter ? rng_below(&sim->rng, sc->jitter) : 0);
        if (rng_chance(&sim->rng, sc->reorder)) {
            at += rng_below(&sim->rng, 4 * sc->delay + 1);
            sim->reordered++;
        }
        uint8_t *bytes = malloc(length);
        memcpy(bytes, segment, length);
        size_t out_length = length;
        bool deliver = true;
        if (rng_chance(&sim->rng, sc->corrupt)) {
            int flips = 1 + (int)rng_below(&sim->rng, 3);
            for (int i = 0; i < flips; i++) {
                size_t bit = rng_below(&sim->rng, length * 8);
                bytes[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            }
            sim->corrupted++;
            deliver = detectable(sim, src_ip, dst_ip, bytes, out_length);
        } else if (rng_chance(&sim->rng, sc->truncate)) {
            out_length = rng_below(&sim->rng, length);
            sim->truncated++;
            deliver = detectable(sim, src_ip, dst_ip, bytes, out_length);
        }
        if (deliver) enqueue(sim, to, src_ip, dst_ip, bytes, out_length, at);
        free(bytes);
    }
}

static void wake(void *arg) { ((struct host *)arg)->woken = true; }

static void fail_state(struct sim *sim, const char *why) {
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        struct host *h = &sim->hosts[i];
        struct tcp_stats st;
        tcp_get_stats(h->stack, &st);
        n += (size_t)snprintf(text + n, sizeof text - n,
                              " host %c: %s sent %" PRIu64 "/%" PRIu64 " received %" PRIu64
                              " shut %d eof %d closed %d; tcbs %u retrans %" PRIu64 " timeouts %" PRIu64 ";",
                              'A' + i, h->conn ? tcp_state_name(tcp_conn_state(h->conn)) : "-", h->sent, h->to_send,
                              h->received, h->shut, h->eof, h->closed, st.connections, st.retransmissions,
                              st.timeouts);
    }
    test_fail("%s at %.3f s:%s link sent %" PRIu64 " lost %" PRIu64, why, (double)sim->now / 1e9, text,
              sim->sent_segments, sim->lost);
}

/* One turn of an application: accept, read, write, shut down, close. */
static void app_step(struct sim *sim, struct host *h) {
    const struct scenario *sc = sim->scenario;
    int other = 1 - h->index;
    if (h->conn == NULL && h->listener != NULL && !h->closed) {
        if (tcp_accept(h->listener, &h->conn) != 0) return;
        tcp_set_notify(h->conn, wake, h);
    }
    if (h->conn == NULL || h->closed) return;
    struct tcp_conn *conn = h->conn;
    static uint8_t buffer[65536];

    /* read */
    while (!h->eof && (sc->read_chunk == 0 || sim->now >= h->next_read)) {
        size_t want = sc->read_chunk ? sc->read_chunk : sizeof buffer;
        long n = tcp_recv(conn, buffer, want, sim->now);
        if (n == ERR_AGAIN) break;
        if (n < 0) fail_state(sim, "recv failed");
        if (n == 0) {
            h->eof = true;
            break;
        }
        for (long i = 0; i < n; i++)
            if (buffer[i] != stream_byte(other, h->received + (uint64_t)i))
                test_fail("host %c received byte %" PRIu64 " wrong", 'A' + h->index, h->received + (uint64_t)i);
        h->received += (uint64_t)n;
        if (sc->read_chunk) {
            h->next_read = sim->now + sc->read_interval;
            break;
        }
    }
    /* write */
    while (h->sent < h->to_send) {
        size_t chunk = (size_t)MIN(h->to_send - h->sent, (uint64_t)sizeof buffer);
        for (size_t i = 0; i < chunk; i++) buffer[i] = stream_byte(h->index, h->sent + i);
        long n = tcp_send(conn, buffer, chunk, sim->now);
        if (n == ERR_AGAIN) break;
        if (n < 0) {
            /* before the connection is up, data can be queued; any error is a failure */
            fail_state(sim, "send failed");
        }
        h->sent += (uint64_t)n;
    }
    if (h->sent == h->to_send && !h->shut && tcp_conn_state(conn) != TCP_SYN_SENT) {
        if (tcp_shutdown(conn, sim->now) != 0) fail_state(sim, "shutdown failed");
        h->shut = true;
    }
    if (tcp_conn_error(conn) != 0) fail_state(sim, "connection error");
    if (h->shut && h->eof) {
        if (h->received != sim->hosts[other].to_send) fail_state(sim, "end of stream too early");
        tcp_close(conn, sim->now);
        h->conn = NULL;
        h->closed = true;
    }
}

static void check(struct sim *sim) {
    for (int i = 0; i < 2; i++) {
        const char *what;
        if (tcp_stack_check(sim->hosts[i].stack, &what) != 0) {
            char why[200];
            snprintf(why, sizeof why, "invariant broken on host %c: %s", 'A' + i, what);
            fail_state(sim, why);
        }
    }
}

static void run_scenario(const struct scenario *sc, uint64_t seed) {
    uint64_t blocks = net_native_blocks_in_use();
    net_native_seed(seed * 7919 + 1);
    struct sim *sim = calloc(1, sizeof *sim);
    sim->scenario = sc;
    sim->rng = seed;
    for (int i = 0; i < 2; i++) {
        struct host *h = &sim->hosts[i];
        h->sim = sim;
        h->index = i;
        h->stack = tcp_stack_new(i == 0 ? &sc->config_a : &sc->config_b, link_output, h);
        TEST_ASSERT(h->stack != NULL, "tcp_stack_new");
        h->to_send = i == 0 ? sc->a_sends : sc->b_sends;
    }
    struct host *a = &sim->hosts[0], *b = &sim->hosts[1];
    struct ip_addr ip_a = ip_addr_from_v4(IP_A), ip_b = ip_addr_from_v4(IP_B);
    if (sc->ipv6) TEST_ASSERT(ip_addr_parse(IP6_A, &ip_a) == 0 && ip_addr_parse(IP6_B, &ip_b) == 0, "parse");
    TEST_ASSERT(tcp_listen(b->stack, &ip_b, PORT_B, 4, &b->listener) == 0, "listen");
    tcp_listener_set_notify(b->listener, wake, b);
    TEST_ASSERT(tcp_connect(a->stack, &ip_a, &ip_b, PORT_B, 0, &a->conn) == 0, "connect");
    tcp_set_notify(a->conn, wake, a);
    a->woken = true;

    uint64_t events = 0;
    for (;;) {
        for (int i = 0; i < 2; i++) {
            struct host *h = &sim->hosts[i];
            bool paced_read_due = sc->read_chunk && h->conn && !h->eof && sim->now >= h->next_read;
            if (h->woken || paced_read_due) {
                h->woken = false;
                app_step(sim, h);
                check(sim);
            }
        }
        if (a->closed && b->closed && tcp_next_deadline(a->stack) == UINT64_MAX &&
            tcp_next_deadline(b->stack) == UINT64_MAX && sim->queue == NULL)
            break;
        /* the next event: a delivery, a stack timer or a paced read */
        uint64_t next = sim->queue ? sim->queue->at : UINT64_MAX;
        for (int i = 0; i < 2; i++) {
            struct host *h = &sim->hosts[i];
            uint64_t d = tcp_next_deadline(h->stack);
            if (d < next) next = d;
            if (sc->read_chunk && h->conn && !h->eof && h->next_read > sim->now && h->next_read < next)
                next = h->next_read;
        }
        if (next == UINT64_MAX) fail_state(sim, "stalled: nothing left to happen");
        if (next > sc->time_limit) fail_state(sim, "simulated time limit");
        if (next > sim->now) sim->now = next;
        if (++events > 50000000) fail_state(sim, "too many events");
        while (sim->queue != NULL && sim->queue->at <= sim->now) {
            struct packet *p = sim->queue;
            sim->queue = p->next;
            tcp_input(sim->hosts[p->to].stack, &p->src, &p->dst, p->bytes, p->length, sim->now);
            free(p);
            check(sim);
        }
        for (int i = 0; i < 2; i++) {
            struct host *h = &sim->hosts[i];
            if (tcp_next_deadline(h->stack) <= sim->now) {
                tcp_timers(h->stack, sim->now);
                check(sim);
            }
        }
    }

    TEST_ASSERT(a->received == b->to_send && b->received == a->to_send, "byte counts");
    struct tcp_stats sa, sb;
    tcp_get_stats(a->stack, &sa);
    tcp_get_stats(b->stack, &sb);
    TEST_ASSERT(sa.connections == 0 && sb.connections == 0, "TCBs left: %u %u", sa.connections, sb.connections);
    /* every detectable mutation that arrived was refused as a bad checksum or malformed */
    uint64_t refused = sa.bad_checksums + sb.bad_checksums + sa.malformed + sb.malformed;
    TEST_ASSERT(refused <= sim->corrupted + sim->truncated, "more refusals than mutations");
    TEST_ASSERT(sim->corrupted + sim->truncated == 0 || refused > 0, "mutations not refused");
    if (sc->no_retransmissions)
        TEST_ASSERT(sa.retransmissions + sb.retransmissions == 0 && sa.dropped + sb.dropped == 0,
                    "a perfect link saw %" PRIu64 " retransmissions, %" PRIu64 " drops",
                    sa.retransmissions + sb.retransmissions, sa.dropped + sb.dropped);
    test_note("%s seed %" PRIu64 ": %.1f s simulated, %" PRIu64 " segments, lost %" PRIu64 " dup %" PRIu64
              " reordered %" PRIu64 " corrupted %" PRIu64 " truncated %" PRIu64 " (undetectable %" PRIu64
              ") queue drops %" PRIu64 "; retransmissions %" PRIu64 "+%" PRIu64 " timeouts %" PRIu64 "+%" PRIu64
              " fast %" PRIu64 "+%" PRIu64 " refused %" PRIu64,
              sc->name, seed, (double)sim->now / 1e9, sim->sent_segments, sim->lost, sim->duplicated, sim->reordered,
              sim->corrupted, sim->truncated, sim->undetectable, sim->queue_drops, sa.retransmissions,
              sb.retransmissions, sa.timeouts, sb.timeouts, sa.fast_retransmits, sb.fast_retransmits, refused);
    tcp_stack_free(a->stack);
    tcp_stack_free(b->stack);
    free(sim);
    TEST_ASSERT(net_native_blocks_in_use() == blocks, "memory not freed");
}

static struct tcp_config config(uint32_t buffer, bool rfc7323) {
    return (struct tcp_config){.mss = 1460,
                               .send_buffer = buffer,
                               .receive_buffer = buffer,
                               .window_scaling = rfc7323,
                               .timestamps = rfc7323,
                               .max_connections = 8};
}

static void run_seeds(const struct scenario *sc) {
    uint64_t seeds = test_env_number("NET_LINK_SEEDS", 2);
    for (uint64_t seed = 1; seed <= seeds; seed++) run_scenario(sc, seed);
}

static void test_clean(void) {
    struct scenario sc = {.name = "clean", .a_sends = 1 << 20, .b_sends = 1 << 20, .delay = 5 * MS,
                          .config_a = config(65536, false), .config_b = config(65536, false),
                          .time_limit = 600 * SEC, .no_retransmissions = true};
    run_seeds(&sc);
}

static void test_clean_rfc7323(void) {
    struct scenario sc = {.name = "clean-ws-ts", .a_sends = 4 << 20, .b_sends = 3 << 20, .delay = 30 * MS,
                          .config_a = config(1 << 20, true), .config_b = config(1 << 20, true),
                          .time_limit = 600 * SEC, .no_retransmissions = true};
    run_seeds(&sc);
}

static void test_loss_1_percent_rfc7323(void) {
    struct scenario sc = {.name = "loss1-ws-ts", .a_sends = 2 << 20, .b_sends = 2 << 20, .loss = 10000,
                          .delay = 10 * MS, .jitter = 2 * MS, .config_a = config(256 * 1024, true),
                          .config_b = config(256 * 1024, true), .time_limit = 3600 * SEC};
    run_seeds(&sc);
}

static void test_loss_dup_reorder(void) {
    struct scenario sc = {.name = "loss5-dup-reorder", .a_sends = 2 << 20, .b_sends = 1 << 20, .loss = 50000,
                          .duplicate = 20000, .reorder = 50000, .delay = 5 * MS, .jitter = 3 * MS,
                          .config_a = config(65536, true), .config_b = config(131072, true),
                          .time_limit = 3600 * SEC};
    run_seeds(&sc);
}

static void test_corruption_truncation(void) {
    struct scenario sc = {.name = "loss10-corrupt-truncate", .a_sends = 1 << 20, .b_sends = 1 << 20,
                          .loss = 100000, .corrupt = 20000, .truncate = 10000, .duplicate = 10000,
                          .reorder = 10000, .delay = 5 * MS, .jitter = 2 * MS, .config_a = config(65536, false),
                          .config_b = config(65536, true), .time_limit = 7200 * SEC};
    run_seeds(&sc);
}

static void test_loss_20_percent(void) {
    struct scenario sc = {.name = "loss20-everything", .a_sends = 1 << 20, .b_sends = 1 << 20,
                          .loss = 200000, .duplicate = 20000, .reorder = 20000, .corrupt = 10000,
                          .truncate = 10000, .delay = 5 * MS, .jitter = 2 * MS, .config_a = config(65536, true),
                          .config_b = config(65536, false), .time_limit = 4 * 3600 * SEC};
    run_seeds(&sc);
}

static void test_small_buffers_slow_reader(void) {
    /* 4 KiB buffers and a reader that takes 1000 bytes every 5 ms: zero windows, persist
     * probes and window updates, under loss */
    struct scenario sc = {.name = "small-buffers-slow-reader", .a_sends = 1 << 20, .b_sends = 256 * 1024,
                          .loss = 50000, .reorder = 20000, .delay = 2 * MS, .jitter = 1 * MS,
                          .read_chunk = 1000, .read_interval = 5 * MS, .config_a = config(4096, false),
                          .config_b = config(4096, true), .time_limit = 7200 * SEC};
    run_seeds(&sc);
}

static void test_bottleneck(void) {
    /* 2 MB/s with a 20-segment queue and no random loss: the losses are congestion's */
    struct scenario sc = {.name = "bottleneck", .a_sends = 4 << 20, .b_sends = 64 * 1024, .rate = 2000000,
                          .queue_limit = 20, .delay = 20 * MS, .jitter = 0, .config_a = config(512 * 1024, true),
                          .config_b = config(512 * 1024, true), .time_limit = 3600 * SEC};
    run_seeds(&sc);
}

static void test_small_mss(void) {
    struct scenario sc = {.name = "mss536", .a_sends = 300000, .b_sends = 300001, .loss = 30000, .reorder = 30000,
                          .delay = 3 * MS, .jitter = 3 * MS, .config_a = config(20000, true),
                          .config_b = config(30000, true), .time_limit = 3600 * SEC};
    sc.config_a.mss = 536;
    run_seeds(&sc);
}

static void test_ipv6(void) {
    /* the same machinery over IPv6 addresses: its pseudo-header, MSS 1440 on both sides */
    struct scenario sc = {.name = "ipv6-loss-reorder-corrupt", .a_sends = 1 << 20, .b_sends = 512 * 1024,
                          .loss = 20000, .reorder = 20000, .corrupt = 5000, .delay = 5 * MS, .jitter = 2 * MS,
                          .config_a = config(131072, true), .config_b = config(65536, false),
                          .time_limit = 3600 * SEC, .ipv6 = true};
    run_seeds(&sc);
}

const struct test_case link_tests[] = {
    {"clean", test_clean},
    {"clean-rfc7323", test_clean_rfc7323},
    {"loss1-ws-ts", test_loss_1_percent_rfc7323},
    {"loss5-dup-reorder", test_loss_dup_reorder},
    {"loss10-corrupt-truncate", test_corruption_truncation},
    {"loss20-everything", test_loss_20_percent},
    {"small-buffers-slow-reader", test_small_buffers_slow_reader},
    {"bottleneck", test_bottleneck},
    {"mss536", test_small_mss},
    {"ipv6", test_ipv6},
};
const size_t link_test_count = ARRAY_SIZE(link_tests);
