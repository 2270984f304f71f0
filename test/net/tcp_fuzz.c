/*
 * test/net/tcp_fuzz.c: random and mutated segments against a stack with listeners and open
 * connections, interleaved with API calls and timer runs.
 *
 * The fuzzer plays the peer of every connection and keeps a rough model of each (its own next
 * sequence number, the highest sequence number and the window the stack sent), so most of what
 * it sends is near the window edges, where the interesting code is: plausible segments with
 * random flags, sequence and acknowledgment numbers near the expected ones, random windows,
 * options (valid, odd and malformed) and payloads; mutations of earlier segments (bit flips,
 * byte stores, truncation, extension, a rewritten data offset or option area); and plain
 * garbage. The checksum is usually fixed up so the mutations get past it. After every step the
 * stack's invariants are checked (tcp_stack_check); at the end every handle is released, time
 * runs on until every TCB is gone, and no memory may be left in use. ASan and UBSan watch
 * everything. One configuration runs over IPv6 addresses; in every one a few segments come from
 * a random source of either family.
 *
 * NET_FUZZ_SEGMENTS=N sets the number of segments per configuration (default 100000 in all,
 * spread over the configurations below); NET_FUZZ_SEED picks another seed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "net/tcp/tcp.h"
#include "net/tcp/tcp_internal.h" /* only to describe TCBs that never finish */
#include "net/wire/bytes.h"
#include "net/wire/tcp_wire.h"
#include "net_test.h"

#define STACK_IP 0x0a000001u
#define PEER_IP 0x0a000002u
#define MAX_PEERS 24
#define CORPUS 256
#define MAX_SEGMENT 4096

struct peer {
    bool used;
    uint16_t peer_port, stack_port;
    uint32_t peer_seq;   /* the fuzzer's next sequence number */
    uint32_t stack_next; /* the highest SEQ+LEN the stack sent */
    uint32_t stack_window;
    bool synced;         /* the stack's SYN has been seen */
    struct tcp_conn *conn;
};

struct saved {
    size_t length;
    uint8_t bytes[MAX_SEGMENT];
};

struct fuzz {
    uint64_t rng;
    uint64_t now;
    struct ip_addr stack_ip, peer_ip; /* one family per run */
    struct tcp_stack *stack;
    struct tcp_listener *listeners[2];
    struct peer peers[MAX_PEERS];
    struct saved corpus[CORPUS];
    size_t corpus_count;
    uint64_t segments, api_calls, timer_runs, stack_sent;
    uint8_t scratch[MAX_SEGMENT];
};

static struct peer *peer_by_ports(struct fuzz *f, uint16_t peer_port, uint16_t stack_port) {
    for (int i = 0; i < MAX_PEERS; i++)
        if (f->peers[i].used && f->peers[i].peer_port == peer_port && f->peers[i].stack_port == stack_port)
            return &f->peers[i];
    return NULL;
}

static struct peer *new_peer(struct fuzz *f, uint16_t peer_port, uint16_t stack_port) {
    for (int i = 0; i < MAX_PEERS; i++) {
        if (!f->peers[i].used) {
            struct peer *p = &f->peers[i];
            memset(p, 0, sizeof *p);
            p->used = true;
            p->peer_port = peer_port;
            p->stack_port = stack_port;
            p->peer_seq = (uint32_t)splitmix64(&f->rng);
            return p;
        }
    }
    return NULL;
}

static void save(struct fuzz *f, const uint8_t *bytes, size_t length) {
    if (length > MAX_SEGMENT) return;
    struct saved *slot = &f->corpus[f->corpus_count < CORPUS ? f->corpus_count++ : rng_below(&f->rng, CORPUS)];
    slot->length = length;
    memcpy(slot->bytes, bytes, length);
}

