import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { apopDigest } from "../../lib/pop3/login-engine.js";
import { login } from "./harness.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const GREETING = "+OK postern ready.\r\n";
const CAPA_ALL =
  "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN CRAM-MD5\r\nIMPLEMENTATION postern\r\n.\r\n";

/** [name, input, expected output after the greeting] */
const TRANSCRIPTS: ReadonlyArray<[string, string, string]> = [
  ["CAPA lists STLS, USER and SASL before login", "CAPA\r\n", CAPA_ALL],
  [
    "USER then a wrong PASS fails with [AUTH]",
    "USER tim\r\nPASS nope\r\n",
    "+OK\r\n-ERR [AUTH] Authentication failed.\r\n",
  ],
  ["PASS without USER fails", "PASS secret\r\n", "-ERR No username given.\r\n"],
  ["AUTH without a mechanism lists the mechanisms", "AUTH\r\n", "+OK\r\nPLAIN\r\nLOGIN\r\nCRAM-MD5\r\n.\r\n"],
  [
    "AUTH with an unknown mechanism fails",
    "AUTH GSSAPI\r\n",
    "-ERR Unsupported authentication mechanism.\r\n",
  ],
  ["AUTH PLAIN cancelled with *", "AUTH PLAIN\r\n*\r\n", "+ \r\n-ERR Authentication aborted by client.\r\n"],
  [
    "AUTH PLAIN with bad base64",
    "AUTH PLAIN !!!!\r\n",
    "-ERR [AUTH] Invalid base64 data in continued response\r\n",
  ],
  [
    "AUTH LOGIN with a wrong password",
    `AUTH LOGIN\r\n${b64("tim")}\r\n${b64("x")}\r\n`,
    "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR [AUTH] Authentication failed.\r\n",
  ],
  ["transaction commands are unknown before login", "STAT\r\n", "-ERR Unknown command: STAT\r\n"],
  ["APOP is refused when not enabled", `APOP tim ${"0".repeat(32)}\r\n`, "-ERR APOP is not enabled.\r\n"],
  ["QUIT logs out", "QUIT\r\nCAPA\r\n", "+OK Logging out\r\n"],
  [
    "STLS starts TLS and drops what was pipelined after it",
    "STLS\r\nUSER evil\r\n",
    "+OK Begin TLS negotiation now.\r\n",
  ],
  [
    "too many bad commands end the session",
    "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\n",
    "-ERR Unknown command: A\r\n-ERR Unknown command: B\r\n-ERR Unknown command: C\r\n-ERR Unknown command: D\r\n-ERR Too many bad commands.\r\n",
  ],
];

describe("Pop3LoginEngine transcripts", () => {
  for (const [name, input, expected] of TRANSCRIPTS) {
    for (const byteByByte of [false, true]) {
      test(`${name} (${byteByByte ? "byte by byte" : "pipelined whole"})`, async () => {
        const r = await login(input, {}, byteByByte);
        assert.equal(r.text, GREETING + expected);
      });
    }
  }
});

