// Reproduces one decoder disagreement reported by the fuzz/sweep/format tests:
//   npx tsx test/decoder/repro.ts 660f58c1 [64|32] [IP]
// prints both decoders' view (status, length, canonical form, Intel text) and exits 1 on a disagreement.

import * as iced from "iced-x86";
import { DEFAULT_IP, type Mode, WINDOW } from "./generate.js";
import {
  DiffCollector,
  IcedBatchDecoder,
  Status,
  compareWithIced,
  createIcedFormatter,
  icedCanonical,
  icedIsInOurDomain,
  loadDecoderUnderTest,
  toJson,
} from "./iced-oracle.js";

const REPRO = (process.argv[2] ?? "").replace(/[\s,]+/g, "").replace(/^0x/i, "");
const MODE_TEXT = process.argv[3] ?? "64";
const IP_TEXT = process.argv[4] ?? "";

async function main(): Promise<number> {
  {
    if (!/^([0-9a-f]{2})+$/i.test(REPRO)) throw new Error(`DECODER_REPRO must be hex bytes, got '${REPRO}'`);
    if (MODE_TEXT !== "64" && MODE_TEXT !== "32") throw new Error(`DECODER_REPRO_MODE must be 64 or 32`);
    const mode = Number(MODE_TEXT) as Mode;
    const ip = IP_TEXT === "" ? DEFAULT_IP : BigInt(IP_TEXT);
    const bytes = new Uint8Array(REPRO.match(/../g)!.map((h) => parseInt(h, 16))).slice(0, WINDOW);
    const { name, decoder } = await loadDecoderUnderTest();

    const oracle = new IcedBatchDecoder(mode, bytes);
    const formatter = createIcedFormatter();
    try {
      const error = oracle.decodeAt(0, ip);
      const ins = oracle.ins;
      const lines = [`bytes ${REPRO} mode ${mode} ip 0x${ip.toString(16)}`];
      lines.push(
        `iced: error ${iced.DecoderError[error]}, length ${ins.length}, code ${iced.Code[ins.code]}, ` +
          `cpuid ${[...ins.cpuidFeatures()].map((f) => iced.CpuidFeature[f]).join("/")}, in our domain: ${icedIsInOurDomain(ins)}`,
      );
      lines.push(`iced text: ${formatter.format(ins)}`);
      lines.push(`iced canonical: ${toJson(icedCanonical(ins, mode))}`);
      try {
        const ours = decoder.decode(bytes, 0, mode);
        lines.push(`${name}: status ${["Ok", "Invalid", "Unsupported", "Truncated"][ours.status] ?? ours.status}, length ${ours.length}`);
        if (ours.status === Status.Ok) {
          lines.push(`${name} text: ${decoder.formatIntel(ours, ip)}`);
          lines.push(`${name} canonical: ${toJson(decoder.canonicalOf(ours, ip, mode))}`);
        }
      } catch (e) {
        lines.push(`${name}: threw ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      console.log(lines.join("\n"));

      const collector = new DiffCollector();
      compareWithIced(decoder, bytes, 0, ip, mode, ins, error, collector, () => "DECODER_REPRO");
      const failure = collector.failureMessage("repro");
      if (failure !== null) {
        console.log(failure);
        return 1;
      }
      console.log("no disagreement");
      return 0;
    } finally {
      formatter.free();
      oracle.free();
    }
  }
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
