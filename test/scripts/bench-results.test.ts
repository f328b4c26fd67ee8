/*
 * bench-results — the table `npm run bench` writes (scripts/bench/run.ts) from the three
 * benchmarks' JSON: every workload with both figures and the ratio the right way round
 * (rates postern/anchor, latencies anchor/postern), the single-message SMTP latency rows,
 * each system's peak memory per workload, and the idle memory of each whole system.
 * The benchmarks themselves need root and the anchors, so they are not run here.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ImapJson,
  idleOf,
  imapRows,
  markdown,
  type Pop3Json,
  type SmtpJson,
  smtpRows,
} from "../../scripts/bench/run.js";

const mem = (pssMiB: number, rssMiB: number, processes = 3) => ({
  pssKiB: pssMiB * 1024,
  rssKiB: rssMiB * 1024,
  processes,
});

const smtp: SmtpJson = {
  results: [
    { system: "postfix", sessions: 1, acceptedPerS: 300, deliveredPerS: 250, peak: mem(14, 90) },
    { system: "postern", sessions: 1, acceptedPerS: 150, deliveredPerS: 125, peak: mem(110, 360) },
  ],
  latency: [
    { system: "postfix", acceptMs: 3, deliverMs: 4 },
    { system: "postern", acceptMs: 6, deliverMs: 10 },
  ],
  idle: { postern: mem(30, 108, 2), postfix: mem(5, 25, 4) },
};

test("SMTP rows: latencies compare anchor/postern, rates postern/anchor, with both peaks", () => {
  const rows = smtpRows(smtp);
  const by = (w: string) => rows.find((r) => r.workload === w);
  assert.equal(by("SMTP single message, accepted")?.ratio, 0.5);
  assert.equal(by("SMTP single message, in Maildir")?.ratio, 0.4);
  assert.equal(by("SMTP single message, in Maildir")?.unit, "ms");
  const accept = by("SMTP accept, 1 session(s)");
  assert.equal(accept?.ratio, 0.5);
  assert.equal(by("SMTP to Maildir, 1 session(s)")?.ratio, 0.5);
  assert.deepEqual(accept?.posternPeak, mem(110, 360));
  assert.deepEqual(accept?.anchorPeak, mem(14, 90));
});

test("IMAP rows keep the highest peak of the repeats and the latency direction", () => {
  const j: ImapJson = {
    figures: [
      {
        workload: "select-10k",
        unit: "ms",
        system: "postern",
        value: 0.4,
        lower: true,
        peakPss: 40 * 1024,
        peakRss: 200 * 1024,
      },
      {
        workload: "select-10k",
        unit: "ms",
        system: "postern",
        value: 0.6,
        lower: true,
        peakPss: 50 * 1024,
        peakRss: 210 * 1024,
      },
      { workload: "select-10k", unit: "ms", system: "dovecot", value: 0.2, lower: true, peakPss: 10 * 1024 },
    ],
  };
  const [row] = imapRows(j);
  assert.equal(row?.ratio.toFixed(2), "0.40"); // 0.2 / median(0.4, 0.6)
  assert.equal(row?.posternPeak?.pssKiB, 50 * 1024);
  assert.equal(row?.anchorPeak?.rssKiB, 0); // an older run without RSS
});

test("the markdown has a memory column per system and the idle table", () => {
  const pop3: Pop3Json = {
    results: [
      { system: "postern", clients: 1, mode: "seq", msgPerS: 5000, peak: mem(60, 300) },
      { system: "dovecot", clients: 1, mode: "seq", msgPerS: 7000, peak: mem(8, 40) },
    ],
    idle: { postern: mem(30, 110), dovecot: mem(6, 30) },
  };
  const idle = [
    ...idleOf("SMTP", "Postfix", "postfix", smtp.idle),
    ...idleOf("POP3", "Dovecot", "dovecot", pop3.idle),
  ];
  const text = markdown(smtpRows(smtp), idle, "test machine", "2026-12-07");
  assert.match(
    text,
    /\| SMTP accept, 1 session\(s\) \| msg\/s \| 150 \| Postfix \| 300 \| 0\.50 \| 110\.0 \/ 360\.0 \| 14\.0 \/ 90\.0 \|/,
  );
  assert.match(
    text,
    /\| SMTP single message, accepted \| ms \| 6\.0 \| Postfix \| 3\.0 \| 0\.50 \| {2}\| {2}\|/,
  );
  assert.match(
    text,
    /\| SMTP \| 30\.0 \/ 108\.0 \(2 processes\) \| Postfix: 5\.0 \/ 25\.0 \(4 processes\) \|/,
  );
  assert.match(
    text,
    /\| POP3 \| 30\.0 \/ 110\.0 \(3 processes\) \| Dovecot: 6\.0 \/ 30\.0 \(3 processes\) \|/,
  );
  assert.deepEqual(idleOf("IMAP", "Dovecot", "dovecot", undefined), []);
});
