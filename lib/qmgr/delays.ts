/*
 * delays — Postfix's "delay=T, delays=a/b/c/d" fields of a delivery log line: time before
 * the queue manager (arrival → active), in the queue manager (active → agent start),
 * connection setup, and transmission; seconds with Postfix's precision rules.
 */

function fmt(seconds: number): string {
  if (seconds < 0) seconds = 0;
  if (seconds >= 10) return seconds.toFixed(0);
  if (seconds >= 0.1) return String(Number(seconds.toFixed(1)));
  if (seconds >= 0.01) return String(Number(seconds.toFixed(2)));
  return "0";
}

/** All times in ms since the epoch: arrival, entry into active, agent start, connection ready, done. */
export function formatDelays(
  arrival: number,
  active: number,
  start: number,
  connected: number,
  done = Date.now(),
): string {
  const total = (done - arrival) / 1000;
  const a = (active - arrival) / 1000;
  const b = (start - active) / 1000;
  const c = (connected - start) / 1000;
  const d = (done - connected) / 1000;
  return `delay=${fmt(total)}, delays=${fmt(a)}/${fmt(b)}/${fmt(c)}/${fmt(d)}`;
}
