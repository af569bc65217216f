// A user's call history: rating (icon and text), date, type, participants, newest first.

import {
  CALL_TYPES, REASONS, daysAgo, endOfDay, fmtDateTime, fmtDuration, h, problemBox,
  ratingBadge, startOfDay, table, today,
} from "../dom.js";
import { href, navigate, seg } from "../router.js";

export async function callsView({ main, api, params, query, session, isCurrent }) {
  const user = params.user;
  const from = query.from || daysAgo(30);
  const to = query.to || today();
  const full = ["admin", "engineer"].includes(session.level);

  const fromInput = h("input", { id: "calls-from", type: "date", value: from, required: true });
  const toInput = h("input", { id: "calls-to", type: "date", value: to, required: true });
  const form = h("form", { class: "filters" },
    h("label", { for: "calls-from" }, "From"), fromInput,
    h("label", { for: "calls-to" }, "To (inclusive)"), toInput,
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(`/users/${seg(user)}/calls`, { from: fromInput.value, to: toInput.value });
  });

  const tbody = h("tbody", {});
  const headers = ["Rating", "Date", "Type", "Duration", "Participants", "Reasons", ""];
  const grid = h("table", { class: "grid", id: "call-history" },
    h("caption", {}, `Calls and meetings of ${user}`),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    tbody);
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const status = h("div", { "aria-live": "polite" });

  main.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: href("/users") }, "Users"), " › ", user),
    h("h1", {}, "Call history"),
    form, status, grid, more);

  const range = { from: startOfDay(from), to: endOfDay(to) };
  let count = 0;
  async function load(token) {
    status.replaceChildren(h("p", { class: "loading" }, "Loading calls…"));
    let body;
    try {
      body = await api.json(`/v1/users/${seg(user)}/calls`,
        { query: { ...range, continuationToken: token } });
    } catch (e) {
      status.replaceChildren(problemBox(e));
      return;
    }
    if (!isCurrent()) return;
    status.replaceChildren();
    for (const c of body.calls) tbody.append(row(c));
    count += body.calls.length;
    if (!count) tbody.replaceChildren(h("tr", {}, h("td", { colspan: headers.length,
      class: "empty" }, "No calls in this period.")));
    more.hidden = !body.continuationToken;
    more.onclick = () => load(body.continuationToken);
  }

  function row(c) {
    const detail = href(`/calls/${seg(c.callId)}`, { user });
    const who = full && c.participants && c.participants.length
      ? h("span", {}, `${c.participantCount ?? c.participants.length}: `,
        h("span", { class: "participants" }, c.participants.join(", ")))
      : String(c.participantCount ?? "—");
    return h("tr", { "data-call-id": c.callId, "data-rating": c.rating || "unavailable" },
      h("td", {}, ratingBadge(c.rating)),
      h("td", {}, h("time", { datetime: c.start }, fmtDateTime(c.start))),
      h("td", {}, CALL_TYPES[c.callType] || c.callType || "—"),
      h("td", {}, fmtDuration(c.durationS)),
      h("td", {}, who),
      h("td", {}, (c.reasons || []).map((r) => REASONS[r] || r).join(", ") || "—"),
      h("td", {}, h("a", { href: detail, class: "call-link",
        "aria-label": `Details of the ${c.rating || "unrated"} call at ${fmtDateTime(c.start)}` },
      "Details")));
  }

  await load(null);
}
