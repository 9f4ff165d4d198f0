// Keyed updates: a re-pricing touches only the rows and pictures whose content changed, so the
// browser re-lays out a few elements instead of the whole results (this keeps a 20-charge
// re-pricing inside one frame).

/**
 * Makes `container`'s keyed children (`data-key`; others are left alone) the `items` (`{key, sig, html: () => string}`) in order. A child
 * whose key and signature are unchanged is kept as is; others are built from `html()`.
 * `<details>` that were open stay open (and `onOpen(detailsElement)` refills them).
 */
export function patchChildren(container, items, { tag = 'div', attrs = '', onOpen } = {}) {
  const keyed = () => [...container.children].filter((el) => el.dataset.key !== undefined);
  const existing = new Map(keyed().map((el) => [el.dataset.key, el]));
  const wanted = new Set(items.map((i) => String(i.key)));
  for (const [key, el] of existing) if (!wanted.has(key)) el.remove();
  let previous = null;
  for (const item of items) {
    const key = String(item.key);
    let el = existing.get(key);
    if (!el || el.dataset.sig !== item.sig) {
      const open = el ? [...el.querySelectorAll('details[open]')].map((d) => d.dataset.explain) : [];
      const template = document.createElement('template');
      template.innerHTML = `<${tag} data-key="${key.replace(/"/g, '&quot;')}" ${attrs}>${item.html()}</${tag}>`;
      const fresh = template.content.firstElementChild;
      fresh.dataset.sig = item.sig;
      for (const id of open) {
        const d = fresh.querySelector(`details[data-explain="${CSS.escape(id ?? '')}"]`);
        if (d) { d.open = true; onOpen?.(d); }
      }
      if (el) el.replaceWith(fresh); else container.append(fresh);
      el = fresh;
    }
    if (previous) {
      if (previous.nextElementSibling !== el) previous.after(el);
    } else {
      const first = keyed()[0];
      if (first !== el) container.insertBefore(el, first ?? null);
    }
    previous = el;
  }
}
