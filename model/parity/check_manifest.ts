// Validates manifest.json files against the TypeScript schema the engine uses (shared/src/model/manifest.ts).
//   node_modules/.bin/tsx model/parity/check_manifest.ts <manifest.json>...
import { readFileSync } from "node:fs";
import { ModelManifestSchema } from "../../shared/src/model/manifest.ts";

let bad = 0;
for (const p of process.argv.slice(2)) {
  const r = ModelManifestSchema.safeParse(JSON.parse(readFileSync(p, "utf8")));
  if (!r.success) bad++;
  console.log(JSON.stringify({ manifest: p, ok: r.success, issues: r.success ? [] : r.error.issues }));
}
process.exit(bad ? 1 : 0);
