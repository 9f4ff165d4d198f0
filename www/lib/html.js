// Small HTML-building helpers. Every input gets a <label> (visible, or visually hidden inside
// tables), an id derived from its scenario path, and an error slot the validation fills in.

/** A user-given key as one path segment (dots and the like percent-encoded). */
export const seg = (key) => encodeURIComponent(String(key)).replace(/\./g, '%2E');

export const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

/** The element id of a scenario path ("plans.0.code" → "f-plans-0-code"). */
export const idOf = (path) => `f-${String(path).replace(/[^A-Za-z0-9_-]/g, '-')}`;
/** The id of a path's error slot. */
export const errIdOf = (path) => `e-${String(path).replace(/[^A-Za-z0-9_-]/g, '-')}`;

/** An error slot for `path` (filled by the validation pass). */
export const errSlot = (path, extra = '') => `<span class="err${extra ? ` ${extra}` : ''}" id="${errIdOf(path)}" data-err-for="${esc(path)}"></span>`;

/**
 * A labelled input bound to `path`. `kind` tells the binder how to store the text:
 * str | dec (decimal text) | optdec (empty → null) | int | optint | bool | keys (comma list) |
 * filtervals ("key: v1, v2; key2: v3") | nullstr (empty → null).
 */
export function field({ path, label, value, kind = 'str', type = 'text', attrs = '', hint = '', struct = false,
  hiddenLabel = false, cls = '', err = true }) {
  const id = idOf(path);
  const describedBy = [err ? errIdOf(path) : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ');
  const common = `id="${id}" data-bind="${esc(path)}" data-kind="${kind}"${struct ? ' data-struct="1"' : ''}`
    + `${describedBy ? ` aria-describedby="${describedBy}"` : ''} ${attrs}`;
  let control;
  if (type === 'checkbox') {
    control = `<input type="checkbox" ${common}${value ? ' checked' : ''}>`;
  } else {
    const inputmode = kind === 'dec' || kind === 'optdec' ? ' inputmode="decimal"' : kind === 'int' || kind === 'optint' ? ' inputmode="numeric"' : '';
    control = `<input type="${type}" ${common}${inputmode} value="${esc(value ?? '')}" autocomplete="off" spellcheck="false">`;
  }
  const labelHtml = `<label for="${id}"${hiddenLabel ? ' class="sr-only"' : ''}>${label}</label>`;
  return `<div class="field${type === 'checkbox' ? ' check' : ''}${cls ? ` ${cls}` : ''}">`
    + (type === 'checkbox' ? `${control}${labelHtml}` : `${labelHtml}${control}`)
    + (hint ? `<small class="hint" id="${id}-hint">${hint}</small>` : '')
    + (err ? errSlot(path) : '') + '</div>';
}

/** A labelled <select> bound to `path`. `options`: [[value, text], …]. */
export function select({ path, label, value, options, struct = true, hiddenLabel = false, cls = '', kind = 'str' }) {
  const id = idOf(path);
  const opts = options.map(([v, text]) => `<option value="${esc(v)}"${String(v) === String(value) ? ' selected' : ''}>${esc(text)}</option>`).join('');
  const unknown = options.some(([v]) => String(v) === String(value)) ? '' : `<option value="${esc(value)}" selected>${esc(value)} (unknown)</option>`;
  return `<div class="field${cls ? ` ${cls}` : ''}"><label for="${id}"${hiddenLabel ? ' class="sr-only"' : ''}>${label}</label>`
    + `<select id="${id}" data-bind="${esc(path)}" data-kind="${kind}"${struct ? ' data-struct="1"' : ''} aria-describedby="${errIdOf(path)}">${unknown}${opts}</select>`
    + `${errSlot(path)}</div>`;
}

/** A button that runs `action` on `path` (handled by the page's click delegation). */
export const button = (action, path, text, { label = '', cls = '', extra = '' } = {}) => `<button type="button" class="${cls || 'btn'}" data-action="${action}" data-path="${esc(path)}"${label ? ` aria-label="${esc(label)}"` : ''} ${extra}>${text}</button>`;
