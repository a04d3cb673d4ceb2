// The administrators' views (accounts of the eucalyptus account only):
// accounts and users, services, nodes, properties.

import { query, session, text, items, find, ApiError } from './api.js';
import {
    h, clear, showError, notice, busy, spinner, table, section, field, badge, saveBlob,
    when, values,
} from './ui.js';
import { makeZip } from './zip.js';

function button(label, onclick, cls) {
    return h('button', { type: 'button', class: cls || 'secondary', onclick }, label);
}

// IAM on another account: DelegateAccount, left out for our own.
function iam(action, account, params = {}) {
    const own = account === session.info.accountName || account === session.info.accountId;
    return query('iam', action, own ? params : Object.assign({ DelegateAccount: account }, params));
}

async function listAccounts() {
    const doc = await query('iam', 'ListAccounts');
    return items(find(doc, 'Accounts')).map((a) => ({
        id: text(a, 'AccountName'),
        name: text(a, 'AccountName'),
        accountId: text(a, 'AccountId'),
    }));
}

async function userDetails(account, name) {
    const [keysDoc, profile] = await Promise.all([
        iam('ListAccessKeys', account, { UserName: name }),
        iam('GetLoginProfile', account, { UserName: name }).then(() => true, (e) => {
            if (e.code === 'NoSuchEntity')
                return false;
            throw e;
        }),
    ]);
    const keys = items(find(keysDoc, 'AccessKeyMetadata')).map((k) => ({
        id: text(k, 'AccessKeyId'),
        status: text(k, 'Status'),
        created: text(k, 'CreateDate'),
    }));
    return { keys, profile };
}

async function listUsers(account) {
    const doc = await iam('ListUsers', account);
    const users = items(find(doc, 'Users')).map((u) => ({
        id: text(u, 'UserName'),
        name: text(u, 'UserName'),
        userId: text(u, 'UserId'),
        arn: text(u, 'Arn'),
        created: text(u, 'CreateDate'),
    }));
    await Promise.all(users.map(async (u) => Object.assign(u, await userDetails(account, u.name))));
    return users;
}

// ---- accounts and users ----

async function accounts(ctx) {
    const listEl = h('div', {}, spinner());
    const usersEl = h('div', {});
    const selected = ctx.arg;
    const refresh = () => (async () => {
        try {
            const list = await listAccounts();
            clear(listEl, table([
                { label: 'Account', get: (a) => h('a', { href: '#/accounts/' + encodeURIComponent(a.name) }, a.name) },
                { label: 'Account id', get: (a) => h('code', {}, a.accountId) },
                { label: '', class: 'actions', get: (a) => [
                    button('Users', () => ctx.go('#/accounts/' + encodeURIComponent(a.name))),
                    a.name === 'eucalyptus' ? null : button('Delete', async (ev) => {
                        if (!confirm('Delete account ' + a.name + '? Its users must be deleted first.'))
                            return;
                        if (await busy(ev.currentTarget, () => query('iam', 'DeleteAccount', { AccountName: a.name }))) {
                            if (selected === a.name)
                                ctx.go('#/accounts');
                            else
                                refresh();
                        }
                    }, 'danger'),
                ] },
            ], list, 'No accounts.'));
        } catch (e) {
            showError(e);
        }
    })();

    const create = h('form', { class: 'inline-form', id: 'create-account' },
        field('Account name', h('input', { name: 'AccountName', required: true })),
        h('button', { type: 'submit', class: 'primary' }, 'Create account'));
    create.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const name = values(create).AccountName;
        const doc = await busy(create.querySelector('button'), () => query('iam', 'CreateAccount', { AccountName: name }));
        if (doc) {
            notice('Account ', h('strong', {}, name), ' created (', text(find(doc, 'AccountId')), ').');
            create.reset();
            ctx.go('#/accounts/' + encodeURIComponent(name));
        }
    });

    ctx.el.append(h('h1', {}, 'Accounts and users'), section('Create an account', create),
                  section('Accounts', listEl), usersEl);
    await Promise.all([refresh(), selected ? users(ctx, selected, usersEl) : null]);
}

