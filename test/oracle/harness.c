// The hardware oracle's native half: runs x86-64 instruction sequences on the host CPU, at CPL 3,
// from a fully specified register state, and reports the final state (or the exception) of each.
// Built by gcc at test time (test/oracle/native.ts); protocol and layout in docs/oracle.md.
//
// One process runs many cases: stdin carries a stream of case records, stdout gets one result record
// per case, in order, written as soon as the case ends. For each case the harness
//   - copies the code to CODE_ADDR, followed by `jmp [rip+0]; .quad exit_stub`,
//   - fills the scratch region (SCRATCH_ADDR, two pages, guard pages unmapped on both sides) from the
//     case's 32-bit seed with xorshift32, then applies the case's byte patches,
//   - loads all 16 GPRs, RFLAGS (popfq), XMM0-15 and MXCSR and jumps to the code;
//   - the exit stub stores them back (RIP = the end of the code) and returns to C;
//   - a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) is taken on an alternate signal stack: the
//     handler records the state from the ucontext (the state at the faulting instruction), the vector
//     (trapno) and error code, and redirects the context to fault_return, which returns to C;
//   - a case still running after two ticks of a 200 ms CPU-time interval timer (ITIMER_PROF, so a
//     case the kernel puts to sleep, e.g. Intel's split-lock throttling of a locked access across
//     cache lines, or one that waits for a busy machine's CPU, is not taken for a runaway) is
//     reported as a timeout.
// The scratch region's changes are reported as (offset, length, bytes) runs against its initial content.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x10000000UL
#define CODE_SIZE 0x1000UL
#define SCRATCH_ADDR 0x20000000UL
#define SCRATCH_SIZE 0x2000UL
#define MAX_CODE (CODE_SIZE - 64)
#define STUB_JUMP_LEN 14

#define IN_MAGIC 0x4943524fu  /* "ORCI" */
#define OUT_MAGIC 0x4f43524fu /* "ORCO" */
#define IN_HEADER 416
#define OUT_HEADER 448

enum { OUTCOME_DONE = 0, OUTCOME_EXCEPTION = 1, OUTCOME_TIMEOUT = 2 };

// Guest register file; the assembly below uses these offsets.
struct guest_state {
  uint64_t gpr[16];  // 0: rax rcx rdx rbx rsp rbp rsi rdi r8..r15
  uint64_t rip;      // 128
  uint64_t rflags;   // 136
  uint64_t xmm[32];  // 144: xmm i = [2i] low, [2i+1] high
  uint32_t mxcsr;    // 400
  uint32_t pad;
};
_Static_assert(sizeof(struct guest_state) == 408, "guest_state layout");

struct guest_state g_in __attribute__((aligned(16)));
struct guest_state g_out __attribute__((aligned(16)));
uint64_t g_harness_rsp;
uint64_t g_entry = CODE_ADDR;
uint32_t g_default_mxcsr = 0x1f80;

static volatile sig_atomic_t g_in_guest;
static volatile uint64_t g_case_counter;
static volatile uint64_t g_alarm_seen = ~0ull;
static int g_outcome;
static int g_signo, g_si_code;
static uint32_t g_vector, g_error_code;
static uint64_t g_cr2;

extern int run_guest(void);
extern char exit_stub[], fault_return[];

