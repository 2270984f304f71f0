/*
 * base/err.h: error codes shared by the libos layers.
 *
 * Functions that can fail return an int: 0 for success, a negative ERR_* code from this list,
 * or (for workload code) any positive value of its own. err_name() names both kinds.
 */
#ifndef LIBOS_BASE_ERR_H
#define LIBOS_BASE_ERR_H

#define ERR_OK 0
#define ERR_NOMEM (-1)     /* out of memory */
#define ERR_INVAL (-2)     /* invalid argument */
#define ERR_CANCELLED (-3) /* the fiber's switch was cancelled (Eio's Cancelled) */
#define ERR_FAILED (-4)    /* generic failure */
#define ERR_RANGE (-5)     /* value out of range */
#define ERR_NOENT (-6)     /* no such entry */
#define ERR_EXIST (-7)     /* already exists */
#define ERR_TIMEOUT (-8)   /* timed out */
#define ERR_BUSY (-9)      /* resource busy / wrong state */

/* The network stack's (src/libos/net/). */
#define ERR_AGAIN (-20)       /* nothing to read / no room to write now: wait and retry */
#define ERR_CONNREFUSED (-21) /* the peer answered the connection attempt with RST */
#define ERR_CONNRESET (-22)   /* the connection was reset by the peer */
#define ERR_CONNABORTED (-23) /* the connection was aborted locally (timeout, close with unread data) */
#define ERR_ADDRINUSE (-24)   /* the address and port are taken */
#define ERR_NOTCONN (-25)     /* not connected, or already shut down in that direction */
#define ERR_UNREACHABLE (-26) /* no route, no ARP answer, or ICMP unreachable */
#define ERR_MSGSIZE (-27)     /* datagram too large */

/* "cancelled", "out of memory", ... or "error 7" for codes outside the list (static buffer). */
const char *err_name(int err);

#endif
