// The views every user has: dashboard, instances, images, key pairs,
// security groups, elastic IPs, buckets and objects.  Each render(ctx)
// draws into ctx.el; ctx.every() ties a refresh timer to the view.

import { query, s3, s3upload, text, items, find, ApiError } from './api.js';
import {
    h, clear, showError, notice, busy, spinner, table, section, field, select, badge,
    saveBlob, saveText, bytes, when, values,
} from './ui.js';

const TRANSITIONAL = ['pending', 'stopping', 'shutting-down', 'rebooting'];

// ---- EC2 readers ----

export async function listInstances() {
    const doc = await query('ec2', 'DescribeInstances');
    const out = [];
    for (const r of items(find(doc, 'reservationSet'))) {
        for (const i of items(r, 'instancesSet')) {
            out.push({
                id: text(i, 'instanceId'),
                image: text(i, 'imageId'),
                state: text(i, 'instanceState/name'),
                reason: text(i, 'stateReason/message') || text(i, 'reason'),
                type: text(i, 'instanceType'),
                key: text(i, 'keyName'),
                privateIp: text(i, 'privateIpAddress'),
                publicIp: text(i, 'ipAddress'),
                zone: text(i, 'placement/availabilityZone'),
                launched: text(i, 'launchTime'),
                groups: items(r, 'groupSet').map((g) => text(g, 'groupName')).join(', '),
            });
        }
    }
    out.sort((a, b) => (b.launched > a.launched ? 1 : b.launched < a.launched ? -1 : 0));
    return out;
}

export async function listImages() {
    // Our own images, those shared with us (self) and public ones (all).
    const doc = await query('ec2', 'DescribeImages', { 'ExecutableBy.1': 'self', 'ExecutableBy.2': 'all' });
    return items(find(doc, 'imagesSet')).map((i) => ({
        id: text(i, 'imageId'),
        name: text(i, 'name'),
        location: text(i, 'imageLocation'),
        state: text(i, 'imageState'),
        owner: text(i, 'imageOwnerId'),
        isPublic: text(i, 'isPublic') === 'true',
        type: text(i, 'imageType'),
        arch: text(i, 'architecture'),
        kernel: text(i, 'kernelId'),
        ramdisk: text(i, 'ramdiskId'),
        description: text(i, 'description'),
    })).sort((a, b) => a.id.localeCompare(b.id));
}

async function listKeyPairs() {
    const doc = await query('ec2', 'DescribeKeyPairs');
    return items(find(doc, 'keySet')).map((k) => ({
        id: text(k, 'keyName'),
        name: text(k, 'keyName'),
        fingerprint: text(k, 'keyFingerprint'),
    }));
}

async function listGroups() {
    const doc = await query('ec2', 'DescribeSecurityGroups');
    return items(find(doc, 'securityGroupInfo')).map((g) => ({
        id: text(g, 'groupId'),
        name: text(g, 'groupName'),
        description: text(g, 'groupDescription'),
        owner: text(g, 'ownerId'),
        rules: items(g, 'ipPermissions').flatMap((p) => {
            const base = {
                proto: text(p, 'ipProtocol'),
                from: text(p, 'fromPort'),
                to: text(p, 'toPort'),
            };
            const cidrs = items(p, 'ipRanges').map((r) => ({ ...base, cidr: text(r, 'cidrIp') }));
            const groups = items(p, 'groups').map((r) => ({
                ...base, group: text(r, 'groupName') || text(r, 'groupId'),
                groupOwner: text(r, 'userId'),
            }));
            return [...cidrs, ...groups];
        }),
    }));
}

async function listAddresses() {
    const doc = await query('ec2', 'DescribeAddresses');
    return items(find(doc, 'addressesSet')).map((a) => ({
        id: text(a, 'publicIp'),
        ip: text(a, 'publicIp'),
        allocation: text(a, 'allocationId'),
        instance: text(a, 'instanceId'),
        association: text(a, 'associationId'),
    }));
}

async function listBuckets() {
    const doc = await s3('GET', '', undefined, { xml: true });
    if (!doc)
        return [];
    return [...doc.getElementsByTagNameNS('*', 'Bucket')].map((b) => ({
        id: text(b, 'Name'),
        name: text(b, 'Name'),
        created: text(b, 'CreationDate'),
    }));
}

