/*
 * transport — which delivery agent takes a recipient (Postfix's trivial-rewrite resolve):
 * domains in mydestination (and addresses without a domain) go to "local"; everything else
 * to the default transport "smtp". A transport is usable only while its socket exists in
 * queue_directory/private (master.cf lists it); otherwise the recipient stays deferred with
 * a status that says why.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface Resolved {
  transport: string;
  /** Scheduling key for per-destination concurrency: the recipient for local, the domain for smtp. */
  destination: string;
}

export function domainOf(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0
    ? ""
    : address
        .slice(at + 1)
        .toLowerCase()
        .replace(/\.$/, "");
}

export function resolveRecipient(address: string, localDomains: ReadonlySet<string>): Resolved {
  const domain = domainOf(address);
  if (domain === "" || localDomains.has(domain))
    return { transport: "local", destination: address.toLowerCase() };
  return { transport: "smtp", destination: domain };
}

export function transportAvailable(queueDir: string, transport: string): boolean {
  return existsSync(join(queueDir, "private", transport));
}
