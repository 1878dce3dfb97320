// Replays a sampler fixture (model/README.md, "Sampler fixtures") with onnxruntime-node, implemented only
// from the documented format: an independent check that the fixtures can be replayed by an ONNX engine.
//
//   node model/parity/replay_fixture.mjs <fixture.json> [--repo <repo-root>]
//
// Prints JSON: { ok, final_tokens, expected_final_tokens, stop_reason, mismatches: [...] , forwards }.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ort from "onnxruntime-node";

const args = process.argv.slice(2);
const fxPath = args[0];
const repo = resolve(args.includes("--repo") ? args[args.indexOf("--repo") + 1] : process.cwd());
const fx = JSON.parse(readFileSync(fxPath, "utf8"));
const pkgDir = join(repo, fx.package);
const man = JSON.parse(readFileSync(join(pkgDir, "manifest.json"), "utf8"));
const graph = man.graphs.find((g) => g.dtype === fx.graph_dtype);
if (!graph || graph.dtype !== "float32") throw new Error(`no float32 graph in ${pkgDir}`);
const session = await ort.InferenceSession.create(join(pkgDir, graph.file), { executionProviders: ["cpu"], intraOpNumThreads: 2 });

const { num_layers: NL, num_heads: H, head_dim: D } = man.architecture;
const L = fx.block_size;
const W = fx.context_length;
const V = fx.vocab_size;
const MASK = fx.mask_token_id;
const EOS = fx.eos_token_id;