function b64decode(b64) {
    const bin = atob(b64.replace(/\s+/g, ''));
    const u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++)
        u8[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(u8);
}

function b64encode(str) {
    const u8 = new TextEncoder().encode(str);
    let bin = '';
    for (const c of u8)
        bin += String.fromCharCode(c);
    return btoa(bin);
}

function button(label, onclick, cls) {
    return h('button', { type: 'button', class: cls || 'secondary', onclick }, label);
}

// Re-draw the part of a view that lists things; errors go to the banner
// and leave the last good drawing.
async function refreshInto(el, load, draw) {
    try {
        const data = await load();
        clear(el, draw(data));
        return data;
    } catch (e) {
        showError(e);
        return null;
    }
}

// ---- dashboard ----

async function dashboard(ctx) {
    const grid = h('div', { class: 'counts' });
    ctx.el.append(h('h1', {}, 'Dashboard'), grid,
                  h('p', { class: 'hint' }, 'Start with a key pair and a security group rule, then launch an ',
                    'instance from an image; its console output is on the Instances page. ',
                    'Files go into buckets.'));
    const cards = [
        ['instances', 'Instances', async () => {
            const all = (await listInstances()).filter((i) => i.state !== 'terminated');
            const running = all.filter((i) => i.state === 'running').length;
            return [all.length, running + ' running'];
        }],
        ['images', 'Images', async () => [(await listImages()).filter((i) => i.type === 'machine').length, 'machine images']],
        ['keypairs', 'Key pairs', async () => [(await listKeyPairs()).length, '']],
        ['groups', 'Security groups', async () => [(await listGroups()).length, '']],
        ['addresses', 'Elastic IPs', async () => {
            const a = await listAddresses();
            return [a.length, a.filter((x) => x.instance).length + ' associated'];
        }],
        ['buckets', 'Buckets', async () => [(await listBuckets()).length, '']],
    ];
    await Promise.all(cards.map(async ([id, title, load]) => {
        const n = h('div', { class: 'count' }, h('span', { class: 'spin' }));
        const sub = h('div', { class: 'sub' });
        grid.append(h('a', { class: 'card count-card', href: '#/' + id, 'data-count': id },
                      h('div', { class: 'label' }, title), n, sub));
        try {
            const [count, detail] = await load();
            clear(n, String(count));
            clear(sub, detail);
        } catch (e) {
            clear(n, '\u2013');
            showError(e);
        }
    }));
}

// ---- instances ----

async function instances(ctx) {
    const listEl = h('div', {}, spinner());
    const consoleEl = h('div', {});
    const launchEl = h('div', {}, spinner('Loading images and types\u2026'));
    ctx.el.append(h('h1', {}, 'Instances'), section('Launch an instance', launchEl),
                  section('Your instances', listEl), consoleEl);

    let fast = false;
    const draw = (list) => table([
        { label: 'Instance', get: (i) => h('code', {}, i.id) },
        { label: 'State', class: 'state-cell', get: (i) => [badge(i.state),
            i.reason && i.state !== 'running' ? h('small', { class: 'reason' }, i.reason) : null] },
        { label: 'Image', get: (i) => i.image },
        { label: 'Type', get: (i) => i.type },
        { label: 'Key', get: (i) => i.key },
        { label: 'Groups', get: (i) => i.groups },
        { label: 'Private IP', get: (i) => i.privateIp },
        { label: 'Public IP', get: (i) => i.publicIp },
        { label: 'Launched', get: (i) => when(i.launched) },
        { label: '', class: 'actions wrap', get: (i) => i.state === 'terminated' ? '' : [
            button('Console output', () => showConsole(i.id)),
            button('Reboot', (ev) => act(ev, 'RebootInstances', i.id, 'Reboot')),
            button('Terminate', (ev) => act(ev, 'TerminateInstances', i.id, 'Terminate'), 'danger'),
        ] },
    ], list, 'No instances. Launch one above.');
    const refresh = async () => {
        const list = await refreshInto(listEl, listInstances, draw);
        if (list)
            fast = list.some((i) => TRANSITIONAL.includes(i.state));
    };

    async function act(ev, action, id, verb) {
        if (!confirm(verb + ' ' + id + '?'))
            return;
        if (await busy(ev.currentTarget, () => query('ec2', action, { 'InstanceId.1': id }))) {
            notice(verb + ' of ', h('code', {}, id), ' requested.');
            refresh();
        }
    }

    let consoleFor = null;
    async function loadConsole(pre, stamp) {
        const id = consoleFor;
        try {
            const doc = await query('ec2', 'GetConsoleOutput', { InstanceId: id });
            if (id !== consoleFor)
                return;
            const out = text(find(doc, 'output'));
            pre.textContent = out ? b64decode(out) : '(no output yet)';
            pre.scrollTop = pre.scrollHeight;
            clear(stamp, 'updated ' + new Date().toLocaleTimeString());
        } catch (e) {
            showError(e);
        }
    }
    function showConsole(id) {
        consoleFor = id;
        const pre = h('pre', { class: 'console-output', id: 'console-output' }, 'Loading\u2026');
        const stamp = h('small', { class: 'stamp' });
        clear(consoleEl, section('Console output of ' + id,
                                 h('div', { class: 'toolbar' },
                                   button('Refresh', (ev) => busy(ev.currentTarget, () => loadConsole(pre, stamp))),
                                   button('Close', () => { consoleFor = null; clear(consoleEl); }),
                                   stamp),
                                 pre));
        consoleEl.scrollIntoView({ block: 'start' });
        loadConsole(pre, stamp);
    }
    ctx.every(5000, () => {
        const pre = consoleEl.querySelector('pre');
        if (consoleFor && pre)
            loadConsole(pre, consoleEl.querySelector('.stamp'));
    });

    let tick = 0;
    ctx.every(2000, () => {
        tick++;
        if (fast || tick % 8 === 0)
            refresh();
    });
    await Promise.all([refresh(), drawLaunch(ctx, launchEl, refresh)]);
}