__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl run_guest\n"
    "run_guest:\n"
    "  push rbx\n  push rbp\n  push r12\n  push r13\n  push r14\n  push r15\n"
    "  mov [rip+g_harness_rsp], rsp\n"
    "  fninit\n"
    "  ldmxcsr [rip+g_in+400]\n"
    "  movdqu xmm0, [rip+g_in+144]\n  movdqu xmm1, [rip+g_in+160]\n"
    "  movdqu xmm2, [rip+g_in+176]\n  movdqu xmm3, [rip+g_in+192]\n"
    "  movdqu xmm4, [rip+g_in+208]\n  movdqu xmm5, [rip+g_in+224]\n"
    "  movdqu xmm6, [rip+g_in+240]\n  movdqu xmm7, [rip+g_in+256]\n"
    "  movdqu xmm8, [rip+g_in+272]\n  movdqu xmm9, [rip+g_in+288]\n"
    "  movdqu xmm10, [rip+g_in+304]\n  movdqu xmm11, [rip+g_in+320]\n"
    "  movdqu xmm12, [rip+g_in+336]\n  movdqu xmm13, [rip+g_in+352]\n"
    "  movdqu xmm14, [rip+g_in+368]\n  movdqu xmm15, [rip+g_in+384]\n"
    "  push qword ptr [rip+g_in+136]\n"
    "  popfq\n"
    // From here on nothing may change the flags: only MOVs.
    "  mov rax, [rip+g_in+0]\n  mov rcx, [rip+g_in+8]\n  mov rdx, [rip+g_in+16]\n  mov rbx, [rip+g_in+24]\n"
    "  mov rsp, [rip+g_in+32]\n  mov rbp, [rip+g_in+40]\n  mov rsi, [rip+g_in+48]\n  mov rdi, [rip+g_in+56]\n"
    "  mov r8, [rip+g_in+64]\n  mov r9, [rip+g_in+72]\n  mov r10, [rip+g_in+80]\n  mov r11, [rip+g_in+88]\n"
    "  mov r12, [rip+g_in+96]\n  mov r13, [rip+g_in+104]\n  mov r14, [rip+g_in+112]\n  mov r15, [rip+g_in+120]\n"
    "  jmp qword ptr [rip+g_entry]\n"
    "\n"
    ".globl exit_stub\n"
    "exit_stub:\n"
    "  mov [rip+g_out+0], rax\n  mov [rip+g_out+8], rcx\n  mov [rip+g_out+16], rdx\n  mov [rip+g_out+24], rbx\n"
    "  mov [rip+g_out+32], rsp\n  mov [rip+g_out+40], rbp\n  mov [rip+g_out+48], rsi\n  mov [rip+g_out+56], rdi\n"
    "  mov [rip+g_out+64], r8\n  mov [rip+g_out+72], r9\n  mov [rip+g_out+80], r10\n  mov [rip+g_out+88], r11\n"
    "  mov [rip+g_out+96], r12\n  mov [rip+g_out+104], r13\n  mov [rip+g_out+112], r14\n  mov [rip+g_out+120], r15\n"
    "  mov rsp, [rip+g_harness_rsp]\n"
    "  pushfq\n"
    "  pop qword ptr [rip+g_out+136]\n"
    "  movdqu [rip+g_out+144], xmm0\n  movdqu [rip+g_out+160], xmm1\n"
    "  movdqu [rip+g_out+176], xmm2\n  movdqu [rip+g_out+192], xmm3\n"
    "  movdqu [rip+g_out+208], xmm4\n  movdqu [rip+g_out+224], xmm5\n"
    "  movdqu [rip+g_out+240], xmm6\n  movdqu [rip+g_out+256], xmm7\n"
    "  movdqu [rip+g_out+272], xmm8\n  movdqu [rip+g_out+288], xmm9\n"
    "  movdqu [rip+g_out+304], xmm10\n  movdqu [rip+g_out+320], xmm11\n"
    "  movdqu [rip+g_out+336], xmm12\n  movdqu [rip+g_out+352], xmm13\n"
    "  movdqu [rip+g_out+368], xmm14\n  movdqu [rip+g_out+384], xmm15\n"
    "  stmxcsr [rip+g_out+400]\n"
    "  ldmxcsr [rip+g_default_mxcsr]\n"
    "  push 0x202\n"
    "  popfq\n"
    "  xor eax, eax\n"
    "  jmp 1f\n"
    "\n"
    ".globl fault_return\n"
    "fault_return:\n"
    "  mov rsp, [rip+g_harness_rsp]\n"
    "  ldmxcsr [rip+g_default_mxcsr]\n"
    "  mov eax, 1\n"
    "1:\n"
    "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbp\n  pop rbx\n"
    "  ret\n"
    ".att_syntax prefix\n");

static uint8_t *const code_page = (uint8_t *)CODE_ADDR;
static uint8_t *const scratch = (uint8_t *)SCRATCH_ADDR;
static uint8_t scratch_initial[SCRATCH_SIZE];

static uint8_t out_buffer[OUT_HEADER + SCRATCH_SIZE * 2];

static void die(const char *what) {
  fprintf(stderr, "oracle harness: %s: %s\n", what, strerror(errno));
  exit(3);
}

