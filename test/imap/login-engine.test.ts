import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { loginCapabilities } from "../../lib/imap/capabilities.js";
import { login, startLogin } from "./login-harness.js";

const b64 = (s: string) => Buffer.from(s, "latin1").toString("base64");
const CAPS = "IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5";
const GREETING = `* OK [CAPABILITY ${CAPS}] postern ready.\r\n`;
const BAD = "BAD Error in IMAP command received by server.";
const FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed.";

/** [name, input, expected output after the greeting] */
const TRANSCRIPTS: ReadonlyArray<[string, string, string]> = [
  [
    "CAPABILITY lists STARTTLS and every mechanism before login",
    "a CAPABILITY\r\n",
    `* CAPABILITY ${CAPS}\r\na OK Pre-login capabilities listed, post-login capabilities have more.\r\n`,
  ],
  ["NOOP completes", "a NOOP\r\n", "a OK NOOP completed.\r\n"],
  [
    "ID answers with our name",
    'a ID ("name" "mutt")\r\n',
    '* ID ("name" "postern")\r\na OK ID completed.\r\n',
  ],
  [
    "ENABLE is ignored before authentication",
    "a ENABLE CONDSTORE\r\n",
    "* ENABLED\r\na OK ENABLE ignored in non-authenticated state.\r\n",
  ],
  [
    "LOGOUT says BYE and stops reading",
    "a LOGOUT\r\nb NOOP\r\n",
    "* BYE Logging out\r\na OK Logout completed.\r\n",
  ],
  ["LOGIN with a wrong password fails", "a LOGIN tim nope\r\n", `a ${FAILED}\r\n`],
  [
    "LOGIN with a quoted user and an unknown user fails",
    'a LOGIN "nobody here" "x y"\r\n',
    `a ${FAILED}\r\n`,
  ],
  [
    "a temporary auth failure is UNAVAILABLE",
    "a LOGIN busy x\r\n",
    "a NO [UNAVAILABLE] Temporary authentication failure.\r\n",
  ],
  [
    "an auth service error is a temporary failure",
    "a LOGIN boom x\r\n",
    "a NO [UNAVAILABLE] Temporary authentication failure.\r\n",
  ],
  [
    "LOGIN with missing arguments is a syntax error",
    "a LOGIN tim\r\n",
    "a BAD Error in IMAP command LOGIN: Expected a space.\r\n",
  ],
  ["commands of the authenticated state are invalid", "a SELECT INBOX\r\n", `a ${BAD}\r\n`],
  ["unknown commands are invalid", "a XYZZY\r\n", `a ${BAD}\r\n`],
  ["a line without a tag is answered untagged", "\r\n", `* ${BAD}\r\n`],
  [
    "LOGIN without a tag gets Dovecot's hint",
    "LOGIN tim secret\r\n",
    "LOGIN BAD First parameter in line is IMAP's command tag, not the command name. Add that before the command, like: a login user pass\r\n",
  ],
  [
    "a literal bigger than a login needs is refused",
    "a LOGIN {100000}\r\nb NOOP\r\n",
    "a NO [TOOBIG] Literal size exceeds the maximum.\r\nb OK NOOP completed.\r\n",
  ],
  [
    "AUTHENTICATE with an unknown mechanism fails",
    "a AUTHENTICATE GSSAPI\r\n",
    "a NO [ALERT] Unsupported authentication mechanism.\r\n",
  ],
  [
    "AUTHENTICATE PLAIN is cancelled with *",
    "a AUTHENTICATE PLAIN\r\n*\r\nb NOOP\r\n",
    "+ \r\na BAD Authentication aborted by client.\r\nb OK NOOP completed.\r\n",
  ],
  [
    "AUTHENTICATE PLAIN with bad base64 in the continuation",
    "a AUTHENTICATE PLAIN\r\n!!!!\r\n",
    "+ \r\na BAD Invalid base64 data in continued response\r\n",
  ],
  [
    "AUTHENTICATE PLAIN with a bad initial response",
    "a AUTHENTICATE PLAIN !!\r\n",
    "a BAD Error in IMAP command AUTHENTICATE: Invalid base64 initial response.\r\n",
  ],
  ["AUTHENTICATE PLAIN with an empty initial response", "a AUTHENTICATE PLAIN =\r\n", `a ${FAILED}\r\n`],
  [
    "AUTHENTICATE PLAIN with another authorization identity",
    `a AUTHENTICATE PLAIN ${b64("root\0tim\0secret")}\r\n`,
    "a NO [AUTHORIZATIONFAILED] Authorization failed\r\n",
  ],
  [
    "AUTHENTICATE LOGIN with a wrong password",
    `a AUTHENTICATE LOGIN\r\n${b64("tim")}\r\n${b64("x")}\r\n`,
    `+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\na ${FAILED}\r\n`,
  ],
  [
    "STARTTLS answers OK and drops what was pipelined after it",
    "a STARTTLS\r\nb LOGIN evil evil\r\n",
    "a OK Begin TLS negotiation now.\r\n",
  ],
  [
    "too many invalid commands end the session",
    "a X\r\nb X\r\nc X\r\nd X\r\ne X\r\nf X\r\n",
    `a ${BAD}\r\nb ${BAD}\r\nc ${BAD}\r\nd ${BAD}\r\n* BYE Too many invalid IMAP commands.\r\n`,
  ],
];

