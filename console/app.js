// The console's shell: sign-in, navigation, the hash router and the
// refresh timers of the view on screen.  Views live in views.js (every
// user) and admin.js (the eucalyptus account's administrators).

import * as api from './api.js';
import { h, clear, showError, clearBanner, busy, values } from './ui.js';
import { USER_VIEWS } from './views.js';
import { ADMIN_VIEWS } from './admin.js';

const $ = (id) => document.getElementById(id);

// The view on screen: its timers die when another view replaces it.
let current = { timers: [], gen: 0 };

// What a view gets: where to draw, and timers tied to its life.
function context(gen, el, arg) {
    return {
        el,
        arg,
        alive: () => gen === current.gen,
        every(ms, fn) {
            const t = setInterval(() => {
                if (gen === current.gen)
                    fn();
            }, ms);
            current.timers.push(t);
        },
        go,
    };
}

function go(hash) {
    if (location.hash === hash)
        route();
    else
        location.hash = hash;
}

function views() {
    const list = [...USER_VIEWS];
    if (api.session.info && api.session.info.isAdmin)
        list.push(...ADMIN_VIEWS);
    return list;
}

function drawNav() {
    const nav = $('nav');
    const here = location.hash.split('/')[1] || 'dashboard';
    clear(nav, views().map((v, i, all) => [
        v.admin && !(all[i - 1] && all[i - 1].admin) ? h('div', { class: 'nav-head' }, 'Administration') : null,
        h('a', { href: '#/' + v.id, class: v.id === here ? 'active' : '', 'data-view': v.id },
          v.title),
    ]));
}

async function route() {
    if (!api.session.info)
        return;
    current.timers.forEach(clearInterval);
    current = { timers: [], gen: current.gen + 1 };
    const [, id, ...rest] = location.hash.split('/');
    const v = views().find((x) => x.id === (id || 'dashboard'));
    if (!v) {
        location.hash = '#/dashboard';
        return;
    }
    drawNav();
    clearBanner();
    const el = clear($('view'));
    el.dataset.view = v.id;
    document.title = v.title + ' \u2013 Overcast';
    try {
        await v.render(context(current.gen, el, rest.map(decodeURIComponent).join('/')));
    } catch (e) {
        showError(e);
    }
}

// ---- session ----

// fresh: just signed in, so start at the dashboard (a reload keeps its view).
function enter(info, fresh) {
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    const who = $('whoami');
    clear(who, h('strong', {}, info.userName), ' @ ', info.accountName,
          h('small', {}, ' (' + info.accountId + ')'),
          info.isAdmin ? h('span', { class: 'tag' }, 'admin') : null);
    who.hidden = false;
    if (fresh || !location.hash || location.hash === '#/' || location.hash === '#')
        history.replaceState(null, '', '#/dashboard');
    route();
}

function leave() {
    current.timers.forEach(clearInterval);
    current = { timers: [], gen: current.gen + 1 };
    $('app').hidden = true;
    $('logout').hidden = true;
    $('whoami').hidden = true;
    clear($('view'));
    $('login').hidden = false;
    for (const f of document.querySelectorAll('#login form'))
        f.reset();
    const first = document.querySelector('#login form:not([hidden]) input');
    if (first)
        first.focus();
}

function tab(which) {
    const pw = which === 'password';
    $('login-password').hidden = !pw;
    $('login-keys').hidden = pw;
    $('tab-password').classList.toggle('active', pw);
    $('tab-keys').classList.toggle('active', !pw);
    $('tab-password').setAttribute('aria-selected', String(pw));
    $('tab-keys').setAttribute('aria-selected', String(!pw));
}

async function submitLogin(ev) {
    ev.preventDefault();
    const formEl = ev.target;
    const button = formEl.querySelector('button[type=submit]');
    clearBanner();
    const info = await busy(button, () => api.login(values(formEl)));
    if (info)
        enter(info, true);
}

// A 401/403 may be a plain refusal or a session that ended (logged out in
// another tab, expired): only the latter sends the user back to sign in.
let checking = false;
api.onSessionExpired(async () => {
    if (checking || !api.session.info)
        return;
    checking = true;
    try {
        if (!(await api.resume())) {
            api.session.info = null;
            leave();
            showError({ code: 'SessionEnded', message: 'Your session has ended; sign in again.' });
        }
    } finally {
        checking = false;
    }
});

async function start() {
    $('tab-password').addEventListener('click', () => tab('password'));
    $('tab-keys').addEventListener('click', () => tab('keys'));
    $('login-password').addEventListener('submit', submitLogin);
    $('login-keys').addEventListener('submit', submitLogin);
    $('logout').addEventListener('click', async (ev) => {
        await busy(ev.currentTarget, () => api.logout());
        api.session.info = null;
        clearBanner();
        leave();
    });
    window.addEventListener('hashchange', route);
    const info = await api.resume();
    if (info)
        enter(info);
    else
        leave();
}

start();
