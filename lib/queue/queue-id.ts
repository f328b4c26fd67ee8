/*
 * queue-id — queue file names, like Postfix's long queue IDs.
 *
 * A queue ID is 16 characters of [0-9A-Za-z]: 9 digits of microseconds since the epoch,
 * 4 of the process ID and 3 of a per-process counter, all base 62 in ASCII order so that
 * sorting IDs as strings sorts them by arrival time. The pid keeps two processes apart
 * at the same instant; the time (forced strictly increasing within a process) keeps a
 * restarted process that reuses a pid apart from its predecessor; the counter tells
 * apart IDs made within the same microsecond (the time never goes backwards in a process). IDs appear in file names and log lines, so they never contain anything
 * a shell or a log parser would trip over.
 *
 * Talks to: nothing. Security: IDs are not secrets and are not meant to be unguessable.
 */

const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TIME_WIDTH = 9;
const PID_WIDTH = 4;
const COUNTER_WIDTH = 3;
export const QUEUE_ID_LENGTH = TIME_WIDTH + PID_WIDTH + COUNTER_WIDTH;
const COUNTER_RANGE = 62 ** COUNTER_WIDTH;
const PID_RANGE = 62 ** PID_WIDTH;
const QUEUE_ID_PATTERN = /^[0-9A-Za-z]{16}$/;

let lastMicros = 0;
let counter = 0;

function toBase62(value: number, width: number): string {
  let rest = value;
  let out = "";
  for (let i = 0; i < width; i++) {
    out = DIGITS[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function fromBase62(text: string): number {
  let value = 0;
  for (const ch of text) {
    const digit = DIGITS.indexOf(ch);
    if (digit < 0) throw new RangeError(`not a base-62 digit: ${JSON.stringify(ch)}`);
    value = value * 62 + digit;
  }
  return value;
}

/** Wall-clock microseconds: the monotonic clock anchored at process start, unless it drifted. */
function nowMicros(): number {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  const wall = Date.now() * 1000;
  // The wall clock was stepped (NTP, suspend): follow it so IDs keep telling the time.
  return Math.abs(micros - wall) > 1_000_000 ? wall : micros;
}

/** A new queue ID, unique across processes and restarts, sortable by creation time. */
export function newQueueId(): string {
  counter = (counter + 1) % COUNTER_RANGE;
  // Never backwards within a process (sort order); a repeated time is told apart by the
  // counter, and only when the counter wraps at the same time does the time step ahead.
  let micros = Math.max(nowMicros(), lastMicros);
  if (micros === lastMicros && counter === 0) micros += 1;
  lastMicros = micros;
  return (
    toBase62(micros, TIME_WIDTH) +
    toBase62(process.pid % PID_RANGE, PID_WIDTH) +
    toBase62(counter, COUNTER_WIDTH)
  );
}

/** True when the name has the shape of a queue ID (temporary files never do). */
export function isQueueId(name: string): boolean {
  return QUEUE_ID_PATTERN.test(name);
}

/** The creation time encoded in a queue ID, in milliseconds since the epoch. */
export function queueIdTime(id: string): number {
  if (!isQueueId(id)) throw new RangeError(`not a queue ID: ${JSON.stringify(id)}`);
  return Math.floor(fromBase62(id.slice(0, TIME_WIDTH)) / 1000);
}
