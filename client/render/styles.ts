/**
 * The renderer's default stylesheet. Adopted as a constructed stylesheet
 * (CSSOM), which a strict `style-src 'self'` policy allows, unlike a <style>
 * element. Every colour and size reads a CSS custom property with a fallback,
 * and the properties are never set by the stylesheet itself, so a page themes
 * the list by setting them on any ancestor:
 *
 *   --rp-font, --rp-text, --rp-muted, --rp-gap, --rp-radius, --rp-row-bg,
 *   --rp-row-border, --rp-row-padding, --rp-track, --rp-fill, --rp-bar-height,
 *   --rp-completed, --rp-failed, --rp-stalled, --rp-canceled, --rp-badge-bg
 *
 * Status rules use child combinators (`.rp-job[data-status] > .rp-bar > .rp-fill`):
 * child rows sit inside their parent's li, and a descendant selector would
 * paint a completed child in its failed parent's colour.
 */
export const CSS = `
.rp-jobs{font:var(--rp-font,inherit);color:var(--rp-text,inherit)}
.rp-jobs [hidden]{display:none!important}
.rp-list,.rp-children{list-style:none;margin:0;padding:0;display:grid;gap:var(--rp-gap,.75rem)}
.rp-children{margin-top:var(--rp-gap,.75rem);padding-inline-start:1rem;border-inline-start:2px solid var(--rp-track,rgba(127,127,127,.2))}
.rp-children:empty{display:none}
.rp-job{padding:var(--rp-row-padding,.75rem 1rem);background:var(--rp-row-bg,transparent);border:var(--rp-row-border,1px solid rgba(127,127,127,.25));border-radius:var(--rp-radius,.5rem)}
.rp-head{display:flex;align-items:center;gap:.5rem;margin-bottom:.5rem}
.rp-name{flex:1;min-width:0;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.rp-state{flex:none;font-size:.75em;font-weight:600;letter-spacing:.02em;text-transform:uppercase;padding:.15em .6em;border-radius:999px;color:var(--rp-fill,#2563eb);background:var(--rp-badge-bg,rgba(127,127,127,.12))}
.rp-actions{display:flex;align-items:center;gap:.5rem}
.rp-actions:empty{display:none}
.rp-cancel{font:inherit;font-size:.75em;font-weight:600;padding:.15em .7em;border-radius:999px;border:1px solid currentColor;background:transparent;color:var(--rp-failed,#dc2626);cursor:pointer}
.rp-cancel:hover:not(:disabled){background:var(--rp-badge-bg,rgba(127,127,127,.12))}
.rp-cancel:disabled{opacity:.6;cursor:progress}
.rp-action-error{font-size:.75em;color:var(--rp-failed,#dc2626)}
.rp-toggle{font:inherit;padding:0;border:0;background:none;color:var(--rp-fill,#2563eb);cursor:pointer}
.rp-toggle::before{content:"\\25B8  "}
.rp-toggle[aria-expanded=true]::before{content:"\\25BE  "}
.rp-bar{height:var(--rp-bar-height,.5rem);background:var(--rp-track,rgba(127,127,127,.2));border-radius:999px;overflow:hidden}
.rp-fill{height:100%;width:calc(var(--rp-fraction,0)*100%);background:var(--rp-fill,#2563eb);border-radius:inherit}
.rp-meta{display:flex;flex-wrap:wrap;gap:.25rem 1rem;margin-top:.5rem;font-size:.875em;color:var(--rp-muted,#6b7280);font-variant-numeric:tabular-nums}
.rp-percent{font-weight:600;color:var(--rp-text,inherit)}
.rp-time{margin-inline-start:auto}
.rp-error{margin:.5rem 0 0;font-size:.875em;color:var(--rp-failed,#dc2626);overflow-wrap:anywhere}
.rp-job[data-status=completed]>.rp-bar>.rp-fill{background:var(--rp-completed,#16a34a)}
.rp-job[data-status=completed]>.rp-head>.rp-state{color:var(--rp-completed,#16a34a)}
.rp-job[data-status=failed]>.rp-bar>.rp-fill,.rp-job[data-status=failed]>.rp-head>.rp-state{background:var(--rp-failed,#dc2626)}
.rp-job[data-status=failed]>.rp-head>.rp-state{color:#fff}
.rp-job[data-status=stalled]>.rp-bar>.rp-fill{background:var(--rp-stalled,#d97706)}
.rp-job[data-status=stalled]>.rp-head>.rp-state{color:var(--rp-stalled,#d97706)}
.rp-job[data-status=canceled]>.rp-bar>.rp-fill{background:var(--rp-canceled,#6b7280)}
.rp-job[data-status=canceled]>.rp-head>.rp-state{color:var(--rp-canceled,#6b7280)}
.rp-banner{margin:0 0 var(--rp-gap,.75rem);padding:.5rem .75rem;border-radius:var(--rp-radius,.5rem);font-size:.875em;color:var(--rp-muted,#6b7280);background:var(--rp-badge-bg,rgba(127,127,127,.12))}
.rp-banner[data-kind=reconnecting],.rp-banner[data-kind=connecting]{color:var(--rp-stalled,#b45309)}
.rp-banner[data-kind=error]{color:var(--rp-failed,#dc2626);font-weight:600}
.rp-empty{margin:0;padding:2rem 1rem;text-align:center;color:var(--rp-muted,#6b7280);border:1px dashed rgba(127,127,127,.35);border-radius:var(--rp-radius,.5rem)}
`;

let sheet: CSSStyleSheet | undefined;

/**
 * Makes the stylesheet apply where `node` lives (its document or shadow root).
 * Without constructable stylesheets it falls back to a <style> element, which
 * needs `style-src 'unsafe-inline'` (or a nonce) under a CSP.
 */
export function adoptStyles(node: Node): void {
  const found = node.getRootNode();
  // A detached node's root is itself; its document will hold it once attached.
  const root: Document | ShadowRoot =
    found instanceof ShadowRoot ? found : (node.ownerDocument ?? document);
  if ("adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
    try {
      if (sheet === undefined) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      }
      if (!root.adoptedStyleSheets.includes(sheet)) {
        root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
      }
      return;
    } catch {
      // constructable stylesheets not supported: fall through
    }
  }
  const doc = node.ownerDocument ?? document;
  if (doc.getElementById("redis-progress-styles") !== null) return;
  const style = doc.createElement("style");
  style.id = "redis-progress-styles";
  style.textContent = CSS;
  doc.head.append(style);
}
