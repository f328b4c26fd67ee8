import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  createSaslServer,
  decodeClientResponse,
  runSaslExchange,
  SASL_MECHANISMS,
  type SaslStep,
  verifyCramMd5,
} from "../../lib/auth/sasl.js";
import { cramMd5Context } from "../../lib/auth/schemes.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const creds = (user: string, password: string): SaslStep => ({
  kind: "credentials",
  credentials: { type: "password", user, password },
});
const failure = (reason: string): SaslStep => ({ kind: "failure", reason }) as SaslStep;

describe("PLAIN (RFC 4616)", () => {
  const table: ReadonlyArray<[string, string, SaslStep]> = [
    ["without authzid", b64("\0tim\0tanstaaftanstaaf"), creds("tim", "tanstaaftanstaaf")],
    ["with an authzid equal to the login", b64("tim\0tim\0pw"), creds("tim", "pw")],
    ["with another authzid", b64("root\0tim\0pw"), failure("authzid")],
    ["with an empty password", b64("\0tim\0"), failure("malformed")],
    ["with an empty user", b64("\0\0pw"), failure("malformed")],
    ["with a missing NUL", b64("tim\0pw"), failure("malformed")],
    ["with an extra NUL", b64("\0tim\0pw\0"), failure("malformed")],
    ["with invalid UTF-8", Buffer.from([0, 0x74, 0, 0xff]).toString("base64"), failure("malformed")],
    ["that is not base64", "not base64!", failure("malformed")],
    ["that is '=' (empty)", "=", failure("malformed")],
    ["that is '*'", "*", failure("cancelled")],
    ["with UTF-8 names", b64("\0jösé@example.org\0pässwörd"), creds("jösé@example.org", "pässwörd")],
  ];
  for (const [name, ir, expected] of table) {
    test(`an initial response ${name} gives ${expected.kind}`, () => {
      assert.deepEqual(createSaslServer("PLAIN", { hostname: "h" }).start(ir), expected);
    });
  }
  test("without an initial response it sends an empty challenge and then reads the message", () => {
    const s = createSaslServer("PLAIN", { hostname: "h" });
    assert.deepEqual(s.start(null), { kind: "challenge", base64: "" });
    assert.deepEqual(s.next(b64("\0u\0p")), creds("u", "p"));
  });
  test("'=' is accepted only as an initial response", () => {
    assert.equal(decodeClientResponse("=", true).ok, true);
    assert.equal(decodeClientResponse("=", false).ok, false);
  });
});

describe("LOGIN", () => {
  test("asks Username: then Password:", () => {
    const s = createSaslServer("LOGIN", { hostname: "h" });
    assert.deepEqual(s.start(null), { kind: "challenge", base64: "VXNlcm5hbWU6" });
    assert.deepEqual(s.next(b64("tim")), { kind: "challenge", base64: "UGFzc3dvcmQ6" });
    assert.deepEqual(s.next(b64("secret")), creds("tim", "secret"));
  });
  test("takes the user from an initial response", () => {
    const s = createSaslServer("LOGIN", { hostname: "h" });
    assert.deepEqual(s.start(b64("tim")), { kind: "challenge", base64: "UGFzc3dvcmQ6" });
    assert.deepEqual(s.next(b64("pw")), creds("tim", "pw"));
  });
  test("a cancel at the password prompt fails with cancelled", () => {
    const s = createSaslServer("LOGIN", { hostname: "h" });
    s.start(b64("tim"));
    assert.deepEqual(s.next("*"), failure("cancelled"));
  });
  test("an empty user fails", () => {
    assert.deepEqual(createSaslServer("LOGIN", { hostname: "h" }).start("="), failure("malformed"));
  });
});

describe("CRAM-MD5 (RFC 2195)", () => {
  function exchange(secret: string, stored: string): boolean {
    const s = createSaslServer("CRAM-MD5", { hostname: "mail.example.org" });
    const step = s.start(null);
    assert.equal(step.kind, "challenge");
    const challenge = Buffer.from(step.kind === "challenge" ? step.base64 : "", "base64").toString();
    assert.match(challenge, /^<\d+\.\d+@mail\.example\.org>$/);
    const digest = createHmac("md5", secret).update(challenge).digest("hex");
    const done = s.next(b64(`tim ${digest}`));
    assert.equal(done.kind, "credentials");
    if (done.kind !== "credentials" || done.credentials.type !== "cram-md5") return false;
    return verifyCramMd5(stored, done.credentials.challenge, done.credentials.response);
  }
  test("a correct digest verifies against a {CRAM-MD5} context", () => {
    assert.equal(exchange("tanstaaftanstaaf", `{CRAM-MD5}${cramMd5Context("tanstaaftanstaaf")}`), true);
  });
  test("a correct digest verifies against a {PLAIN} password", () => {
    assert.equal(exchange("pw", "{PLAIN}pw"), true);
  });
  test("a wrong secret fails, and hashed schemes cannot serve CRAM-MD5", () => {
    assert.equal(exchange("wrong", "{PLAIN}pw"), false);
    assert.equal(exchange("pw", "{SHA512-CRYPT}$6$x$y"), false);
  });
  test("RFC 2195's example response verifies", () => {
    const ok = verifyCramMd5(
      "{PLAIN}tanstaaftanstaaf",
      "<1896.697170952@postoffice.reston.mci.net>",
      "b913a602c7eda7a495b4e6e7334d3890",
    );
    assert.equal(ok, true);
  });
  test("an initial response is refused", () => {
    assert.deepEqual(
      createSaslServer("CRAM-MD5", { hostname: "h" }).start("abcd"),
      failure("unexpected-initial-response"),
    );
  });
  test("a response without a digest is malformed", () => {
    const s = createSaslServer("CRAM-MD5", { hostname: "h" });
    s.start(null);
    assert.deepEqual(s.next(b64("tim")), failure("malformed"));
  });
});

describe("runSaslExchange", () => {
  const scripted = (lines: Array<string | null>) => {
    const sent: string[] = [];
    return {
      sent,
      io: {
        challenge: async (c: string) => {
          sent.push(c);
          return lines.shift() ?? null;
        },
      },
    };
  };
  test("drives LOGIN through the challenge callback", async () => {
    const { io, sent } = scripted([b64("u"), b64("p")]);
    assert.deepEqual(await runSaslExchange("login", null, io, { hostname: "h" }), {
      ok: true,
      credentials: { type: "password", user: "u", password: "p" },
    });
    assert.deepEqual(sent, ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"]);
  });
  test("an unknown mechanism is unsupported and a vanished client is disconnected", async () => {
    assert.deepEqual(await runSaslExchange("GSSAPI", null, scripted([]).io, { hostname: "h" }), {
      ok: false,
      reason: "unsupported",
    });
    assert.deepEqual(await runSaslExchange("PLAIN", null, scripted([null]).io, { hostname: "h" }), {
      ok: false,
      reason: "disconnected",
    });
  });
});

test("no mechanism throws on arbitrary client lines", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...SASL_MECHANISMS),
      fc.option(fc.string()),
      fc.array(fc.string(), { maxLength: 4 }),
      (m, ir, lines) => {
        const s = createSaslServer(m, { hostname: "h" });
        let step = s.start(ir);
        for (const line of lines) if (step.kind === "challenge") step = s.next(line);
        assert.ok(["challenge", "credentials", "failure"].includes(step.kind));
      },
    ),
    { seed: 4616, numRuns: 300 },
  );
});
