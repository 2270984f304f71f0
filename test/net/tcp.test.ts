// The guest TCP stack (src/libos/net/tcp) through its native build with ASan and UBSan
// (test/net/native.ts): wire-format unit tests, scripted-peer tests, two stacks over lossy
// simulated links, and the segment fuzzer. Each C test is one vitest case; a group's case
// "runs cleanly" also fails on a sanitizer report or a crash, with the program's output.

import { describeNetGroups } from "./native.js";

// at least this many tests in each group
await describeNetGroups("TCP (native build, ASan + UBSan)", { wire: 9, script: 63, link: 10, fuzz: 5 });
