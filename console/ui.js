// Small DOM helpers shared by the views: element builder, the message
// banner, busy buttons, tables, downloads.

// h('button', {class: 'x', onclick: fn}, 'text', child, ...)
export function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false)
            continue;
        if (k.startsWith('on') && typeof v === 'function')
            el.addEventListener(k.slice(2), v);
        else if (k === 'class')
            el.className = v;
        else if (k === 'value')
            el.value = v;
        else if (k === 'dataset')
            Object.assign(el.dataset, v);
        else
            el.setAttribute(k, v === true ? '' : v);
    }
    append(el, kids);
    return el;
}

function append(el, kids) {
    for (const k of kids.flat(Infinity)) {
        if (k === undefined || k === null || k === false)
            continue;
        el.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
}

export function clear(el, ...kids) {
    el.replaceChildren();
    append(el, kids);
    return el;
}

// ---- the banner: API errors and notices, plainly ----

export function showError(err) {
    const code = err && err.code ? err.code : 'Error';
    const msg = err && err.message ? err.message : String(err);
    banner('error', h('strong', { class: 'code' }, code), ': ', h('span', { class: 'msg' }, msg));
    console.error(code, msg);
}

export function notice(...content) {
    banner('notice', ...content);
}

export function clearBanner() {
    const b = document.getElementById('banner');
    b.hidden = true;
    b.replaceChildren();
}

function banner(kind, ...content) {
    const b = document.getElementById('banner');
    b.className = 'banner ' + kind;
    b.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    clear(b, h('div', { class: 'banner-text' }, ...content),
          h('button', { class: 'link close', title: 'Dismiss', 'aria-label': 'Dismiss',
                        onclick: clearBanner }, '\u00d7'));
    b.hidden = false;
}

// Run fn while button shows a spinner; errors go to the banner.  Resolves
// to fn's result, or undefined after an error.
export async function busy(button, fn) {
    const old = button ? button.disabled : false;
    if (button) {
        button.disabled = true;
        button.classList.add('busy');
    }
    try {
        return await fn();
    } catch (e) {
        showError(e);
        return undefined;
    } finally {
        if (button) {
            button.disabled = old;
            button.classList.remove('busy');
        }
    }
}

export function spinner(label) {
    return h('div', { class: 'loading' }, h('span', { class: 'spin' }), ' ', label || 'Loading\u2026');
}

// columns: [{label, get: (row) => node|string, class}]
export function table(columns, rows, empty) {
    if (!rows.length)
        return h('p', { class: 'empty' }, empty || 'Nothing here yet.');
    return h('table', { class: 'list' },
             h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c.label)))),
             h('tbody', {}, rows.map((r) => h('tr', { dataset: { id: r.id || '' } },
                 columns.map((c) => h('td', { class: c.class || '' }, c.get(r)))))));
}

export function section(title, ...kids) {
    return h('section', { class: 'card' }, h('h2', {}, title), ...kids);
}

export function field(label, input, hint) {
    return h('label', { class: 'field' }, h('span', {}, label), input,
             hint ? h('small', {}, hint) : null);
}

export function select(name, options, value) {
    return h('select', { name },
             options.map((o) => {
                 const [v, t] = Array.isArray(o) ? o : [o, o];
                 return h('option', { value: v, selected: v === value }, t);
             }));
}

export function badge(state) {
    return h('span', { class: 'state state-' + (state || 'unknown').toLowerCase() }, state || '?');
}

export function saveBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: filename, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export function saveText(text, filename, type) {
    saveBlob(new Blob([text], { type: type || 'application/x-pem-file' }), filename);
}

export function bytes(n) {
    n = Number(n);
    if (!isFinite(n))
        return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0;
    while (n >= 1024 && u < units.length - 1) {
        n /= 1024;
        u++;
    }
    return (u ? n.toFixed(1) : String(n)) + ' ' + units[u];
}

export function when(iso) {
    if (!iso)
        return '';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
}

// Form fields by name -> {name: value} (trimmed strings).
export function values(formEl) {
    const out = {};
    for (const [k, v] of new FormData(formEl).entries())
        out[k] = typeof v === 'string' ? v.trim() : v;
    return out;
}
