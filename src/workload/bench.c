/*
 * workload/bench.c: the Irmin store benchmark (DESIGN.md §4) lands in issue 5.
 */
#include "arch/arch.h"
#include "workload.h"
#include <stdio.h>

int bench_main(void) {
    printf("bench: not implemented yet (issue 5)\n");
    return EXIT_FAIL;
}