async function drawLaunch(ctx, el, refresh) {
    let images, types, keys, groups, zones;
    try {
        [images, types, keys, groups, zones] = await Promise.all([
            listImages(),
            query('ec2', 'DescribeInstanceTypes').then((d) => items(find(d, 'instanceTypeSet')).map((t) => ({
                name: text(t, 'instanceType'),
                cpus: text(t, 'vCpuInfo/defaultVCpus'),
                mem: text(t, 'memoryInfo/sizeInMiB'),
            }))),
            listKeyPairs(),
            listGroups(),
            query('ec2', 'DescribeAvailabilityZones').then((d) => items(find(d, 'availabilityZoneInfo')).map((z) => text(z, 'zoneName'))),
        ]);
    } catch (e) {
        clear(el, h('p', { class: 'empty' }, 'Cannot load what a launch needs.'));
        showError(e);
        return;
    }
    const machines = images.filter((i) => i.type === 'machine' && i.state === 'available');
    if (!machines.length) {
        clear(el, h('p', { class: 'empty' }, 'No machine image is available to you yet.'));
        return;
    }
    const f = h('form', { class: 'grid-form', id: 'launch-form' },
        field('Image', select('ImageId', machines.map((i) => [i.id, (i.name || i.location) + ' (' + i.id + ')']),
                              ctx.arg || machines[0].id)),
        field('Instance type', select('InstanceType', types.map((t) => [t.name,
            t.name + (t.cpus ? ' \u2013 ' + t.cpus + ' vCPU, ' + t.mem + ' MiB' : '')]),
            types.some((t) => t.name === 'm1.small') ? 'm1.small' : undefined)),
        field('Key pair', select('KeyName', [['', '(none)'], ...keys.map((k) => k.name)])),
        field('Security group', select('SecurityGroup', groups.map((g) => [g.name, g.name + ' (' + g.id + ')']),
                                       'default')),
        field('Zone', select('Zone', [['', '(any)'], ...zones])),
        field('Count', h('input', { name: 'Count', type: 'number', min: 1, max: 20, value: '1' })),
        h('label', { class: 'field wide' }, h('span', {}, 'User data (optional)'),
          h('textarea', { name: 'UserData', rows: 3, placeholder: '#!/bin/sh …' })),
        h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'primary' }, 'Launch')));
    f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const v = values(f);
        const doc = await busy(f.querySelector('button[type=submit]'), () => query('ec2', 'RunInstances', {
            ImageId: v.ImageId,
            InstanceType: v.InstanceType,
            KeyName: v.KeyName,
            'SecurityGroup.1': v.SecurityGroup,
            'Placement.AvailabilityZone': v.Zone,
            UserData: v.UserData ? b64encode(v.UserData) : undefined,
            MinCount: v.Count || 1,
            MaxCount: v.Count || 1,
        }));
        if (doc) {
            const ids = items(find(doc, 'instancesSet')).map((i) => text(i, 'instanceId'));
            notice('Launched ', ids.map((id) => h('code', {}, id + ' ')), '\u2013 the list follows its state.');
            refresh();
        }
    });
    clear(el, f);
}

