#!/usr/bin/env node
// The `bd3` command: the CLI is TypeScript (src/cli/), run through tsx's loader, which the workspace has.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