describe("ImapLoginEngine transcripts", () => {
  for (const [name, input, expected] of TRANSCRIPTS) {
    for (const byteByByte of [false, true]) {
      test(`${name} (${byteByByte ? "byte by byte" : "all at once"})`, async () => {
        const r = await login(input, {}, byteByByte);
        assert.equal(r.text, GREETING + expected);
      });
    }
  }
});

describe("ImapLoginEngine login", () => {
  const cases: ReadonlyArray<[string, string, string]> = [
    ["LOGIN with atoms", "a LOGIN tim secret\r\n", "PLAIN"],
    ["LOGIN with quoted strings", 'a LOGIN "tim" "secret"\r\n', "PLAIN"],
    ["LOGIN with synchronizing literals", "a LOGIN {3}\r\ntim {6}\r\nsecret\r\n", "PLAIN"],
    ["LOGIN with LITERAL+", "a LOGIN {3+}\r\ntim {6+}\r\nsecret\r\n", "PLAIN"],
    ["AUTHENTICATE PLAIN with SASL-IR", `a AUTHENTICATE PLAIN ${b64("\0tim\0secret")}\r\n`, "PLAIN"],
    [
      "AUTHENTICATE PLAIN with a continuation",
      `a AUTHENTICATE PLAIN\r\n${b64("tim\0tim\0secret")}\r\n`,
      "PLAIN",
    ],
    ["AUTHENTICATE LOGIN", `a authenticate login\r\n${b64("tim")}\r\n${b64("secret")}\r\n`, "LOGIN"],
  ];
  for (const [name, input, method] of cases) {
    for (const byteByByte of [false, true]) {
      test(`${name} succeeds with the tag and the pipelined bytes (${byteByByte ? "byte by byte" : "all at once"})`, async () => {
        const after = "b SELECT INBOX\r\nc FETCH 1 BODY[] {5+}\r\nhello\r\n";
        const r = await login(input + after, {}, byteByByte);
        assert.equal(r.events.length, 1, JSON.stringify(r.events));
        const e = r.events[0];
        assert.equal(e?.type, "authenticated");
        if (e?.type !== "authenticated") return;
        assert.deepEqual([e.user, e.method, e.tag], ["tim", method, "a"]);
        assert.equal(e.pipelined.toString("latin1"), after);
        assert.ok(!/^a OK/m.test(r.text), "the mail process, not imap-login, answers OK");
        assert.ok(!r.ended);
      });
    }
  }

  test("bytes that arrive while the password is being checked are handed over too", async () => {
    const r = startLogin({}, 20);
    const done = r.feed("a LOGIN tim secret\r\nb NO");
    r.engine.push(Buffer.from("OP\r\n"));
    await done;
    await new Promise((resolve) => setTimeout(resolve, 40));
    const e = r.events[0];
    assert.equal(e?.type === "authenticated" && e.pipelined.toString(), "b NOOP\r\n");
  });

  test("input after a successful login is not read", async () => {
    const r = await login("a LOGIN tim secret\r\n");
    await r.feed("b LOGOUT\r\n");
    assert.equal(r.text, GREETING);
    assert.equal(r.events.length, 1);
  });

  test("failed attempts are counted and reported with the user", async () => {
    const r = await login(
      `a LOGIN tim x\r\nb AUTHENTICATE PLAIN ${b64("\0ann\0y")}\r\nc AUTHENTICATE FOO\r\n`,
    );
    assert.deepEqual(r.events, [
      { type: "auth-failed", user: "tim", method: "PLAIN", attempts: 1, reason: "failed" },
      { type: "auth-failed", user: "ann", method: "PLAIN", attempts: 2, reason: "failed" },
      { type: "auth-failed", method: "FOO", attempts: 3, reason: "unsupported-mechanism" },
    ]);
  });
});

