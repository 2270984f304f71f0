/* arch/arch_internal.h: entry points shared inside the arch layer (and called from isr.S). */
#ifndef LIBOS_ARCH_INTERNAL_H
#define LIBOS_ARCH_INTERNAL_H

#include "arch/arch.h"

void trap_dispatch(struct trap_frame *frame); /* isr.S -> trap.c */
void pic_dispatch(unsigned irq);              /* trap.c -> pic.c */

#endif
