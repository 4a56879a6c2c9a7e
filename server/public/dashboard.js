/* The dashboard at `/`: pick or type a scope and watch its jobs live.
 *
 * Token: in demo mode (the gateway answers GET demo/token) it is fetched from
 * the gateway before every connection; otherwise it comes from the URL fragment
 * (#token=...&scope=...) or the token field. A classic script (no inline code,
 * so the page's strict CSP holds) on the global RedisProgressClient bundle.
 *
 * Where the gateway is: this page's own directory, not the origin's root, so a
 * reverse proxy may serve the gateway under a prefix (`/progress/`). In demo
 * mode the token's answer also says where Socket.IO is (`socket_path`, relative
 * to this directory: the gateway's `path` option may be another than
 * `/socket.io`), which demo scopes have jobs and how often their workers write.
 */
/* global RedisProgressClient, document, window, location, history, fetch, URL, URLSearchParams */
"use strict";

(function dashboard() {
  const RP = RedisProgressClient;
  // This page's directory: where the gateway is, as the browser sees it (see above).
  const HERE = new URL(".", location.href);

  const $ = (id) => document.getElementById(id);
  const conn = $("conn");
  const mode = $("mode");
  const scopeForm = $("scope-form");
  const scopeInput = $("scope-input");
  const scopeHint = $("scope-hint");
  const chips = $("chips");
  const suggestions = $("scope-suggestions");
  const tokenForm = $("token-form");
  const tokenInput = $("token-input");
  const title = $("jobs-title");
  const jobs = $("jobs");
  const stats = $("stats");

  const state = {
    client: null,
    demo: false,
    // The demo trackers' write interval (ms), from demo/token; the bars' motion uses it.
    interval: undefined,
    token: "",
    scope: "",
    unmount: null,
    offStats: null,
  };

  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    return { token: params.get("token") || "", scope: params.get("scope") || "" };
  }

  function writeFragment() {
    const params = new URLSearchParams();
    if (state.token && !state.demo) params.set("token", state.token);
    if (state.scope) params.set("scope", state.scope);
    history.replaceState(null, "", `#${params.toString()}`);
  }

  const CONN_TEXT = {
    connecting: "Connecting…",
    connected: "Live",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
  };

  function showConnection(value) {
    conn.dataset.state = value;
    conn.textContent = CONN_TEXT[value] || value;
  }

  /** GET demo/token: `{ token, scopes, expires_at, demo_scopes, interval, socket_path }`. */
  async function demoInfo() {
    const response = await fetch("demo/token", { cache: "no-store" });
    if (!response.ok) throw new Error(`demo/token answered ${response.status}`);
    const body = await response.json();
    if (typeof body.token !== "string") throw new Error("demo/token sent no token");
    return body;
  }

  async function demoToken() {
    return (await demoInfo()).token;
  }

  /** "a", "a and b", "a, b and c". */
  function listOf(words) {
    return words.length < 2
      ? words.join("")
      : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
  }

  function renderChips(scopes) {
    chips.replaceChildren();
    suggestions.replaceChildren();
    for (const scope of scopes) {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = scope;
      chip.dataset.scope = scope;
      chip.setAttribute("aria-pressed", String(scope === state.scope));
      chips.append(chip);
      const option = document.createElement("option");
      option.value = scope;
      suggestions.append(option);
    }
  }

  function markChips() {
    for (const chip of chips.querySelectorAll(".chip")) {
      chip.setAttribute("aria-pressed", String(chip.dataset.scope === state.scope));
    }
  }

  function connect(options) {
    if (state.client) state.client.close();
    const client = RP.createProgressClient(options);
    state.client = client;
    client.on("state", showConnection);
    showConnection(client.state);
    return client;
  }

  const STAT_KEYS = ["running", "stalled", "completed", "failed", "canceled"];

  /**
   * The sidebar's counts, by the status each row shows (its data-status): a
   * stalled job is stored as "running" but shown, and counted, as stalled.
   */
  function countStatuses(map) {
    const counts = Object.fromEntries(STAT_KEYS.map((key) => [key, 0]));
    for (const job of Object.values(map)) {
      const shown = job.stalled === true ? "stalled" : job.status;
      if (Object.hasOwn(counts, shown)) counts[shown] += 1;
    }
    for (const key of STAT_KEYS) $(`stat-${key}`).textContent = String(counts[key]);
  }

  function watch(scope) {
    if (!RP.isValidScope(scope)) {
      scopeHint.textContent = `“${scope}” is not a valid scope: use parts like user:1, separated by “:”.`;
      scopeInput.setAttribute("aria-invalid", "true");
      return;
    }
    scopeHint.textContent = "";
    scopeInput.removeAttribute("aria-invalid");
    scope = RP.formatScope(scope);
    if (state.unmount) state.unmount();
    if (state.offStats) state.offStats();
    state.scope = scope;
    scopeInput.value = scope;
    title.textContent = `Jobs in ${scope}`;
    markChips();
    writeFragment();
    if (!state.client) return;
    state.unmount = RP.mountProgress(jobs, {
      client: state.client,
      scope,
      interval: state.demo ? state.interval : undefined,
    });
    stats.hidden = false;
    countStatuses({});
    state.offStats = state.client.subscribe(scope, countStatuses);
  }

  function useToken(token) {
    state.token = token;
    tokenForm.hidden = true;
    // The page's directory: with a proxy's prefix in it, the SDK takes socket.io's
    // path as `<prefix>/socket.io`.
    connect({ url: HERE.href, token });
    if (state.scope) watch(state.scope);
  }

  scopeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    watch(scopeInput.value.trim());
  });

  chips.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip");
    if (chip) watch(chip.dataset.scope);
  });

  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    if (token) {
      tokenInput.value = "";
      useToken(token);
    }
  });

  async function start() {
    const fragment = readFragment();
    state.scope = fragment.scope;
    if (fragment.token) {
      mode.textContent = "token";
      mode.hidden = false;
      renderChips([]);
      useToken(fragment.token);
      return;
    }
    let demo = null;
    try {
      demo = await demoInfo();
    } catch {
      demo = null;
    }
    state.demo = demo !== null;
    if (demo) {
      const scopes = Array.isArray(demo.demo_scopes) ? demo.demo_scopes : [];
      state.interval = typeof demo.interval === "number" ? demo.interval : undefined;
      mode.textContent = "demo";
      mode.hidden = false;
      $("foot-text").textContent =
        `Demo mode: simulated workers write to ${listOf(scopes)} through the real tracker.`;
      renderChips(scopes);
      // The token is fetched again before every (re)connection: a restarted
      // gateway may sign with a new secret.
      connect(
        typeof demo.socket_path === "string"
          ? {
              url: HERE.origin,
              socketOptions: { path: new URL(demo.socket_path, HERE).pathname },
              getToken: demoToken,
            }
          : { url: HERE.href, getToken: demoToken },
      );
      const first = state.scope || scopes[0];
      if (first) watch(first);
    } else {
      renderChips([]);
      showConnection("disconnected");
      conn.textContent = "No token";
      tokenForm.hidden = false;
      tokenInput.focus();
      if (state.scope) watch(state.scope);
    }
  }

  window.addEventListener("hashchange", () => {
    const fragment = readFragment();
    if (fragment.token && fragment.token !== state.token) useToken(fragment.token);
    if (fragment.scope && fragment.scope !== state.scope) watch(fragment.scope);
  });

  start();
})();