/* What the stack sends teaches the model; it must always be well formed. */
static void fuzz_output(void *ctx, const struct ip_addr *src, const struct ip_addr *dst, const uint8_t *segment,
                        size_t length) {
    struct fuzz *f = ctx;
    f->stack_sent++;
    if (!ip_addr_equal(src, &f->stack_ip) || !ip_addr_equal(dst, &f->peer_ip)) test_fail("the stack sent to another address");
    if (!tcp_wire_checksum_ok(src, dst, segment, length)) test_fail("the stack sent a bad checksum");
    struct tcp_header h;
    if (tcp_wire_parse(segment, length, &h) != TCP_WIRE_OK) test_fail("the stack sent a malformed segment");
    struct peer *p = peer_by_ports(f, h.dst_port, h.src_port);
    if (p == NULL) {
        /* an active open from the stack: become its peer */
        if (!(h.flags & TCP_FLAG_SYN) || (h.flags & TCP_FLAG_ACK)) return;
        p = new_peer(f, h.dst_port, h.src_port);
        if (p == NULL) return;
    }
    uint32_t end = h.seq + (uint32_t)(length - h.header_length) + ((h.flags & TCP_FLAG_SYN) ? 1 : 0) +
                   ((h.flags & TCP_FLAG_FIN) ? 1 : 0);
    if (!p->synced || (int32_t)(end - p->stack_next) > 0) p->stack_next = end;
    if (h.flags & TCP_FLAG_SYN) p->synced = true;
    p->stack_window = h.window;
    /* the stack's segments, reflected, are good raw material too */
    if (rng_chance(&f->rng, 200000)) {
        uint8_t copy[MAX_SEGMENT];
        size_t n = MIN(length, sizeof copy);
        memcpy(copy, segment, n);
        wire_put16(copy, h.dst_port);
        wire_put16(copy + 2, h.src_port);
        save(f, copy, n);
    }
}

static uint32_t near(struct fuzz *f, uint32_t value) {
    switch (rng_below(&f->rng, 8)) {
    case 0: return (uint32_t)splitmix64(&f->rng);
    case 1: return value + (uint32_t)rng_below(&f->rng, 200000) - 100000;
    case 2: return value - 1;
    case 3: return value + 1;
    case 4: return value + (uint32_t)rng_below(&f->rng, 3000);
    default: return value;
    }
}

/* Options: mostly valid, sometimes odd (duplicates, huge wscale, tiny MSS), sometimes broken. */
static size_t random_options(struct fuzz *f, uint8_t *out, bool syn) {
    size_t n = 0;
    int items = (int)rng_below(&f->rng, syn ? 6 : 3);
    for (int i = 0; i < items && n < TCP_OPTIONS_MAX - 10; i++) {
        switch (rng_below(&f->rng, 9)) {
        case 0:
            out[n++] = TCP_OPT_MSS;
            out[n++] = 4;
            wire_put16(out + n, (uint16_t)(rng_chance(&f->rng, 300000) ? rng_below(&f->rng, 100) : 1460));
            n += 2;
            break;
        case 1:
            out[n++] = TCP_OPT_WSCALE;
            out[n++] = 3;
            out[n++] = (uint8_t)rng_below(&f->rng, 20);
            break;
        case 2:
            out[n++] = TCP_OPT_SACK_PERMITTED;
            out[n++] = 2;
            break;
        case 3:
        case 4:
            out[n++] = TCP_OPT_TIMESTAMPS;
            out[n++] = 10;
            wire_put32(out + n, (uint32_t)(f->now / 1000000) + (uint32_t)rng_below(&f->rng, 5) - 2);
            wire_put32(out + n + 4, (uint32_t)splitmix64(&f->rng));
            n += 8;
            break;
        case 5:
            out[n++] = TCP_OPT_NOP;
            break;
        case 6: /* broken */
            out[n++] = (uint8_t)rng_below(&f->rng, 40);
            out[n++] = (uint8_t)rng_below(&f->rng, 50);
            break;
        case 7:
            out[n++] = TCP_OPT_SACK;
            out[n++] = 10;
            for (int k = 0; k < 8; k++) out[n++] = (uint8_t)splitmix64(&f->rng);
            break;
        default:
            out[n++] = TCP_OPT_EOL;
            break;
        }
    }
    while (n % 4) out[n++] = TCP_OPT_NOP;
    return n;
}

