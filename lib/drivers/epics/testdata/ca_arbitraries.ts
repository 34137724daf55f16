/**
 * Generators of Channel Access wire data for the property tests of both ends (the `ca://`
 * client and the CA server's circuit): what either side may be sent, valid or not; and the
 * header of a command no CA version defines, which both ends' decoders are tested on.
 *
 * @module
 */
import fc from "fast-check";
import type { Header } from "../framing.ts";

/** The bare header of command 99, which no CA version defines. */
export const UNKNOWN_COMMAND_HEADER: Header = {
  command: 99,
  payloadSize: 0,
  dataType: 0,
  dataCount: 0,
  p1: 0,
  p2: 0,
};

/** Any 32-bit unsigned integer (ids, status words, parameters). */
export const u32: fc.Arbitrary<number> = fc.nat({ max: 0xffffffff });

/** A bare header of any command up to 40 (known or not), with no payload. */
export const bareHeader: fc.Arbitrary<Header> = fc.record({
  command: fc.nat(40),
  payloadSize: fc.constant(0),
  dataType: fc.nat(0xfffe),
  dataCount: fc.nat(0xfffe),
  p1: u32,
  p2: u32,
});
