// Admin: quality alerts (a building's audio Poor % over the threshold on a day). Open
// alerts can be acknowledged; the list filters by status and period.

import { daysAgo, fmtDateTime, fmtPercent, h, problemBox, today } from "../dom.js";
import { navigate } from "../router.js";

const STATUSES = [["open", "Open"], ["acknowledged", "Acknowledged"], ["all", "All"]];

export async function alertsView({ main, api, query, isCurrent }) {
  const status = query.status || "open";
  const from = query.from || daysAgo(29);
  const to = query.to || today();
  const statusSelect = h("select", { id: "a-status", name: "status" },
    STATUSES.map(([v, t]) => h("option", { value: v, selected: v === status }, t)));
  const fromInput = h("input", { id: "a-from", type: "date", name: "from", value: from });
  const toInput = h("input", { id: "a-to", type: "date", name: "to", value: to });
  const filter = h("form", { class: "card filters", id: "alerts-filter" },
    h("label", { for: "a-status" }, "Status"), statusSelect,
    h("label", { for: "a-from" }, "From"), fromInput,
    h("label", { for: "a-to" }, "To"), toInput,
    h("button", { type: "submit", class: "primary" }, "Show"));
  const out = h("div", { id: "alerts-result", "aria-live": "polite" });
  const note = h("div", { id: "alerts-note", "aria-live": "polite" });
  main.append(h("h1", {}, "Quality alerts"),
    h("p", { class: "muted" }, "Raised hourly when a building's audio Poor % for a day "
      + "passes the threshold. Acknowledging records who saw it; the alert stays listed."),
    filter, note, out);
  filter.addEventListener("submit", (e) => {
    e.preventDefault();
    navigate("/admin/alerts", { status: statusSelect.value, from: fromInput.value, to: toInput.value });
  });

  const body = await api.json("/v1/admin/alerts", { query: { status, from, to } });
  if (!isCurrent()) return;
  const alerts = body.alerts || [];
  const row = (a) => h("tr", { "data-alert": a.id, "data-status": a.status },
    h("th", { scope: "row" }, a.day),
    h("td", {}, a.building),
    h("td", { class: "num" }, fmtPercent(a.poorPercent, 2)),
    // the threshold as set (0.5% is not "1%"): never rounded past what it says
    h("td", { class: "num" }, `${Number(a.threshold)}%`),
    h("td", { class: "num" }, `${a.poor} / ${a.poor + a.good}`),
    h("td", { class: "status" }, a.status === "open" ? "open"
      : `acknowledged by ${a.ackedBy || "—"} ${fmtDateTime(a.ackedAt)}`),
    h("td", {}, a.status === "open" ? h("button", { type: "button", class: "ack",
      onclick: (e) => ack(a, e.currentTarget) }, `Acknowledge ${a.building} ${a.day}`) : "—"));
  let open = body.open;
  const count = h("p", { id: "alerts-count" });
  const showCount = () => {
    count.textContent = `${open} open; ${alerts.length} listed`
      + (body.truncated ? " (the list is truncated: narrow the period)" : "") + ".";
  };
  showCount();
  out.replaceChildren(
    count,
    h("table", { class: "grid", id: "alerts-table" },
      h("caption", {}, "Alerts by day and building"),
      h("thead", {}, h("tr", {}, ["Day", "Building", "Poor %", "Threshold", "Poor streams",
        "Status", "Action"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, alerts.length ? alerts.map(row)
        : h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No alerts in this period.")))));

  async function ack(alert, button) {
    button.disabled = true;
    try {
      const done = await api.json(`/v1/admin/alerts/${encodeURIComponent(alert.id)}/ack`,
        { method: "POST" });
      const tr = out.querySelector(`tr[data-alert="${CSS.escape(alert.id)}"]`);
      if (tr) tr.replaceWith(row(done));
      open = Math.max(0, open - 1);
      showCount();
      note.replaceChildren(h("p", { class: "success", role: "status" },
        `Acknowledged ${done.building} ${done.day}.`));
      const heading = main.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    } catch (e) {
      button.disabled = false;
      note.replaceChildren(problemBox(e));
    }
  }
}
