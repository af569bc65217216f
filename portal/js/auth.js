// Sign-in. Two modes, chosen by config.json `auth`:
//  - "msal": Entra ID through msal-browser (vendored into vendor/ by `npm run vendor`,
//    loaded only in this mode, from our own origin);
//  - "dev": the local stack's development sign-in: pick a level and a user, the dev
//    host mints a token (POST /dev/token). msal-browser is never loaded.
//  - "auto" (the default): "dev" on localhost / 127.0.0.1 when no MSAL client id is
//    configured, "msal" otherwise.
// The level shown in the page comes from the token's claims (docs/reference/roles.md); it only decides
// what to offer. The API enforces every rule on its own.

export const DEMO_TENANT = "8f1c3c6e-0b7a-4f3e-9a51-1f0c2d3e4a5b";
export const LEVELS = ["admin", "engineer", "specialist", "reader"];
const RANK = { reader: 1, specialist: 2, engineer: 3, admin: 4 };

const APP_ROLES = {
  "CallAnalytics.Admin": "admin",
  "CallAnalytics.Engineer": "engineer",
  "CallAnalytics.Specialist": "specialist",
  "QualityReports.Read": "reader",
};
const DIRECTORY_ROLES = {
  "62e90394-69f5-4237-9190-012177145e10": "admin",
  "69091246-20e8-4a56-aa4d-066075b2a7a8": "admin",
  "baf37b3a-610e-45da-9e62-d9d1e5e8914b": "admin",
  "75941009-915a-4869-abe7-691bff18279e": "admin",
  "f70938a0-fc10-4177-9e90-2178f8765737": "engineer",
  "fcf91098-03e3-41a9-b5ba-6f0ec8188a12": "specialist",
  "f2ef992c-3afb-46b9-b7cf-a126ee74c451": "reader",
  "4a5d8f65-41da-4de4-8968-e035b65339cf": "reader",
};

const DEV_KEY = "cdc.dev.session";

/** The claims of a JWT (no verification: display only). */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(part + "=".repeat((4 - (part.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

/** The widest level the claims give (docs/reference/roles.md), or null. */
export function levelOf(claims) {
  const found = [
    ...(claims.roles || []).map((r) => APP_ROLES[r]),
    ...(claims.wids || []).map((w) => DIRECTORY_ROLES[w]),
  ].filter(Boolean);
  found.sort((a, b) => RANK[b] - RANK[a]);
  return found[0] || null;
}

export function resolveMode(config) {
  if (config.auth === "msal" || config.auth === "dev") return config.auth;
  const local = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(location.hostname);
  return local && !(config.msal && config.msal.clientId) ? "dev" : "msal";
}

/** A session: {mode, token(): Promise<string>, user, name, level, tenantId, signOut()}. */
export async function restoreSession(config) {
  const mode = resolveMode(config);
  return mode === "dev" ? restoreDev(config) : restoreMsal(config);
}

// ---- development sign-in --------------------------------------------------------------

function devSession(saved) {
  const claims = claimsOf(saved.token);
  return {
    mode: "dev",
    token: async () => saved.token,
    user: saved.user,
    name: claims.name || saved.user,
    level: levelOf(claims) || saved.level,
    tenantId: saved.tenantId,
    signOut() {
      sessionStorage.removeItem(DEV_KEY);
      location.hash = "#/signin";
      location.reload();
    },
  };
}

function restoreDev() {
  const raw = sessionStorage.getItem(DEV_KEY);
  if (!raw) return { mode: "dev", signedOut: true };
  try {
    const saved = JSON.parse(raw);
    const exp = claimsOf(saved.token).exp;
    if (exp && exp * 1000 < Date.now()) {
      sessionStorage.removeItem(DEV_KEY);
      return { mode: "dev", signedOut: true, expired: true };
    }
    return devSession(saved);
  } catch {
    sessionStorage.removeItem(DEV_KEY);
    return { mode: "dev", signedOut: true };
  }
}

/** POST /dev/token {tenantId, user, level} -> {token}; keeps it for this browser tab. */
export async function devSignIn(config, { tenantId, user, level }) {
  const response = await fetch(config.devTokenUrl || "/dev/token", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ tenantId, user, level }),
  });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      detail = body.detail || detail;
    } catch { /* not JSON */ }
    const hint = response.status === 404
      ? " The dev token endpoint is only offered by the local stack (python -m devhost up)."
      : "";
    throw new Error(`Development sign-in failed: ${detail}.${hint}`);
  }
  const { token } = await response.json();
  const saved = { token, user, level, tenantId };
  sessionStorage.setItem(DEV_KEY, JSON.stringify(saved));
  return devSession(saved);
}

// ---- Entra ID (MSAL) ------------------------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}: run \`npm run vendor\` in portal/`));
    document.head.append(el);
  });
}

async function restoreMsal(config) {
  const m = config.msal || {};
  if (!m.clientId || !m.apiScope) {
    throw new Error("config.json: msal.clientId and msal.apiScope are required in Azure mode");
  }
  await loadScript(new URL("vendor/msal-browser.min.js", document.baseURI).href);
  const msal = window.msal;
  const here = new URL(m.redirectPath || "index.html", document.baseURI).href;
  const bridge = new URL(m.bridgePath || "auth-redirect.html", document.baseURI).href;
  const app = new msal.PublicClientApplication({
    auth: {
      clientId: m.clientId,
      authority: `https://login.microsoftonline.com/${m.tenantId || "organizations"}`,
      redirectUri: here,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await app.initialize();
  const result = await app.handleRedirectPromise();
  if (result && result.account) app.setActiveAccount(result.account);
  const account = app.getActiveAccount() || app.getAllAccounts()[0];
  const scopes = [m.apiScope];
  if (!account) {
    return {
      mode: "msal",
      signedOut: true,
      signIn: () => app.loginRedirect({ scopes, redirectStartPage: location.href }),
    };
  }
  app.setActiveAccount(account);
  const token = async () => {
    try {
      // Silent renewal in an iframe lands on the bridge page (MSAL v5).
      const r = await app.acquireTokenSilent({ scopes, account, redirectUri: bridge });
      return r.accessToken;
    } catch (e) {
      if (e instanceof msal.InteractionRequiredAuthError) {
        await app.acquireTokenRedirect({ scopes, account, redirectStartPage: location.href });
      }
      throw e;
    }
  };
  const claims = claimsOf(await token());
  return {
    mode: "msal",
    token,
    user: account.username,
    name: account.name || account.username,
    level: levelOf(claims),
    tenantId: account.tenantId,
    signOut: () => app.logoutRedirect({ account, postLogoutRedirectUri: here }),
  };
}