async function users(ctx, account, el) {
    const listEl = h('div', {}, spinner());
    const refresh = async () => {
        try {
            const list = await listUsers(account);
            clear(listEl, table([
                { label: 'User', get: (u) => h('strong', {}, u.name) },
                { label: 'Password', get: (u) => (u.profile ? 'set' : h('span', { class: 'muted' }, 'none')) },
                { label: 'Access keys', get: (u) => u.keys.length ? h('ul', { class: 'keys' }, u.keys.map((k) =>
                    h('li', {}, h('code', {}, k.id), ' ', badge(k.status),
                      button(k.status === 'Active' ? 'Deactivate' : 'Activate', (ev) => keyAction(ev, 'UpdateAccessKey', u, k,
                          { Status: k.status === 'Active' ? 'Inactive' : 'Active' }), 'small'),
                      button('Delete', (ev) => keyAction(ev, 'DeleteAccessKey', u, k, {}), 'small danger')))) : h('span', { class: 'muted' }, 'none') },
                { label: 'Created', get: (u) => when(u.created) },
                { label: '', class: 'actions wrap', get: (u) => [
                    button('Set password', () => passwordForm(u)),
                    button('New access key', (ev) => newKey(ev, u)),
                    button('Download credentials', (ev) => credentials(ev, account, u.name, refresh)),
                    button('Disable', (ev) => disable(ev, u), 'danger'),
                    u.name === 'admin' ? null : button('Delete', (ev) => deleteUser(ev, u), 'danger'),
                ] },
            ], list, 'No users in this account.'));
        } catch (e) {
            showError(e);
        }
    };

    async function keyAction(ev, action, u, k, extra) {
        if (action === 'DeleteAccessKey' && !confirm('Delete access key ' + k.id + '?'))
            return;
        if (await busy(ev.currentTarget, () => iam(action, account, Object.assign({ UserName: u.name, AccessKeyId: k.id }, extra))))
            refresh();
    }

    async function newKey(ev, u) {
        const doc = await busy(ev.currentTarget, () => iam('CreateAccessKey', account, { UserName: u.name }));
        if (!doc)
            return;
        notice('New key for ', h('strong', {}, u.name), ': ', h('code', { class: 'secret' }, text(find(doc, 'AccessKeyId'))),
               ' secret ', h('code', { class: 'secret' }, text(find(doc, 'SecretAccessKey'))),
               ' \u2013 copy the secret now, it is not shown again.');
        refresh();
    }

    const pwSlot = h('div', {});
    function passwordForm(u) {
        const f = h('form', { class: 'inline-form', id: 'password-form' },
            field('New password for ' + u.name, h('input', { name: 'Password', type: 'password', required: true,
                                                             autocomplete: 'new-password' })),
            h('button', { type: 'submit', class: 'primary' }, 'Save password'),
            button('Cancel', () => clear(pwSlot)));
        f.addEventListener('submit', async (ev) => {
            ev.preventDefault();
            const pw = values(f).Password;
            const ok = await busy(f.querySelector('button[type=submit]'), async () => {
                try {
                    return await iam('CreateLoginProfile', account, { UserName: u.name, Password: pw });
                } catch (e) {
                    if (e.code !== 'EntityAlreadyExists')
                        throw e;
                    return iam('UpdateLoginProfile', account, { UserName: u.name, Password: pw });
                }
            });
            if (ok) {
                clear(pwSlot);
                notice('Password of ', h('strong', {}, u.name), ' set.');
                refresh();
            }
        });
        clear(pwSlot, f);
        f.querySelector('input').focus();
    }

    async function disable(ev, u) {
        if (!confirm('Disable ' + u.name + '? Every access key becomes inactive and the password is removed.'))
            return;
        const ok = await busy(ev.currentTarget, async () => {
            const { keys } = await userDetails(account, u.name);   /* as they are now */
            for (const k of keys)
                if (k.status === 'Active')
                    await iam('UpdateAccessKey', account, { UserName: u.name, AccessKeyId: k.id, Status: 'Inactive' });
            try {
                await iam('DeleteLoginProfile', account, { UserName: u.name });
            } catch (e) {
                if (e.code !== 'NoSuchEntity')
                    throw e;
            }
            return true;
        });
        if (ok) {
            notice('User ', h('strong', {}, u.name), ' disabled.');
            refresh();
        }
    }

    async function deleteUser(ev, u) {
        if (!confirm('Delete user ' + u.name + ' with its access keys, certificates and password?'))
            return;
        const ok = await busy(ev.currentTarget, async () => {
            const { keys, profile } = await userDetails(account, u.name);
            for (const k of keys)
                await iam('DeleteAccessKey', account, { UserName: u.name, AccessKeyId: k.id });
            const certs = await iam('ListSigningCertificates', account, { UserName: u.name });
            for (const c of items(find(certs, 'Certificates')))
                await iam('DeleteSigningCertificate', account, { UserName: u.name, CertificateId: text(c, 'CertificateId') });
            if (profile)
                await iam('DeleteLoginProfile', account, { UserName: u.name });
            return iam('DeleteUser', account, { UserName: u.name });
        });
        if (ok)
            refresh();
    }

    const create = h('form', { class: 'inline-form', id: 'create-user' },
        field('User name', h('input', { name: 'UserName', required: true })),
        field('Password (optional)', h('input', { name: 'Password', type: 'password', autocomplete: 'new-password' })),
        h('button', { type: 'submit', class: 'primary' }, 'Create user'));
    create.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const v = values(create);
        const ok = await busy(create.querySelector('button'), async () => {
            await iam('CreateUser', account, { UserName: v.UserName });
            if (v.Password)
                await iam('CreateLoginProfile', account, { UserName: v.UserName, Password: v.Password });
            return true;
        });
        if (ok) {
            notice('User ', h('strong', {}, v.UserName), ' created in ', account, '.');
            create.reset();
        }
        refresh();
    });

    clear(el, section('Users of ' + account, create, pwSlot, listEl));
    await refresh();
}

