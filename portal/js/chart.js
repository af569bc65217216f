// Poor % by period as an inline SVG column chart: no chart library at all.
// points: [{label, value (percent or null), detail}]. Accessible name on the <svg>,
// a <title> on each column, and the numbers are in a table next to it anyway.

import { s } from "./dom.js";

export function columnChart(points, { title, width = 1160, height = 260, max } = {}) {
  const pad = { top: 16, right: 16, bottom: 44, left: 48 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const values = points.map((p) => (typeof p.value === "number" ? p.value : 0));
  const top = max || niceMax(Math.max(5, ...values));
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const step = plotW / Math.max(points.length, 1);
  const barW = Math.max(2, Math.min(40, step * 0.7));

  const svg = s("svg", {
    class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title, preserveAspectRatio: "xMidYMid meet",
  }, s("title", {}, title));

  // grid lines and y labels
  for (let i = 0; i <= 4; i += 1) {
    const v = (top / 4) * i;
    svg.append(
      s("line", { class: "grid-line", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
      s("text", { class: "axis", x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" },
        `${Math.round(v * 10) / 10}%`),
    );
  }
  const labelEvery = Math.ceil(points.length / 15);
  points.forEach((p, i) => {
    const cx = pad.left + step * i + step / 2;
    if (typeof p.value === "number") {
      const bar = s("rect", {
        class: p.value > 0 ? "bar" : "bar bar-zero",
        x: cx - barW / 2, y: y(p.value), width: barW, height: Math.max(0, y(0) - y(p.value)),
      }, s("title", {}, `${p.label}: ${p.value.toFixed(1)}% poor${p.detail ? ` (${p.detail})` : ""}`));
      svg.append(bar);
    } else {
      svg.append(s("text", { class: "axis no-data", x: cx, y: y(0) - 4, "text-anchor": "middle" },
        "–"));
    }
    if (i % labelEvery === 0) {
      svg.append(s("text", { class: "axis", x: cx, y: height - pad.bottom + 16,
        "text-anchor": "middle" }, shortLabel(p.label)));
    }
  });
  svg.append(s("line", { class: "axis-line", x1: pad.left, x2: width - pad.right,
    y1: y(0), y2: y(0) }));
  return svg;
}

function niceMax(v) {
  for (const m of [5, 10, 20, 25, 50, 75, 100]) if (v <= m) return m;
  return Math.ceil(v / 10) * 10;
}

function shortLabel(label) {
  const m = /^\d{4}-(\d{2})-(\d{2})/.exec(String(label));
  return m ? `${m[1]}-${m[2]}` : String(label).slice(0, 12);
}
