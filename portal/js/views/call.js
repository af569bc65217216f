// Call detail: summary, sessions and streams; Advanced (metrics with yellow/red flags and
// the threshold in a tooltip, network and devices) and Debug tabs for engineers and
// admins only. For a specialist the API leaves those fields out; the page does not
// offer the tabs at all.

import {
  CALL_TYPES, REASONS, facts, fmtDateTime, fmtDuration, h, nextId, problemBox, ratingBadge,
} from "../dom.js";
import { href, seg } from "../router.js";
import {
  DEVICE_RATIO_RED, METRICS, exactMetric, flagOf, formatMetric, metricLabel, thresholdText,
} from "../thresholds.js";

const DIRECTIONS = { callerToCallee: "Caller → callee", calleeToCaller: "Callee → caller" };
const CONNECTION = { wired: "Wired", wifi: "Wi-Fi", other: "Other" };

export async function callView({ main, api, params, query, session, isCurrent }) {
  const user = query.user || "";
  const full = ["admin", "engineer"].includes(session.level);
  main.append(h("p", { class: "loading" }, "Loading call…"));
  let call;
  try {
    call = await api.json(`/v1/calls/${seg(params.callId)}`, { query: { user } });
    // A large meeting's sessions come by page: follow the token, keep the first
    // page's call fields and participants.
    for (let token = call.continuationToken; token && isCurrent(); ) {
      const page = await api.json(`/v1/calls/${seg(params.callId)}`,
        { query: { user, continuationToken: token } });
      call.sessions = (call.sessions || []).concat(page.sessions || []);
      token = page.continuationToken;
    }
  } catch (e) {
    main.replaceChildren(problemBox(e));
    return;
  }
  if (!isCurrent()) return;

  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: href("/users") }, "Users"), " › ",
    user ? [h("a", { href: href(`/users/${seg(user)}/calls`) }, user), " › "] : null,
    "Call");
  const summary = h("section", { class: "card call-summary", "aria-label": "Summary" },
    h("div", { class: "call-rating" }, ratingBadge(call.rating)),
    facts([
      ["Type", CALL_TYPES[call.callType] || call.callType],
      ["Start", fmtDateTime(call.start)],
      ["End", fmtDateTime(call.end)],
      ["Duration", fmtDuration(call.durationS)],
      ["Reasons", (call.reasons || []).map((r) => REASONS[r] || r).join(", ") || null],
      ["Organizer", call.organizer],
      ["Participants", String(call.participantCount ?? (call.participants || []).length)],
      ["Call ID", call.callId],
    ]),
    h("h2", {}, "Participants"),
    h("ul", { class: "participants-list" }, (call.participants || []).map((p) => h("li", {},
      h("span", { class: "participant-name" }, partyName(p)),
      p.uri && p.uri !== partyName(p) ? h("span", { class: "muted" }, ` ${p.uri}`) : null,
      p.kind ? h("span", { class: "tag" }, p.kind) : null))));

  const tabs = [["overview", "Overview", () => overview(call)]];
  if (full) {
    tabs.push(["advanced", "Advanced", () => advanced(call)]);
    tabs.push(["debug", "Debug", () => debug(call)]);
  }
  main.replaceChildren(crumbs, h("h1", {}, "Call detail"), summary,
    tabbed(tabs, query.tab || "overview"));
}

function partyName(p) {
  if (!p) return "—";
  return p.displayName || p.uri || p.phone || p.role || "Unknown";
}

// ---- tabs (WAI-ARIA tabs pattern: arrows, Home/End, one tab stop) ----------------------

function tabbed(tabs, selected) {
  if (tabs.length === 1) {
    return h("section", { class: "tab-panel", "aria-label": tabs[0][1] }, tabs[0][2]());
  }
  const wrap = h("div", { class: "tabs" });
  const list = h("div", { role: "tablist", "aria-label": "Call detail views" });
  const panels = [];
  const buttons = tabs.map(([key, label, render], i) => {
    const tabId = `tab-${key}`;
    const panelId = `panel-${key}`;
    const panel = h("section", { role: "tabpanel", id: panelId, "aria-labelledby": tabId,
      class: "tab-panel", tabindex: 0, hidden: true });
    panel.dataset.render = String(i);
    panels.push([panel, render]);
    const button = h("button", { type: "button", role: "tab", id: tabId,
      "aria-controls": panelId, "aria-selected": "false", tabindex: -1, "data-tab": key },
    label);
    button.addEventListener("click", () => select(i));
    button.addEventListener("keydown", (event) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        const next = (moves[event.key] + tabs.length) % tabs.length;
        select(next);
        buttons[next].focus();
      }
    });
    return button;
  });
  function select(index) {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-selected", String(i === index));
      b.tabIndex = i === index ? 0 : -1;
      const [panel, render] = panels[i];
      panel.hidden = i !== index;
      if (i === index && !panel.firstChild) panel.append(render());
    });
    const url = new URL(location.href);
    const [path, qs = ""] = url.hash.replace(/^#/, "").split("?");
    const q = new URLSearchParams(qs);
    q.set("tab", tabs[index][0]);
    history.replaceState(null, "", `#${path}?${q}`);
  }
  list.append(...buttons);
  wrap.append(list, ...panels.map(([p]) => p));
  const start = Math.max(0, tabs.findIndex(([key]) => key === selected));
  select(start);
  return wrap;
}

