// A small DOM builder: h('button', {class: 'x', onclick: fn}, 'Label'). Text is always set as
// text (never parsed as HTML), so data from the API cannot inject markup.

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown> | null;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2), value as EventListener);
      } else if (name === 'value' || name === 'checked' || name === 'indeterminate' || name === 'selected') {
        (el as unknown as Record<string, unknown>)[name] = value;
      } else if (name === 'dataset') {
        Object.assign(el.dataset, value);
      } else {
        el.setAttribute(name, value === true ? '' : String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

/** A <select> with options [value, label]; `selected` is the chosen value. */
export function select(
  attrs: Attrs,
  options: [string, string][],
  selected = '',
): HTMLSelectElement {
  return h(
    'select',
    attrs,
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

let idCounter = 0;
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled field: <label for=id>text</label> + control. */
export function field(label: string, control: HTMLElement, extraClass = ''): HTMLElement {
  if (!control.id) control.id = uid('f');
  return h('div', { class: `field ${extraClass}`.trim() }, h('label', { for: control.id }, label), control);
}