// ---- images ----

async function images(ctx) {
    const listEl = h('div', {}, spinner());
    ctx.el.append(h('h1', {}, 'Images'),
                  h('p', { class: 'hint' }, 'Images you own and images shared with you. Register new ones with the API (RegisterImage).'),
                  section('Images', listEl));
    await refreshInto(listEl, listImages, (list) => table([
        { label: 'Image', get: (i) => h('code', {}, i.id) },
        { label: 'Name', get: (i) => i.name },
        { label: 'Type', get: (i) => i.type },
        { label: 'State', get: (i) => badge(i.state) },
        { label: 'Owner', get: (i) => i.owner },
        { label: 'Visibility', get: (i) => (i.isPublic ? 'public' : 'private') },
        { label: 'Location', get: (i) => i.location },
        { label: 'Kernel / ramdisk', get: (i) => [i.kernel, i.ramdisk].filter(Boolean).join(' / ') },
        { label: '', class: 'actions', get: (i) => i.type === 'machine' && i.state === 'available'
            ? button('Launch', () => ctx.go('#/instances/' + i.id), 'primary') : '' },
    ], list, 'No images visible to you.'));
}

// ---- key pairs ----

async function keypairs(ctx) {
    const listEl = h('div', {}, spinner());
    const refresh = () => refreshInto(listEl, listKeyPairs, (list) => table([
        { label: 'Name', get: (k) => k.name },
        { label: 'Fingerprint', get: (k) => h('code', {}, k.fingerprint) },
        { label: '', class: 'actions', get: (k) => button('Delete', async (ev) => {
            if (!confirm('Delete key pair ' + k.name + '?'))
                return;
            if (await busy(ev.currentTarget, () => query('ec2', 'DeleteKeyPair', { KeyName: k.name })))
                refresh();
        }, 'danger') },
    ], list, 'No key pairs yet.'));

    const create = h('form', { class: 'inline-form', id: 'create-keypair' },
        field('Name', h('input', { name: 'KeyName', required: true, pattern: '[\\x20-\\x7e]+' })),
        h('button', { type: 'submit', class: 'primary' }, 'Create and download'));
    create.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const name = values(create).KeyName;
        const doc = await busy(create.querySelector('button'), () => query('ec2', 'CreateKeyPair', { KeyName: name }));
        if (!doc)
            return;
        saveText(text(find(doc, 'keyMaterial')) + '\n', name + '.pem');
        notice('Key pair ', h('strong', {}, name), ' created; its private key was downloaded as ',
               h('code', {}, name + '.pem'), '. It cannot be downloaded again.');
        create.reset();
        refresh();
    });

    const imp = h('form', { class: 'grid-form', id: 'import-keypair' },
        field('Name', h('input', { name: 'KeyName', required: true })),
        field('Public key file', h('input', { name: 'File', type: 'file', accept: '.pub,text/plain' }),
              'or paste it below'),
        h('label', { class: 'field wide' }, h('span', {}, 'Public key (OpenSSH)'),
          h('textarea', { name: 'PublicKey', rows: 2, placeholder: 'ssh-rsa AAAA… user@host' })),
        h('div', { class: 'wide' }, h('button', { type: 'submit', class: 'secondary' }, 'Import')));
    imp.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const v = values(imp);
        let pub = v.PublicKey;
        if (!pub && v.File && v.File.size)
            pub = (await v.File.text()).trim();
        if (!pub) {
            showError(new ApiError('MissingParameter', 'Paste a public key or choose its file.'));
            return;
        }
        if (await busy(imp.querySelector('button'), () => query('ec2', 'ImportKeyPair', {
            KeyName: v.KeyName, PublicKeyMaterial: b64encode(pub),
        }))) {
            notice('Key pair ', h('strong', {}, v.KeyName), ' imported.');
            imp.reset();
            refresh();
        }
    });

    ctx.el.append(h('h1', {}, 'Key pairs'), section('Create a key pair', create),
                  section('Import a public key', imp), section('Your key pairs', listEl));
    await refresh();
}

