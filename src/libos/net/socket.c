/*
 * net/socket.c: sockets for fibers (net/socket.h) over net/stack.h and net/tcp/tcp.h.
 *
 * Waiting: a fiber that must wait puts a `waiter` (on its own stack) on the socket's list and
 * suspends; the stack's notification for the socket resumes every waiter, and a scheduler timer
 * resumes a waiter whose deadline passed. Either way the waiter leaves the list before the call
 * looks at the socket again, so the list only ever holds fibers that are suspended right now.
 */
#include "net/socket.h"
#include "alloc/alloc.h"
#include "log/log.h"
#include "net/net.h"
#include "net/tcp/tcp.h"
#include "time/time.h"
#include <string.h>

struct waiter {
    struct list_node link;
    struct fiber *fiber;
    struct sched_timer timer;
    bool timed_out;
};

struct wait_list {
    struct list_node waiters;
};

struct tcp_socket {
    struct tcp_conn *conn;
    struct wait_list wait;
};

struct tcp_server {
    struct tcp_listener *listener;
    struct wait_list wait;
};

struct datagram {
    struct ip_addr ip;
    uint16_t port;
    uint16_t length;
    uint8_t *data;
};

struct udp_socket {
    uint16_t port;
    struct wait_list wait;
    struct datagram queue[UDP_SOCKET_QUEUE];
    unsigned head, count;
    uint64_t dropped;
};

static uint64_t now(void) {
    uint64_t t = time_now_ns();
    net_stack_set_clock(net_stack(), t);
    return t;
}

static uint64_t deadline_of(uint64_t timeout_ns) {
    if (timeout_ns == NET_NO_TIMEOUT) return UINT64_MAX;
    uint64_t t = time_now_ns();
    return timeout_ns > UINT64_MAX - t ? UINT64_MAX : t + timeout_ns;
}

static void wake_all(struct wait_list *list) {
    struct list_node *pos;
    list_for_each(pos, &list->waiters) fiber_resume(list_entry(pos, struct waiter, link)->fiber);
}

static void waiter_timeout(struct sched_timer *timer) {
    struct waiter *w = container_of(timer, struct waiter, timer);
    w->timed_out = true;
    fiber_resume(w->fiber);
}

static void waiter_cancel(struct fiber *f, void *ctx) {
    (void)f;
    struct waiter *w = ctx;
    list_del(&w->link);
    list_init(&w->link);
    sched_timer_cancel(&w->timer);
}

/* Suspends until the list is woken or `deadline`; 0 (check again), ERR_TIMEOUT or ERR_CANCELLED. */
static int wait_on(struct wait_list *list, uint64_t deadline, const char *reason) {
    if (time_now_ns() >= deadline) return ERR_TIMEOUT;
    struct waiter w = {.fiber = fiber_self(), .timed_out = false};
    list_init(&w.timer.link);
    list_push_back(&list->waiters, &w.link);
    if (deadline != UINT64_MAX) sched_timer_start(&w.timer, deadline, waiter_timeout);
    int err = fiber_suspend(reason, waiter_cancel, &w);
    if (err != 0) return err; /* waiter_cancel already unlinked everything */
    list_del(&w.link);
    list_init(&w.link);
    sched_timer_cancel(&w.timer);
    return w.timed_out ? ERR_TIMEOUT : 0;
}

static void check_no_waiters(struct wait_list *list, const char *what) {
    if (!list_empty(&list->waiters)) panic("net: %s closed while a fiber still waits on it", what);
}

static void notify_wait_list(void *arg) { wake_all(arg); }

/* ---- TCP ------------------------------------------------------------------------------------------ */

static struct tcp_stack *tcp(void) { return net_stack_tcp(net_stack()); }

static struct tcp_socket *socket_for(struct tcp_conn *conn) {
    struct tcp_socket *s = kzalloc(sizeof *s);
    if (!s) return NULL;
    s->conn = conn;
    list_init(&s->wait.waiters);
    tcp_set_notify(conn, notify_wait_list, &s->wait);
    return s;
}

int tcp_server_listen(uint16_t port, unsigned backlog, struct tcp_server **out) {
    if (net_stack() == NULL) return ERR_NOTCONN;
    struct tcp_server *server = kzalloc(sizeof *server);
    if (!server) return ERR_NOMEM;
    list_init(&server->wait.waiters);
    struct ip_addr any = ip_addr_any();
    int err = tcp_listen(tcp(), &any, port, backlog, &server->listener);
    if (err != 0) {
        kfree(server);
        return err;
    }
    tcp_listener_set_notify(server->listener, notify_wait_list, &server->wait);
    *out = server;
    return 0;
}

