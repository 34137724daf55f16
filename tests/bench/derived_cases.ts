/**
 * The expressions the derived-attribute benchmarks evaluate: one of each kind the README shows.
 *
 * @module
 */

/** Derived attribute name → expression. */
export const DERIVED_EXPRESSIONS: Record<string, string> = {
  mbar: "gauge.pressure * 1.33322",
  rate: "log10(max(det.counts, 1)) / sqrt(abs(dmm.voltage) + 1e-9)",
  ok: "gauge.pressure < 1e-2 and not motor.moving or motor.position >= 0",
};
