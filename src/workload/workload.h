/*
 * workload/workload.h: the workloads the kernel can run, chosen by the first word of the
 * command line after the image name (cmdline/cmdline.h). Each returns the exit value written
 * to isa-debug-exit: EXIT_OK (0, process status 1) on success, EXIT_FAIL (1, status 3) on
 * failure (arch/arch.h).
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <stddef.h>

struct workload {
    const char *name;
    const char *summary;
    int (*main)(void);
};

const struct workload *workload_find(const char *name);
/* "bench, fault, selftest" */
void workload_names(char *buf, size_t size);

int bench_main(void);
int selftest_main(void);
int fault_main(void);
int ping_main(void);
int netbench_main(void);
int serve_main(void);

#endif
