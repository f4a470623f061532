/**
 * A small inline-SVG chart: linear axes with round ticks, point / line / step series, reference
 * lines and a legend. Output is plain SVG markup for an HTML page: no script, no external
 * resource, no namespace URL (inline SVG in HTML needs none).
 */

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
  kind: "points" | "line" | "step";
  /** Point radius (points) or stroke width (lines). */
  size?: number;
  /** Fill opacity of points. */
  opacity?: number;
  /** Hover text per point. */
  titles?: readonly string[];
}

export interface RefLine {
  axis: "x" | "y";
  value: number;
  label: string;
  color: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  refs?: readonly RefLine[];
  /** Draw y = x (predicted against measured). */
  diagonal?: boolean;
  width?: number;
  height?: number;
}

/** Escape text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Round tick values covering [lo, hi] (about n of them). */
export function ticks(lo: number, hi: number, n = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

function extent(vals: number[], pad = 0.05): [number, number] {
  const fin = vals.filter(Number.isFinite);
  if (fin.length === 0) return [0, 1];
  let lo = Math.min(...fin), hi = Math.max(...fin);
  if (hi === lo) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** One chart as an <svg> element. */
export function chart(o: ChartOptions): string {
  const W = o.width ?? 860, H = o.height ?? 420;
  const m = { l: 70, r: 190, t: 36, b: 52 }; // the legend goes in the right margin
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0])), ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  for (const r of o.refs ?? []) (r.axis === "x" ? xs : ys).push(r.value);
  let [x0, x1] = extent(xs), [y0, y1] = extent(ys);
  if (o.diagonal) { x0 = y0 = Math.min(x0, y0); x1 = y1 = Math.max(x1, y1); }
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [];
  parts.push(`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  // grid and ticks
  for (const t of ticks(x0, x1)) {
    parts.push(`<line x1="${f(X(t))}" y1="${m.t}" x2="${f(X(t))}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${f(X(t))}" y="${m.t + ph + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" y1="${f(Y(t))}" x2="${m.l + pw}" y2="${f(Y(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(Y(t) + 4)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle" font-size="13">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(o.yLabel)}</text>`);
  if (o.diagonal) parts.push(`<line x1="${f(X(x0))}" y1="${f(Y(x0))}" x2="${f(X(x1))}" y2="${f(Y(x1))}" stroke="#999" stroke-dasharray="4 3"/>`);
  for (const r of o.refs ?? []) {
    if (r.axis === "x") {
      parts.push(`<line x1="${f(X(r.value))}" y1="${m.t}" x2="${f(X(r.value))}" y2="${m.t + ph}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 3"/>`);
      parts.push(`<text x="${f(X(r.value) - 4)}" y="${m.t + 12}" text-anchor="end" font-size="11" fill="${r.color}">${esc(r.label)}</text>`);
    } else {
      parts.push(`<line x1="${m.l}" y1="${f(Y(r.value))}" x2="${m.l + pw}" y2="${f(Y(r.value))}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 3"/>`);
      parts.push(`<text x="${m.l + pw - 4}" y="${f(Y(r.value) - 4)}" text-anchor="end" font-size="11" fill="${r.color}">${esc(r.label)}</text>`);
    }
  }
  for (const s of o.series) {
    if (s.points.length === 0) continue;
    if (s.kind === "points") {
      const rad = s.size ?? 2.5, op = s.opacity ?? 0.6;
      parts.push(`<g fill="${s.color}" fill-opacity="${op}">`);
      s.points.forEach((p, i) => {
        const t = s.titles?.[i];
        parts.push(`<circle cx="${f(X(p[0]))}" cy="${f(Y(p[1]))}" r="${rad}">${t ? `<title>${esc(t)}</title>` : ""}</circle>`);
      });
      parts.push(`</g>`);
    } else {
      const pts: string[] = [];
      s.points.forEach((p, i) => {
        if (s.kind === "step" && i > 0) pts.push(`${f(X(p[0]))},${f(Y(s.points[i - 1][1]))}`);
        pts.push(`${f(X(p[0]))},${f(Y(p[1]))}`);
      });
      parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.color}" stroke-width="${s.size ?? 2}"/>`);
    }
  }
  // legend
  let ly = m.t + 10;
  for (const s of o.series) {
    const lx = m.l + pw + 20;
    parts.push(s.kind === "points"
      ? `<circle cx="${lx}" cy="${ly - 4}" r="4" fill="${s.color}"/>`
      : `<line x1="${lx - 8}" y1="${ly - 4}" x2="${lx + 8}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}" font-size="11">${esc(s.name)}</text>`);
    ly += 16;
  }
  parts.push(`</svg>`);
  return parts.join("\n");
}
