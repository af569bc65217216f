// Admin: purge a user's data. The confirmation names the user and what will happen;
// only after it does the portal send the DELETE. The answer shows what was done, with
// the user as a hash only (the API never echoes the address).

import { h, problemBox } from "../dom.js";

export async function purgeView({ main, api }) {
  const input = h("input", { id: "purge-user", name: "user", type: "text", required: true,
    autocomplete: "off", "aria-describedby": "purge-help" });
  const exclude = h("input", { id: "purge-exclude", type: "checkbox", name: "exclude" });
  const result = h("div", { id: "purge-result", "aria-live": "polite" });
  const confirmBox = h("div", { id: "purge-confirm" });
  const form = h("form", { class: "card", id: "purge-form" },
    h("p", { id: "purge-help", class: "muted" },
      "Calls where the user is the only internal participant are deleted; in other calls "
      + "their address, name, IP and MAC addresses, device and machine names become "
      + "\"Purged User\". Their history and directory entries are deleted; quality "
      + "aggregates keep their counts. The purge is audited. It cannot be undone."),
    h("label", { for: "purge-user" }, "User (UPN or SIP URI)"), input,
    h("div", { class: "check" }, exclude,
      h("label", { for: "purge-exclude" }, "Also add the user to the exclusion policy")),
    h("button", { type: "submit", class: "danger" }, "Purge…"), confirmBox, result);
  main.append(h("h1", {}, "Purge a user's data"), form);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const user = input.value.trim();
    if (!user) {
      input.focus();
      return;
    }
    const yes = h("button", { type: "button", class: "danger", id: "purge-yes" },
      `Purge ${user}`);
    const no = h("button", { type: "button", id: "purge-no" }, "Cancel");
    confirmBox.replaceChildren(h("div", { role: "alertdialog", class: "confirm",
      "aria-labelledby": "purge-q", "aria-describedby": "purge-help" },
    h("p", { id: "purge-q" }, h("strong", {}, `Purge all call data of ${user}?`),
      exclude.checked ? " They will also be added to the exclusion policy." : ""),
    yes, " ", no));
    yes.focus();
    no.addEventListener("click", () => {
      confirmBox.replaceChildren();
      input.focus();
    });
    yes.addEventListener("click", async () => {
      confirmBox.replaceChildren();
      result.replaceChildren(h("p", { class: "loading" }, "Purging…"));
      try {
        const done = await api.json(`/v1/admin/users/${encodeURIComponent(user)}`, {
          method: "DELETE", query: { addToExclusions: exclude.checked ? "true" : "" },
        });
        result.replaceChildren(h("div", { class: "success", role: "status" },
          h("p", {}, `Purged. Calls deleted: ${done.callsDeleted}; calls with the user `
            + `replaced: ${done.callsScrubbed}; history entries deleted: `
            + `${done.historyEntriesDeleted}.`),
          h("p", { class: "muted" }, `Audit reference (hash of the user): ${done.userHash}`)));
        input.value = "";
      } catch (e) {
        result.replaceChildren(problemBox(e));
      }
    });
  });
}
