/*
 * arrival — the order in which Maildir files arrived, from their base names, for numbering
 * new mail as Dovecot does (maildir_filename_sort_cmp): a plain string sort puts
 * "1700000000.M105000P1" before "1700000000.M95000P1", since writers (Dovecot's, local's)
 * print the microseconds without leading zeros.
 * Talks to: nothing.
 */

/**
 * Arrival order of Maildir base names, as Dovecot numbers new mail: the seconds before the
 * first dot compared as numbers, then the microseconds of "M<usecs>" (written without
 * leading zeros, so "M95000" came before "M105000" in the same second), then the names;
 * names that do not start with a time come after those that do.
 */
export function compareArrival(a: string, b: string): number {
  const ta = arrivalTime(a);
  const tb = arrivalTime(b);
  if (ta !== undefined && tb !== undefined) {
    if (ta.secs !== tb.secs) return ta.secs - tb.secs;
    if (ta.usecs !== undefined && tb.usecs !== undefined && ta.usecs !== tb.usecs) return ta.usecs - tb.usecs;
  } else if (ta !== tb) return ta === undefined ? 1 : -1; // names without a time come last
  return a < b ? -1 : a > b ? 1 : 0;
}

const ARRIVAL = /^(\d{1,12})\.(?:M(\d{1,6})(?!\d))?/;

function arrivalTime(base: string): { secs: number; usecs: number | undefined } | undefined {
  const m = ARRIVAL.exec(base);
  if (m === null) return undefined;
  return { secs: Number(m[1]), usecs: m[2] === undefined ? undefined : Number(m[2]) };
}
