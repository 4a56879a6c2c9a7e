/**
 * <redis-progress-jobs scope="user:3421">: mountProgress as a custom element.
 *
 * Where its client comes from, first match wins:
 *  1. the `client` property (`el.client = createProgressClient(...)`), also
 *     when it was set before the element was defined;
 *  2. the `token` attribute (and `url`, default: the page's origin): the
 *     element connects by itself; elements with the same url and token share
 *     one connection;
 *  3. the default client, `setDefaultClient(client)` — elements waiting for it
 *     mount as soon as it is set.
 * Other attributes: `interval` (ms, see MountOptions), `lang` (the locale of
 * numbers and times, used only together with the `labels` property: the
 * default words are English, and "about 5 Minuten left" helps nobody).
 * The class is created lazily so that importing this module in Node is safe.
 */
import { isValidScope } from "../../shared/scope";
import { ProgressClient } from "../progress-client";
import { getDefaultClient, onDefaultClient } from "./default-client";
import { fill, resolveLabels, type Labels } from "./labels";
import { mountProgress } from "./mount";
import { adoptStyles } from "./styles";

export const ELEMENT_NAME = "redis-progress-jobs";

const shared = new Map<string, { client: ProgressClient; users: number }>();

function acquire(url: string, token: string): [ProgressClient, () => void] {
  const key = `${url}\n${token}`;
  let entry = shared.get(key);
  if (entry === undefined) {
    entry = { client: new ProgressClient({ url, token }), users: 0 };
    shared.set(key, entry);
  }
  entry.users++;
  const held = entry;
  return [
    held.client,
    () => {
      if (--held.users > 0) return;
      shared.delete(key);
      held.client.close();
    },
  ];
}

/** The element's interface, for TypeScript users (`document.querySelector<ProgressJobsElement>(...)`). */
export interface ProgressJobsElement extends HTMLElement {
  /** The client to watch through; takes precedence over the `token` attribute and the default client. */
  client: ProgressClient | undefined;
  /**
   * Words to show instead of the English defaults (mountProgress's `labels`).
   * The `lang` attribute formats numbers and times only when they are set.
   */
  labels: Partial<Labels> | undefined;
}

/**
 * Properties set on an instance before the element was defined: own data
 * properties that shadow the class's accessors, so their setters never ran.
 */
const UPGRADED = ["client", "labels"] as const;

function createElementClass(): CustomElementConstructor {
  return class RedisProgressJobs extends HTMLElement implements ProgressJobsElement {
    static observedAttributes = ["scope", "url", "token", "interval", "lang"];
    #client: ProgressClient | undefined;
    #labels: Partial<Labels> | undefined;
    #teardown: (() => void) | undefined;
    #queued = false;

    get client(): ProgressClient | undefined {
      return this.#client;
    }

    set client(client: ProgressClient | undefined) {
      this.#client = client;
      this.#request();
    }

    get labels(): Partial<Labels> | undefined {
      return this.#labels;
    }

    set labels(labels: Partial<Labels> | undefined) {
      this.#labels = labels;
      this.#request();
    }

    connectedCallback(): void {
      // Move properties set before the definition through their setters (the
      // custom-element "upgrade property" pattern).
      for (const name of UPGRADED) {
        if (!Object.hasOwn(this, name)) continue;
        const value: unknown = Reflect.get(this, name);
        Reflect.deleteProperty(this, name);
        Reflect.set(this, name, value);
      }
      this.#request();
    }

    disconnectedCallback(): void {
      this.#request();
    }

    attributeChangedCallback(): void {
      this.#request();
    }

    /**
     * Remounts once per task: an upgrade calls attributeChangedCallback per
     * attribute and then connectedCallback, and a move disconnects then
     * reconnects; mounting on each would subscribe and unsubscribe in a burst.
     */
    #request(): void {
      if (this.#queued) return;
      this.#queued = true;
      queueMicrotask(() => {
        this.#queued = false;
        if (this.isConnected) this.#mount();
        else this.#unmount();
      });
    }

    #unmount(): void {
      this.#teardown?.();
      this.#teardown = undefined;
    }

    #message(text: string): void {
      adoptStyles(this);
      const p = document.createElement("p");
      p.className = "rp-banner";
      p.dataset.kind = "error";
      p.setAttribute("role", "status");
      p.textContent = text;
      const root = document.createElement("div");
      root.className = "rp-jobs";
      root.append(p);
      this.replaceChildren(root);
    }

    #mount(): void {
      this.#unmount();
      const labels = resolveLabels(this.#labels);
      const scope = this.getAttribute("scope") ?? "";
      if (!isValidScope(scope)) {
        this.#message(fill(labels.invalidScope, { scope }));
        return;
      }
      let client = this.#client;
      let release = (): void => {};
      const token = this.getAttribute("token");
      if (client === undefined && token) {
        [client, release] = acquire(this.getAttribute("url") || location.origin, token);
      }
      client ??= getDefaultClient();
      if (client === undefined) {
        this.#message(labels.noClient);
        this.#teardown = onDefaultClient(() => this.#request());
        return;
      }
      const interval = Number(this.getAttribute("interval"));
      const offDefault =
        this.#client === undefined && !token ? onDefaultClient(() => this.#request()) : () => {};
      this.replaceChildren();
      const unmount = mountProgress(this, {
        client,
        scope,
        interval: interval > 0 ? interval : undefined,
        // The English defaults keep English numbers and times: Intl's words in
        // `lang` inside English sentences would read "about 5 Minuten left".
        locale: this.#labels !== undefined ? this.lang || undefined : undefined,
        labels: this.#labels,
      });
      this.#teardown = () => {
        offDefault();
        unmount();
        release();
      };
    }
  };
}

/** Registers the custom element (idempotent); the browser bundle does this on load. */
export function defineProgressElement(name: string = ELEMENT_NAME): void {
  if (typeof customElements === "undefined" || customElements.get(name) !== undefined) return;
  customElements.define(name, createElementClass());
}
