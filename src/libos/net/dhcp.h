/*
 * net/dhcp.h: the DHCP client (RFC 2131) for a stack's interface, portable and poll-driven like
 * the stack.
 *
 * INIT sends DISCOVER and waits for an OFFER, REQUESTING asks for the offered address, an ACK
 * binds it (net_stack_set_ipv4: mask from option 1, gateway from option 3) and a NAK starts over.
 * While BOUND the client renews at T1 (option 58, else half the lease) by unicast to the server,
 * rebinds at T2 (option 59, else 7/8 of the lease) by broadcast, and at the end of the lease
 * drops the address and starts over. Requests are retransmitted after 1, 2, 4, 8, then every 16
 * seconds (RFC 2131 §4.1 suggests 4 s doubling; shorter first tries boot faster on a NAT that
 * answers at once), each with a new random transaction id per exchange.
 */
#ifndef NET_DHCP_H
#define NET_DHCP_H

#include "net/stack.h"

struct dhcp_client;

enum dhcp_state { DHCP_INIT, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND, DHCP_RENEWING, DHCP_REBINDING };

struct dhcp_lease {
    uint32_t address, gateway, dns, server;
    unsigned prefix;
    uint32_t lease_s, renew_s, rebind_s;
};

/* `on_bound` runs each time a lease is bound or renewed (may be NULL). Binds UDP port 68. */
struct dhcp_client *dhcp_client_new(struct net_stack *stack, void (*on_bound)(void *ctx, const struct dhcp_lease *lease),
                                    void *ctx);
void dhcp_client_free(struct dhcp_client *client);
void dhcp_client_start(struct dhcp_client *client, uint64_t now_ns);
void dhcp_client_timers(struct dhcp_client *client, uint64_t now_ns);
uint64_t dhcp_client_next_deadline(const struct dhcp_client *client);
enum dhcp_state dhcp_client_state(const struct dhcp_client *client);
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *client); /* NULL unless bound */

#endif
