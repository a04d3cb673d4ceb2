// The Overcast web console in a real browser: Debian's chromium driven by
// playwright-core against a running cloud (test_console.py starts it and
// passes what is needed in the environment):
//
//   OC_CONSOLE_URL      http://127.0.0.1:PORT/console/
//   OC_ACCOUNT, OC_USER, OC_PASSWORD   a user with a login profile
//   OC_ADMIN_AK, OC_ADMIN_SK           the eucalyptus admin's access key
//   OC_IMAGE_ID         the test guest's machine image
//   OC_NODE_NAME        a node controller the nodes page must show
//   OC_ARTIFACTS        where screenshots and downloads go
//   OC_STEPS            (optional) comma-separated subset of the steps
//
// Every step saves a screenshot; a failure saves failure-<step>.png and
// exits 1.  Browser-side exceptions fail the run.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const env = process.env;
const URL_ = env.OC_CONSOLE_URL;
const ART = env.OC_ARTIFACTS || path.resolve('artifacts');
const STEPS = env.OC_STEPS ? env.OC_STEPS.split(',') : null;
const SLOW = 6 * 60 * 1000;  // QEMU TCG guests boot slowly
fs.mkdirSync(ART, { recursive: true });

if (!URL_) {
    console.error('OC_CONSOLE_URL is not set');
    process.exit(2);
}

const tag = crypto.randomBytes(3).toString('hex');
const state = {};
const pageErrors = [];

function log(...a) {
    console.log('[console-test]', ...a);
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(ART, name + '.png'), fullPage: true });
}

function check(cond, msg) {
    if (!cond)
        throw new Error('check failed: ' + msg);
}

// The banner must not show an error (an API call failed unexpectedly).
async function noError(page) {
    const b = page.locator('#banner.error');
    if (await b.isVisible())
        throw new Error('error banner: ' + (await b.innerText()));
}

async function nav(page, view) {
    await page.click(`#nav a[data-view="${view}"]`);
    await page.waitForSelector(`#view[data-view="${view}"]`);
    await page.waitForFunction(() => !document.querySelector('#view .loading'), null, { timeout: 30000 });
}

async function download(page, click) {
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), click()]);
    const file = path.join(ART, 'download-' + dl.suggestedFilename());
    await dl.saveAs(file);
    return { name: dl.suggestedFilename(), data: fs.readFileSync(file) };
}

// Sign in with the password form.
async function loginPassword(page, account, user, password) {
    await page.click('#tab-password');
    await page.fill('#login-password input[name=Account]', account);
    await page.fill('#login-password input[name=UserName]', user);
    await page.fill('#login-password input[name=Password]', password);
    await page.click('#login-password button[type=submit]');
}

