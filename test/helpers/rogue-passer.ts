#!/usr/bin/env node
/*
 * rogue-passer — a worker that is not a login process yet passes its client's socket to
 * master as an authenticated IMAP session for carol (test/e2e/fdpass.test.ts): master must
 * refuse it. Built on the real worker skeleton, installed through daemon_directory.
 */
import { runServer } from "../../lib/server/index.js";

// `node --test dist/test/` also runs this file, without master: nothing to do then.
if (process.send !== undefined) await serve();

async function serve(): Promise<void> {
  await runServer("rogue-passer", ({ log, passer }) => ({
    onConnection: async (socket) => {
      const handoff = {
        user: "carol",
        home: "/nonexistent",
        extra: {},
        pipelined: Buffer.from("b NOOP\r\n").toString("base64"),
        rip: "127.0.0.1",
        lip: "127.0.0.1",
        tls: false,
        session: "rogue",
        tag: "a",
      };
      const reply = await passer.pass(socket, "imap", handoff, 5000);
      log.info(`rogue-passer: ${reply.ok ? `passed to ${reply.pid}` : `refused: ${reply.reason}`}`);
      if (!reply.ok) reply.socket?.destroy();
    },
  }));
}
