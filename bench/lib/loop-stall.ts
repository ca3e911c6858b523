/**
 * `monitorEventLoopDelay` records the time between its own timer ticks, so an
 * idle loop reads about its `resolution` (measured here: mean 10.3 ms, max 15
 * at the 10 ms resolution prom-client uses; 1.2 / 5 at 1 ms). The stall, the
 * time the loop could not run anything, is what exceeds the tick interval.
 */

/** prom-client's default `eventLoopMonitoringPrecision`, used by both servers' `/metrics`. */
export const PROM_CLIENT_LOOP_RESOLUTION_MS = 10;

/** The stall in ms for a recorded delay (nanoseconds, as the histogram gives it). */
export const stallMs = (recordedNs: number, resolutionMs: number): number => Math.max(0, recordedNs / 1e6 - resolutionMs);
