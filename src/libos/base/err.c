/* base/err.c: names of the ERR_* codes. */
#include "base/err.h"
#include <stdio.h>

const char *err_name(int err) {
    switch (err) {
    case ERR_OK: return "ok";
    case ERR_NOMEM: return "out of memory";
    case ERR_INVAL: return "invalid argument";
    case ERR_CANCELLED: return "cancelled";
    case ERR_FAILED: return "failed";
    case ERR_RANGE: return "out of range";
    case ERR_NOENT: return "not found";
    case ERR_EXIST: return "already exists";
    case ERR_TIMEOUT: return "timed out";
    case ERR_BUSY: return "busy";
    case ERR_AGAIN: return "try again";
    case ERR_CONNREFUSED: return "connection refused";
    case ERR_CONNRESET: return "connection reset by peer";
    case ERR_CONNABORTED: return "connection aborted";
    case ERR_ADDRINUSE: return "address in use";
    case ERR_NOTCONN: return "not connected";
    case ERR_UNREACHABLE: return "unreachable";
    case ERR_MSGSIZE: return "message too long";
    default: {
        static char buf[24];
        snprintf(buf, sizeof(buf), "error %d", err);
        return buf;
    }
    }
}
