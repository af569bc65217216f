// Metric flags (docs/reference/classification.md, "Metric flags: yellow and red"). The API sends the
// flag of each metric on stream.quality.flags; this table supplies the labels, units
// and the thresholds shown in the tooltip (and the flag itself when the API sent none).
// Comparisons are strict, as in the spec.

const pct = (v) => `${(v * 100).toFixed(v < 0.01 ? 2 : 1)}%`;
const num = (d) => Object.assign((v) => Number(v).toFixed(d), { digits: d });

export const METRICS = {
  jitter_ms: { label: "Jitter", unit: "ms", yellow: 15, red: 30, fmt: num(0) },
  jitter_max_ms: { label: "Jitter (max)", unit: "ms", fmt: num(0) },
  packet_loss_rate: { label: "Packet loss rate", yellow: 0.01, red: 0.1, fmt: pct },
  packet_loss_rate_max: { label: "Packet loss rate (max)", fmt: pct },
  round_trip_ms: { label: "Round trip", unit: "ms", yellow: 100, red: 500, fmt: num(0) },
  round_trip_max_ms: { label: "Round trip (max)", unit: "ms", fmt: num(0) },
  degradation_avg: { label: "Audio degradation avg (NMOS)", yellow: 0.5, red: 1.0, fmt: num(2) },
  concealed_ratio_avg: { label: "Concealed samples ratio avg", yellow: 0.035, red: 0.07,
    fmt: num(3) },
  packet_utilization: { label: "Packet utilization", fmt: num(0) },
  post_fec_plr_audio: { label: "Post-FEC packet loss (audio)", fmt: pct },
  video_post_fec_plr: { label: "Video post-FEC packet loss", yellow: 0.05, red: 0.15, fmt: pct },
  video_frame_loss_pct: { label: "Video frame loss", unit: "%", yellow: 5, red: 50, fmt: num(1) },
  video_frame_rate_avg: { label: "Video frame rate avg", unit: "fps", yellow: 12, red: 7,
    below: true, fmt: num(1) },
  spoiled_tile_pct: { label: "Spoiled tile", unit: "%", yellow: 11, red: 36, fmt: num(1) },
  relative_one_way_s: { label: "Relative one-way avg", unit: "s", yellow: 1.0, red: 1.75,
    fmt: num(2) },
  rdp_tile_latency_ms: { label: "RDP tile latency avg", unit: "ms", yellow: 200, red: 400,
    fmt: num(0) },
  codec: { label: "Codec" },
  resolution: { label: "Resolution" },
};

export const DEVICE_RATIO_RED = 0.005;

function show(spec, v) {
  const text = spec.fmt === pct ? pct(v) : String(v);
  return spec.unit && spec.fmt !== pct ? `${text} ${spec.unit}` : text;
}

/** "yellow" | "red" | null by the table (strict comparisons). */
export function localFlag(key, value, media) {
  const spec = specFor(key, media);
  if (!spec || spec.red === undefined || typeof value !== "number") return null;
  const worse = spec.below ? (a, b) => a < b : (a, b) => a > b;
  if (worse(value, spec.red)) return "red";
  if (spec.yellow !== undefined && worse(value, spec.yellow)) return "yellow";
  return null;
}

// Where a media type has its own poor threshold (docs/reference/classification.md: VBSS frame rate).
const BY_MEDIA = { vbss: { video_frame_rate_avg: { red: 2 } } };

function specFor(key, media) {
  const base = METRICS[key];
  const own = (BY_MEDIA[media] || {})[key];
  return base && own ? { ...base, ...own } : base;
}

/** The tooltip text: "Red when > 30 ms (poor threshold); yellow when > 15 ms". */
export function thresholdText(key, media) {
  const spec = specFor(key, media);
  if (!spec || spec.red === undefined) return "";
  const op = spec.below ? "<" : ">";
  const yellow = spec.yellow === undefined ? ""
    : `; yellow when ${op} ${show(spec, spec.yellow)} (outside the normal range)`;
  return `Red when ${op} ${show(spec, spec.red)} (poor threshold)${yellow}`;
}

export function metricLabel(key) {
  return (METRICS[key] && METRICS[key].label) || key.replace(/_/g, " ");
}

/** The value as shown. Near a threshold more digits are shown until the value no longer
 * reads the same as the threshold (0.1001 is "10.01%", not the "10.0%" of the red
 * threshold 0.1), so a flagged value never looks equal to an unflagged one; the exact
 * value is in `exactMetric` for the tooltip. */
export function formatMetric(key, value, media) {
  if (value === null || value === undefined) return "—";
  const spec = specFor(key, media) || METRICS[key];
  if (!spec || typeof value !== "number" || !spec.fmt) return String(value);
  const limits = [spec.red, spec.yellow].filter((t) => typeof t === "number" && t !== value);
  const text = show(spec, spec.fmt === pct ? value : Number(spec.fmt(value)));
  const base = spec.fmt === pct ? (value < 0.01 ? 2 : 1) : spec.fmt.digits ?? 0;
  let d = base;
  while (d < base + 6 && limits.some((t) => showAt(spec, t, d) === showAt(spec, value, d))) d++;
  return d === base ? text : showAt(spec, value, d);
}

/** The value with `digits` decimals (of the percentage for rates). */
function showAt(spec, v, digits) {
  if (spec.fmt === pct) return `${(v * 100).toFixed(digits)}%`;
  const text = Number(v).toFixed(digits);
  return spec.unit ? `${text} ${spec.unit}` : text;
}

/** The exact value, for the tooltip. */
export function exactMetric(key, value) {
  if (typeof value !== "number") return String(value);
  const spec = METRICS[key];
  return spec && spec.fmt === pct ? `${value} (${(value * 100).toPrecision(6)}%)` : String(value);
}

/** The flag of one metric: the API's stream.quality.flags (keyed by metric name) when it
 * sent them (they are per media type: jitter on a video stream has none); the table's
 * only when the response carries no flags at all (an older API). */
export function flagOf(flags, key, value, media) {
  if (flags && typeof flags === "object") {
    const sent = flags[key];
    return sent === "red" || sent === "yellow" ? sent : null;
  }
  return localFlag(key, value, media);
}
