/**
 * Generators of Channel Access wire data for the property tests of both ends (the `ca://`
 * client and the CA server's circuit): what either side may be sent, valid or not.
 *
 * @module
 */
import fc from "fast-check";
import type { Header } from "../framing.ts";

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
