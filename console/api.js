// The console's only way to the cloud: the same Query and S3 APIs the CLI
// uses, on this origin, authenticated by the HttpOnly session cookie plus
// the CSRF token (X-Overcast-Csrf) on every request.  Answers are XML,
// read with DOMParser; every failure becomes an ApiError (code + message).

const SERVICES = {
    ec2: ['/services/compute', '2016-11-15'],
    iam: ['/services/Euare', '2010-05-08'],
    admin: ['/services/Empyrean', 'eucalyptus'],
    props: ['/services/Properties', 'eucalyptus'],
};
const S3_BASE = '/services/objectstorage';

export const session = { csrf: null, info: null };

export class ApiError extends Error {
    constructor(code, message, status) {
        super(message || code);
        this.code = code || 'Error';
        this.status = status || 0;
    }
}

export function parseXml(text) {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    if (doc.getElementsByTagName('parsererror').length)
        return null;
    return doc;
}

// ---- XML helpers: element names are matched by local name, whatever
// namespace the API answers in. ----

// The first direct child element named name.
export function child(el, name) {
    if (!el)
        return null;
    for (const c of el.children)
        if (c.localName === name)
            return c;
    return null;
}

// Walk a path of direct children ('instanceState/name').
export function at(el, path) {
    for (const p of path.split('/')) {
        el = child(el, p);
        if (!el)
            return null;
    }
    return el;
}

// The text at a path, '' when absent.
export function text(el, path) {
    const e = path ? at(el, path) : el;
    return e ? e.textContent.trim() : '';
}

// The first element named name anywhere below el (a result's top element).
export function find(el, name) {
    if (!el)
        return null;
    const all = el.getElementsByTagNameNS('*', name);
    return all.length ? all[0] : null;
}

// The <item> (EC2) or <member> (IAM) children of the list at path.
export function items(el, path) {
    const list = path ? at(el, path) : el;
    if (!list)
        return [];
    return [...list.children].filter((c) => c.localName === 'item' || c.localName === 'member');
}

function errorOf(status, body) {
    const doc = parseXml(body || '');
    if (doc) {
        const code = find(doc, 'Code');
        const msg = find(doc, 'Message');
        if (code)
            return new ApiError(code.textContent.trim(), msg ? msg.textContent.trim() : '',
                                status);
    }
    const snippet = (body || '').replace(/\s+/g, ' ').slice(0, 200);
    return new ApiError('HTTP ' + status, snippet || 'no answer from the server', status);
}

// Listeners told when a request is refused for want of a session.
const expiredListeners = [];
export function onSessionExpired(fn) {
    expiredListeners.push(fn);
}

async function checked(resp) {
    const body = await resp.text();
    if (!resp.ok) {
        const err = errorOf(resp.status, body);
        if (resp.status === 401 || resp.status === 403)
            expiredListeners.forEach((fn) => fn(err));
        throw err;
    }
    return body;
}

function form(params) {
    const f = new URLSearchParams();
    for (const [k, v] of Object.entries(params))
        if (v !== undefined && v !== null && v !== '')
            f.append(k, String(v));
    return f;
}

function headers(extra) {
    return Object.assign({ 'X-Overcast-Csrf': session.csrf || '' }, extra || {});
}

// A Query API call: service is ec2, iam, admin or props.  Resolves to the
// answer's Document.
export async function query(service, action, params = {}) {
    const [path, version] = SERVICES[service];
    let resp;
    try {
        resp = await fetch(path, {
            method: 'POST',
            credentials: 'same-origin',
            headers: headers({ 'Content-Type': 'application/x-www-form-urlencoded' }),
            body: form(Object.assign({ Action: action, Version: version }, params)),
        });
    } catch (e) {
        throw new ApiError('NetworkError', 'cannot reach the cloud controller: ' + e.message);
    }
    const body = await checked(resp);
    const doc = parseXml(body);
    if (!doc)
        throw new ApiError('BadResponse', action + ' answered something that is not XML');
    return doc;
}

// ---- session ----

function sessionOf(doc) {
    const r = find(doc, 'LoginResponse');
    if (!r)
        throw new ApiError('BadResponse', 'no LoginResponse in the answer');
    return {
        csrf: text(r, 'CsrfToken'),
        accountName: text(r, 'AccountName'),
        accountId: text(r, 'AccountId'),
        userName: text(r, 'UserName'),
        isAdmin: text(r, 'IsAdmin') === 'true',
    };
}

async function sessionCall(path, init) {
    let resp;
    try {
        resp = await fetch(path, Object.assign({ credentials: 'same-origin' }, init));
    } catch (e) {
        throw new ApiError('NetworkError', 'cannot reach the cloud controller: ' + e.message);
    }
    const body = await resp.text();
    if (!resp.ok)
        throw errorOf(resp.status, body);
    return parseXml(body);
}

function adopt(doc) {
    session.info = sessionOf(doc);
    session.csrf = session.info.csrf;
    return session.info;
}

// fields: {Account, UserName, Password} or {AccessKeyId, SecretAccessKey}.
export async function login(fields) {
    const doc = await sessionCall('/console/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form(fields),
    });
    return adopt(doc);
}

// The session of this browser's cookie, or null.
export async function resume() {
    try {
        return adopt(await sessionCall('/console/api/session', { method: 'GET' }));
    } catch (e) {
        return null;
    }
}

export async function logout() {
    try {
        await sessionCall('/console/api/logout', { method: 'POST', headers: headers() });
    } finally {
        session.csrf = null;
        session.info = null;
    }
}

// ---- S3 through the CLC ----

export function s3path(bucket, key) {
    let p = S3_BASE + '/';
    if (bucket)
        p += encodeURIComponent(bucket);
    if (key !== undefined && key !== null)
        p += '/' + key.split('/').map(encodeURIComponent).join('/');
    return p;
}

// An S3 request; resolves to the Response (body unread unless xml is set,
// then to the Document or null for an empty body).
export async function s3(method, bucket, key, opts = {}) {
    let url = s3path(bucket, key);
    if (opts.query)
        url += '?' + form(opts.query).toString();
    let resp;
    try {
        resp = await fetch(url, {
            method,
            credentials: 'same-origin',
            headers: headers(opts.headers),
            body: opts.body,
        });
    } catch (e) {
        throw new ApiError('NetworkError', 'cannot reach the cloud controller: ' + e.message);
    }
    if (!resp.ok)
        await checked(resp);
    if (!opts.xml)
        return resp;
    const body = await resp.text();
    return body.trim() ? parseXml(body) : null;
}

// PUT an object with upload progress: onProgress(loaded, total).
export function s3upload(bucket, key, file, onProgress) {
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('PUT', s3path(bucket, key));
        xhr.withCredentials = true;
        xhr.setRequestHeader('X-Overcast-Csrf', session.csrf || '');
        xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
        xhr.upload.onprogress = (e) => {
            if (e.lengthComputable && onProgress)
                onProgress(e.loaded, e.total);
        };
        xhr.onload = () => {
            if (xhr.status >= 200 && xhr.status < 300) {
                if (onProgress)
                    onProgress(file.size, file.size);
                resolve(xhr);
            } else {
                reject(errorOf(xhr.status, xhr.responseText));
            }
        };
        xhr.onerror = () => reject(new ApiError('NetworkError', 'the upload was cut off'));
        xhr.send(file);
    });
}