int tcp_server_accept(struct tcp_server *server, uint64_t timeout_ns, struct tcp_socket **out) {
    uint64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        struct tcp_conn *conn;
        int err = tcp_accept(server->listener, &conn);
        if (err == 0) {
            struct tcp_socket *s = socket_for(conn);
            if (!s) {
                tcp_abort(conn, now());
                return ERR_NOMEM;
            }
            *out = s;
            return 0;
        }
        if (err != ERR_AGAIN) return err;
        if ((err = wait_on(&server->wait, deadline, "a TCP connection to accept")) != 0) return err;
    }
}

void tcp_server_close(struct tcp_server *server) {
    check_no_waiters(&server->wait, "a TCP server");
    tcp_listener_close(server->listener);
    kfree(server);
}

int tcp_socket_connect(const struct ip_addr *ip, uint16_t port, uint64_t timeout_ns, struct tcp_socket **out) {
    struct net_stack *stack = net_stack();
    if (stack == NULL) return ERR_NOTCONN;
    uint64_t deadline = deadline_of(timeout_ns);
    struct ip_addr local;
    int err = net_ip_source(stack, ip, &local);
    if (err != 0) return err;
    struct tcp_conn *conn;
    err = tcp_connect(tcp(), &local, ip, port, now(), &conn);
    if (err != 0) return err;
    struct tcp_socket *s = socket_for(conn);
    if (!s) {
        tcp_abort(conn, now());
        return ERR_NOMEM;
    }
    for (;;) {
        enum tcp_state state = tcp_conn_state(conn);
        if (state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT) break;
        if (state == TCP_CLOSED) {
            err = tcp_conn_error(conn);
            tcp_socket_abort(s);
            return err != 0 ? err : ERR_CONNREFUSED;
        }
        if ((err = wait_on(&s->wait, deadline, "a TCP connection to open")) != 0) {
            tcp_socket_abort(s);
            return err;
        }
    }
    *out = s;
    return 0;
}

long tcp_socket_read(struct tcp_socket *s, void *buffer, size_t length, uint64_t timeout_ns) {
    uint64_t deadline = deadline_of(timeout_ns);
    for (;;) {
        long n = tcp_recv(s->conn, buffer, length, now());
        if (n != ERR_AGAIN) return n;
        int err = wait_on(&s->wait, deadline, "TCP data");
        if (err != 0) return err;
    }
}

int tcp_socket_write(struct tcp_socket *s, const void *data, size_t length, uint64_t timeout_ns, size_t *written) {
    uint64_t deadline = deadline_of(timeout_ns);
    size_t done = 0;
    int err = 0;
    while (done < length) {
        long n = tcp_send(s->conn, (const uint8_t *)data + done, length - done, now());
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n != ERR_AGAIN) {
            err = (int)n;
            break;
        }
        if ((err = wait_on(&s->wait, deadline, "room in the TCP send buffer")) != 0) break;
    }
    if (written) *written = done;
    return err;
}

int tcp_socket_shutdown(struct tcp_socket *s) { return tcp_shutdown(s->conn, now()); }

void tcp_socket_close(struct tcp_socket *s) {
    check_no_waiters(&s->wait, "a TCP socket");
    tcp_close(s->conn, now());
    kfree(s);
}

void tcp_socket_abort(struct tcp_socket *s) {
    check_no_waiters(&s->wait, "a TCP socket");
    tcp_abort(s->conn, now());
    kfree(s);
}

void tcp_socket_peer(const struct tcp_socket *s, struct ip_addr *ip, uint16_t *port) {
    tcp_conn_endpoints(s->conn, NULL, NULL, ip, port);
}

void tcp_socket_set_nodelay(struct tcp_socket *s, bool nodelay) { tcp_set_nodelay(s->conn, nodelay); }

/* ---- UDP ------------------------------------------------------------------------------------------ */

static void udp_receive(void *ctx, const struct ip_addr *source, uint16_t source_port, const struct ip_addr *destination,
                        const uint8_t *data, size_t length, uint64_t now_ns) {
    (void)destination;
    (void)now_ns;
    struct udp_socket *s = ctx;
    if (s->count == UDP_SOCKET_QUEUE || length > 0xffff) {
        s->dropped++;
        return;
    }
    uint8_t *copy = length ? kmalloc(length) : NULL;
    if (length && !copy) {
        s->dropped++;
        return;
    }
    if (length) memcpy(copy, data, length);
    s->queue[(s->head + s->count) % UDP_SOCKET_QUEUE] =
        (struct datagram){.ip = *source, .port = source_port, .length = (uint16_t)length, .data = copy};
    s->count++;
    wake_all(&s->wait);
}