// ---- security groups ----

function ruleParams(prefix, r) {
    const p = {
        [prefix + '.IpProtocol']: r.proto,
        [prefix + '.FromPort']: r.from,
        [prefix + '.ToPort']: r.to,
    };
    if (r.cidr)
        p[prefix + '.IpRanges.1.CidrIp'] = r.cidr;
    if (r.group) {
        p[prefix + '.Groups.1.GroupName'] = r.group;
        if (r.groupOwner)
            p[prefix + '.Groups.1.UserId'] = r.groupOwner;
    }
    return p;
}

function portText(r) {
    if (r.proto === '-1')
        return 'all';
    if (r.from === r.to)
        return r.from;
    return r.from + '\u2013' + r.to;
}

async function groups(ctx) {
    const listEl = h('div', {}, spinner());
    const refresh = () => refreshInto(listEl, listGroups, (list) => list.length ? list.map((g) => {
        const rule = h('form', { class: 'inline-form add-rule' },
            field('Protocol', select('proto', [['tcp', 'TCP'], ['udp', 'UDP'], ['icmp', 'ICMP'], ['-1', 'All']], 'tcp')),
            field('From port', h('input', { name: 'from', type: 'number', min: -1, max: 65535, value: '22' })),
            field('To port', h('input', { name: 'to', type: 'number', min: -1, max: 65535, value: '22' })),
            field('Source CIDR', h('input', { name: 'cidr', value: '0.0.0.0/0', required: true })),
            h('button', { type: 'submit', class: 'primary' }, 'Add rule'));
        rule.addEventListener('submit', async (ev) => {
            ev.preventDefault();
            const v = values(rule);
            const icmpOrAll = v.proto === 'icmp' || v.proto === '-1';
            const r = { proto: v.proto, from: icmpOrAll && v.from === '22' ? '-1' : v.from,
                        to: icmpOrAll && v.to === '22' ? '-1' : v.to, cidr: v.cidr };
            if (await busy(rule.querySelector('button'), () => query('ec2', 'AuthorizeSecurityGroupIngress',
                Object.assign({ GroupId: g.id }, ruleParams('IpPermissions.1', r)))))
                refresh();
        });
        return h('section', { class: 'card group', dataset: { group: g.name } },
            h('div', { class: 'card-head' },
              h('h2', {}, g.name, ' ', h('small', {}, g.id)),
              g.name === 'default' ? null : button('Delete group', async (ev) => {
                  if (!confirm('Delete security group ' + g.name + '?'))
                      return;
                  if (await busy(ev.currentTarget, () => query('ec2', 'DeleteSecurityGroup', { GroupId: g.id })))
                      refresh();
              }, 'danger')),
            h('p', { class: 'hint' }, g.description),
            table([
                { label: 'Protocol', get: (r) => (r.proto === '-1' ? 'all' : r.proto) },
                { label: 'Ports', get: (r) => portText(r) },
                { label: 'Source', get: (r) => r.cidr || 'group ' + r.group },
                { label: '', class: 'actions', get: (r) => button('Revoke', async (ev) => {
                    if (await busy(ev.currentTarget, () => query('ec2', 'RevokeSecurityGroupIngress',
                        Object.assign({ GroupId: g.id }, ruleParams('IpPermissions.1', r)))))
                        refresh();
                }, 'danger') },
            ], g.rules, 'No inbound rules: nothing can reach instances in this group.'),
            rule);
    }) : h('p', { class: 'empty' }, 'No security groups.'));

    const create = h('form', { class: 'inline-form', id: 'create-group' },
        field('Name', h('input', { name: 'GroupName', required: true })),
        field('Description', h('input', { name: 'GroupDescription', required: true })),
        h('button', { type: 'submit', class: 'primary' }, 'Create group'));
    create.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (await busy(create.querySelector('button'), () => query('ec2', 'CreateSecurityGroup', values(create)))) {
            create.reset();
            refresh();
        }
    });
    ctx.el.append(h('h1', {}, 'Security groups'), section('Create a security group', create), listEl);
    await refresh();
}

// ---- elastic IPs ----

