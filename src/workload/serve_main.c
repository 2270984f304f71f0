/*
 * workload/serve_main.c: the `serve` workload: the HTTP server of src/workload/serve/ on the
 * fiber sockets of net/socket.h (docs/serve.md has the routes).
 *
 *   serve port=80 max_conns=256 idle=10 max_body=16777216 requests=N [ip=... gw=...] [ip6=... gw6=...]
 *
 * It listens on both families (IPv4 and IPv6, net/socket.h) and prints one `serve: listening on`
 * line for the IPv4 address and one for each preferred IPv6 address.
 *
 * One fiber accepts; every admitted connection gets a fiber of its own in the same switch, so a
 * slow or hostile client only ever holds its own fiber. A connection past max_conns gets a 503
 * and is closed. Reads time out after `idle` seconds without data, and so do writes to a client
 * that stops reading. After an error reply the connection is closed gently (FIN, then its input
 * drained for a moment) so the reply is not destroyed by a reset. With `requests=N` the server
 * stops after N responses, lets open connections finish for up to two seconds, prints its
 * counters and exits 0; otherwise it serves until the machine is stopped.
 */
#include "alloc/alloc.h"
#include "arch/arch.h"
#include "cmdline/cmdline.h"
#include "irmin/irmin.h"
#include "log/log.h"
#include "net/net.h"
#include "net/socket.h"
#include "net/tcp/tcp.h"
#include "net/wire/ipv4_wire.h"
#include "sched/sched.h"
#include "serve/serve.h"
#include "time/time.h"
#include "workload.h"
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull
#define ACCEPT_POLL_NS (50 * 1000000ull) /* how often the acceptor checks requests=N */
#define DRAIN_NS (500 * 1000000ull)      /* reading what a client still sends after our FIN */
#define STOP_GRACE_NS (2 * NS_PER_S)
#define SERVE_STOPPED 1                  /* the switch's "error" when requests=N was reached */

struct server {
    struct serve_state *state;
    struct tcp_server *listener;
    uint64_t request_limit; /* 0: none */
    uint64_t idle_ns;
};

struct connection {
    struct server *server;
    struct tcp_socket *socket;
};

static long stream_read(void *ctx, void *buffer, size_t length) {
    struct connection *c = ctx;
    return tcp_socket_read(c->socket, buffer, length, c->server->idle_ns);
}

/* All bytes, or the error. tcp_socket_write's timeout bounds the whole write, but `idle` is for a
 * client that stops reading: it starts over while bytes still go out, so a large response to a
 * slow but steady reader is not cut off after `idle` seconds. */
static int stream_write(void *ctx, const void *data, size_t length) {
    struct connection *c = ctx;
    const uint8_t *bytes = data;
    for (;;) {
        size_t written = 0;
        int err = tcp_socket_write(c->socket, bytes, length, c->server->idle_ns, &written);
        if (err != ERR_TIMEOUT || written == 0) return err;
        bytes += written;
        length -= written;
    }
}

/* FIN, then read and discard for a moment so the peer's late bytes do not turn into a reset. */
static void close_gently(struct tcp_socket *socket) {
    static uint8_t sink[2048];
    if (tcp_socket_shutdown(socket) == 0) {
        uint64_t deadline = time_now_ns() + DRAIN_NS;
        for (uint64_t t = time_now_ns(); t < deadline; t = time_now_ns())
            if (tcp_socket_read(socket, sink, sizeof sink, deadline - t) <= 0) break;
    }
    tcp_socket_close(socket);
}

static int connection_fiber(void *arg) {
    struct connection *c = arg;
    struct http_stream stream = {.read = stream_read, .write = stream_write, .ctx = c};
    int err = serve_connection(c->server->state, &stream);
    if (err == ERR_CANCELLED) tcp_socket_abort(c->socket);
    else close_gently(c->socket);
    kfree(c);
    return err == ERR_CANCELLED ? ERR_CANCELLED : 0; /* one client's failure is not the server's */
}

static uint64_t requests_served(struct server *server) {
    struct serve_stats stats;
    serve_get_stats(server->state, &stats);
    return stats.requests_served;
}

static int serve_body(struct sw *sw, void *arg) {
    struct server *server = arg;
    for (;;) {
        if (server->request_limit && requests_served(server) >= server->request_limit) break;
        struct tcp_socket *socket;
        int err = tcp_server_accept(server->listener, ACCEPT_POLL_NS, &socket);
        if (err == ERR_TIMEOUT) continue;
        if (err != 0) return err;
        if (!serve_admit(server->state)) {
            struct connection refused = {.server = server, .socket = socket};
            struct http_stream stream = {.read = stream_read, .write = stream_write, .ctx = &refused};
            (void)serve_refuse(server->state, &stream);
            close_gently(socket);
            continue;
        }
        struct connection *c = kmalloc(sizeof *c);
        if (c != NULL) *c = (struct connection){.server = server, .socket = socket};
        if (c == NULL || fiber_fork(sw, "http", connection_fiber, c) != 0) {
            serve_release(server->state);
            tcp_socket_abort(socket);
            kfree(c);
        }
    }
    /* requests=N reached: let the open connections end by themselves for a while */
    uint64_t deadline = time_now_ns() + STOP_GRACE_NS;
    struct serve_stats stats;
    for (serve_get_stats(server->state, &stats); stats.connections_open > 0 && time_now_ns() < deadline;
         serve_get_stats(server->state, &stats)) {
        int err = fiber_sleep_ns(10 * 1000000ull);
        if (err != 0) return err;
    }
    return SERVE_STOPPED; /* cancels whatever is still open */
}

