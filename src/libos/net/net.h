/*
 * net/net.h: the network on the libos: net_start() brings up the first network device and one
 * IPv4 stack over it (net/stack.h), configured by DHCP (net/dhcp.h; the default, `ip=dhcp`) or
 * from the command line (`ip=10.0.2.15/24 gw=10.0.2.2`), and drives the stack from the scheduler: a poller takes the device's received
 * frames and the stack's due timers; fibers never poll.
 *
 * After IPv4, IPv6 comes up (`ip6=auto`, the default: link-local address, router solicitation,
 * SLAAC; `ip6=ADDR/PREFIX gw6=ADDR` static; `ip6=off`), waiting at most `ip6_timeout=` seconds
 * (default 3) for duplicate address detection and a router; each address is logged as it becomes
 * preferred:  [INFO] net: eth0 fe80::5054:ff:fe12:3456/64 (link-local)
 *
 * Only workloads that use the network call net_start(); the others boot exactly as before.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include "net/netdev.h"
#include "net/stack.h"

/* Brings the network up (once; with DHCP it waits up to `dhcp_timeout=` seconds, default 10,
 * for a lease); 0, or an error after logging what is missing. Logs the bound address the way the
 * boot log reads:  [INFO] net: eth0 10.0.2.15/24 gw 10.0.2.2 dns 10.0.2.3 (dhcp from 10.0.2.2, ...) */
int net_start(void);
struct net_stack *net_stack(void); /* NULL before net_start succeeded */
struct netdev *net_device(void);
/* Prints the device and stack counters, one line each (`netstat -i`/`-s` in brief). */
void net_print_stats(void);

#endif