// The credential bundle of a user: a new access key, a new signing
// certificate and key, the cloud's certificate, eucarc and an AWS CLI
// config and credentials pair, zipped here in the browser.
async function credentials(ev, account, user, done) {
    if (!confirm('Make a new access key and certificate for ' + user + ' and download them?'))
        return;
    await busy(ev.currentTarget, async () => {
        const [accts, zonesDoc, servicesDoc, cloudDoc] = await Promise.all([
            listAccounts(),
            query('ec2', 'DescribeAvailabilityZones'),
            query('admin', 'DescribeServices').catch(() => null),
            query('admin', 'GetCloudCertificate'),
        ]);
        const acct = accts.find((a) => a.name === account || a.accountId === account);
        if (!acct)
            throw new ApiError('NoSuchEntity', 'no account ' + account);
        const keyDoc = await iam('CreateAccessKey', account, { UserName: user });
        const certDoc = await iam('CreateSigningCertificate', account, { UserName: user });
        const ak = text(find(keyDoc, 'AccessKeyId'));
        const sk = text(find(keyDoc, 'SecretAccessKey'));
        const cert = find(certDoc, 'Certificate');
        const certId = text(cert, 'CertificateId');
        const certPem = text(cert, 'CertificateBody');
        const keyPem = text(find(certDoc, 'PrivateKey'));
        const cloudPem = text(find(cloudDoc, 'certificate'));
        const zone = items(find(zonesDoc, 'availabilityZoneInfo'))[0];
        const region = (zone && text(zone, 'regionName')) || 'us-east-1';
        let s3url = location.origin + '/services/objectstorage';
        if (servicesDoc) {
            const w = items(find(servicesDoc, 'serviceStatuses')).find((s) => text(s, 'serviceId/type') === 'walrus');
            if (w && text(w, 'serviceId/uri'))
                s3url = text(w, 'serviceId/uri').replace(/\/+$/, '');
        }
        const base = 'euca2-' + user + '-' + certId.slice(0, 8).toLowerCase();
        const o = location.origin;
        const eucarc = [
            '# Overcast credentials for ' + account + '/' + user + ': source this file.',
            'EUCA_KEY_DIR=$(cd "$(dirname "${BASH_SOURCE:-$0}")"; pwd -P)',
            'export EC2_URL=' + o + '/services/compute',
            'export EUARE_URL=' + o + '/services/Euare',
            'export AWS_IAM_URL=' + o + '/services/Euare',
            'export S3_URL=' + s3url,
            'export EC2_ACCESS_KEY=' + ak,
            'export EC2_SECRET_KEY=' + sk,
            'export AWS_ACCESS_KEY_ID=' + ak,
            'export AWS_SECRET_ACCESS_KEY=' + sk,
            'export AWS_DEFAULT_REGION=' + region,
            'export EC2_ACCOUNT_NUMBER=' + acct.accountId,
            'export EC2_USER_ID=' + acct.accountId,
            'export EC2_CERT=${EUCA_KEY_DIR}/' + base + '-cert.pem',
            'export EC2_PRIVATE_KEY=${EUCA_KEY_DIR}/' + base + '-pk.pem',
            'export EUCALYPTUS_CERT=${EUCA_KEY_DIR}/cloud-cert.pem',
            'export AWS_ENDPOINT_URL_EC2=$EC2_URL',
            'export AWS_ENDPOINT_URL_IAM=$EUARE_URL',
            'export AWS_ENDPOINT_URL_S3=$S3_URL',
            'export AWS_CONFIG_FILE=${EUCA_KEY_DIR}/aws-config',
            'export AWS_SHARED_CREDENTIALS_FILE=${EUCA_KEY_DIR}/aws-credentials',
            'export AWS_PROFILE=overcast',
            '',
        ].join('\n');
        const cfg = '[profile overcast]\nregion = ' + region + '\ns3 =\n    addressing_style = path\n';
        const creds = '[overcast]\naws_access_key_id = ' + ak + '\naws_secret_access_key = ' + sk + '\n';
        const nl = (s) => (s.endsWith('\n') ? s : s + '\n');
        const zip = makeZip([
            { name: 'eucarc', data: eucarc },
            { name: 'aws-config', data: cfg },
            { name: 'aws-credentials', data: creds },
            { name: base + '-cert.pem', data: nl(certPem) },
            { name: base + '-pk.pem', data: nl(keyPem) },
            { name: 'cloud-cert.pem', data: nl(cloudPem) },
        ]);
        saveBlob(zip, account + '-' + user + '-credentials.zip');
        notice('Credentials of ', h('strong', {}, user), ' downloaded (new key ', h('code', {}, ak), ').');
    });
    done();
}

