// Shared by the benchmarks: percentiles of unsorted samples, rounded to 0.1.

/** The q-quantile (0..1, nearest rank) of `values`, rounded to one decimal; null without samples. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return Number.isFinite(value) ? Number(value.toFixed(1)) : value;
}