const steps = [
    ['static', async (page) => {
        const r = await page.request.get(URL_.replace(/\/?$/, '/') + 'app.js');
        check(r.ok(), 'GET /console/app.js: ' + r.status());
        check(/javascript/.test(r.headers()['content-type'] || ''), 'app.js content type ' + r.headers()['content-type']);
        const c = await page.request.get(URL_.replace(/\/?$/, '/') + 'style.css');
        check(/text\/css/.test(c.headers()['content-type'] || ''), 'style.css content type ' + c.headers()['content-type']);
    }],

    ['login-refused', async (page) => {
        await loginPassword(page, env.OC_ACCOUNT, env.OC_USER, 'not-the-password');
        await page.waitForSelector('#banner.error', { timeout: 20000 });
        const t = await page.innerText('#banner');
        check(/AuthFailure/.test(t), 'a wrong password shows AuthFailure, banner: ' + t);
        check(await page.isVisible('#login'), 'still on the sign-in page');
        await shot(page, '01-login-refused');
    }],

    ['login', async (page) => {
        await loginPassword(page, env.OC_ACCOUNT, env.OC_USER, env.OC_PASSWORD);
        await page.waitForSelector('#view[data-view="dashboard"]', { timeout: 20000 });
        await page.waitForFunction(() => document.querySelectorAll('.count-card .spin').length === 0,
                                   null, { timeout: 60000 });
        check((await page.innerText('#whoami')).includes(env.OC_USER), 'who am I shows the user');
        check(!(await page.isVisible('text=Administration')), 'a user sees no admin views');
        await noError(page);
        // HttpOnly as the browser applies it: scripts never see the session.
        const seen = await page.evaluate(() => document.cookie);
        check(!seen.includes('oc_session'), 'document.cookie shows the session: ' + seen);
        const jar = (await page.context().cookies()).find((c) => c.name === 'oc_session');
        check(jar && jar.httpOnly && jar.sameSite === 'Strict',
              'the session cookie is HttpOnly, SameSite=Strict: ' + JSON.stringify(jar));
        await shot(page, '02-dashboard');
        // A reload keeps the session (the cookie, not page memory).
        await page.reload();
        await page.waitForSelector('#view[data-view="dashboard"]', { timeout: 20000 });
    }],

    ['keypairs', async (page) => {
        await nav(page, 'keypairs');
        state.key = 'console-key-' + tag;
        await page.fill('#create-keypair input[name=KeyName]', state.key);
        const dl = await download(page, () => page.click('#create-keypair button[type=submit]'));
        check(dl.name === state.key + '.pem', 'download named ' + dl.name);
        check(dl.data.toString().startsWith('-----BEGIN'), 'the key file begins with -----BEGIN: ' +
              dl.data.toString().slice(0, 40));
        await page.waitForSelector(`tr[data-id="${state.key}"]`);
        // The same name again: the API's error, shown plainly.
        await page.fill('#create-keypair input[name=KeyName]', state.key);
        await page.click('#create-keypair button[type=submit]');
        await page.waitForSelector('#banner.error');
        const t = await page.innerText('#banner');
        check(/InvalidKeyPair\.Duplicate/.test(t), 'duplicate key pair error shown: ' + t);
        await shot(page, '03-keypairs');
        await page.click('#banner .close');
        // Import an OpenSSH public key (ed25519, built here).
        const { publicKey } = crypto.generateKeyPairSync('ed25519');
        const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
        const str = (b) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
        const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
        state.imported = 'console-imported-' + tag;
        await page.fill('#import-keypair input[name=KeyName]', state.imported);
        await page.fill('#import-keypair textarea[name=PublicKey]',
                        'ssh-ed25519 ' + blob.toString('base64') + ' console@test');
        await page.click('#import-keypair button[type=submit]');
        await page.waitForSelector(`tr[data-id="${state.imported}"]`);
        await noError(page);
        await page.locator(`tr[data-id="${state.imported}"] button`, { hasText: 'Delete' }).click();
        await page.waitForSelector(`tr[data-id="${state.imported}"]`, { state: 'detached' });
        await noError(page);
    }],

    ['groups', async (page) => {
        await nav(page, 'groups');
        state.group = 'console-web-' + tag;
        await page.fill('#create-group input[name=GroupName]', state.group);
        await page.fill('#create-group input[name=GroupDescription]', 'made in the console');
        await page.click('#create-group button[type=submit]');
        const card = page.locator(`section.group[data-group="${state.group}"]`);
        await card.waitFor();
        await card.locator('input[name=from]').fill('8080');
        await card.locator('input[name=to]').fill('8080');
        await card.locator('.add-rule button[type=submit]').click();
        await card.locator('td', { hasText: '8080' }).first().waitFor();
        // A second rule (all ICMP), then revoke it.
        await card.locator('select[name=proto]').selectOption('icmp');
        await card.locator('input[name=cidr]').fill('10.0.0.0/8');
        await card.locator('.add-rule button[type=submit]').click();
        const icmp = card.locator('tr', { hasText: '10.0.0.0/8' });
        await icmp.waitFor();
        await noError(page);
        await shot(page, '04-groups');
        await icmp.locator('button', { hasText: 'Revoke' }).click();
        await icmp.waitFor({ state: 'detached' });
        await card.locator('td', { hasText: '8080' }).first().waitFor();
        await noError(page);
    }],

    ['launch', async (page) => {
        await nav(page, 'instances');
        await page.waitForSelector('#launch-form');
        await page.selectOption('#launch-form select[name=ImageId]', env.OC_IMAGE_ID);
        await page.selectOption('#launch-form select[name=InstanceType]', 'm1.small');
        if (state.key)
            await page.selectOption('#launch-form select[name=KeyName]', state.key);
        if (state.group)
            await page.selectOption('#launch-form select[name=SecurityGroup]', state.group);
        await page.fill('#launch-form textarea[name=UserData]', '#!/bin/sh\necho launched-from-the-console\n');
        await page.click('#launch-form button[type=submit]');
        await page.waitForSelector('#banner.notice', { timeout: 60000 });
        await noError(page);
        const m = (await page.innerText('#banner')).match(/i-[0-9a-f]+/);
        check(m, 'the launch notice names the instance');
        state.iid = m[0];
        log('launched', state.iid);
        const st = page.locator(`tr[data-id="${state.iid}"] .state`);
        await st.waitFor();
        log('state', await st.innerText());
        await shot(page, '05-instances-pending');
        await page.waitForFunction((id) => {
            const s = document.querySelector(`tr[data-id="${id}"] .state`);
            return s && /^(running|terminated|shutting-down|stopped)$/.test(s.textContent);
        }, state.iid, { timeout: SLOW, polling: 1000 });
        const cell = await page.innerText(`tr[data-id="${state.iid}"] .state-cell`);
        check(cell.startsWith('running'), 'the instance did not reach running: ' + cell);
        log('running');
    }],

    ['console-output', async (page) => {
        await nav(page, 'instances');
        await page.locator(`tr[data-id="${state.iid}"] button`, { hasText: 'Console output' }).click();
        const want = 'GUEST-IID ' + state.iid;
        await page.waitForFunction((w) => {
            const pre = document.getElementById('console-output');
            return pre && pre.textContent.includes(w);
        }, want, { timeout: SLOW, polling: 1000 });
        log('console shows', want);
        await shot(page, '06-console-output');
        // Reboot: the console shows a second boot.
        await page.locator(`tr[data-id="${state.iid}"] button`, { hasText: 'Reboot' }).click();
        await page.waitForSelector('#banner.notice');
        await noError(page);
        await page.waitForFunction(() => {
            const pre = document.getElementById('console-output');
            return pre && (pre.textContent.match(/^GUEST-UP /gm) || []).length >= 2;
        }, null, { timeout: SLOW, polling: 1000 });
        log('rebooted');
    }],

    ['images', async (page) => {
        await nav(page, 'images');
        await page.waitForSelector(`tr[data-id="${env.OC_IMAGE_ID}"]`);
        await noError(page);
        await shot(page, '07-images');
    }],

    ['addresses', async (page) => {
        await nav(page, 'addresses');
        await page.click('button:has-text("Allocate an address")');
        await page.waitForSelector('#banner.notice');
        const ip = (await page.innerText('#banner')).match(/\d+\.\d+\.\d+\.\d+/)[0];
        const row = page.locator(`tr[data-id="${ip}"]`);
        await row.waitFor();
        if (state.iid) {
            await row.locator('select').selectOption(state.iid);
            await row.locator('button', { hasText: 'Associate' }).click();
            await row.locator('td', { hasText: state.iid }).waitFor({ timeout: 60000 });
            await noError(page);
            await shot(page, '08-addresses');
            await row.locator('button', { hasText: 'Disassociate' }).click();
            await row.locator('button', { hasText: 'Release' }).waitFor({ timeout: 60000 });
        } else {
            await shot(page, '08-addresses');
        }
        await row.locator('button', { hasText: 'Release' }).click();
        await row.waitFor({ state: 'detached', timeout: 60000 });
        await noError(page);
    }],

    ['buckets', async (page) => {
        await nav(page, 'buckets');
        state.bucket = 'console-' + tag;
        await page.fill('#create-bucket input[name=Bucket]', state.bucket);
        await page.click('#create-bucket button[type=submit]');
        await page.locator(`tr[data-id="${state.bucket}"] button`, { hasText: 'Open' }).click();
        await page.waitForSelector('#upload-form');
        const data = crypto.randomBytes(6 * 1024 * 1024 + 123);
        await page.setInputFiles('#upload-form input[type=file]',
                                 { name: 'blob.bin', mimeType: 'application/octet-stream', buffer: data });
        await page.click('#upload-form button[type=submit]');
        await page.waitForSelector('#upload-progress progress', { timeout: 10000 });
        await page.waitForFunction(() => /100%/.test(document.getElementById('upload-progress').textContent),
                                   null, { timeout: 120000 });
        const row = page.locator('tr[data-id="blob.bin"]');
        await row.waitFor({ timeout: 30000 });
        await noError(page);
        await shot(page, '09-bucket-objects');
        const dl = await download(page, () => row.locator('button', { hasText: 'Download' }).click());
        check(dl.name === 'blob.bin', 'download named ' + dl.name);
        check(Buffer.compare(dl.data, data) === 0,
              `downloaded bytes equal the uploaded ones (${dl.data.length} vs ${data.length})`);
        fs.unlinkSync(path.join(ART, 'download-blob.bin'));
        await row.locator('button', { hasText: 'Delete' }).click();
        await row.waitFor({ state: 'detached' });
        await page.click('.crumbs a:has-text("Buckets")');
        const brow = page.locator(`tr[data-id="${state.bucket}"]`);
        await brow.locator('button', { hasText: 'Delete' }).click();
        await brow.waitFor({ state: 'detached' });
        await noError(page);
        await shot(page, '10-buckets');
    }],

    ['terminate', async (page) => {
        await nav(page, 'instances');
        await page.locator(`tr[data-id="${state.iid}"] button`, { hasText: 'Terminate' }).click();
        await page.waitForFunction((id) => {
            const s = document.querySelector(`tr[data-id="${id}"] .state`);
            return s && /shutting-down|terminated/.test(s.textContent);
        }, state.iid, { timeout: 120000, polling: 1000 });
        await noError(page);
        await shot(page, '11-terminated');
    }],

    ['logout', async (page) => {
        await page.click('#logout');
        await page.waitForSelector('#login:not([hidden])');
        await page.reload();
        await page.waitForSelector('#login:not([hidden])');
        check(!(await page.isVisible('#app')), 'after logout a reload shows the sign-in page');
        await shot(page, '12-logged-out');
    }],

    ['session-ended', async (page) => {
        // Signed out in another tab: the next call here finds the session
        // gone and the page returns to the sign-in form, saying why.
        await loginPassword(page, env.OC_ACCOUNT, env.OC_USER, env.OC_PASSWORD);
        await page.waitForSelector('#view[data-view="dashboard"]', { timeout: 20000 });
        const other = await page.context().newPage();
        await other.goto(URL_);
        await other.waitForSelector('#view[data-view="dashboard"]', { timeout: 20000 });
        await other.click('#logout');
        await other.waitForSelector('#login:not([hidden])');
        await other.close();
        await page.click('#nav a[data-view="keypairs"]');
        await page.waitForSelector('#login:not([hidden])', { timeout: 20000 });
        const t = await page.innerText('#banner');
        check(/SessionEnded/.test(t), 'the banner says the session ended: ' + t);
        await shot(page, '12b-session-ended');
    }],

    ['admin-login', async (page) => {
        await page.click('#tab-keys');
        await page.fill('#login-keys input[name=AccessKeyId]', env.OC_ADMIN_AK);
        await page.fill('#login-keys input[name=SecretAccessKey]', env.OC_ADMIN_SK);
        await page.click('#login-keys button[type=submit]');
        await page.waitForSelector('#view[data-view="dashboard"]', { timeout: 20000 });
        await page.waitForSelector('#nav a[data-view="accounts"]');
        check((await page.innerText('#whoami')).toLowerCase().includes('admin'), 'admin badge');
    }],

    ['accounts', async (page) => {
        await nav(page, 'accounts');
        state.account = 'console-acct-' + tag;
        await page.fill('#create-account input[name=AccountName]', state.account);
        await page.click('#create-account button[type=submit]');
        await page.waitForSelector('#create-user', { timeout: 20000 });
        await page.waitForSelector(`tr[data-id="${state.account}"]`);
        await page.fill('#create-user input[name=UserName]', 'alice');
        await page.fill('#create-user input[name=Password]', 'Alice-pw-' + tag);
        await page.click('#create-user button[type=submit]');
        const row = page.locator('tr[data-id="alice"]');
        await row.waitFor({ timeout: 20000 });
        await noError(page);
        check((await row.innerText()).includes('set'), 'alice has a password');
        await row.locator('button', { hasText: 'New access key' }).click();
        await page.waitForSelector('#banner.notice code.secret');
        await row.locator('.keys li').first().waitFor();
        await shot(page, '13-accounts');
        const dl = await download(page, () => row.locator('button', { hasText: 'Download credentials' }).click());
        check(dl.name === state.account + '-alice-credentials.zip', 'zip named ' + dl.name);
        check(dl.data.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1')), 'a zip');
        const z = dl.data.toString('latin1');
        for (const n of ['eucarc', 'aws-config', 'aws-credentials', 'cloud-cert.pem', '-cert.pem', '-pk.pem'])
            check(z.includes(n), 'the zip holds ' + n);
        check(/-----BEGIN CERTIFICATE-----/.test(z) && /PRIVATE KEY-----/.test(z), 'certificates and key in the zip');
        await noError(page);
        // Disable: keys inactive, password gone.
        await row.locator('button', { hasText: 'Disable' }).click();
        await page.waitForFunction(() => {
            const r = document.querySelector('tr[data-id="alice"]');
            return r && !r.querySelector('.state-active') && r.querySelector('.state-inactive') &&
                r.innerText.includes('none');
        }, null, { timeout: 20000 });
        await noError(page);
        await shot(page, '14-user-disabled');
        // A user with keys, a certificate and a password can be deleted.
        await page.fill('#create-user input[name=UserName]', 'bob');
        await page.fill('#create-user input[name=Password]', 'Bob-pw-' + tag);
        await page.click('#create-user button[type=submit]');
        const bob = page.locator('tr[data-id="bob"]');
        await bob.waitFor({ timeout: 20000 });
        await download(page, () => bob.locator('button', { hasText: 'Download credentials' }).click());
        await bob.locator('.keys li').first().waitFor();
        await bob.locator('button', { hasText: /^Delete$/ }).last().click();
        await bob.waitFor({ state: 'detached', timeout: 20000 });
        await noError(page);
    }],

    ['services', async (page) => {
        await nav(page, 'services');
        for (const t of ['cloud', 'walrus', 'cluster'])
            await page.locator('#view td', { hasText: new RegExp('^' + t + '$') }).first().waitFor();
        await noError(page);
        await shot(page, '15-services');
    }],

    ['nodes', async (page) => {
        await nav(page, 'nodes');
        const row = page.locator(`tr[data-id="${env.OC_NODE_NAME}"]`);
        await row.waitFor({ timeout: 20000 });
        await row.locator('.state-enabled').waitFor({ timeout: 60000 });
        await noError(page);
        await shot(page, '16-nodes');
    }],

    ['properties', async (page) => {
        await nav(page, 'properties');
        await page.waitForSelector('#view .prop-value');
        await noError(page);
        await shot(page, '17-properties');
        // Edit one (the zone's scheduling policy, a live setting) and put it back.
        await page.fill('#property-filter', 'schedulingpolicy');
        const input = page.locator('#view input.prop-value').first();
        const name = await input.getAttribute('name');
        const was = await input.inputValue();
        const next = was === 'GREEDY' ? 'ROUNDROBIN' : 'GREEDY';
        for (const [from, to] of [[was, next], [next, was]]) {
            await input.fill(to);
            await page.locator('#view .prop-edit button').first().click();
            await page.waitForSelector('#banner.notice');
            const t = await page.innerText('#banner');
            check(t.includes(name) && t.includes('from ' + from + ' to ' + to), 'property change shown: ' + t);
            await page.click('#banner .close');
        }
        await noError(page);
    }],

    ['admin-logout', async (page) => {
        await page.click('#logout');
        await page.waitForSelector('#login:not([hidden])');
    }],
];

async function main() {
    const browser = await chromium.launch({
        executablePath: env.OC_CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox'],
    });
    let failed = false;
    try {
        const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        page.setDefaultTimeout(30000);
        page.on('dialog', (d) => d.accept());
        page.on('pageerror', (e) => pageErrors.push(String(e)));
        page.on('console', (m) => {
            if (m.type() !== 'error')
                return;
            log('browser console:', m.text());
            // The CLC's Content-Security-Policy must never block the console itself.
            if (/Content Security Policy/i.test(m.text()))
                pageErrors.push('CSP: ' + m.text());
        });
        await page.goto(URL_);
        await page.waitForSelector('#login:not([hidden])');
        for (const [name, fn] of steps) {
            if (STEPS && !STEPS.includes(name))
                continue;
            const t0 = Date.now();
            try {
                await fn(page);
                if (pageErrors.length)
                    throw new Error('exceptions in the page: ' + pageErrors.join('; '));
                log(`ok ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
            } catch (e) {
                log(`FAILED ${name}: ${e.stack || e}`);
                try {
                    log('banner:', await page.innerText('#banner'));
                    await shot(page, 'failure-' + name);
                } catch (e2) {
                    log('no failure screenshot:', e2.message);
                }
                failed = true;
                break;
            }
        }
        // Let test_console.py clean up what a failed run left.
        fs.writeFileSync(path.join(ART, 'state.json'), JSON.stringify(state));
    } finally {
        await browser.close();
    }
    process.exit(failed ? 1 : 0);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