int udp_socket_bind(uint16_t port, struct udp_socket **out) {
    if (net_stack() == NULL) return ERR_NOTCONN;
    struct udp_socket *s = kzalloc(sizeof *s);
    if (!s) return ERR_NOMEM;
    list_init(&s->wait.waiters);
    int err = net_udp_bind(net_stack(), port, udp_receive, s, &s->port);
    if (err != 0) {
        kfree(s);
        return err;
    }
    *out = s;
    return 0;
}

long udp_socket_recvfrom(struct udp_socket *s, void *buffer, size_t length, struct ip_addr *ip, uint16_t *port,
                         uint64_t timeout_ns) {
    uint64_t deadline = deadline_of(timeout_ns);
    while (s->count == 0) {
        int err = wait_on(&s->wait, deadline, "a UDP datagram");
        if (err != 0) return err;
    }
    struct datagram *d = &s->queue[s->head];
    s->head = (s->head + 1) % UDP_SOCKET_QUEUE;
    s->count--;
    memcpy(buffer, d->data, MIN(length, (size_t)d->length));
    if (ip) *ip = d->ip;
    if (port) *port = d->port;
    long size = d->length;
    kfree(d->data);
    return size;
}

int udp_socket_sendto(struct udp_socket *s, const struct ip_addr *ip, uint16_t port, const void *data, size_t length) {
    return net_udp_send(net_stack(), s->port, ip, port, data, length, now());
}

uint16_t udp_socket_port(const struct udp_socket *s) { return s->port; }

void udp_socket_close(struct udp_socket *s) {
    check_no_waiters(&s->wait, "a UDP socket");
    net_udp_unbind(net_stack(), s->port);
    while (s->count > 0) {
        kfree(s->queue[s->head].data);
        s->head = (s->head + 1) % UDP_SOCKET_QUEUE;
        s->count--;
    }
    kfree(s);
}

/* ---- promise forms ---------------------------------------------------------------------------------- */

struct io_job {
    struct tcp_server *server;
    struct tcp_socket *socket;
    void *buffer;
    const void *data;
    size_t length;
    uint64_t timeout_ns;
};

static struct io_job *new_job(void) { return kzalloc(sizeof(struct io_job)); }

static int accept_job(void *arg, uintptr_t *value) {
    struct io_job *job = arg;
    struct tcp_socket *s = NULL;
    int err = tcp_server_accept(job->server, job->timeout_ns, &s);
    kfree(job);
    *value = (uintptr_t)s;
    return err;
}

static int read_job(void *arg, uintptr_t *value) {
    struct io_job *job = arg;
    long n = tcp_socket_read(job->socket, job->buffer, job->length, job->timeout_ns);
    kfree(job);
    if (n < 0) return (int)n;
    *value = (uintptr_t)n;
    return 0;
}

static int write_job(void *arg, uintptr_t *value) {
    struct io_job *job = arg;
    int err = tcp_socket_write(job->socket, job->data, job->length, job->timeout_ns, NULL);
    kfree(job);
    *value = 0;
    return err;
}

promise_t *tcp_server_accept_p(struct sw *sw, struct tcp_server *server, uint64_t timeout_ns) {
    struct io_job *job = new_job();
    if (!job) return promise_rejected(ERR_NOMEM);
    job->server = server;
    job->timeout_ns = timeout_ns;
    return promise_of_fiber(sw, "tcp-accept", accept_job, job);
}

promise_t *tcp_socket_read_p(struct sw *sw, struct tcp_socket *socket, void *buffer, size_t length, uint64_t timeout_ns) {
    struct io_job *job = new_job();
    if (!job) return promise_rejected(ERR_NOMEM);
    *job = (struct io_job){.socket = socket, .buffer = buffer, .length = length, .timeout_ns = timeout_ns};
    return promise_of_fiber(sw, "tcp-read", read_job, job);
}

promise_t *tcp_socket_write_p(struct sw *sw, struct tcp_socket *socket, const void *data, size_t length, uint64_t timeout_ns) {
    struct io_job *job = new_job();
    if (!job) return promise_rejected(ERR_NOMEM);
    *job = (struct io_job){.socket = socket, .data = data, .length = length, .timeout_ns = timeout_ns};
    return promise_of_fiber(sw, "tcp-write", write_job, job);
}
