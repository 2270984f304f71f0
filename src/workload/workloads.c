/* workload/workloads.c: the workload table. */
#include "workload.h"
#include "base/base.h"
#include <stdio.h>
#include <string.h>

static const struct workload workloads[] = {
    {"bench", "the Irmin store benchmark (commits= depth= tree_add= display= clear= gc=)", bench_main},
    {"fault", "raise a CPU fault or a panic on purpose, to see the report (kind=...)", fault_main},
    {"netbench", "bulk TCP to or from a host server (host= port= bytes= dir=send|recv)", netbench_main},
    {"ping", "ICMP echo to a host, like ping (host= count= size= interval_ms= timeout_ms= ip= gw=)", ping_main},
    {"serve", "HTTP/1.1 server over the Irmin store (port= max_conns= idle= max_body= requests=; docs/serve.md)", serve_main},
    {"selftest", "check the library OS layers; exit 0 only if every check passes", selftest_main},
};

const struct workload *workload_find(const char *name) {
    for (size_t i = 0; i < ARRAY_SIZE(workloads); i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

void workload_names(char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < ARRAY_SIZE(workloads) && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", workloads[i].name);
}
