// Admin: tenant settings (classifier profile per source, yellow tiers, retention). The
// API validates; a refused field is shown next to its input. A profile change applies
// to calls processed from now on, and the page repeats the API's notice saying so.

import { fmtDateTime, h, problemBox } from "../dom.js";
import { METRICS, metricLabel } from "../thresholds.js";

const SOURCES = [
  ["ms-qoe-xml", "Skype for Business QoE reports"],
  ["sfb-cdr-json", "Skype for Business CDRs"],
  ["graph-v1", "Teams (Graph call records)"],
];
const PROFILES = ["sfb2019", "teams2021"];
const RETENTION = [
  ["callsDays", "calls", "Call documents and history"],
  ["aggregatesDays", "aggregates", "Quality aggregates"],
  ["auditDays", "audit", "Audit log"],
];
const TIERED = Object.entries(METRICS).filter(([, m]) => m.yellow !== undefined).map(([k]) => k);

function fieldId(field) {
  return `set-${field.replace(/[^a-zA-Z0-9]+/g, "-")}`;
}

export async function settingsView({ main, api, isCurrent }) {
  main.append(h("h1", {}, "Tenant settings"), h("p", { class: "loading" }, "Loading settings…"));
  const current = await api.json("/v1/admin/settings");
  if (!isCurrent()) return;
  main.querySelector(".loading").remove();
  const result = h("div", { id: "settings-result", "aria-live": "polite" });

  const profiles = h("fieldset", { class: "card" }, h("legend", {}, "Classifier profile per source"),
    h("p", { class: "muted" }, "Which audio metrics make a stream poor. Applies to calls "
      + "processed from now on; stored calls keep their classification."),
    SOURCES.map(([source, label]) => {
      const id = fieldId(`classifierProfiles.${source}`);
      const chosen = (current.classifierProfiles || {})[source] || "";
      const effective = (current.effectiveProfiles || {})[source];
      return h("div", { class: "field" },
        h("label", { for: id }, label),
        h("select", { id, name: source, "data-part": "profile" },
          h("option", { value: "", selected: chosen === "" }, `Default (${effective})`),
          PROFILES.map((p) => h("option", { value: p, selected: chosen === p }, p))));
    }));

  const tiers = h("fieldset", { class: "card" }, h("legend", {}, "Yellow tiers"),
    h("p", { class: "muted" }, "Where a metric turns yellow (outside the normal range). "
      + "Red is the poor threshold and cannot be changed. Leave empty for the default."),
    TIERED.map((metric) => {
      const id = fieldId(`yellowTiers.${metric}`);
      const value = (current.yellowTiers || {})[metric];
      return h("div", { class: "field" },
        h("label", { for: id }, `${metricLabel(metric)} (default ${METRICS[metric].yellow})`),
        h("input", { id, name: metric, type: "number", step: "any", min: "0",
          inputmode: "decimal", "data-part": "tier", value: value ?? "" }));
    }));

  const retention = h("fieldset", { class: "card" }, h("legend", {}, "Retention (days)"),
    h("p", { class: "muted" }, "Kept for at most the service maximum; empty means the maximum."),
    RETENTION.map(([key, kind, label]) => {
      const id = fieldId(`retention.${key}`);
      const max = (current.retentionMaxDays || {})[kind];
      return h("div", { class: "field" },
        h("label", { for: id }, `${label} (1–${max})`),
        h("input", { id, name: key, type: "number", step: "1", min: "1", max: String(max),
          "data-part": "retention", value: (current.retention || {})[key] ?? "" }));
    }));

  const form = h("form", { id: "settings-form", novalidate: true }, profiles, tiers, retention,
    h("button", { type: "submit", class: "primary" }, "Save settings"), result);
  const meta = h("p", { class: "muted", id: "settings-meta" },
    current.updatedAt ? `Last changed ${fmtDateTime(current.updatedAt)} by ${current.updatedBy || "—"}.`
      : "Never changed: every setting is the default.");
  main.append(meta, form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const bad of form.querySelectorAll("[aria-invalid]")) {
      bad.removeAttribute("aria-invalid");
      bad.removeAttribute("aria-describedby");
    }
    for (const old of form.querySelectorAll(".field-error")) old.remove();
    const body = { classifierProfiles: {}, yellowTiers: {}, retention: {} };
    for (const el of form.querySelectorAll("[data-part]")) {
      if (el.value === "") continue;
      if (el.dataset.part === "profile") body.classifierProfiles[el.name] = el.value;
      if (el.dataset.part === "tier") body.yellowTiers[el.name] = Number(el.value);
      if (el.dataset.part === "retention") body.retention[el.name] = Number(el.value);
    }
    result.replaceChildren(h("p", { class: "loading" }, "Saving…"));
    try {
      const saved = await api.json("/v1/admin/settings", { method: "PUT", body });
      result.replaceChildren(h("div", { class: "success", role: "status" },
        h("p", {}, saved.changed.length ? `Saved: ${saved.changed.join(", ")}.`
          : "Nothing changed."),
        (saved.notices || []).map((n) => h("p", { class: "notice" }, n))));
      meta.textContent = `Last changed ${fmtDateTime(saved.updatedAt)} by ${saved.updatedBy || "—"}.`;
    } catch (e) {
      result.replaceChildren(problemBox(e));
      for (const err of (e.errors && e.errors.length ? e.errors : [{ field: e.field, message: e.detail }])) {
        const input = err.field && document.getElementById(fieldId(err.field));
        if (!input) continue;
        const msgId = `${input.id}-error`;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", msgId);
        input.after(h("span", { class: "field-error", id: msgId }, err.message || "invalid"));
      }
      const first = form.querySelector("[aria-invalid]");
      if (first) first.focus();
    }
  });
}
