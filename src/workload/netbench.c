/*
 * workload/netbench.c: bulk TCP to or from a server on the host.
 *
 *   netbench host=10.0.2.2 port=P bytes=N dir=send|recv [ip=... gw=...]
 *
 * host= is an IPv4 or an IPv6 address (fec0::2 is the host under QEMU's user networking).
 *
 * send: connects, writes N bytes of a fixed pattern (byte i is (i * 7 + i / 251) & 255), closes,
 * and waits for the server's end of stream. recv: connects, reads until the server closes (or N
 * bytes when N > 0). Either way it prints the byte count, the BLAKE2b-512 digest of the bytes
 * moved and the rate, and exits 0 when the byte count is N.
 */
#include "arch/arch.h"
#include "cmdline/cmdline.h"
#include "irmin/blake2b.h"
#include "net/net.h"
#include "net/socket.h"
#include "time/time.h"
#include "workload.h"
#include <stdio.h>
#include <string.h>

#define CHUNK 16384
#define TIMEOUT_NS (30ull * 1000000000ull)

static uint8_t pattern_byte(uint64_t i) { return (uint8_t)((i * 7 + i / 251) & 255); }

static void print_result(const char *dir, uint64_t bytes, struct blake2b_state *hash, uint64_t elapsed_ns) {
    uint8_t digest[64];
    blake2b_final(hash, digest);
    char hex[129];
    for (int i = 0; i < 64; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    uint64_t kib_per_s = elapsed_ns ? bytes * 1000000000ull / elapsed_ns / 1024 : 0;
    printf("netbench: %s %lu bytes in %lu.%03lu s, %lu.%02lu MiB/s, blake2b-512 %s\n", dir, bytes, elapsed_ns / 1000000000,
           elapsed_ns / 1000000 % 1000, kib_per_s / 1024, kib_per_s % 1024 * 100 / 1024, hex);
}

int netbench_main(void) {
    const char *host_text = arg_str("host", "10.0.2.2");
    int64_t port = arg_int("port", 0);
    int64_t bytes = arg_int("bytes", 1 << 20);
    const char *dir = arg_str("dir", "send");
    struct ip_addr host;
    if (ip_addr_parse(host_text, &host) != 0) cmdline_usage_error("netbench: host=%s is not an IP address", host_text);
    if (port < 1 || port > 65535) cmdline_usage_error("netbench: port= must be 1..65535");
    if (bytes < 0) cmdline_usage_error("netbench: bytes= must be >= 0");
    bool sending = strcmp(dir, "send") == 0;
    if (!sending && strcmp(dir, "recv") != 0) cmdline_usage_error("netbench: dir= must be send or recv");
    if (net_start() != 0) return EXIT_FAIL;
    args_done();

    struct tcp_socket *socket;
    int err = tcp_socket_connect(&host, (uint16_t)port, TIMEOUT_NS, &socket);
    if (err != 0) {
        printf("netbench: connect to %s:%ld: %s\n", host_text, port, err_name(err));
        return EXIT_FAIL;
    }
    static uint8_t buffer[CHUNK];
    struct blake2b_state hash;
    blake2b_init512(&hash);
    uint64_t started = time_now_ns(), moved = 0;
    if (sending) {
        while (moved < (uint64_t)bytes) {
            size_t n = (size_t)MIN((uint64_t)CHUNK, (uint64_t)bytes - moved);
            for (size_t i = 0; i < n; i++) buffer[i] = pattern_byte(moved + i);
            blake2b_update(&hash, buffer, n);
            if ((err = tcp_socket_write(socket, buffer, n, TIMEOUT_NS, NULL)) != 0) break;
            moved += n;
        }
        if (err == 0) err = tcp_socket_shutdown(socket);
        /* the server closes after reading everything: wait for that */
        while (err == 0) {
            long n = tcp_socket_read(socket, buffer, sizeof buffer, TIMEOUT_NS);
            if (n <= 0) {
                err = (int)n;
                break;
            }
        }
    } else {
        for (;;) {
            long n = tcp_socket_read(socket, buffer, sizeof buffer, TIMEOUT_NS);
            if (n < 0) err = (int)n;
            if (n <= 0) break;
            blake2b_update(&hash, buffer, (size_t)n);
            moved += (uint64_t)n;
            if (bytes > 0 && moved >= (uint64_t)bytes) break;
        }
    }
    uint64_t elapsed = time_now_ns() - started;
    tcp_socket_close(socket);
    print_result(sending ? "sent" : "received", moved, &hash, elapsed);
    if (err != 0) printf("netbench: %s\n", err_name(err));
    net_print_stats();
    return err == 0 && (moved == (uint64_t)bytes || (!sending && bytes == 0)) ? EXIT_OK : EXIT_FAIL;
}
