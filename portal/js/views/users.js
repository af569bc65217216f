// User search: name, UPN or SIP prefix -> the users seen in call data.

import { fmtDateTime, h, problemBox, table } from "../dom.js";
import { href, navigate, seg } from "../router.js";

export async function usersView({ main, api, query, isCurrent }) {
  const q = query.q || "";
  const input = h("input", { id: "user-search", name: "q", type: "search", value: q,
    minlength: 2, required: true, autocomplete: "off",
    placeholder: "name, UPN or SIP address (at least 2 characters)" });
  const form = h("form", { class: "searchbar", role: "search" },
    h("label", { for: "user-search" }, "Find a user"),
    input,
    h("button", { type: "submit", class: "primary" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate("/users", { q: input.value.trim() });
  });
  main.append(h("h1", {}, "Call Analytics"), form);
  if (!q) {
    input.focus();
    return;
  }
  const results = h("section", { "aria-live": "polite", "aria-label": "Search results" },
    h("p", { class: "loading" }, "Searching…"));
  main.append(results);
  let body;
  try {
    body = await api.json("/v1/users", { query: { search: q } });
  } catch (e) {
    results.replaceChildren(problemBox(e));
    return;
  }
  if (!isCurrent()) return;
  const rows = body.users.map((u) => h("tr", {},
    h("td", {}, h("a", { href: href(`/users/${seg(u.user)}/calls`), class: "user-link" },
      u.displayName || u.user)),
    h("td", {}, u.user),
    h("td", {}, u.sipUri || "—"),
    h("td", {}, fmtDateTime(u.lastSeen))));
  results.replaceChildren(
    table(`${body.users.length} user${body.users.length === 1 ? "" : "s"} matching “${q}”`,
      ["Name", "User", "SIP address", "Last seen"], rows, { id: "user-results" }));
}
