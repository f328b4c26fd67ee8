/*
 * protocol — requests to the auth service (queue_directory/private/auth) over lib/ipc.
 * Login processes and smtpd send the credentials a client gave; auth answers with the
 * user's identity or a failure, after the brute-force penalty delay. Password data never
 * leaves the auth process.
 */
import type { FileDep } from "./file-deps.js";
import type { SaslCredentials } from "./sasl.js";

export type AuthCredentials =
  | SaslCredentials
  | { type: "apop"; user: string; timestamp: string; digest: string };

export interface PassdbRequest {
  op: "passdb";
  /** "pop3", "imap", "smtp": for the log lines. */
  service: string;
  mechanism: string;
  credentials: AuthCredentials;
  rip: string;
  lip: string;
  secured: boolean;
}

export interface UserdbRequest {
  op: "userdb";
  user: string;
  /**
   * Names to try in turn when user is unknown (smtpd's forms of one recipient address:
   * user@domain, user, ...): the first that exists answers, in one round trip.
   */
  alsoTry?: string[];
}

export interface AuthUser {
  user: string;
  uid?: number;
  gid?: number;
  home: string;
  extra: Record<string, string>;
}

/**
 * deps (userdb answers only): the files the answer was read from and their signatures
 * (lib/auth/file-deps) — the answer holds while they are unchanged. Absent when the
 * answer cannot be proven fresh that way (then the caller must ask again).
 */
export type AuthReply =
  | { ok: true; user: AuthUser; deps?: FileDep[] }
  | { ok: false; temporary: boolean; reason: string; deps?: FileDep[] };
