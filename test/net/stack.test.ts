// The guest network stack's layers below TCP (src/libos/net: ARP, IPv4 and reassembly, ICMP,
// UDP, the DHCP client; the address type of both families, ip_addr.c, in group addr; IPv6,
// ICMPv6, NDP and SLAAC, ipv6_tests.c, in group ipv6) through
// the native build with ASan and UBSan (test/net/native.ts):
// scripted exchanges with exact expectations on every frame the stack sends (stack_tests.c,
// dhcp_tests.c) and the frame fuzzer (stack_fuzz.c: NET_FUZZ_FRAMES frames, default 100000,
// NET_FUZZ_SEED). Each C test is one vitest case; a group's case "runs cleanly" also fails on a
// sanitizer report, a leak or a crash, with the program's output.

import { describeNetGroups } from "./native.js";

// at least this many tests in each group
await describeNetGroups("network stack below TCP (native build, ASan + UBSan)", { stack: 39, dhcp: 8, frames: 4, addr: 6, ipv6: 27 });
