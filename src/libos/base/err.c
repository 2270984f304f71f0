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
    default: {
        static char buf[24];
        snprintf(buf, sizeof(buf), "error %d", err);
        return buf;
    }
    }
}