static uint64_t wall_clock_s(void) { return time_wall_unix_ns() / NS_PER_S; }

static uint64_t heap_in_use(void) {
    struct alloc_stats stats;
    alloc_get_stats(&stats);
    return stats.heap_bytes_in_use;
}

static size_t tcp_stats_json(void *ctx, char *buffer, size_t size) {
    (void)ctx;
    struct tcp_stats s;
    tcp_get_stats(net_stack_tcp(net_stack()), &s);
    int n = snprintf(buffer, size,
                     "{\"segments_in\":%lu,\"segments_out\":%lu,\"retransmissions\":%lu,\"resets_in\":%lu,\"resets_out\":%lu,"
                     "\"bad_checksums\":%lu,\"malformed\":%lu,\"dropped\":%lu,\"challenge_acks\":%lu,\"listen_overflows\":%lu,"
                     "\"active_opens\":%lu,\"passive_opens\":%lu,\"connections\":%u,\"established\":%u,\"time_wait\":%u}",
                     s.segments_in, s.segments_out, s.retransmissions, s.resets_in, s.resets_out, s.bad_checksums, s.malformed,
                     s.dropped, s.challenge_acks, s.listen_overflows, s.active_opens, s.passive_opens, s.connections,
                     s.established, s.time_wait);
    return n < 0 ? 0 : (size_t)n;
}

/* Waits (up to a second) for the stack to deliver what closed connections still had queued. */
static void drain_tcp(void) {
    uint64_t deadline = time_now_ns() + NS_PER_S;
    while (time_now_ns() < deadline) {
        struct tcp_stats s;
        tcp_get_stats(net_stack_tcp(net_stack()), &s);
        if (s.connections == s.time_wait) return;
        if (fiber_sleep_ns(10 * 1000000ull) != 0) return;
    }
}

int serve_main(void) {
    int64_t port = arg_int("port", 80);
    int64_t max_conns = arg_int("max_conns", SERVE_DEFAULT_MAX_CONNS);
    int64_t idle = arg_int("idle", SERVE_DEFAULT_IDLE_S);
    int64_t max_body = arg_int("max_body", SERVE_DEFAULT_MAX_BODY);
    int64_t requests = arg_int("requests", 0);
    if (port < 1 || port > 65535) cmdline_usage_error("serve: port= must be 1..65535");
    if (max_conns < 1 || max_conns > 4096) cmdline_usage_error("serve: max_conns= must be 1..4096");
    if (idle < 1 || idle > 3600) cmdline_usage_error("serve: idle= must be 1..3600 seconds");
    if (max_body < 0) cmdline_usage_error("serve: max_body= must be >= 0");
    if (requests < 0) cmdline_usage_error("serve: requests= must be >= 0");
    if (net_start() != 0) return EXIT_FAIL;
    args_done();

    struct alloc_stats memory;
    alloc_get_stats(&memory);
    struct serve_config config = {
        .max_body = (size_t)max_body,
        .idle_s = (unsigned)idle,
        .max_conns = (unsigned)max_conns,
        .heap_in_use = heap_in_use,
        .tcp_stats = tcp_stats_json,
        /* the store aborts when memory runs out: refuse writes (507) well before */
        .max_store_bytes = memory.pages_free * 4096 / 2,
    };
    struct server server = {.request_limit = (uint64_t)requests, .idle_ns = (uint64_t)idle * NS_PER_S};
    server.state = serve_state_new(&config, wall_clock_s);
    if (server.state == NULL) {
        printf("serve: out of memory\n");
        return EXIT_FAIL;
    }
    int err = tcp_server_listen((uint16_t)port, (unsigned)max_conns, &server.listener);
    if (err != 0) {
        printf("serve: cannot listen on port %ld: %s\n", port, err_name(err));
        return EXIT_FAIL;
    }
    uint32_t address;
    net_stack_get_ipv4(net_stack(), &address, NULL, NULL);
    char text[16];
    ipv4_format(address, text);
    printf("serve: listening on %s:%ld\n", text, port);
    /* the listener takes both families: name the IPv6 addresses that are usable now */
    struct net_ipv6_address addresses[8];
    size_t count = net_ipv6_addresses(net_stack(), addresses, 8);
    for (size_t i = 0; i < count && i < 8; i++) {
        if (addresses[i].state != NET_IPV6_PREFERRED) continue;
        struct ip_addr address6 = ip_addr_from_v6(addresses[i].address);
        char text6[IP_ADDR_TEXT_MAX];
        printf("serve: listening on [%s]:%ld\n", ip_addr_format(&address6, text6, sizeof text6), port);
    }
    err = sw_run("serve", serve_body, &server);
    tcp_server_close(server.listener);
    drain_tcp();
    struct serve_stats stats;
    serve_get_stats(server.state, &stats);
    printf("serve: %lu requests served (2xx %lu, 3xx %lu, 4xx %lu, 5xx %lu), %lu connections served, %lu refused\n",
           stats.requests_served, stats.responses[2], stats.responses[3], stats.responses[4], stats.responses[5],
           stats.connections_served, stats.connections_refused);
    net_print_stats();
    if (err != 0 && err != SERVE_STOPPED) {
        printf("serve: stopped: %s\n", err_name(err));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