describe("Pop3LoginEngine authentication", () => {
  const successes: ReadonlyArray<[string, string, string]> = [
    ["USER/PASS", "USER tim\r\nPASS secret\r\n", "PLAIN"],
    ["AUTH PLAIN with an initial response", `AUTH PLAIN ${b64("\0tim\0secret")}\r\n`, "PLAIN"],
    ["AUTH PLAIN after an empty challenge", `AUTH PLAIN\r\n${b64("tim\0tim\0secret")}\r\n`, "PLAIN"],
    ["AUTH LOGIN", `AUTH LOGIN\r\n${b64("tim")}\r\n${b64("secret")}\r\n`, "LOGIN"],
  ];
  for (const [name, input, method] of successes) {
    for (const byteByByte of [false, true]) {
      test(`${name} authenticates and hands over pipelined bytes (${byteByByte ? "byte by byte" : "whole"})`, async () => {
        const r = await login(`${input}STAT\r\nQUIT\r\n`, {}, byteByByte);
        const ev = r.events.find((e) => e.type === "authenticated");
        assert.ok(ev !== undefined && ev.type === "authenticated");
        assert.equal(ev.user, "tim");
        assert.equal(ev.method, method);
        if (!byteByByte) assert.equal(ev.pipelined.toString(), "STAT\r\nQUIT\r\n");
        assert.ok(!r.text.includes("-ERR"), r.text);
        r.engine.push(Buffer.from("NOOP\r\n"));
        await r.engine.idle();
      });
    }
  }
  test("APOP sends a timestamp in the greeting and passes the digest to the auth hook", async () => {
    const r = await login("", { apop: true });
    assert.match(`${r.text}`, /^\+OK postern ready\. <\d+\.[0-9a-f]+\.\d+@mail\.example\.org>\r\n$/);
    const digest = apopDigest(r.engine.apopTimestamp, "secret");
    r.engine.push(Buffer.from(`APOP tim ${digest.toUpperCase()}\r\n`));
    await r.engine.idle();
    assert.deepEqual(r.seen[0], { type: "apop", user: "tim", timestamp: r.engine.apopTimestamp, digest });
  });
  test("RFC 1939's APOP example digest is reproduced", () => {
    assert.equal(
      apopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
      "c4c9334bac560ecc979e58001b3e22fb",
    );
  });
  test("plaintext logins are refused without TLS when not allowed, and CAPA hides them", async () => {
    const r = await login(`CAPA\r\nUSER tim\r\nAUTH PLAIN ${b64("\0tim\0secret")}\r\n`, {
      plaintextAllowed: false,
    });
    assert.ok(r.text.includes("STLS\r\nSASL CRAM-MD5\r\n"), r.text);
    assert.ok(!r.text.includes("USER\r\n"));
    assert.ok(
      r.text.includes(
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n",
      ),
    );
    assert.ok(r.text.endsWith("-ERR Unsupported authentication mechanism.\r\n"));
    assert.equal(r.seen.length, 0);
  });
  test("after STLS and the handshake, plaintext logins are allowed and STLS is gone", async () => {
    const r = await login("STLS\r\n", { plaintextAllowed: false });
    assert.deepEqual(r.events, [{ type: "starttls" }]);
    r.engine.tlsStarted();
    r.engine.push(Buffer.from("CAPA\r\nSTLS\r\nUSER tim\r\nPASS secret\r\n"));
    await r.engine.idle();
    assert.ok(!r.text.includes("STLS\r\nUSER"));
    assert.ok(r.events.some((e) => e.type === "authenticated"));
  });
  test("input sent before the TLS handshake finishes is discarded", async () => {
    const r = await login("STLS\r\n");
    r.engine.push(Buffer.from("USER tim\r\nPASS secret\r\n"));
    r.engine.tlsStarted();
    await r.engine.idle();
    assert.equal(r.seen.length, 0);
  });
  test("a failing auth hook answers [SYS/TEMP]", async () => {
    const r = await login("");
    const engine = r.engine as unknown as { auth: { verify(): Promise<never> } };
    engine.auth.verify = () => Promise.reject(new Error("socket gone"));
    r.engine.push(Buffer.from("USER tim\r\nPASS secret\r\n"));
    await r.engine.idle();
    assert.match(r.text, /-ERR \[SYS\/TEMP\] Temporary authentication failure\.\r\n$/);
  });
  test("failures are reported with a running attempt count", async () => {
    const r = await login("USER a\r\nPASS b\r\nUSER c\r\nPASS d\r\n");
    assert.deepEqual(
      r.events
        .filter((e) => e.type === "auth-failed")
        .map((e) => (e.type === "auth-failed" ? [e.user, e.attempts] : [])),
      [
        ["a", 1],
        ["c", 2],
      ],
    );
  });
  test("an overlong line closes the connection", async () => {
    const r = await login(`USER ${"x".repeat(3000)}\r\n`);
    assert.equal(r.text, `${GREETING}-ERR Input line too long.\r\n`);
    assert.equal(r.ended, true);
  });
  test("arbitrary input never throws", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.constantFrom("CAPA", "USER tim", "PASS x", "AUTH PLAIN", "AUTH LOGIN", "*", "=", "STLS"),
            fc.string({ maxLength: 40 }),
          ),
          { maxLength: 10 },
        ),
        async (lines) => {
          const r = await login(lines.map((l) => `${l}\r\n`).join(""));
          assert.ok(r.text.startsWith(GREETING));
        },
      ),
      { seed: 5034, numRuns: 150 },
    );
  });
});
