// RFLAGS bits at their architectural positions (Intel SDM vol. 1, 3.4.3).
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const AC = 1 << 18;

export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

const LETTER_TO_FLAG: Record<string, number> = { o: OF, s: SF, z: ZF, a: AF, p: PF, c: CF, d: DF, i: IF, t: TF, x: AC };

/** Parses the table's flag notation: one letter per flag, o s z a p c d i t and x for AC ("oszapc"). */
export function parseFlagLetters(letters: string): number {
  let mask = 0;
  for (const letter of letters) {
    const bit = LETTER_TO_FLAG[letter];
    if (bit === undefined) throw new Error(`unknown flag letter '${letter}' in '${letters}'`);
    mask |= bit;
  }
  return mask;
}

/** Condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc), with the flags each one reads. */
export const CONDITIONS: ReadonlyArray<{ suffix: string; reads: string }> = [
  { suffix: "o", reads: "o" },
  { suffix: "no", reads: "o" },
  { suffix: "b", reads: "c" },
  { suffix: "ae", reads: "c" },
  { suffix: "e", reads: "z" },
  { suffix: "ne", reads: "z" },
  { suffix: "be", reads: "zc" },
  { suffix: "a", reads: "zc" },
  { suffix: "s", reads: "s" },
  { suffix: "ns", reads: "s" },
  { suffix: "p", reads: "p" },
  { suffix: "np", reads: "p" },
  { suffix: "l", reads: "so" },
  { suffix: "ge", reads: "so" },
  { suffix: "le", reads: "zso" },
  { suffix: "g", reads: "zso" },
];
