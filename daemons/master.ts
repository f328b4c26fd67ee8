#!/usr/bin/env node
/*
 * master — the postern supervisor process. Started by `postern start` (detached, reporting
 * readiness over its IPC channel) or `postern start-fg` (systemd Type=simple, containers).
 * Usage: master [-c config_dir] [-v]
 */
import { runMasterProcess } from "../lib/master/run.js";

await runMasterProcess(process.argv.slice(2));
