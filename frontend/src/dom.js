/**
 * The one set of DOM helpers of every page script (viewer, worklist, upload, report).
 *
 *   el('button', { class: 'x', dataset: { id: 1 }, onclick: fn, hidden: true }, 'Text', child)
 *
 * ``class`` sets the class name, ``dataset`` the data attributes, ``on<event>`` with a
 * function adds a listener (no inline handlers: the pages' CSP forbids them); ``false``,
 * ``null`` and ``undefined`` leave an attribute out and ``true`` sets it empty (``"true"``
 * for ``aria-*``). Children may be nodes, strings, numbers or (nested) arrays of them;
 * ``null``/``undefined``/``false`` children are skipped.
 */

/**
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...any} children
 * @returns {any} the element (typed loosely: callers use tag-specific properties)
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, key.startsWith('aria-') ? 'true' : '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** ``document.querySelector`` (or within ``root``), typed loosely for page scripts. */
export const $ = (/** @type {string} */ selector, /** @type {ParentNode} */ root = document) =>
  /** @type {any} */ (root.querySelector(selector));

/** ``document.querySelectorAll`` as an array. */
export const $$ = (/** @type {string} */ selector, /** @type {ParentNode} */ root = document) =>
  /** @type {any[]} */ ([...root.querySelectorAll(selector)]);

/**
 * A toolbar button that runs ``fn`` and gives the focus back, so that Space and the arrow
 * keys keep driving the viewer; ``data-action`` names it for tests and styles.
 * @param {string} action @param {string} label @param {string} title @param {() => any} fn
 */
export function actionButton(action, label, title, fn) {
  return el('button', {
    type: 'button',
    title,
    dataset: { action },
    onclick: (/** @type {MouseEvent} */ e) => {
      /** @type {HTMLElement} */ (e.currentTarget).blur();
      fn();
    },
  }, label);
}

/** A labelled group of toolbar controls. @param {string} label @param {...any} items */
export function toolGroup(label, ...items) {
  return el('div', { class: 'vw-group', 'aria-label': label }, ...items);
}