/* A plausible segment for peer `p` (or a new SYN). Returns its length. */
static size_t plausible(struct fuzz *f, struct peer *p, uint16_t peer_port, uint16_t stack_port, uint8_t *out) {
    static const uint8_t common_flags[] = {
        TCP_FLAG_ACK, TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_PSH, TCP_FLAG_ACK | TCP_FLAG_FIN,
        TCP_FLAG_SYN, TCP_FLAG_SYN | TCP_FLAG_ACK, TCP_FLAG_RST, TCP_FLAG_RST | TCP_FLAG_ACK,
        TCP_FLAG_ACK | TCP_FLAG_URG, 0,
    };
    uint8_t flags = rng_chance(&f->rng, 100000) ? (uint8_t)splitmix64(&f->rng)
                                                : common_flags[rng_below(&f->rng, ARRAY_SIZE(common_flags))];
    uint32_t seq = p ? near(f, p->peer_seq) : (uint32_t)splitmix64(&f->rng);
    uint32_t ack = p && p->synced ? near(f, p->stack_next) : (uint32_t)splitmix64(&f->rng);
    uint8_t options[TCP_OPTIONS_MAX];
    size_t options_length = random_options(f, options, flags & TCP_FLAG_SYN);
    size_t payload = 0;
    if (!(flags & TCP_FLAG_SYN) || rng_chance(&f->rng, 50000)) {
        switch (rng_below(&f->rng, 4)) {
        case 0: payload = 0; break;
        case 1: payload = rng_below(&f->rng, 20); break;
        case 2: payload = rng_below(&f->rng, 1500); break;
        default: payload = rng_below(&f->rng, MAX_SEGMENT - TCP_HEADER_MAX); break;
        }
    }
    memset(out, 0, TCP_HEADER_MIN);
    wire_put16(out, peer_port);
    wire_put16(out + 2, stack_port);
    wire_put32(out + 4, seq);
    wire_put32(out + 8, ack);
    out[12] = (uint8_t)((TCP_HEADER_MIN + options_length) / 4) << 4;
    out[13] = flags;
    static const uint16_t windows[] = {0, 1, 100, 1460, 8192, 65535};
    wire_put16(out + 14, rng_chance(&f->rng, 200000) ? (uint16_t)splitmix64(&f->rng)
                                                     : windows[rng_below(&f->rng, ARRAY_SIZE(windows))]);
    wire_put16(out + 18, (uint16_t)rng_below(&f->rng, 3));
    memcpy(out + TCP_HEADER_MIN, options, options_length);
    size_t header = TCP_HEADER_MIN + options_length;
    for (size_t i = 0; i < payload; i++) out[header + i] = (uint8_t)(seq + i);
    /* a valid in-order segment moves the model on, so later ones are in order too */
    if (p != NULL && seq == p->peer_seq && (flags & TCP_FLAG_ACK) && !(flags & (TCP_FLAG_RST | TCP_FLAG_SYN)))
        p->peer_seq += (uint32_t)payload + ((flags & TCP_FLAG_FIN) ? 1 : 0);
    return header + payload;
}

static size_t mutate(struct fuzz *f, uint8_t *bytes, size_t length) {
    int rounds = 1 + (int)rng_below(&f->rng, 4);
    for (int r = 0; r < rounds; r++) {
        switch (rng_below(&f->rng, 7)) {
        case 0: /* bit flip */
            if (length) bytes[rng_below(&f->rng, length)] ^= (uint8_t)(1u << rng_below(&f->rng, 8));
            break;
        case 1: /* byte store */
            if (length) bytes[rng_below(&f->rng, length)] = (uint8_t)splitmix64(&f->rng);
            break;
        case 2: /* truncate */
            length = rng_below(&f->rng, length + 1);
            break;
        case 3: { /* extend with garbage */
            size_t more = rng_below(&f->rng, 64);
            if (length + more > MAX_SEGMENT) more = MAX_SEGMENT - length;
            for (size_t i = 0; i < more; i++) bytes[length + i] = (uint8_t)splitmix64(&f->rng);
            length += more;
            break;
        }
        case 4: /* data offset */
            if (length > 12) bytes[12] = (uint8_t)(rng_below(&f->rng, 16) << 4 | (bytes[12] & 0x0f));
            break;
        case 5: /* option area garbage */
            if (length > TCP_HEADER_MIN) {
                size_t area = MIN(length - TCP_HEADER_MIN, (size_t)TCP_OPTIONS_MAX);
                size_t at = TCP_HEADER_MIN + rng_below(&f->rng, area);
                bytes[at] = (uint8_t)rng_below(&f->rng, 10);
                if (at + 1 < length) bytes[at + 1] = (uint8_t)rng_below(&f->rng, 48);
            }
            break;
        default: /* flags */
            if (length > 13) bytes[13] = (uint8_t)splitmix64(&f->rng);
            break;
        }
    }
    return length;
}

static void check(struct fuzz *f) {
    const char *what;
    if (tcp_stack_check(f->stack, &what) != 0)
        test_fail("invariant broken after %" PRIu64 " segments: %s", f->segments, what);
}

