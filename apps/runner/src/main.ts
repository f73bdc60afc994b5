#!/usr/bin/env node
/** runner CLI entry: argv -> command, the one top-level catch, exit codes. */
console.log("runner");