// cache [NL, 1, H, P, D]
let P = 0;
let pastK = new Float32Array(0);
let pastV = new Float32Array(0);
function concatP(past, Pp, present, Q) {
  const out = new Float32Array(NL * H * (Pp + Q) * D);
  for (let l = 0; l < NL; l++)
    for (let h = 0; h < H; h++) {
      const o = (l * H + h) * (Pp + Q) * D;
      out.set(past.subarray((l * H + h) * Pp * D, (l * H + h + 1) * Pp * D), o);
      out.set(present.subarray((l * H + h) * Q * D, (l * H + h + 1) * Q * D), o + Pp * D);
    }
  return out;
}
function dropOldest(past, Pp, n) {
  const out = new Float32Array(NL * H * (Pp - n) * D);
  for (let l = 0; l < NL; l++)
    for (let h = 0; h < H; h++) {
      const base = (l * H + h) * Pp * D;
      out.set(past.subarray(base + n * D, base + Pp * D), (l * H + h) * (Pp - n) * D);
    }
  return out;
}
// A graph with a logit_index input returns logits only for the positions asked for (docs/model-package.md):
// logit_index is flat, int64 [M] of row * Q + position; with one row that is the position itself.
const logitIndexName = man.io.inputs.logit_index;
let forwards = 0;
async function step(ids, start, want = [0]) {
  const Q = ids.length;
  forwards++;
  const feeds = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, Q]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map((_, i) => BigInt(start + i))), [1, Q]),
    past_key: new ort.Tensor("float32", pastK, [NL, 1, H, P, D]),
    past_value: new ort.Tensor("float32", pastV, [NL, 1, H, P, D]),
    attention_mask: new ort.Tensor("bool", new Uint8Array(Q * (P + Q)).fill(1), [1, Q, P + Q]),
  };
  if (logitIndexName) feeds[logitIndexName] = new ort.Tensor("int64", BigInt64Array.from(want.map(BigInt)), [want.length]);
  const out = await session.run(feeds);
  return { logits: out.logits.data, k: out.present_key.data, v: out.present_value.data };
}
async function commit(block, start) {
  const { k, v } = await step(block, start);
  pastK = concatP(pastK, P, k, block.length);
  pastV = concatP(pastV, P, v, block.length);
  P += block.length;
  if (P > W - L) {
    const n = P - (W - L);
    pastK = dropOldest(pastK, P, n);
    pastV = dropOldest(pastV, P, n);
    P -= n;
  }
}
function rowProbs(logits, row) {
  const z = new Float64Array(V);
  let mx = -Infinity;
  for (let j = 0; j < V; j++) {
    z[j] = j === MASK ? -Infinity : logits[row * V + j] / fx.temperature;
    if (z[j] > mx) mx = z[j];
  }
  let s = 0;
  for (let j = 0; j < V; j++) {
    z[j] = j === MASK ? 0 : Math.exp(z[j] - mx);
    s += z[j];
  }
  for (let j = 0; j < V; j++) z[j] /= s;
  if (fx.top_p >= 1) return z;
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => z[b] - z[a] || a - b);
  const keep = new Uint8Array(V);
  let cum = 0;
  order.forEach((j, r) => {
    cum += z[j];
    if (cum <= fx.top_p || r === 0) keep[j] = 1;
  });
  let t = 0;
  for (let j = 0; j < V; j++) {
    if (!keep[j]) z[j] = 0;
    t += z[j];
  }
  for (let j = 0; j < V; j++) z[j] /= t;
  return z;
}
function decodeNoise(b64) {
  const buf = Buffer.from(b64, "base64");
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
function entropy(tokens) {
  const c = new Map();
  for (const t of tokens) c.set(t, (c.get(t) || 0) + 1);
  let e = 0;
  for (const n of c.values()) {
    const f = n / tokens.length;
    e -= f * Math.log(f);
  }
  return e;
}

const prompt = fx.prompt_ids;
const mismatches = [];
let tokens = [];
const nFull = Math.floor(prompt.length / L);
for (let b = 0; b < nFull; b++) {
  const blk = prompt.slice(b * L, (b + 1) * L);
  await commit(blk, b * L);
  tokens.push(...blk);
}
let rest = prompt.slice(nFull * L);
let generated = 0;
let stop = null;
let bi = nFull;
const recorded = new Map(fx.blocks.map((b) => [b.index, b]));
while (!stop) {
  const rec = recorded.get(bi);
  if (!rec) {
    mismatches.push({ block: bi, error: "fixture has no such block" });
    break;
  }
  if (rec.past_length !== P) mismatches.push({ block: bi, past_length: P, expected: rec.past_length });
  const start = bi * L;
  const x = [...rest, ...Array(L - rest.length).fill(MASK)];
  const nPrompt = rest.length;
  rest = [];
  let si = 0;
  while (x.includes(MASK)) {
    const s = rec.steps[si];
    if (!s) {
      mismatches.push({ block: bi, step: si, error: "fixture has fewer steps" });
      break;
    }
    // first hitting: the revealed position does not depend on the logits, so only its logits are asked for
    const j = s.revealed;
    const { logits } = await step(x, start, [j]);
    if (x[j] !== MASK) mismatches.push({ block: bi, step: si, error: `revealed position ${j} is not masked` });
    const p = rowProbs(logits, logitIndexName ? 0 : j);
    const noise = decodeNoise(s.noise);
    let best = 0;
    let bestScore = -1;
    for (let v = 0; v < V; v++) {
      const sc = p[v] / noise[j * V + v];
      if (sc > bestScore) {
        bestScore = sc;
        best = v;
      }
    }
    if (best !== s.token) mismatches.push({ block: bi, step: si, token: best, expected: s.token });
    x[j] = best;
    si++;
  }
  await commit(x, start);
  const fresh = x.slice(nPrompt);
  tokens.push(...x);
  generated += fresh.length;
  if (JSON.stringify(x) !== JSON.stringify(rec.tokens)) mismatches.push({ block: bi, tokens: x, expected: rec.tokens });
  if (fx.stop_on_eos && fresh.includes(EOS)) {
    tokens = tokens.slice(0, tokens.length - fresh.length + fresh.indexOf(EOS) + 1);
    stop = "eos";
  } else if (generated >= fx.max_new_tokens) {
    tokens = tokens.slice(0, prompt.length + fx.max_new_tokens);
    stop = "length";
  } else if (fx.entropy_threshold !== null && tokens.length > fx.entropy_window && entropy(tokens.slice(-fx.entropy_window)) < fx.entropy_threshold) {
    stop = "entropy";
  }
  bi++;
}
const ok = mismatches.length === 0 && stop === fx.stop_reason && JSON.stringify(tokens) === JSON.stringify(fx.final_tokens);
console.log(JSON.stringify({ ok, stop_reason: stop, forwards, final_tokens: tokens, expected_final_tokens: fx.final_tokens, mismatches }));
process.exit(ok ? 0 : 1);