async function addresses(ctx) {
    const listEl = h('div', {}, spinner());
    let running = [];
    const load = async () => {
        const [addrs, inst] = await Promise.all([listAddresses(), listInstances()]);
        running = inst.filter((i) => i.state === 'running');
        return addrs;
    };
    const refresh = () => refreshInto(listEl, load, (list) => table([
        { label: 'Public IP', get: (a) => h('code', {}, a.ip) },
        { label: 'Allocation', get: (a) => a.allocation },
        { label: 'Instance', get: (a) => a.instance || '\u2013' },
        { label: '', class: 'actions', get: (a) => a.instance ? [
            button('Disassociate', async (ev) => {
                if (await busy(ev.currentTarget, () => query('ec2', 'DisassociateAddress', { PublicIp: a.ip })))
                    refresh();
            }),
        ] : [
            running.length ? h('span', { class: 'assoc' },
                select('instance', running.map((i) => [i.id, i.id + (i.privateIp ? ' (' + i.privateIp + ')' : '')])),
                button('Associate', async (ev) => {
                    const iid = ev.currentTarget.parentNode.querySelector('select').value;
                    if (await busy(ev.currentTarget, () => query('ec2', 'AssociateAddress', { PublicIp: a.ip, InstanceId: iid })))
                        refresh();
                })) : h('small', {}, 'no running instance to associate '),
            button('Release', async (ev) => {
                if (!confirm('Release ' + a.ip + '?'))
                    return;
                if (await busy(ev.currentTarget, () => query('ec2', 'ReleaseAddress', { PublicIp: a.ip })))
                    refresh();
            }, 'danger'),
        ] },
    ], list, 'No elastic IPs allocated.'));
    const alloc = button('Allocate an address', async (ev) => {
        const doc = await busy(ev.currentTarget, () => query('ec2', 'AllocateAddress', { Domain: 'standard' }));
        if (doc) {
            notice('Allocated ', h('code', {}, text(find(doc, 'publicIp'))), '.');
            refresh();
        }
    }, 'primary');
    ctx.el.append(h('h1', {}, 'Elastic IPs'), section('Addresses', h('div', { class: 'toolbar' }, alloc), listEl));
    await refresh();
}

// ---- buckets and objects ----

async function buckets(ctx) {
    if (ctx.arg)
        return objects(ctx);
    const listEl = h('div', {}, spinner());
    const refresh = () => refreshInto(listEl, listBuckets, (list) => table([
        { label: 'Bucket', get: (b) => h('a', { href: '#/buckets/' + encodeURIComponent(b.name) }, b.name) },
        { label: 'Created', get: (b) => when(b.created) },
        { label: '', class: 'actions', get: (b) => [
            button('Open', () => ctx.go('#/buckets/' + encodeURIComponent(b.name))),
            button('Delete', async (ev) => {
                if (!confirm('Delete bucket ' + b.name + '? It must be empty.'))
                    return;
                if (await busy(ev.currentTarget, () => s3('DELETE', b.name)))
                    refresh();
            }, 'danger'),
        ] },
    ], list, 'No buckets yet.'));
    const create = h('form', { class: 'inline-form', id: 'create-bucket' },
        field('Name', h('input', { name: 'Bucket', required: true, pattern: '[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]',
                                   title: '3-63 lower-case letters, digits, dots and hyphens' })),
        h('button', { type: 'submit', class: 'primary' }, 'Create bucket'));
    create.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const name = values(create).Bucket;
        if (await busy(create.querySelector('button'), () => s3('PUT', name))) {
            create.reset();
            notice('Bucket ', h('strong', {}, name), ' created.');
            refresh();
        }
    });
    ctx.el.append(h('h1', {}, 'Buckets'), section('Create a bucket', create), section('Your buckets', listEl));
    await refresh();
}

async function listObjects(bucket, prefix) {
    const files = [];
    const folders = [];
    let token;
    for (let page = 0; page < 20; page++) {
        const doc = await s3('GET', bucket, undefined, {
            xml: true,
            query: { 'list-type': 2, prefix, delimiter: '/', 'continuation-token': token },
        });
        if (!doc)
            break;
        const root = doc.documentElement;
        for (const c of root.children) {
            if (c.localName === 'Contents')
                files.push({ id: text(c, 'Key'), key: text(c, 'Key'), size: text(c, 'Size'),
                             modified: text(c, 'LastModified') });
            else if (c.localName === 'CommonPrefixes')
                folders.push(text(c, 'Prefix'));
        }
        token = text(root, 'NextContinuationToken');
        if (text(root, 'IsTruncated') !== 'true' || !token)
            break;
    }
    return { files, folders };
}

