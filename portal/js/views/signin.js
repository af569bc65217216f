// Sign-in page. Azure: one button (MSAL redirect). Local stack: the development
// sign-in, clearly marked, that picks a level and a user and asks the dev host for a token.

import { DEMO_TENANT, LEVELS, devSignIn } from "../auth.js";
import { h, problemBox } from "../dom.js";

const LEVEL_HELP = {
  admin: "everything, plus building upload and tenant settings",
  engineer: "Call Analytics for any user with Advanced and Debug details; CQD down to users",
  specialist: "Call Analytics for the searched user only, others anonymised; CQD without EUII",
  reader: "CQD reports without EUII; no Call Analytics",
};

export async function signInView({ main, config, session }) {
  if (session.mode === "msal") {
    main.append(
      h("h1", {}, "Sign in"),
      h("p", {}, "Sign in with your organisation's Microsoft Entra ID account."),
      h("button", { type: "button", class: "primary", onclick: () => session.signIn() },
        "Sign in with Microsoft"),
    );
    return;
  }
  const status = h("div", { "aria-live": "assertive" });
  const form = h("form", { class: "card signin", id: "dev-signin" },
    h("p", { class: "dev-warning" },
      h("strong", {}, "Development sign-in. "),
      "This page exists only on the local stack: the dev host mints a token signed by its ",
      "own development key. In Azure the portal signs in with Entra ID."),
    h("fieldset", {},
      h("legend", {}, "Access level"),
      LEVELS.map((level, i) => h("label", { class: "radio" },
        h("input", { type: "radio", name: "level", value: level, checked: i === 1 }),
        h("span", { class: "radio-label" }, level),
        h("span", { class: "hint" }, ` ${LEVEL_HELP[level]}`)))),
    h("label", { for: "dev-user" }, "Signed-in user (UPN)"),
    h("input", { id: "dev-user", name: "user", type: "email", required: true,
      value: "alice@contoso.com", autocomplete: "username" }),
    h("label", { for: "dev-tenant" }, "Tenant ID"),
    h("input", { id: "dev-tenant", name: "tenantId", required: true, value: DEMO_TENANT,
      pattern: "[0-9a-fA-F-]{36}", spellcheck: "false" }),
    h("button", { type: "submit", class: "primary" }, "Sign in (development)"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.replaceChildren();
    const data = new FormData(form);
    try {
      await devSignIn(config, {
        tenantId: data.get("tenantId").trim(),
        user: data.get("user").trim(),
        level: data.get("level"),
      });
      location.hash = "#/";
      location.reload();
    } catch (e) {
      status.append(problemBox({ title: "Sign-in failed", detail: e.message }));
    }
  });
  main.append(h("h1", {}, "Development sign-in"), form);
}
