// Copies the pinned msal-browser build (package.json, locked in package-lock.json) into
// portal/vendor/ so that Azure mode loads it from our own origin (CSP 'self', no CDN).
// Usage, before deploying the portal:  cd portal && npm ci && npm run vendor
// (also finds the copy the e2e tests install into .local/portal-node/).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const portal = join(dirname(fileURLToPath(import.meta.url)), "..");
const candidates = [
  join(portal, "node_modules", "@azure", "msal-browser"),
  join(portal, "..", ".local", "portal-node", "node_modules", "@azure", "msal-browser"),
];
const pkgDir = candidates.find((d) => existsSync(join(d, "package.json")));
if (!pkgDir) {
  console.error("msal-browser is not installed: run `npm ci` in portal/ first");
  process.exit(1);
}
const wanted = JSON.parse(readFileSync(join(portal, "package.json"), "utf8"))
  .dependencies["@azure/msal-browser"];
const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
if (version !== wanted) {
  console.error(`msal-browser ${version} installed, package.json pins ${wanted}: run npm ci`);
  process.exit(1);
}
const out = join(portal, "vendor");
mkdirSync(out, { recursive: true });
for (const [from, to] of [
  ["lib/msal-browser.min.js", "msal-browser.min.js"],
  ["lib/redirect-bridge/msal-redirect-bridge.min.js", "msal-redirect-bridge.min.js"],
  ["LICENSE", "msal-browser.LICENSE"],
]) {
  copyFileSync(join(pkgDir, from), join(out, to));
  console.log(`vendor/${to} <- @azure/msal-browser@${version}/${from}`);
}
