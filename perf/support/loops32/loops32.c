// loops32: two 32-bit guest loops for comparing engines side by side (perf/v86.bench.ts): this
// emulator's JIT and interpreter, v86 with and without its JIT, and QEMU TCG. A multiboot 1 kernel
// (entry.S, loops32.ld) built with gcc -m32 and run with paging off. Its command line names the
// loop and the iteration count, `reg N` or `mem N` (other words are skipped: QEMU and this emulator
// put the image path first, v86 passes the arguments alone). It prints one line on COM1,
//
//   loops32 reg n=N checksum=<16 hex digits>
//
// and writes 0 to isa-debug-exit (port 0xf4: exit status 1 on QEMU and this emulator; v86 throws
// "HALT" out of its loop). test/perf-guests/loops32.test.ts recomputes the checksums with BigInts.
//
// - reg: xorshift64 (shifts 13, 7, 17) from Marsaglia's seed 88172645463325252; the checksum is the
//   64-bit sum of the states after each iteration. 64-bit shifts, XORs and the ADD/ADC pair in 32-bit
//   code: SHLD/SHRD, SHL/SHR, XOR, ADD, ADC, all in registers.
// - mem: FNV-1a 64 over a 64 KiB buffer, one byte per iteration (index i mod 65536); the buffer's
//   byte i is the low byte of the (i+1)-th xorshift32 (13, 17, 5) state from 2463534242. The 64-bit
//   multiply by the FNV prime in 32-bit code: MUL r/m32, IMUL, shifts, byte loads.
//
// Freestanding: no libgcc (no 64-bit division), no SSE, no x87.
#include <stdint.h>

#define BUFFER_BYTES 65536u
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define XORSHIFT64_SEED 88172645463325252ull
#define XORSHIFT32_SEED 2463534242u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u
#define MULTIBOOT_INFO_CMDLINE 0x4u

static uint8_t buffer[BUFFER_BYTES];

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
  return value;
}

static void put_char(char c) {
  while (!(inb(0x3fd) & 0x20)) {}
  outb(0x3f8, (uint8_t)c);
}
static void put_string(const char *text) {
  while (*text) put_char(*text++);
}
static void put_decimal(uint32_t value) {
  char digits[10];
  int count = 0;
  do {
    digits[count++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) put_char(digits[--count]);
}
static void put_hex64(uint64_t value) {
  for (int shift = 60; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(uint32_t)(value >> shift) & 15]);
}

static void __attribute__((noreturn)) exit_guest(uint8_t code) {
  outb(0xf4, code);
  for (;;) __asm__ volatile("cli; hlt");
}

static void __attribute__((noreturn)) fail(const char *message) {
  put_string("loops32: error: ");
  put_string(message);
  put_char('\n');
  exit_guest(1);
}

__attribute__((noinline)) static uint64_t reg_loop(uint32_t iterations) {
  uint64_t state = XORSHIFT64_SEED;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < iterations; i++) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    sum += state;
  }
  return sum;
}

__attribute__((noinline)) static uint64_t mem_loop(const uint8_t *bytes, uint32_t iterations) {
  uint64_t hash = FNV_OFFSET;
  for (uint32_t i = 0; i < iterations; i++) {
    hash ^= bytes[i & (BUFFER_BYTES - 1)];
    hash *= FNV_PRIME;
  }
  return hash;
}

static void fill_buffer(void) {
  uint32_t state = XORSHIFT32_SEED;
  for (uint32_t i = 0; i < BUFFER_BYTES; i++) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    buffer[i] = (uint8_t)state;
  }
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

/** The word at `*cursor` (skipping blanks before it): its start, its length in `*length`; 0 at the end. */
static const char *next_word(const char **cursor, uint32_t *length) {
  const char *at = *cursor;
  while (is_space(*at)) at++;
  if (*at == 0) return 0;
  const char *start = at;
  while (*at != 0 && !is_space(*at)) at++;
  *length = (uint32_t)(at - start);
  *cursor = at;
  return start;
}

static int word_is(const char *word, uint32_t length, const char *name) {
  uint32_t i = 0;
  for (; i < length; i++) {
    if (name[i] != word[i]) return 0;
  }
  return name[i] == 0;
}

static uint32_t parse_count(const char *word, uint32_t length) {
  uint32_t value = 0;
  if (length == 0) fail("missing iteration count");
  for (uint32_t i = 0; i < length; i++) {
    if (word[i] < '0' || word[i] > '9') fail("the iteration count must be a decimal number");
    uint32_t digit = (uint32_t)(word[i] - '0');
    if (value > (0xffffffffu - digit) / 10) fail("the iteration count does not fit in 32 bits");
    value = value * 10 + digit;
  }
  return value;
}

void loops32_main(uint32_t magic, const uint32_t *info);

void loops32_main(uint32_t magic, const uint32_t *info) {
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) fail("not started by a multiboot loader");
  if (!(info[0] & MULTIBOOT_INFO_CMDLINE)) fail("no command line in the multiboot information");
  const char *cursor = (const char *)info[4];
  const char *word;
  uint32_t length = 0;
  int workload = 0; /* 1 reg, 2 mem */
  while ((word = next_word(&cursor, &length)) != 0) {
    if (word_is(word, length, "reg")) workload = 1;
    else if (word_is(word, length, "mem")) workload = 2;
    else continue;
    break;
  }
  if (workload == 0) fail("expected 'reg N' or 'mem N' on the command line");
  word = next_word(&cursor, &length);
  uint32_t iterations = parse_count(word, word == 0 ? 0 : length);

  uint64_t checksum;
  if (workload == 1) {
    checksum = reg_loop(iterations);
  } else {
    fill_buffer();
    checksum = mem_loop(buffer, iterations);
  }
  put_string(workload == 1 ? "loops32 reg n=" : "loops32 mem n=");
  put_decimal(iterations);
  put_string(" checksum=");
  put_hex64(checksum);
  put_char('\n');
  exit_guest(0);
}
