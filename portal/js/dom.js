// Small DOM helpers. Text always goes in as text nodes (never innerHTML): API data
// cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("a", {href: "#/x", class: "btn", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value); // CSSOM: allowed by style-src 'self'
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
export const nextId = (prefix = "id") => `${prefix}-${++uid}`;

// ---- formatting ---------------------------------------------------------------

export function fmtDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(Number(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hh ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function fmtPercent(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return `${Number(value).toFixed(digits)}%`;
}

export const CALL_TYPES = { peerToPeer: "Peer-to-peer", conference: "Conference", pstn: "PSTN" };
export const REASONS = { callSetup: "Call setup", audioNetwork: "Audio network", device: "Device" };

// ---- ratings: an icon AND a word, never colour alone ----------------------------

const RATING_TEXT = {
  good: "Good", poor: "Poor", unavailable: "Unavailable", unclassified: "Unclassified",
};

function ratingIcon(rating) {
  const attrs = { class: "icon", viewBox: "0 0 16 16", width: 16, height: 16,
    "aria-hidden": "true", focusable: "false" };
  if (rating === "good") {
    return s("svg", attrs, s("circle", { cx: 8, cy: 8, r: 7 }),
      s("path", { d: "M4.5 8.2l2.3 2.3 4.7-4.9", fill: "none" }));
  }
  if (rating === "poor") {
    return s("svg", attrs, s("path", { d: "M8 1.2L15 14.5H1z" }),
      s("path", { d: "M8 6v4M8 11.8v.4", fill: "none" }));
  }
  if (rating === "unclassified") {
    return s("svg", attrs, s("circle", { cx: 8, cy: 8, r: 7 }),
      s("path", { d: "M6 6.2a2 2 0 1 1 2.6 1.9c-.5.2-.6.6-.6 1.1v.4M8 11.6v.4", fill: "none" }));
  }
  return s("svg", attrs, s("circle", { cx: 8, cy: 8, r: 7 }),
    s("path", { d: "M4.5 8h7", fill: "none" }));
}

export function ratingBadge(rating) {
  const key = rating || "unavailable";
  const text = RATING_TEXT[key] || String(key);
  return h("span", { class: `rating rating-${key}`, "data-rating": key },
    ratingIcon(key), h("span", { class: "rating-text" }, text));
}

// ---- little widgets ----------------------------------------------------------------

export function problemBox(error) {
  const box = h("div", { class: "problem", role: "alert" },
    h("strong", {}, error.title || "Error"), " ", error.detail || error.message || "");
  if (error.field) box.append(h("span", { class: "problem-field" }, ` (field: ${error.field})`));
  return box;
}

export function emptyRow(colspan, text) {
  return h("tr", {}, h("td", { colspan, class: "empty" }, text));
}

export function table(caption, headers, rows, attrs = {}) {
  return h("table", { class: "grid", ...attrs },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.length ? rows : emptyRow(headers.length, "Nothing to show.")));
}

/** A description list from [label, value] pairs; pairs whose value is absent are left out. */
export function facts(pairs, attrs = {}) {
  const dl = h("dl", { class: "facts", ...attrs });
  for (const [label, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(h("dt", {}, label), h("dd", {}, value));
  }
  return dl;
}

/** ISO date (yyyy-mm-dd) n days before today, UTC. */
export function daysAgo(n) {
  const d = new Date(Date.now() - n * 86400000);
  return d.toISOString().slice(0, 10);
}

export function today() {
  return new Date().toISOString().slice(0, 10);
}

/** "2026-11-01" (an <input type=date> value) as the end of that day, exclusive, ISO. */
export function endOfDay(dateStr) {
  const d = new Date(`${dateStr}T00:00:00Z`);
  return new Date(d.getTime() + 86400000).toISOString().replace(".000Z", "Z");
}

export function startOfDay(dateStr) {
  return `${dateStr}T00:00:00Z`;
}