async function objects(ctx) {
    const slash = ctx.arg.indexOf('/');
    const bucket = slash < 0 ? ctx.arg : ctx.arg.slice(0, slash);
    const prefix = slash < 0 ? '' : ctx.arg.slice(slash + 1);
    const here = (p) => '#/buckets/' + [bucket, ...p.split('/')].map(encodeURIComponent).join('/');
    const listEl = h('div', {}, spinner());
    const refresh = () => refreshInto(listEl, () => listObjects(bucket, prefix), ({ files, folders }) => [
        folders.length ? h('ul', { class: 'folders' }, folders.map((f) =>
            h('li', {}, h('a', { href: here(f) }, '\ud83d\udcc1 ' + f.slice(prefix.length))))) : null,
        table([
            { label: 'Key', get: (o) => o.key.slice(prefix.length) },
            { label: 'Size', get: (o) => bytes(o.size), class: 'num' },
            { label: 'Modified', get: (o) => when(o.modified) },
            { label: '', class: 'actions', get: (o) => [
                button('Download', (ev) => busy(ev.currentTarget, async () => {
                    const resp = await s3('GET', bucket, o.key);
                    saveBlob(await resp.blob(), o.key.split('/').pop() || 'object');
                })),
                button('Delete', async (ev) => {
                    if (!confirm('Delete ' + o.key + '?'))
                        return;
                    if (await busy(ev.currentTarget, () => s3('DELETE', bucket, o.key)))
                        refresh();
                }, 'danger'),
            ] },
        ], files, folders.length ? 'No objects at this level.' : 'This bucket is empty.'),
    ]);

    const progress = h('div', { class: 'progress', id: 'upload-progress', hidden: true });
    const up = h('form', { class: 'inline-form', id: 'upload-form' },
        field('Files', h('input', { name: 'files', type: 'file', multiple: true, required: true })),
        field('Key prefix', h('input', { name: 'prefix', value: prefix })),
        h('button', { type: 'submit', class: 'primary' }, 'Upload'));
    up.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const files = [...up.querySelector('input[type=file]').files];
        const pre = values(up).prefix || '';
        const done = await busy(up.querySelector('button'), async () => {
            for (const f of files) {
                const bar = h('progress', { max: f.size || 1, value: 0 });
                const label = h('span', { class: 'progress-label' }, f.name + ': 0%');
                clear(progress, bar, label);
                progress.hidden = false;
                await s3upload(bucket, pre + f.name, f, (loaded, total) => {
                    bar.max = total || 1;
                    bar.value = loaded;
                    const pct = total ? Math.floor((100 * loaded) / total) : 100;
                    label.textContent = f.name + ': ' + pct + '% (' + bytes(loaded) + ' of ' + bytes(total) + ')';
                });
                label.textContent = f.name + ': 100% \u2013 uploaded (' + bytes(f.size) + ')';
            }
            return true;
        });
        if (done) {
            progress.classList.add('done');
            up.reset();
            up.querySelector('input[name=prefix]').value = prefix;
            refresh();
        }
    });

    const crumbs = [h('a', { href: '#/buckets' }, 'Buckets'), ' / ', h('a', { href: here('') }, bucket)];
    let acc = '';
    for (const part of prefix.split('/').filter(Boolean)) {
        acc += part + '/';
        crumbs.push(' / ', h('a', { href: here(acc) }, part));
    }
    ctx.el.append(h('h1', {}, 'Bucket ', h('span', { class: 'mono' }, bucket)),
                  h('p', { class: 'crumbs' }, crumbs),
                  section('Upload', up, progress),
                  section('Objects', h('div', { class: 'toolbar' }, button('Refresh', (ev) => busy(ev.currentTarget, refresh))), listEl));
    await refresh();
}

export const USER_VIEWS = [
    { id: 'dashboard', title: 'Dashboard', render: dashboard },
    { id: 'instances', title: 'Instances', render: instances },
    { id: 'images', title: 'Images', render: images },
    { id: 'keypairs', title: 'Key pairs', render: keypairs },
    { id: 'groups', title: 'Security groups', render: groups },
    { id: 'addresses', title: 'Elastic IPs', render: addresses },
    { id: 'buckets', title: 'Buckets', render: buckets },
];
