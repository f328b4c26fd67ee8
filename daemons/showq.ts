#!/usr/bin/env node
/*
 * showq — lists the mail queue to whoever connects (mailq, `postern queue -p`), as
 * Postfix's showq(8) does, then closes the connection. Reads queue files; writes nothing.
 */
import { P } from "../lib/config/params.js";
import { runServer } from "../lib/server/index.js";
import { formatListing } from "../lib/showq/listing.js";

await runServer("showq", ({ config }) => {
  const queueDir = config.get(P.queue_directory);
  return {
    async onConnection(socket) {
      const text = await formatListing(queueDir);
      await new Promise<void>((resolve) => socket.end(text, () => resolve()));
    },
  };
});
