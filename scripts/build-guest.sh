#!/usr/bin/env bash
# Builds the guest unikernel (docs/guest.md):
#   scripts/build-guest.sh [OUTPUT]          build OUTPUT (default build/kernel.elf) and check it
#   scripts/build-guest.sh --debug [OUTPUT]  the same code with DWARF debug information (-g), for
#                                            --profile's file:line (default build/kernel-debug.elf;
#                                            GUEST_DEBUG=1 does the same)
#   scripts/build-guest.sh --check-isa FILE  only check FILE's instruction set
#
# Compiles every .c and .S under src/libos and src/workload with gcc (in parallel; objects and
# their dependency files go to guest-obj/ next to OUTPUT, and an object is rebuilt only when its
# source, a header it includes or the flags changed), links one multiboot ELF with ld and
# src/libos/kernel.ld, then checks the disassembly: the emulator implements x86-64 with SSE2 but
# no x87, MMX, SSE3+ or VEX-encoded instructions, and the build fails if any appear.
#
# Reproducible: sources are linked in C-locale path order, paths are made relative with
# -ffile-prefix-map, no timestamps, no build id, no .comment section. -g changes no code (gcc's
# guarantee): a debug image's sections other than .debug_* are the default image's.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CHECK_ONLY=0
DEBUG=0
[[ "${GUEST_DEBUG:-0}" == "1" ]] && DEBUG=1
if [[ "${1:-}" == "--check-isa" ]]; then
  CHECK_ONLY=1
  shift
  [[ $# -eq 1 ]] || { echo "usage: scripts/build-guest.sh --check-isa FILE" >&2; exit 2; }
elif [[ "${1:-}" == "--debug" ]]; then
  DEBUG=1
  shift
fi
if ((DEBUG)); then OUT="${1:-build/kernel-debug.elf}"; else OUT="${1:-build/kernel.elf}"; fi

for tool in gcc ld objdump; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: build-guest needs '$tool' (Debian: apt-get install gcc binutils)" >&2; exit 1; }
done

# ---- compile and link ---------------------------------------------------------------------------

# DESIGN.md §4. -march=x86-64 and the -mno-* flags keep gcc inside x86-64 + SSE2 (checked below).
# Frame pointers stay on for the backtraces of fault reports.
GCC_INCLUDE="$(gcc -print-file-name=include)"
COMMON_FLAGS=(-m64 -nostdinc -isystem "$GCC_INCLUDE" -I src/libos -I src/libos/libc/include -I src/workload
  "-ffile-prefix-map=$ROOT/=")
CFLAGS=(-std=gnu11 -O2 -ffreestanding -fno-pic -fno-pie -mno-red-zone -nostdlib -fno-stack-protector
  -march=x86-64 -mtune=generic -msse -msse2 -mno-sse3 -mno-ssse3 -mno-sse4 -mno-avx -mno-avx2
  -mno-mmx -mno-80387 -mno-3dnow -fcf-protection=none -fno-asynchronous-unwind-tables -fno-unwind-tables
  -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-common -fno-ident
  -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror)
LDFLAGS=(-m elf_x86_64 -nostdlib -static --build-id=none -z max-page-size=0x1000
  -z noexecstack --no-warn-rwx-segments)
LINKER_SCRIPT=src/libos/kernel.ld
OBJ_NAME=guest-obj
if ((DEBUG)); then
  # DWARF 5 for C and assembly. The second -ffile-prefix-map also maps the compilation directory
  # (DW_AT_comp_dir, the checkout itself, which "$ROOT/" does not match) to ".", so the debug image
  # is reproducible too.
  COMMON_FLAGS+=(-g "-ffile-prefix-map=$ROOT=.")
  OBJ_NAME=guest-obj-debug
fi

# An object is stale if it is missing, older than its source or any header its .d file lists,
# or was built with other flags.
stale() {
  local object="$1" depfile="$1.d" flagfile="$1.flags" flags="$2" dep
  [[ -f "$object" && -f "$depfile" && -f "$flagfile" ]] || return 0
  [[ "$(cat "$flagfile")" == "$flags" ]] || return 0
  for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$depfile"); do
    [[ "$dep" -nt "$object" ]] && return 0
  done
  return 1
}

compile() {
  local source="$1" object="$2" flags="$3"
  mkdir -p "$(dirname "$object")"
  # shellcheck disable=SC2086
  gcc $flags -MMD -MF "$object.d" -c "$source" -o "$object.tmp" && mv "$object.tmp" "$object" && printf '%s' "$flags" >"$object.flags"
}

if ((CHECK_ONLY == 0)); then
  OBJ_DIR="$(cd "$(dirname "$OUT")" 2>/dev/null && pwd || { mkdir -p "$(dirname "$OUT")" && cd "$(dirname "$OUT")" && pwd; })/$OBJ_NAME"
  if ((DEBUG)); then
    # kernel.ld discards .debug_*: the debug image links with a copy that keeps them (outside the
    # loaded segment: the loader never sees them)
    mkdir -p "$OBJ_DIR"
    LINKER_SCRIPT="$OBJ_DIR/kernel-debug.ld"
    grep -v '^ *\*(\.debug\*)$' src/libos/kernel.ld >"$LINKER_SCRIPT.tmp"
    if cmp -s src/libos/kernel.ld "$LINKER_SCRIPT.tmp"; then
      echo "error: build-guest --debug: src/libos/kernel.ld no longer has the line '*(.debug*)' this script removes" >&2
      exit 1
    fi
    mv "$LINKER_SCRIPT.tmp" "$LINKER_SCRIPT"
  fi
  mapfile -t SOURCES < <(find src/libos src/workload -name '*.c' -o -name '*.S' | LC_ALL=C sort)
  JOBS="$(nproc 2>/dev/null || echo 2)"
  OBJECTS=()
  running=0
  failed=0
  for source in "${SOURCES[@]}"; do
    object="$OBJ_DIR/$source.o"
    OBJECTS+=("$object")
    if [[ "$source" == *.S ]]; then flags="${COMMON_FLAGS[*]}"; else flags="${COMMON_FLAGS[*]} ${CFLAGS[*]}"; fi
    stale "$object" "$flags" || continue
    compile "$source" "$object" "$flags" &
    running=$((running + 1))
    if ((running >= JOBS)); then
      wait -n || failed=1
      running=$((running - 1))
    fi
  done
  while ((running > 0)); do
    wait -n || failed=1
    running=$((running - 1))
  done
  if ((failed)); then
    echo "error: build-guest: compilation failed (see the gcc messages above)" >&2
    exit 1
  fi
  ld "${LDFLAGS[@]}" -T "$LINKER_SCRIPT" -Map="$OBJ_DIR/kernel.map" -o "$OUT.tmp" "${OBJECTS[@]}"
  mv "$OUT.tmp" "$OUT"
fi

# ---- instruction-set check -----------------------------------------------------------------------
# Mnemonics are the second tab-separated field of objdump -d lines. x87: every x87 mnemonic starts
# with f (fld, fstp, fnstcw...); MMX: %mm registers or emms; VEX/EVEX: v-prefixed mnemonics or
# %ymm/%zmm/%k registers; SSE3, SSSE3, SSE4, POPCNT, LZCNT, BMI, AES, SHA, XSAVE... by name.
NEWER='^(addsubp[sd]|hadd[a-z]*|hsub[a-z]*|lddqu|movddup|movs[hl]dup|monitor|mwait|pabs[bwd]|palignr|phadd[a-z]*|phsub[a-z]*|pmaddubsw|pmulhrsw|pshufb|psign[bwd]|blendv?p[sd]|dpp[sd]|extractps|insertps|movntdqa|mpsadbw|packusdw|pblend[a-z]*|pcmpeqq|pextr[bdq]|phminposuw|pinsr[bdq]|pmax(s[bd]|u[dw])|pmin(s[bd]|u[dw])|pmov[sz]x[a-z]*|pmuldq|pmulld|ptest|round[ps][sd]|pcmp[ei]str[im]|pcmpgtq|crc32[bwlq]?|popcnt[wlq]?|lzcnt[wlq]?|tzcnt[wlq]?|andn[lq]?|bextr[lq]?|blsi[lq]?|blsr[lq]?|blsmsk[lq]?|bzhi[lq]?|pdep[lq]?|pext[lq]?|rorx[lq]?|sarx[lq]?|shlx[lq]?|shrx[lq]?|movbe[wlq]?|adcx[lq]?|adox[lq]?|aes[a-z]*|pclmul[a-z]*|sha1[a-z0-9]*|sha256[a-z0-9]*|rdrand[wlq]?|rdseed[wlq]?|xsave[a-z0-9]*|xrstor[a-z0-9]*)$'
bad="$(objdump -d --no-show-raw-insn -w "$OUT" | awk -F'\t' -v newer="$NEWER" '
  /^ *[0-9a-f]+:\t/ {
    insn = $2
    sub(/^ +/, "", insn)
    n = split(insn, words, / +/)
    i = 1   # skip prefixes to reach the mnemonic
    while (i < n && words[i] ~ /^(rep|repz|repe|repnz|repne|lock|data16|addr32|cs|ds|es|ss|fs|gs|notrack|bnd|rex(\.[wrxb]+)?|xacquire|xrelease)$/) i++
    m = words[i]
    if (m ~ /^f/ || m ~ /^v/ || m == "emms" || m ~ newer || insn ~ /%mm[0-7]|%[yz]mm[0-9]|%k[0-7]/)
      print $1 "\t" insn
  }')"
if [[ -n "$bad" ]]; then
  echo "error: $OUT contains instructions the emulator does not implement (x87, MMX, SSE3+, VEX):" >&2
  echo "$bad" | head -20 >&2
  echo "(check the -m flags in scripts/build-guest.sh; find the function with: objdump -d $OUT)" >&2
  exit 1
fi

if ((CHECK_ONLY == 0)); then
  echo "build-guest: $OUT ($(stat -c %s "$OUT") bytes)"
fi
