/**
 * The pipeline bench's plot as a hand-written SVG (no plotting dependency): groups of bars, tokens/s on a
 * shared linear axis, each bar labelled with its value and each group with its ratio, plus footnotes.
 * A skipped measurement is drawn as an empty slot marked "skipped", so plots of partial runs still compare.
 * Trade-off: one fixed layout (width grows with the groups), which is all a benchmark page needs.
 */

export interface Bar {
  label: string;
  value: number | null;
}

export interface BarGroup {
  title: string;
  bars: Bar[];
  /** e.g. "job / engine = 0.52x"; omitted when a bar is missing. */
  ratioLabel?: string;
}

export interface PlotOptions {
  title: string;
  subtitle: string;
  yLabel: string;
  groups: BarGroup[];
  footnotes: string[];
}

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
const BAR_WIDTH = 70;
const BAR_GAP = 14;
const GROUP_GAP = 60;
const PLOT_HEIGHT = 300;
const MARGIN = { top: 80, left: 70, right: 30 };

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function formatValue(value: number): string {
  return value >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1);
}

/** A round axis maximum and tick step above `max` (1, 2 or 5 times a power of ten). */
function niceScale(max: number): { top: number; step: number } {
  const safeMax = max > 0 ? max : 1;
  const rawStep = safeMax / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rawStep));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= rawStep) ?? 10) * magnitude;
  return { top: Math.ceil(safeMax / step) * step, step };
}

export function renderBarChart(options: PlotOptions): string {
  const values = options.groups.flatMap((group) => group.bars.map((bar) => bar.value ?? 0));
  const { top, step } = niceScale(Math.max(...values));
  const groupWidths = options.groups.map((group) => group.bars.length * (BAR_WIDTH + BAR_GAP) - BAR_GAP);
  const plotWidth = groupWidths.reduce((sum, width) => sum + width, 0) + GROUP_GAP * (options.groups.length + 1);
  const width = MARGIN.left + plotWidth + MARGIN.right;
  const baseY = MARGIN.top + PLOT_HEIGHT;
  const height = baseY + 90 + 18 * options.footnotes.length;
  const y = (value: number) => baseY - (value / top) * PLOT_HEIGHT;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="28" font-size="18" text-anchor="middle" font-weight="bold">${escapeXml(options.title)}</text>`,
    `<text x="${width / 2}" y="50" font-size="12" text-anchor="middle" fill="#555">${escapeXml(options.subtitle)}</text>`,
  );
  for (let tick = 0; tick <= top + 1e-9; tick += step) {
    const tickY = y(tick);
    parts.push(
      `<line x1="${MARGIN.left}" y1="${tickY}" x2="${MARGIN.left + plotWidth}" y2="${tickY}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${tickY + 4}" font-size="11" text-anchor="end" fill="#555">${formatValue(tick)}</text>`,
    );
  }
  parts.push(
    `<text x="18" y="${MARGIN.top + PLOT_HEIGHT / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 18 ${MARGIN.top + PLOT_HEIGHT / 2})">${escapeXml(options.yLabel)}</text>`,
    `<line x1="${MARGIN.left}" y1="${baseY}" x2="${MARGIN.left + plotWidth}" y2="${baseY}" stroke="#333"/>`,
  );
  let x = MARGIN.left + GROUP_GAP;
  options.groups.forEach((group, g) => {
    const groupWidth = groupWidths[g] as number;
    group.bars.forEach((bar, b) => {
      const barX = x + b * (BAR_WIDTH + BAR_GAP);
      const centerX = barX + BAR_WIDTH / 2;
      if (bar.value === null) {
        parts.push(
          `<rect x="${barX}" y="${baseY - 40}" width="${BAR_WIDTH}" height="40" fill="none" stroke="#bbb" stroke-dasharray="4 3"/>`,
          `<text x="${centerX}" y="${baseY - 16}" font-size="11" text-anchor="middle" fill="#999">skipped</text>`,
        );
      } else {
        const barY = y(bar.value);
        parts.push(
          `<rect x="${barX}" y="${barY}" width="${BAR_WIDTH}" height="${baseY - barY}" fill="${COLORS[b % COLORS.length]}"/>`,
          `<text x="${centerX}" y="${barY - 6}" font-size="12" text-anchor="middle">${formatValue(bar.value)}</text>`,
        );
      }
      parts.push(
        `<text x="${centerX}" y="${baseY + 16}" font-size="11" text-anchor="middle">${escapeXml(bar.label)}</text>`,
      );
    });
    const centerX = x + groupWidth / 2;
    parts.push(
      `<text x="${centerX}" y="${baseY + 38}" font-size="12" text-anchor="middle" font-weight="bold">${escapeXml(group.title)}</text>`,
    );
    if (group.ratioLabel !== undefined)
      parts.push(
        `<text x="${centerX}" y="${baseY + 56}" font-size="12" text-anchor="middle" fill="#333">${escapeXml(group.ratioLabel)}</text>`,
      );
    x += groupWidth + GROUP_GAP;
  });
  options.footnotes.forEach((note, i) => {
    parts.push(
      `<text x="${MARGIN.left}" y="${baseY + 84 + 18 * i}" font-size="12" fill="#333">${escapeXml(note)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
