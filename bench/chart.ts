/**
 * A hand-written SVG bar chart of ratios (bench/suite.ts draws bench/results-ratios.svg with it):
 * one row per label, one bar per series, a dashed line at 1.0 (parity). No dependency.
 */

export interface ChartRow {
  label: string;
  /** one value per series, in series order; NaN or undefined leaves the bar out */
  values: (number | undefined)[];
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  series: string[];
  rows: ChartRow[];
}

const COLORS = ['#2f6db5', '#e08a1e', '#3a9a5b', '#b53a5b'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function ratioChart(spec: ChartSpec): string {
  const labelW = 270;
  const plotW = 520;
  const barH = 14;
  const rowGap = 12;
  const top = 70 + spec.series.length * 0; // legend sits in the header
  const rowH = spec.series.length * barH + rowGap;
  const height = top + spec.rows.length * rowH + 40;
  const width = labelW + plotW + 90;
  const finite = spec.rows.flatMap((r) => r.values).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const max = Math.max(1.2, Math.ceil(Math.max(...finite, 1) * 1.1 * 2) / 2);
  const x = (v: number) => labelW + (v / max) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="12" y="22" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="12" y="40" fill="#555">${esc(spec.subtitle)}</text>`);
  spec.series.forEach((s, i) => {
    const lx = 12 + i * 260;
    out.push(`<rect x="${lx}" y="50" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 18}" y="60">${esc(s)}</text>`);
  });
  // grid
  const step = max <= 2 ? 0.25 : max <= 5 ? 0.5 : 1;
  for (let v = 0; v <= max + 1e-9; v += step) {
    const gx = x(v).toFixed(1);
    out.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${height - 30}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${gx}" y="${height - 14}" text-anchor="middle" fill="#555">${v.toFixed(step < 1 ? 2 : 0)}</text>`);
  }
  spec.rows.forEach((row, r) => {
    const y0 = top + r * rowH;
    out.push(`<text x="${labelW - 8}" y="${y0 + (spec.series.length * barH) / 2 + 4}" text-anchor="end">${esc(row.label)}</text>`);
    row.values.forEach((v, i) => {
      if (v === undefined || !Number.isFinite(v)) return;
      const y = y0 + i * barH;
      out.push(`<rect x="${labelW}" y="${y}" width="${Math.max(1, x(v) - labelW).toFixed(1)}" height="${barH - 2}" fill="${COLORS[i % COLORS.length]}"/>`);
      out.push(`<text x="${(x(v) + 4).toFixed(1)}" y="${y + barH - 4}" fill="#222">${v.toFixed(2)}</text>`);
    });
  });
  const px = x(1).toFixed(1);
  out.push(`<line x1="${px}" y1="${top - 6}" x2="${px}" y2="${height - 30}" stroke="#c00" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${px}" y="${top - 9}" text-anchor="middle" fill="#c00">1.0</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
