/*
 * net/socket.h: TCP and UDP sockets for fibers (in the spirit of Eio's Net), over the stack that
 * net_start() brought up.
 *
 * Every call that waits suspends only the calling fiber. A wait ends when the socket becomes
 * ready (the stack's notifications resume the fiber), when `timeout_ns` (relative, nanoseconds;
 * NET_NO_TIMEOUT waits for ever) has passed (ERR_TIMEOUT), or when the fiber's switch is
 * cancelled (ERR_CANCELLED, as at any suspension point). A cancelled or timed-out call leaves the
 * socket usable: nothing was half-done that the next call cannot continue (a partial write
 * reports how far it got through `written`).
 *
 * Several fibers may wait on one socket (say, one reading and one writing); every notification
 * wakes them all and each re-checks its own condition. A socket belongs to the caller until
 * closed; closing it with fibers still waiting on it is a bug the layer panics on.
 *
 * The promise forms (Lwt style) run the same calls in a fiber of the given switch and resolve
 * with their result.
 *
 * Addresses are struct ip_addr (net/ip_addr.h): the sockets serve IPv4 and IPv6 alike (a dual
 * stack). A server listens on both families; a connection or a datagram goes over the family of
 * the address given, from the interface's address of that family.
 */
#ifndef NET_SOCKET_H
#define NET_SOCKET_H

#include "base/base.h"
#include "base/err.h"
#include "net/ip_addr.h"
#include "promise/promise.h"
#include "sched/sched.h"

#define NET_NO_TIMEOUT UINT64_MAX

struct tcp_socket;
struct tcp_server;
struct udp_socket;

/* ---- TCP ---------------------------------------------------------------------------------- */
/* Listens on `port` of every interface address, IPv4 and IPv6; `backlog` bounds connections not
 * yet accepted. */
int tcp_server_listen(uint16_t port, unsigned backlog, struct tcp_server **out) MUST_CHECK;
int tcp_server_accept(struct tcp_server *server, uint64_t timeout_ns, struct tcp_socket **out) MUST_CHECK;
void tcp_server_close(struct tcp_server *server);

/* ERR_UNREACHABLE when the interface has no address of `ip`'s family. */
int tcp_socket_connect(const struct ip_addr *ip, uint16_t port, uint64_t timeout_ns, struct tcp_socket **out) MUST_CHECK;
/* Some bytes (> 0), 0 at the end of the peer's stream, or an error. */
long tcp_socket_read(struct tcp_socket *socket, void *buffer, size_t length, uint64_t timeout_ns) MUST_CHECK;
/* All `length` bytes (0), or an error; *written (if not NULL) says how many were queued. */
int tcp_socket_write(struct tcp_socket *socket, const void *data, size_t length, uint64_t timeout_ns, size_t *written) MUST_CHECK;
/* Sends FIN after what is queued; reading goes on. */
int tcp_socket_shutdown(struct tcp_socket *socket);
/* Graceful close (queued data and FIN still go out); unread data makes it a reset. */
void tcp_socket_close(struct tcp_socket *socket);
/* Reset. */
void tcp_socket_abort(struct tcp_socket *socket);
void tcp_socket_peer(const struct tcp_socket *socket, struct ip_addr *ip, uint16_t *port);
void tcp_socket_set_nodelay(struct tcp_socket *socket, bool nodelay);

/* ---- UDP ---------------------------------------------------------------------------------- */
/* port 0: an ephemeral port, for both families. Datagrams wait in a bounded queue
 * (UDP_SOCKET_QUEUE); more are dropped. */
#define UDP_SOCKET_QUEUE 64
int udp_socket_bind(uint16_t port, struct udp_socket **out) MUST_CHECK;
/* One datagram (truncated to `length`; returns its full size), its source in *ip, *port. */
long udp_socket_recvfrom(struct udp_socket *socket, void *buffer, size_t length, struct ip_addr *ip, uint16_t *port,
                         uint64_t timeout_ns) MUST_CHECK;
int udp_socket_sendto(struct udp_socket *socket, const struct ip_addr *ip, uint16_t port, const void *data,
                      size_t length) MUST_CHECK;
uint16_t udp_socket_port(const struct udp_socket *socket);
void udp_socket_close(struct udp_socket *socket);

/* ---- promise forms ------------------------------------------------------------------------- */
/* Resolves with the accepted struct tcp_socket * (as uintptr_t). */
promise_t *tcp_server_accept_p(struct sw *sw, struct tcp_server *server, uint64_t timeout_ns);
/* Resolves with the byte count (0 at end of stream). */
promise_t *tcp_socket_read_p(struct sw *sw, struct tcp_socket *socket, void *buffer, size_t length, uint64_t timeout_ns);
/* Resolves with 0 once everything is queued. */
promise_t *tcp_socket_write_p(struct sw *sw, struct tcp_socket *socket, const void *data, size_t length, uint64_t timeout_ns);

#endif