static void inject(struct fuzz *f) {
    uint8_t *out = f->scratch;
    size_t length;
    uint64_t kind = rng_below(&f->rng, 100);
    if (kind < 8) { /* garbage */
        length = rng_below(&f->rng, 200);
        for (size_t i = 0; i < length; i++) out[i] = (uint8_t)splitmix64(&f->rng);
        if (length >= 4 && rng_chance(&f->rng, 500000)) wire_put16(out + 2, rng_chance(&f->rng, 500000) ? 80 : 8080);
    } else if (kind < 40 && f->corpus_count > 0) { /* mutation of an earlier segment */
        const struct saved *source = &f->corpus[rng_below(&f->rng, f->corpus_count)];
        memcpy(out, source->bytes, source->length);
        length = mutate(f, out, source->length);
    } else { /* plausible */
        struct peer *p = NULL;
        uint16_t peer_port, stack_port;
        if (rng_chance(&f->rng, 150000)) { /* a new client */
            peer_port = (uint16_t)(1024 + rng_below(&f->rng, 40));
            stack_port = rng_chance(&f->rng, 800000) ? 80 : (uint16_t)(rng_chance(&f->rng, 500000) ? 8080 : 81);
            p = peer_by_ports(f, peer_port, stack_port);
            if (p == NULL) p = new_peer(f, peer_port, stack_port);
        } else {
            p = &f->peers[rng_below(&f->rng, MAX_PEERS)];
            if (!p->used) p = NULL;
        }
        if (p == NULL) {
            peer_port = (uint16_t)(1024 + rng_below(&f->rng, 40));
            stack_port = 80;
        } else {
            peer_port = p->peer_port;
            stack_port = p->stack_port;
        }
        length = plausible(f, p, peer_port, stack_port, out);
        if (p != NULL && (out[13] & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN) p->peer_seq = wire_get32(out + 4) + 1;
        if (length <= MAX_SEGMENT) save(f, out, length);
        if (rng_chance(&f->rng, 150000)) length = mutate(f, out, length);
    }
    if (length >= TCP_HEADER_MIN && rng_chance(&f->rng, 900000)) tcp_wire_set_checksum(&f->peer_ip, &f->stack_ip, out, length);
    struct ip_addr src = f->peer_ip;
    if (!rng_chance(&f->rng, 990000)) { /* a stranger of either family */
        uint8_t bytes[16];
        for (int i = 0; i < 16; i++) bytes[i] = (uint8_t)splitmix64(&f->rng);
        src = rng_chance(&f->rng, 500000) ? ip_addr_from_v4((uint32_t)splitmix64(&f->rng)) : ip_addr_from_v6(bytes);
    }
    tcp_input(f->stack, &src, &f->stack_ip, out, length, f->now);
    f->segments++;
    check(f);
}

static void api_call(struct fuzz *f) {
    f->api_calls++;
    struct peer *p = &f->peers[rng_below(&f->rng, MAX_PEERS)];
    uint8_t data[3000];
    switch (rng_below(&f->rng, 12)) {
    case 0:
    case 1: { /* accept */
        struct tcp_listener *l = f->listeners[rng_below(&f->rng, 2)];
        struct tcp_conn *conn;
        if (l != NULL && tcp_accept(l, &conn) == 0) {
            uint16_t local_port, remote_port;
            tcp_conn_endpoints(conn, NULL, &local_port, NULL, &remote_port);
            struct peer *owner = peer_by_ports(f, remote_port, local_port);
            if (owner == NULL) owner = new_peer(f, remote_port, local_port);
            if (owner == NULL || owner->conn != NULL) {
                tcp_abort(conn, f->now); /* nowhere to keep it */
            } else {
                owner->conn = conn;
            }
        }
        break;
    }
    case 2:
        if (rng_chance(&f->rng, 300000)) {
            struct tcp_conn *conn;
            if (tcp_connect(f->stack, &f->stack_ip, &f->peer_ip, (uint16_t)(1 + rng_below(&f->rng, 3)), f->now, &conn) == 0) {
                uint16_t local_port, remote_port;
                tcp_conn_endpoints(conn, NULL, &local_port, NULL, &remote_port);
                struct peer *owner = peer_by_ports(f, remote_port, local_port);
                if (owner == NULL || owner->conn != NULL) tcp_abort(conn, f->now);
                else owner->conn = conn;
            }
        }
        break;
    case 3:
    case 4:
    case 5:
        if (p->used && p->conn) {
            size_t n = rng_below(&f->rng, sizeof data);
            for (size_t i = 0; i < n; i++) data[i] = (uint8_t)i;
            (void)tcp_send(p->conn, data, n, f->now);
        }
        break;
    case 6:
    case 7:
        if (p->used && p->conn) (void)tcp_recv(p->conn, data, rng_below(&f->rng, sizeof data), f->now);
        break;
    case 8:
        if (p->used && p->conn) (void)tcp_shutdown(p->conn, f->now);
        break;
    case 9:
        if (p->used && p->conn) {
            if (rng_chance(&f->rng, 800000)) tcp_close(p->conn, f->now);
            else tcp_abort(p->conn, f->now);
            p->conn = NULL;
        }
        break;
    case 10:
        if (p->used && p->conn) tcp_set_nodelay(p->conn, rng_chance(&f->rng, 500000));
        break;
    default: { /* a listener closes or comes back */
        int which = (int)rng_below(&f->rng, 2);
        if (f->listeners[which] != NULL && rng_chance(&f->rng, 100000)) {
            tcp_listener_close(f->listeners[which]);
            f->listeners[which] = NULL;
        } else if (f->listeners[which] == NULL) {
            struct ip_addr any = ip_addr_any();
            int err = tcp_listen(f->stack, which ? &f->stack_ip : &any, which ? 8080 : 80, 1 + (unsigned)which * 3,
                                 &f->listeners[which]);
            TEST_ASSERT(err == 0 || err == ERR_NOMEM, "listen again: %d", err);
            if (err != 0) f->listeners[which] = NULL;
        }
        break;
    }
    }
    check(f);
}

static void advance_time(struct fuzz *f) {
    uint64_t step;
    switch (rng_below(&f->rng, 10)) {
    case 0: step = rng_below(&f->rng, 70000000000ull); break; /* up to 70 s: TIME_WAIT, FIN_WAIT_2 */
    case 1:
    case 2: step = rng_below(&f->rng, 2000000000ull); break;
    default: step = rng_below(&f->rng, 50000000ull); break;
    }
    f->now += step;
    tcp_timers(f->stack, f->now);
    f->timer_runs++;
    check(f);
}

/* Releases every handle and lets every TCB finish; then frees the stack. */
static void drain(struct fuzz *f) {
    for (int i = 0; i < MAX_PEERS; i++) {
        if (f->peers[i].conn != NULL) {
            if (rng_chance(&f->rng, 500000)) tcp_close(f->peers[i].conn, f->now);
            else tcp_abort(f->peers[i].conn, f->now);
            f->peers[i].conn = NULL;
        }
    }
    for (int i = 0; i < 2; i++)
        if (f->listeners[i] != NULL) {
            tcp_listener_close(f->listeners[i]);
            f->listeners[i] = NULL;
        }
    for (int i = 0; i < 100000; i++) {
        uint64_t deadline = tcp_next_deadline(f->stack);
        if (deadline == UINT64_MAX) break;
        if (deadline > f->now) f->now = deadline;
        tcp_timers(f->stack, f->now);
        check(f);
    }
    struct tcp_stats st;
    tcp_get_stats(f->stack, &st);
    if (st.connections != 0) {
        char text[2000];
        size_t n = 0;
        struct list_node *node;
        list_for_each(node, &f->stack->conns) {
            struct tcp_conn *c = list_entry(node, struct tcp_conn, link);
            n += (size_t)snprintf(text + n, sizeof text - n,
                                  " [%s handle %d una %u nxt %u max %u buf %u+%u fin %d wnd %u cwnd %u rto %" PRIu64
                                  " persist %" PRIu64 " listener %p]",
                                  tcp_state_name(c->state), c->has_handle, c->snd_una - c->iss, c->snd_nxt - c->iss,
                                  c->snd_max - c->iss, c->snd_buf_seq - c->iss, c->send.length, c->fin_queued,
                                  c->snd_wnd, c->cwnd, c->rto_deadline, c->persist_deadline, (void *)c->listener);
            if (n >= sizeof text) break;
        }
        test_fail("%u TCBs never finished:%s", st.connections, text);
    }
    TEST_ASSERT(tcp_next_deadline(f->stack) == UINT64_MAX, "a timer is left");
}

/* Runs the stack between STACK_IP and PEER_IP, or (`ipv6`) between fd00::1 and fd00::2. */
static void fuzz_run(const char *name, const struct tcp_config *config, uint64_t segments, uint32_t alloc_fail,
                     bool ipv6) {
    uint64_t blocks = net_native_blocks_in_use();
    uint64_t seed = test_env_number("NET_FUZZ_SEED", 1);
    struct fuzz *f = calloc(1, sizeof *f);
    f->rng = seed * 0x9e3779b97f4a7c15ull + segments + config->receive_buffer;
    f->now = 1000000000ull;
    if (ipv6) {
        TEST_ASSERT(ip_addr_parse("fd00::1", &f->stack_ip) == 0 && ip_addr_parse("fd00::2", &f->peer_ip) == 0, "parse");
    } else {
        f->stack_ip = ip_addr_from_v4(STACK_IP);
        f->peer_ip = ip_addr_from_v4(PEER_IP);
    }
    f->stack = tcp_stack_new(config, fuzz_output, f);
    TEST_ASSERT(f->stack != NULL, "tcp_stack_new");
    struct ip_addr any = ip_addr_any();
    TEST_ASSERT(tcp_listen(f->stack, &any, 80, 4, &f->listeners[0]) == 0, "listen 80");
    TEST_ASSERT(tcp_listen(f->stack, &f->stack_ip, 8080, 1, &f->listeners[1]) == 0, "listen 8080");
    net_native_fail_allocations(alloc_fail);
    while (f->segments < segments) {
        uint64_t what = rng_below(&f->rng, 100);
        if (what < 80) inject(f);
        else if (what < 92) api_call(f);
        else advance_time(f);
    }
    net_native_fail_allocations(0);
    struct tcp_stats st;
    tcp_get_stats(f->stack, &st);
    test_note("%s: %" PRIu64 " segments in, %" PRIu64 " out, %" PRIu64 " API calls, %" PRIu64
              " timer runs; bad checksums %" PRIu64 " malformed %" PRIu64 " dropped %" PRIu64
              " challenge ACKs %" PRIu64 " resets in/out %" PRIu64 "/%" PRIu64 " opens %" PRIu64 "+%" PRIu64
              " out of order %" PRIu64 " listen overflows %" PRIu64,
              name, f->segments, f->stack_sent, f->api_calls, f->timer_runs, st.bad_checksums, st.malformed,
              st.dropped, st.challenge_acks, st.resets_in, st.resets_out, st.passive_opens, st.active_opens,
              st.out_of_order, st.listen_overflows);
    drain(f);
    tcp_stack_free(f->stack);
    free(f);
    TEST_ASSERT(net_native_blocks_in_use() == blocks, "memory left in use");
}

static uint64_t share(uint64_t percent) {
    return test_env_number("NET_FUZZ_SEGMENTS", 100000) * percent / 100;
}

static void test_fuzz_plain(void) {
    struct tcp_config config = {.mss = 1460, .send_buffer = 65536, .receive_buffer = 65535,
                                .max_connections = 12};
    fuzz_run("plain", &config, share(35), 0, false);
}

static void test_fuzz_rfc7323_small_buffers(void) {
    struct tcp_config config = {.mss = 536, .send_buffer = 3000, .receive_buffer = 2500, .window_scaling = true,
                                .timestamps = true, .max_connections = 8};
    fuzz_run("ws-ts-small-buffers", &config, share(35), 0, false);
}

static void test_fuzz_large_window(void) {
    struct tcp_config config = {.mss = 9000, .send_buffer = 1 << 20, .receive_buffer = 1 << 20,
                                .window_scaling = true, .timestamps = true, .max_connections = 20};
    fuzz_run("large-window", &config, share(20), 0, false);
}

static void test_fuzz_out_of_memory(void) {
    struct tcp_config config = {.mss = 1460, .send_buffer = 8192, .receive_buffer = 8192, .window_scaling = true,
                                .timestamps = false, .max_connections = 10};
    fuzz_run("allocations-fail", &config, share(10), 7, false);
}

static void test_fuzz_ipv6(void) {
    /* the same over IPv6 addresses: another pseudo-header, MSS 20 below config.mss */
    struct tcp_config config = {.mss = 1460, .send_buffer = 16384, .receive_buffer = 16384, .window_scaling = true,
                                .timestamps = true, .max_connections = 12};
    fuzz_run("ipv6", &config, share(15), 0, true);
}

const struct test_case fuzz_tests[] = {
    {"plain", test_fuzz_plain},
    {"ws-ts-small-buffers", test_fuzz_rfc7323_small_buffers},
    {"large-window", test_fuzz_large_window},
    {"allocations-fail", test_fuzz_out_of_memory},
    {"ipv6", test_fuzz_ipv6},
};
const size_t fuzz_test_count = ARRAY_SIZE(fuzz_tests);
