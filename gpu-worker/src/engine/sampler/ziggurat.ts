/**
 * Exp(1) variates by the ziggurat method (Marsaglia & Tsang 2000, 256 layers), with the layer index and the
 * abscissa taken from separate bits of one 32-bit draw (Doornik 2005's fix for their correlation). About 99%
 * of draws cost one random word, a table lookup and a multiply, which is what makes an exponential race over a
 * nucleus of tens of thousands of tokens affordable per step (no logarithm per member).
 */

const LAYERS = 256;
const TWO_POW_24 = 16_777_216;
const R = 7.697117470131487;
const AREA = 3.949659822581572e-3;

const ke = new Uint32Array(LAYERS);
const we = new Float64Array(LAYERS);
const fe = new Float64Array(LAYERS);

(function buildTables() {
  let de = R;
  let te = R;
  const q = AREA / Math.exp(-de);
  ke[0] = Math.floor((de / q) * TWO_POW_24);
  ke[1] = 0;
  we[0] = q / TWO_POW_24;
  we[LAYERS - 1] = de / TWO_POW_24;
  fe[0] = 1;
  fe[LAYERS - 1] = Math.exp(-de);
  for (let i = LAYERS - 2; i >= 1; i--) {
    de = -Math.log(AREA / de + Math.exp(-de));
    ke[i + 1] = Math.floor((de / te) * TWO_POW_24);
    te = de;
    fe[i] = Math.exp(-de);
    we[i] = de / TWO_POW_24;
  }
})();

/** One Exp(1) variate from a source of uniform 32-bit words and of uniforms in [0, 1). */
export function zigguratExponential(nextUint32: () => number, nextFloat: () => number): number {
  for (;;) {
    const word = nextUint32();
    const layer = word & 0xff;
    const position = word >>> 8;
    const x = position * (we[layer] as number);
    if (position < (ke[layer] as number)) return x;
    if (layer === 0) return R - Math.log1p(-nextFloat());
    const lower = fe[layer] as number;
    if (lower + nextFloat() * ((fe[layer - 1] as number) - lower) < Math.exp(-x)) return x;
  }
}
