/*
 * search-corpus — five messages for the SEARCH tests: encoded words, quoted-printable and
 * base64 bodies, latin-1 text, nested multiparts with preamble, epilogue and a binary
 * attachment, an encapsulated message/rfc822, a body larger than one read chunk with a word
 * straddling the 64 KiB boundary, and a message without a usable Date: header.
 */
import type { TestMessage } from "./search-harness.js";

const local = (y: number, m: number, d: number, h = 12): Date => new Date(y, m - 1, d, h, 0, 0);

const m1 = `Date: Mon, 3 Jul 2023 23:30:00 -0700
From: "Alice Example" <alice@example.org>
To: Bob <bob@example.net>
Subject: Lunch plans
Message-ID: <m1@example.org>

Let's meet at noon.
`;

const m2 = `From: =?ISO-8859-1?Q?Andr=E9_Gr=FCn?= <andre@example.de>
To: alice@example.org
Cc: Carol <carol@example.com>
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me br=FBl=E9e, s'il vous pla=EEt. Soft=
 break joins.
`;

const m3 = `Date: 15 Aug 2023 08:00:00 +0000
From: billing@shop.example
To: alice@example.org
Bcc: dave@example.com
Subject: Your invoice
X-Mailer: postern-test 1.0
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble with preamblemarker.
--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

w5xuw69jw7Zkw6kgaW52b2ljZSBudW1iZXIgMTIzNDUKc2Vjb25kIGxpbmUK
--inner
Content-Type: text/html; charset=utf-8

<p><b>Rechnung</b> bitte zahlen</p>
--inner--
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

c2VjcmV0d29yZCBpbnNpZGUgYSBiaW5hcnkgYXR0YWNobWVudA==
--outer--
epiloguemarker
`;

const m4 = `Date: Tue, 1 Aug 23 10:00:00 GMT
From: fwd@example.net
To: alice@example.org
Subject: Fwd: something
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b4"

--b4
Content-Type: text/plain

See the attached message.
--b4
Content-Type: message/rfc822

From: inner@example.com
Subject: Inner subject
Content-Type: text/plain

forwarded text here
--b4--
`;

/** Raw latin-1 body, and "boundaryneedle" starting 7 bytes before offset 65536. */
function bigLatin1(): Buffer {
  const head = Buffer.from(
    "Date: not a date at all\nFrom: big@example.com\nSubject: big one\n" +
      "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n" +
      "Gr\xfc\xdfe aus der Stra\xdfe\n",
    "latin1",
  );
  const fillerLine = Buffer.from(`${"x".repeat(63)}\n`, "latin1");
  const parts: Buffer[] = [head];
  let size = head.length;
  while (size + fillerLine.length < 65536 - 7) {
    parts.push(fillerLine);
    size += fillerLine.length;
  }
  parts.push(Buffer.from(`${"y".repeat(65536 - 7 - size)}boundaryneedle\n`, "latin1"));
  parts.push(Buffer.from(`${"z".repeat(70)}\n`.repeat(2000), "latin1"));
  return Buffer.concat(parts);
}

export const CORPUS: readonly TestMessage[] = [
  { text: m1, flags: ["\\Seen"], internalDate: local(2023, 7, 3) },
  { text: m2, flags: ["\\Answered", "\\Flagged"], internalDate: local(2023, 7, 10, 9) },
  { text: m3, flags: ["\\Deleted", "$Work"], internalDate: local(2023, 8, 15, 8) },
  { text: m4, flags: ["\\Draft"], internalDate: local(2023, 8, 20) },
  { text: bigLatin1(), internalDate: local(2023, 9, 1) },
];