// ---- services and nodes ----

async function services(ctx) {
    const listEl = h('div', {}, spinner());
    const refresh = async () => {
        try {
            const doc = await query('admin', 'DescribeServices');
            const list = items(find(doc, 'serviceStatuses')).map((s) => ({
                id: text(s, 'serviceId/name'),
                name: text(s, 'serviceId/name'),
                type: text(s, 'serviceId/type'),
                partition: text(s, 'serviceId/partition'),
                uri: text(s, 'serviceId/uri'),
                state: text(s, 'localState'),
                details: text(s, 'details'),
            }));
            clear(listEl, table([
                { label: 'Type', get: (s) => s.type },
                { label: 'Name', get: (s) => h('strong', {}, s.name) },
                { label: 'Zone / region', get: (s) => s.partition },
                { label: 'State', get: (s) => badge(s.state) },
                { label: 'URI', get: (s) => h('code', {}, s.uri) },
                { label: 'Details', get: (s) => s.details },
            ], list, 'No services registered.'));
        } catch (e) {
            showError(e);
        }
    };
    ctx.el.append(h('h1', {}, 'Services'), section('Cloud services', listEl));
    ctx.every(5000, refresh);
    await refresh();
}

function meter(free, total, unit) {
    const t = Number(total);
    const used = t - Number(free);
    const pct = t > 0 ? Math.round((100 * used) / t) : 0;
    const fill = h('div', { class: 'meter-fill' });
    fill.style.width = pct + '%';    /* CSSOM: the CSP forbids style attributes */
    return h('div', { class: 'meter', title: pct + '% used' },
             h('div', { class: 'meter-bar' }, fill),
             h('small', {}, used + ' of ' + total + ' ' + unit + ' used'));
}