// ---- overview ------------------------------------------------------------------------

function sessionTitle(s, i) {
  return `Session ${i + 1}: ${partyName(s.caller)} → ${partyName(s.callee)}`;
}

function overview(call) {
  const out = [];
  (call.sessions || []).forEach((s, i) => {
    const reasons = (s.reasons || []).map((r) => {
      const metrics = (s.reasonMetrics || {})[r];
      const named = (metrics || []).map(metricLabel).join(", ");
      return `${REASONS[r] || r}${named ? ` (${named})` : ""}`;
    });
    const streams = (s.streams || []).map((st) => h("tr", { "data-stream": st.id },
      h("td", {}, st.label),
      h("td", {}, st.mediaType),
      h("td", {}, DIRECTIONS[st.direction] || st.direction),
      h("td", {}, ratingBadge(st.quality ? st.quality.rating : "unclassified")),
      h("td", {}, st.quality && st.quality.poorDueTo && st.quality.poorDueTo.length
        ? st.quality.poorDueTo.map(metricLabel).join(", ")
        : (st.quality && st.quality.unclassifiedReason) || "—")));
    out.push(h("article", { class: "card session", "data-session": s.id },
      h("h2", {}, sessionTitle(s, i)),
      h("div", { class: "session-head" }, ratingBadge(s.rating),
        facts([
          ["Start", fmtDateTime(s.start)],
          ["End", fmtDateTime(s.end)],
          ["Media", (s.mediaTypes || []).join(", ")],
          ["Reasons", reasons.join("; ")],
          ["Response code", s.responseCode],
          ["Diagnostic ID", s.diagnosticId],
          ["Failure", s.failureStage ? `${s.failureStage} ${s.failureReason || ""}` : null],
        ])),
      h("div", { class: "endpoints" }, ["caller", "callee"].map((role) => endpointBasic(s[role], role))),
      h("table", { class: "grid" },
        h("caption", {}, "Streams"),
        h("thead", {}, h("tr", {}, ["Stream", "Media", "Direction", "Quality", "Poor due to / note"]
          .map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, streams.length ? streams
          : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No streams reported."))))));
  });
  if (!out.length) out.push(h("p", { class: "empty" }, "No sessions in this call."));
  return h("div", {}, out);
}

function yesNo(v) {
  return v === true ? "Yes" : v === false ? "No" : null;
}

function endpointBasic(ep, role) {
  if (!ep) return null;
  return h("div", { class: "endpoint" },
    h("h3", {}, `${role === "caller" ? "Caller" : "Callee"}: `,
      h("span", { class: "participant-name" }, partyName(ep))),
    facts([
      ["Kind", ep.kind],
      ["Connection", CONNECTION[ep.connectionType] || ep.connectionType],
      ["Inside corporate network", yesNo(ep.inside)],
      ["VPN", yesNo(ep.vpn)],
    ]));
}

// ---- advanced ------------------------------------------------------------------------

function flaggedCell(key, value, flag, media) {
  const text = formatMetric(key, value, media);
  const exact = typeof value === "number" ? `exact value ${exactMetric(key, value)}` : null;
  if (!flag) return h("td", { class: "metric", title: exact }, text);
  const tipId = nextId("tip");
  const tip = thresholdText(key, media) || "Flagged by the classifier";
  return h("td", {
    class: `metric flag flag-${flag}`, tabindex: 0, "data-flag": flag,
    "aria-describedby": tipId,
  },
  h("span", { class: "flag-mark", "aria-hidden": "true" }, flag === "red" ? "▲ " : "● "),
  text,
  h("span", { class: "visually-hidden" }, ` (${flag})`),
  h("span", { role: "tooltip", id: tipId, class: "tooltip" },
    `${flag === "red" ? "Red" : "Yellow"}: ${metricLabel(key)}. ${tip}; ${exact}.`));
}

function metricsTable(s) {
  const streams = (s.streams || []).filter((st) => st.metrics);
  if (!streams.length) return h("p", { class: "empty" }, "No stream metrics reported.");
  const keys = [];
  const known = Object.keys(METRICS);
  for (const st of streams) {
    for (const [k, v] of Object.entries(st.metrics)) {
      if (v !== null && v !== undefined && !keys.includes(k)) keys.push(k);
    }
  }
  keys.sort((a, b) => (known.indexOf(a) + 1 || 99) - (known.indexOf(b) + 1 || 99));
  return h("table", { class: "grid metrics" },
    h("caption", {}, "Stream metrics (yellow: outside the normal range; red: likely cause)"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"),
      streams.map((st) => h("th", { scope: "col" }, `${st.label}`, h("br"),
        h("span", { class: "muted" }, DIRECTIONS[st.direction] || st.direction))))),
    h("tbody", {}, keys.map((k) => h("tr", { "data-metric": k },
      h("th", { scope: "row" }, metricLabel(k)),
      streams.map((st) => {
        const v = st.metrics[k];
        const flags = st.quality && st.quality.flags;
        const flag = v === null || v === undefined ? null : flagOf(flags, k, v, st.mediaType);
        return flaggedCell(k, v, flag, st.mediaType);
      })))));
}

/** The endpoint's place as text, never raw JSON: building, network and city from the
 * building file ("not in the building file" when its subnet is not covered), inside or
 * outside the corporate network, and the on-prem site, pool and role of a server. */
export function place(p) {
  if (!p || typeof p !== "object") return null;
  const pick = (...keys) => keys.map((k) => p[k]).find((v) => v !== null && v !== undefined && v !== "");
  const building = pick("building", "buildingName");
  const network = pick("networkName", "network_name", "network");
  const parts = [];
  if (building || network) {
    parts.push([building, network, pick("city"), pick("region"), pick("country")]
      .filter(Boolean).join(" · "));
  } else {
    parts.push("not in the building file");
  }
  const inside = pick("insideCorp", "inside_corp");
  if (inside === true) parts.push("inside the corporate network");
  else if (inside === false) parts.push("outside the corporate network");
  const site = pick("site");
  const pool = pick("pool");
  const role = pick("serverRole");
  if (site || pool) {
    parts.push([site && `site ${site}`, pool && `pool ${pool}`, role].filter(Boolean).join(", "));
  } else if (role) {
    parts.push(`${role}, not in the topology`);
  }
  return parts.join("; ");
}

function endpointAdvanced(ep, role) {
  if (!ep) return null;
  const ratios = Object.entries(ep.deviceRatios || {}).map(([k, v]) => {
    const sent = (ep.deviceFlags || {})[k];
    const red = sent ? sent === "red" : typeof v === "number" && v >= DEVICE_RATIO_RED;
    return h("li", { class: red ? "flag flag-red" : "", "data-flag": red ? "red" : null,
      title: red ? `Red when ≥ ${DEVICE_RATIO_RED} (device not functioning)` : null },
    `${k}: ${v}`, red ? " (red)" : "");
  });
  const list = facts([
    ["IP address", ep.ipAddress],
    ["Port", ep.port],
    ["Subnet", ep.subnet],
    ["Subnet mask", ep.subnetMask],
    ["MAC address", ep.macAddress],
    ["Machine", ep.machineName],
    ["OS", ep.os],
    ["CPU", ep.cpu],
    ["Capture device", ep.captureDevice],
    ["Capture driver", ep.captureDriver],
    ["Render device", ep.renderDevice],
    ["Render driver", ep.renderDriver],
    ["Link speed", ep.linkSpeedBps ? `${Math.round(ep.linkSpeedBps / 1e6)} Mbit/s` : null],
    ["Wi-Fi radio", ep.wifiRadioType],
    ["Wi-Fi signal", ep.wifiSignalStrength],
    ["Building / network", place(ep.place)],
  ]);
  return h("div", { class: "endpoint" },
    h("h3", {}, `${role === "caller" ? "Caller" : "Callee"}: ${partyName(ep)}`),
    list.childElementCount || ratios.length ? list : h("p", { class: "muted" }, "Not reported."),
    ratios.length ? h("ul", { class: "ratios" }, ratios) : null);
}

function advanced(call) {
  const out = [];
  (call.sessions || []).forEach((s, i) => {
    const ice = (s.streams || []).filter((st) => st.ice || st.transport)
      .map((st) => `${st.label} ${DIRECTIONS[st.direction] || ""}: ${[st.ice, st.transport]
        .filter(Boolean).join(" / ")}`);
    out.push(h("article", { class: "card session" },
      h("h2", {}, sessionTitle(s, i)),
      h("div", { class: "endpoints" }, ["caller", "callee"].map((r) => endpointAdvanced(s[r], r))),
      ice.length ? facts([["Connectivity (ICE / transport)", ice.join("; ")]]) : null,
      facts([["Invite", fmtDateTime(s.inviteTime)], ["Response", fmtDateTime(s.responseTime)]]
        .filter(([, v]) => v !== "—")),
      metricsTable(s)));
  });
  return h("div", {}, out);
}

// ---- debug ---------------------------------------------------------------------------

function debug(call) {
  const out = [facts([["Conference URI", call.conferenceUri],
    ["Sources", (call.sources || []).join(", ")]])];
  (call.sessions || []).forEach((s, i) => {
    out.push(h("article", { class: "card session" },
      h("h2", {}, sessionTitle(s, i)),
      facts([["SIP Call-ID", s.sipCallId], ["From tag", s.fromTag], ["To tag", s.toTag],
        ["Session ID", s.id]]),
      h("div", { class: "endpoints" }, ["caller", "callee"].map((role) => {
        const ep = s[role] || {};
        return h("div", { class: "endpoint" },
          h("h3", {}, `${role === "caller" ? "Caller" : "Callee"}: ${partyName(ep)}`),
          facts([["User agent", ep.userAgent], ["DNS suffix", ep.dnsSuffix],
            ["SSID", ep.ssid], ["BSSID", ep.bssid]]));
      }))));
  });
  return h("div", {}, out);
}
