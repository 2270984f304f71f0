// DNS messages (RFC 1035), only as much as the NAT's resolver needs: one question in, answers out.
import { get16, put16, put32 } from "./bytes.js";

export const DNS_HEADER = 12;
export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;

export interface DnsQuery {
  id: number;
  /** the RD bit, copied into the response */
  recursionDesired: boolean;
  opcode: number;
  questionCount: number;
  /** the name, lower-cased, dot-separated, without the trailing dot ("" for the root) */
  name: string;
  type: number;
  class: number;
  /** the question's bytes (name, type, class), echoed in the response */
  question: Uint8Array;
}

export type DnsError = "dns-short" | "dns-response" | "dns-name";

/** A query with one question (its name without compression pointers); anything else is malformed. */
export function parseDnsQuery(bytes: Uint8Array): DnsQuery | DnsError {
  if (bytes.length < DNS_HEADER) return "dns-short";
  const flags = get16(bytes, 2);
  if (flags & 0x8000) return "dns-response";
  const questionCount = get16(bytes, 4);
  if (questionCount === 0) return "dns-short";
  const labels: string[] = [];
  let at = DNS_HEADER;
  let nameLength = 0;
  for (;;) {
    if (at >= bytes.length) return "dns-name";
    const length = bytes[at];
    if (length === 0) break;
    if (length > 63) return "dns-name"; // compression pointers (0xc0) and the reserved forms
    if (at + 1 + length > bytes.length) return "dns-name";
    nameLength += length + 1;
    if (nameLength > 255) return "dns-name";
    let label = "";
    for (let i = 0; i < length; i++) label += String.fromCharCode(bytes[at + 1 + i]);
    labels.push(label.toLowerCase());
    at += 1 + length;
  }
  at++; // the root label
  if (at + 4 > bytes.length) return "dns-short";
  return {
    id: get16(bytes, 0),
    recursionDesired: (flags & 0x0100) !== 0,
    opcode: (flags >> 11) & 0x0f,
    questionCount,
    name: labels.join("."),
    type: get16(bytes, at),
    class: get16(bytes, at + 2),
    question: bytes.slice(DNS_HEADER, at + 4),
  };
}

export interface DnsAnswer {
  type: number;
  ttl: number;
  /** the record data (4 bytes for A, 16 for AAAA, an encoded name for PTR) */
  data: Uint8Array;
}

/** Encodes "a.b.c" as labels; null when a label is empty or longer than 63 bytes, or the name longer than 255. */
export function encodeDnsName(name: string): Uint8Array | null {
  const trimmed = name.endsWith(".") ? name.slice(0, -1) : name;
  const labels = trimmed === "" ? [] : trimmed.split(".");
  const bytes: number[] = [];
  for (const label of labels) {
    const encoded = Buffer.from(label, "latin1");
    if (encoded.length === 0 || encoded.length > 63) return null;
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  if (bytes.length > 255) return null;
  return Uint8Array.from(bytes);
}

/** A response to `query`: its question echoed, then the answers (names as a pointer to the question's). */
export function buildDnsResponse(query: DnsQuery, rcode: number, answers: DnsAnswer[]): Uint8Array {
  let length = DNS_HEADER + query.question.length;
  for (const answer of answers) length += 12 + answer.data.length;
  const bytes = new Uint8Array(length);
  put16(bytes, 0, query.id);
  // QR, the query's opcode and RD, RA, the rcode
  put16(bytes, 2, 0x8000 | (query.opcode << 11) | (query.recursionDesired ? 0x0100 : 0) | 0x0080 | (rcode & 0x0f));
  put16(bytes, 4, 1);
  put16(bytes, 6, answers.length);
  bytes.set(query.question, DNS_HEADER);
  let at = DNS_HEADER + query.question.length;
  for (const answer of answers) {
    put16(bytes, at, 0xc000 | DNS_HEADER);
    put16(bytes, at + 2, answer.type);
    put16(bytes, at + 4, CLASS_IN);
    put32(bytes, at + 6, answer.ttl);
    put16(bytes, at + 10, answer.data.length);
    bytes.set(answer.data, at + 12);
    at += 12 + answer.data.length;
  }
  return bytes;
}
