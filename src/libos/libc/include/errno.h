/* <errno.h> for the libos: one global errno (single CPU, cooperative fibers). */
#ifndef LIBOS_ERRNO_H
#define LIBOS_ERRNO_H

extern int errno;

#define EINVAL 22
#define ERANGE 34
#define ENOMEM 12

#endif