async function nodes(ctx) {
    const listEl = h('div', {}, spinner());
    const refresh = async () => {
        try {
            const doc = await query('admin', 'DescribeNodeControllers');
            const list = items(find(doc, 'nodeControllers')).map((n) => ({
                id: text(n, 'name'),
                name: text(n, 'name'),
                zone: text(n, 'partition'),
                host: text(n, 'hostName') + ':' + text(n, 'port'),
                state: text(n, 'state'),
                cores: [text(n, 'coresFree'), text(n, 'coresTotal')],
                mem: [text(n, 'memoryFreeMiB'), text(n, 'memoryTotalMiB')],
                instances: items(n, 'instances').map((i) => i.textContent.trim()),
            }));
            clear(listEl, table([
                { label: 'Node', get: (n) => h('strong', { class: 'node-name' }, n.name) },
                { label: 'Zone', get: (n) => n.zone },
                { label: 'Address', get: (n) => h('code', {}, n.host) },
                { label: 'State', get: (n) => badge(n.state) },
                { label: 'Cores', get: (n) => meter(n.cores[0], n.cores[1], 'cores') },
                { label: 'Memory', get: (n) => meter(n.mem[0], n.mem[1], 'MiB') },
                { label: 'Instances', get: (n) => n.instances.length ? n.instances.map((i) => h('code', { class: 'chip' }, i)) : h('span', { class: 'muted' }, 'none') },
            ], list, 'No node controllers registered.'));
        } catch (e) {
            showError(e);
        }
    };
    ctx.el.append(h('h1', {}, 'Nodes'), section('Node controllers', listEl));
    ctx.every(5000, refresh);
    await refresh();
}

// ---- properties ----

async function properties(ctx) {
    const listEl = h('div', {}, spinner());
    const filter = h('input', { type: 'search', placeholder: 'Filter by name', id: 'property-filter' });
    let all = [];
    const draw = () => {
        const f = filter.value.trim().toLowerCase();
        clear(listEl, table([
            { label: 'Property', get: (p) => h('code', {}, p.name) },
            { label: 'Value', get: (p) => {
                const input = h('input', { value: p.value, name: p.name, class: 'prop-value' });
                const save = button('Save', async (ev) => {
                    const doc = await busy(ev.currentTarget, () => query('props', 'ModifyPropertyValue', { Name: p.name, Value: input.value }));
                    if (doc) {
                        p.value = text(find(doc, 'value')) || input.value;
                        input.value = p.value;
                        notice(h('code', {}, p.name), ' changed from ', h('code', {}, text(find(doc, 'oldValue'))),
                               ' to ', h('code', {}, p.value), '.');
                    }
                });
                input.addEventListener('keydown', (e) => {
                    if (e.key === 'Enter')
                        save.click();
                });
                return h('span', { class: 'prop-edit' }, input, save);
            } },
            { label: 'Description', get: (p) => p.description },
        ], all.filter((p) => !f || p.name.toLowerCase().includes(f)), 'No properties match.'));
    };
    filter.addEventListener('input', draw);
    ctx.el.append(h('h1', {}, 'Properties'),
                  section('Cloud properties', h('div', { class: 'toolbar' }, filter), listEl));
    try {
        const doc = await query('props', 'DescribeProperties');
        all = items(find(doc, 'properties')).map((p) => ({
            id: text(p, 'name'),
            name: text(p, 'name'),
            value: text(p, 'value'),
            description: text(p, 'description'),
        }));
        draw();
    } catch (e) {
        clear(listEl);
        showError(e);
    }
}

export const ADMIN_VIEWS = [
    { id: 'accounts', title: 'Accounts and users', render: accounts, admin: true },
    { id: 'services', title: 'Services', render: services, admin: true },
    { id: 'nodes', title: 'Nodes', render: nodes, admin: true },
    { id: 'properties', title: 'Properties', render: properties, admin: true },
];
