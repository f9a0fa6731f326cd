// A small line chart as SVG (no plotting dependency): series of (x, y) points
// with a legend, an x axis and a y axis with ticks, and optional horizontal
// reference lines.

export interface Series { name: string; color: string; points: Array<[number, number]>; dashed?: boolean }

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  yMin: number;
  yMax: number;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function lineChart(series: Series[], o: ChartOptions, offsetY = 0): string {
  const W = o.width ?? 720, H = o.height ?? 300, L = 64, R = 190, T = 34, B = 44;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs), xMax = Math.max(...xs) || 1;
  const px = (x: number) => L + ((x - xMin) / (xMax - xMin || 1)) * (W - L - R);
  const py = (y: number) => offsetY + T + (1 - (Math.min(Math.max(y, o.yMin), o.yMax) - o.yMin) / (o.yMax - o.yMin)) * (H - T - B);
  const out: string[] = [];
  out.push(`<text x="${L}" y="${offsetY + 20}" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const y = o.yMin + ((o.yMax - o.yMin) * i) / 5;
    out.push(`<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${py(y) + 4}" font-size="11" text-anchor="end">${+y.toFixed(3)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const x = xMin + ((xMax - xMin) * i) / 5;
    out.push(`<text x="${px(x)}" y="${offsetY + H - B + 16}" font-size="11" text-anchor="middle">${Math.round(x).toLocaleString('en-US')}</text>`);
  }
  out.push(`<line x1="${L}" x2="${W - R}" y1="${offsetY + H - B}" y2="${offsetY + H - B}" stroke="#333"/>`);
  out.push(`<line x1="${L}" x2="${L}" y1="${offsetY + T}" y2="${offsetY + H - B}" stroke="#333"/>`);
  out.push(`<text x="${(L + W - R) / 2}" y="${offsetY + H - 6}" font-size="12" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text x="14" y="${offsetY + (T + H - B) / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${offsetY + (T + H - B) / 2})">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!s.dashed) for (const p of s.points) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    const ly = offsetY + T + 10 + i * 18;
    out.push(`<line x1="${W - R + 12}" x2="${W - R + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - R + 42}" y="${ly + 4}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function svgDocument(parts: string[], width: number, height: number): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