static int write_all(const void *data, size_t size) {
  const uint8_t *p = data;
  while (size > 0) {
    ssize_t n = write(1, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    size -= (size_t)n;
  }
  return 0;
}

/** Vectors that push an error code (#DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP). */
static int has_error_code(uint32_t vector) {
  return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

static void on_signal(int sig, siginfo_t *info, void *context) {
  ucontext_t *uc = context;
  greg_t *gregs = uc->uc_mcontext.gregs;
  uint64_t rip = (uint64_t)gregs[REG_RIP];
  if (sig == SIGPROF) {
    if (!g_in_guest || rip < CODE_ADDR || rip >= CODE_ADDR + CODE_SIZE) return;
    if (g_alarm_seen != g_case_counter) {
      g_alarm_seen = g_case_counter;
      return;
    }
    g_outcome = OUTCOME_TIMEOUT;
  } else {
    if (!g_in_guest) {
      // A fault in the harness itself: die with this signal (the runner restarts us after this case).
      signal(sig, SIG_DFL);
      return;
    }
    g_outcome = OUTCOME_EXCEPTION;
  }
  g_in_guest = 0;
  g_signo = sig;
  g_si_code = info->si_code;
  g_vector = sig == SIGPROF ? 0xffffffffu : (uint32_t)gregs[REG_TRAPNO];
  g_error_code = sig != SIGPROF && has_error_code(g_vector) ? (uint32_t)gregs[REG_ERR] : 0xffffffffu;
  g_cr2 = g_vector == 14 ? (uint64_t)gregs[REG_CR2] : 0;
  static const int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
  for (int i = 0; i < 16; i++) g_out.gpr[i] = (uint64_t)gregs[order[i]];
  g_out.rip = rip;
  g_out.rflags = (uint64_t)gregs[REG_EFL];
  struct _libc_fpstate *fp = uc->uc_mcontext.fpregs;
  if (fp) {
    memcpy(g_out.xmm, fp->_xmm, sizeof g_out.xmm);
    g_out.mxcsr = fp->mxcsr;
    fp->mxcsr = g_default_mxcsr;
  }
  // Resume in fault_return on the harness stack with clean flags (DF=0, TF=0, AC=0).
  gregs[REG_RIP] = (greg_t)(uintptr_t)fault_return;
  gregs[REG_RSP] = (greg_t)g_harness_rsp;
  gregs[REG_EFL] = 0x202;
}

static void fill_scratch(uint32_t seed) {
  uint32_t x = seed ? seed : 0x9e3779b9u;
  uint32_t *words = (uint32_t *)scratch_initial;
  for (size_t i = 0; i < SCRATCH_SIZE / 4; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

static void setup(void) {
  void *code = mmap((void *)CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (void *)CODE_ADDR) die("mmap code page");
  memset(code_page, 0xcc, CODE_SIZE);
  void *data = mmap((void *)SCRATCH_ADDR, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (data != (void *)SCRATCH_ADDR) die("mmap scratch");
  // The pages around the scratch region must stay unmapped: reserve-and-release proves they are free.
  for (uint64_t guard = SCRATCH_ADDR - 0x1000; guard <= SCRATCH_ADDR + SCRATCH_SIZE; guard += SCRATCH_SIZE + 0x1000) {
    void *probe = mmap((void *)guard, 0x1000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe != (void *)guard) die("guard page is mapped");
    munmap(probe, 0x1000);
  }

  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) die("sigaltstack");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGPROF};
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (sigaction(signals[i], &sa, NULL) != 0) die("sigaction");
  }
  struct itimerval timer = {.it_interval = {0, 200000}, .it_value = {0, 200000}};
  if (setitimer(ITIMER_PROF, &timer, NULL) != 0) die("setitimer");
}

/** Buffered reader over stdin. */
static uint8_t in_buffer[1 << 20];
static size_t in_start, in_end;

static int read_exact(void *dest, size_t size) {
  uint8_t *d = dest;
  while (size > 0) {
    if (in_start == in_end) {
      ssize_t n = read(0, in_buffer, sizeof in_buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      in_start = 0;
      in_end = (size_t)n;
    }
    size_t take = in_end - in_start < size ? in_end - in_start : size;
    memcpy(d, in_buffer + in_start, take);
    in_start += take;
    d += take;
    size -= take;
  }
  return 0;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

int main(void) {
  setup();
  uint8_t header[IN_HEADER];
  uint8_t code[MAX_CODE];
  for (;;) {
    if (read_exact(header, 4) != 0) break; // end of input
    if (read_exact(header + 4, IN_HEADER - 4) != 0) {
      fprintf(stderr, "oracle harness: truncated case header\n");
      return 2;
    }
    if (le32(header) != IN_MAGIC) {
      fprintf(stderr, "oracle harness: bad case magic %08x\n", le32(header));
      return 2;
    }
    uint32_t case_id = le32(header + 4);
    uint32_t seed = le32(header + 8);
    uint16_t code_len = le16(header + 12);
    uint16_t patches = le16(header + 14);
    if (code_len > MAX_CODE) {
      fprintf(stderr, "oracle harness: case %u: code too long (%u bytes)\n", case_id, code_len);
      return 2;
    }
    memcpy(g_in.gpr, header + 16, 128);
    memcpy(&g_in.rflags, header + 144, 8);
    memcpy(g_in.xmm, header + 152, 256);
    memcpy(&g_in.mxcsr, header + 408, 4);
    if (read_exact(code, code_len) != 0) {
      fprintf(stderr, "oracle harness: truncated code\n");
      return 2;
    }
    fill_scratch(seed);
    for (uint16_t i = 0; i < patches; i++) {
      uint8_t patch[4];
      if (read_exact(patch, 4) != 0) {
        fprintf(stderr, "oracle harness: truncated patch\n");
        return 2;
      }
      uint16_t offset = le16(patch), length = le16(patch + 2);
      if ((size_t)offset + length > SCRATCH_SIZE) {
        fprintf(stderr, "oracle harness: case %u: patch outside the scratch region\n", case_id);
        return 2;
      }
      if (read_exact(scratch_initial + offset, length) != 0) {
        fprintf(stderr, "oracle harness: truncated patch bytes\n");
        return 2;
      }
    }
    memcpy(scratch, scratch_initial, SCRATCH_SIZE);
    memcpy(code_page, code, code_len);
    // jmp qword ptr [rip+0]; .quad exit_stub
    uint8_t *stub = code_page + code_len;
    stub[0] = 0xff;
    stub[1] = 0x25;
    memset(stub + 2, 0, 4);
    uint64_t target = (uint64_t)(uintptr_t)exit_stub;
    memcpy(stub + 6, &target, 8);

    g_outcome = OUTCOME_DONE;
    g_case_counter++;
    g_in_guest = 1;
    int faulted = run_guest();
    g_in_guest = 0;
    if (!faulted) {
      g_out.rip = CODE_ADDR + code_len;
      g_signo = 0;
      g_si_code = 0;
      g_vector = 0xffffffffu;
      g_error_code = 0xffffffffu;
      g_cr2 = 0;
    }
    memset(code_page, 0xcc, code_len + STUB_JUMP_LEN);

    uint8_t *out = out_buffer;
    put32(out + 0, OUT_MAGIC);
    put32(out + 4, case_id);
    put32(out + 8, (uint32_t)g_outcome);
    put32(out + 12, (uint32_t)g_signo);
    put32(out + 16, (uint32_t)g_si_code);
    put32(out + 20, g_vector);
    put32(out + 24, g_error_code);
    put64(out + 32, g_cr2);
    memcpy(out + 40, g_out.gpr, 128);
    put64(out + 168, g_out.rip);
    put64(out + 176, g_out.rflags);
    memcpy(out + 184, g_out.xmm, 256);
    put32(out + 440, g_out.mxcsr);
    put32(out + 444, 0);
    // Changed scratch bytes as runs; runs separated by fewer than 8 equal bytes are merged.
    uint32_t runs = 0;
    size_t pos = OUT_HEADER;
    for (size_t i = 0; i < SCRATCH_SIZE;) {
      if (scratch[i] == scratch_initial[i]) {
        i++;
        continue;
      }
      size_t start = i, end = i + 1, j = i + 1;
      while (j < SCRATCH_SIZE && j < end + 8) {
        if (scratch[j] != scratch_initial[j]) end = j + 1;
        j++;
      }
      out[pos] = (uint8_t)start;
      out[pos + 1] = (uint8_t)(start >> 8);
      out[pos + 2] = (uint8_t)(end - start);
      out[pos + 3] = (uint8_t)((end - start) >> 8);
      memcpy(out + pos + 4, scratch + start, end - start);
      pos += 4 + (end - start);
      runs++;
      i = end;
    }
    put32(out + 28, runs);
    if (write_all(out, pos) != 0) die("write");
  }
  return 0;
}
