// Classic script (not a module): runs on auth-redirect.html after the vendored bridge.
/* global msalRedirectBridge */
if (typeof msalRedirectBridge !== "undefined") {
  msalRedirectBridge.broadcastResponseToMainFrame().catch((e) => console.error(e));
}