describe("ImapLoginEngine plaintext policy", () => {
  const insecure = { plaintextAllowed: false };

  test("the greeting says LOGINDISABLED and lists no plaintext mechanism", async () => {
    const r = await login("", insecure);
    assert.equal(
      r.text,
      "* OK [CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED AUTH=CRAM-MD5] postern ready.\r\n",
    );
  });

  test("LOGIN is refused with PRIVACYREQUIRED and an alert that the password was exposed", async () => {
    const r = await login("a LOGIN tim secret\r\n", insecure);
    assert.equal(
      r.text.slice(r.text.indexOf("\r\n") + 2),
      "* BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed.\r\n" +
        "a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n",
    );
    assert.deepEqual(r.seen, []);
    assert.deepEqual(r.events, [
      { type: "auth-failed", user: "tim", method: "PLAIN", attempts: 1, reason: "plaintext-disallowed" },
    ]);
  });

  test("AUTHENTICATE PLAIN is refused and CRAM-MD5 still runs", async () => {
    const r = await login("a AUTHENTICATE PLAIN\r\nb AUTHENTICATE CRAM-MD5\r\n", insecure);
    const lines = r.text.split("\r\n");
    assert.equal(lines[1], "a NO [PRIVACYREQUIRED] Plaintext authentication disabled.");
    assert.match(lines[2] ?? "", /^\+ [A-Za-z0-9+/=]+$/);
  });

  test("after STARTTLS the capabilities change and LOGIN works, with nothing pipelined kept", async () => {
    const r = await login("a STARTTLS\r\nb LOGIN tim secret\r\n", insecure);
    assert.deepEqual(r.events, [{ type: "starttls" }]);
    r.engine.tlsStarted();
    await r.feed("c CAPABILITY\r\nd LOGIN tim secret\r\n");
    assert.ok(
      r.text.includes(
        "* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5\r\n",
      ),
    );
    assert.equal(r.events[1]?.type === "authenticated" && r.events[1].tag, "d");
  });

  test("input sent before the TLS handshake finished is ignored", async () => {
    const r = await login("a STARTTLS\r\n");
    await r.feed("b NOOP\r\n");
    assert.equal(r.text, `${GREETING}a OK Begin TLS negotiation now.\r\n`);
  });

  test("STARTTLS is refused on TLS and when no certificate is configured", async () => {
    const tls = await login("a STARTTLS\r\n", { tls: true });
    assert.ok(tls.text.endsWith("a BAD TLS is already active.\r\n"));
    assert.ok(!tls.text.includes("STARTTLS"));
    const none = await login("a STARTTLS\r\n", { starttlsAvailable: false });
    assert.ok(none.text.endsWith("a BAD TLS support isn't enabled.\r\n"));
  });

  test("with ssl = required no mechanism may be used before TLS", async () => {
    const r = await login("a AUTHENTICATE CRAM-MD5\r\n", { ...insecure, tlsRequired: true });
    assert.ok(
      r.text.endsWith("a NO [PRIVACYREQUIRED] Authentication not allowed until SSL/TLS is enabled.\r\n"),
    );
  });

  test("LOGINDISABLED is announced on a secure connection when PLAIN is not configured", async () => {
    const r = await login("a LOGIN tim secret\r\n", { tls: true, saslMechanisms: ["CRAM-MD5"] });
    assert.match(r.text, /LITERAL\+ LOGINDISABLED AUTH=CRAM-MD5\] /);
    assert.ok(r.text.endsWith("a NO [ALERT] Unsupported authentication mechanism.\r\n"));
  });
});

describe("ImapLoginEngine robustness", () => {
  test("an over-long line is answered BAD with its tag and the session goes on", async () => {
    const r = await login(`a NOOP ${"x".repeat(2000)}\r\nb NOOP\r\n`, { maxLineLength: 1024 });
    assert.ok(r.text.endsWith("a BAD Command line too long.\r\nb OK NOOP completed.\r\n"), r.text);
  });

  test("thousands of pipelined commands are answered without recursion", async () => {
    const r = await login("a NOOP\r\n".repeat(5000));
    assert.equal(r.text.split("a OK NOOP completed.\r\n").length - 1, 5000);
  });

  test("a runaway SASL exchange is cut off", async () => {
    const r = await login(`a AUTHENTICATE LOGIN\r\n${b64("tim")}\r\n`);
    assert.ok(r.text.endsWith("+ UGFzc3dvcmQ6\r\n"));
  });

  test("any input gives the same replies whole and byte by byte, in well-formed lines", async () => {
    const token = fc.constantFrom(
      "a ",
      "LOGIN ",
      "AUTHENTICATE ",
      "PLAIN",
      "NOOP",
      "CAPABILITY",
      "{3}\r\n",
      "{2+}\r\n",
      '"x"',
      "*",
      " ",
      "\r\n",
      "\n",
      "STARTTLS",
      "ID NIL",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(token, fc.string({ maxLength: 6 })), { maxLength: 30 }),
        async (parts) => {
          const input = parts.join("");
          const whole = await login(input, { maxBadCommands: 1000 });
          const bytes = await login(input, { maxBadCommands: 1000 }, true);
          assert.equal(bytes.text, whole.text);
          for (const line of whole.text.split("\r\n").slice(0, -1))
            assert.match(line, /^(\* |\+ |\S+ (OK|NO|BAD) )/);
        },
      ),
      { seed: 143, numRuns: 60 },
    );
  });
});

test("loginCapabilities lists STARTTLS, LOGINDISABLED and AUTH= in Dovecot's order", () => {
  assert.deepEqual(loginCapabilities({ starttls: true, loginDisabled: true, mechanisms: ["cram-md5"] }), [
    "IMAP4rev1",
    "SASL-IR",
    "ID",
    "ENABLE",
    "IDLE",
    "LITERAL+",
    "STARTTLS",
    "LOGINDISABLED",
    "AUTH=CRAM-MD5",
  ]);
});
