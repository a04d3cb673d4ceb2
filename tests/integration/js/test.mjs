// AWS SDK for JavaScript v3 against overcast-walrus (node --test).
//
// Current @aws-sdk/client-s3 versions compute a CRC32 for every upload; a
// streamed body goes out as `Content-Encoding: aws-chunked` with
// `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` and the checksum
// in a trailer.  The tests record the headers the SDK really sent so they
// prove which wire format the server accepted.
//
// Run by tests/integration/run_js.py, which starts the daemon and passes
// OVERCAST_S3_ENDPOINT, OVERCAST_S3_ACCESS_KEY and OVERCAST_S3_SECRET_KEY.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  S3Client, CreateBucketCommand, DeleteBucketCommand, PutObjectCommand, GetObjectCommand,
  HeadObjectCommand, ListObjectsV2Command, DeleteObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const MiB = 1024 * 1024;
const endpoint = process.env.OVERCAST_S3_ENDPOINT;
const accessKeyId = process.env.OVERCAST_S3_ACCESS_KEY;
const secretAccessKey = process.env.OVERCAST_S3_SECRET_KEY;
if (!endpoint || !accessKeyId || !secretAccessKey) {
  throw new Error('OVERCAST_S3_ENDPOINT, OVERCAST_S3_ACCESS_KEY and OVERCAST_S3_SECRET_KEY '
                  + 'must be set (run through tests/integration/run_js.py)');
}

const sent = [];   // [{method, path, headers}] of every request sent
const client = new S3Client({
  endpoint, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId, secretAccessKey },
  maxAttempts: 1,
});
// The deserialize step wraps the actual send, so the request is final here.
client.middlewareStack.add((next) => async (args) => {
  const r = args.request;
  sent.push({ method: r.method, path: r.path, headers: { ...r.headers } });
  return next(args);
}, { step: 'deserialize', name: 'overcastRecordRequests' });

const bucket = `js-${randomBytes(8).toString('hex')}`;
const md5 = (b) => createHash('md5').update(b).digest('hex');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const lastPut = (key) => [...sent].reverse().find((r) => r.method === 'PUT'
  && decodeURIComponent(r.path).endsWith(`/${key}`));

function chunkedStream(buf, chunk) {
  return Readable.from((function* gen() {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  })());
}

async function getBytes(key) {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { r, body: Buffer.from(await r.Body.transformToByteArray()) };
}

before(async () => {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  const l = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const o of l.Contents ?? []) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
});

test('PutObject with a streamed body goes out aws-chunked with a trailing checksum',
  async () => {
    const data = randomBytes(3 * MiB + 12345);
    const key = 'stream/aws chunked.bin';
    const r = await client.send(new PutObjectCommand({
      Bucket: bucket, Key: key, Body: chunkedStream(data, 65536), ContentLength: data.length,
      ContentType: 'application/x-js', Metadata: { via: 'sdk-v3' },
    }));
    const req = lastPut('stream/aws chunked.bin');
    assert.ok(req, 'request recorded');
    assert.equal(req.headers['content-encoding'], 'aws-chunked');
    assert.equal(req.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.match(req.headers['x-amz-trailer'] ?? '', /^x-amz-checksum-/);
    assert.equal(r.ETag, `"${md5(data)}"`);
    const { r: g, body } = await getBytes(key);
    assert.equal(body.length, data.length);
    assert.equal(sha256(body), sha256(data));
    assert.equal(g.ContentType, 'application/x-js');
    assert.deepEqual(g.Metadata, { via: 'sdk-v3' });
    // aws-chunked is a transfer detail: it must not be stored as the object's encoding.
    assert.ok(!g.ContentEncoding || !g.ContentEncoding.includes('aws-chunked'),
      `stored Content-Encoding ${g.ContentEncoding}`);
  });

test('PutObject with a tiny streamed body (single chunk, empty final chunk)', async () => {
  const data = Buffer.from('tiny');
  await client.send(new PutObjectCommand({
    Bucket: bucket, Key: 'stream/tiny', Body: chunkedStream(data, 1), ContentLength: 4,
  }));
  assert.equal(lastPut('stream/tiny').headers['content-encoding'], 'aws-chunked');
  assert.deepEqual((await getBytes('stream/tiny')).body, data);
});

test('PutObject with a Buffer body and a CRC32 header', async () => {
  const data = randomBytes(100000);
  const r = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'buf', Body: data }));
  const req = lastPut('buf');
  assert.ok(req.headers['x-amz-checksum-crc32'], 'SDK sent a checksum header');
  assert.equal(r.ETag, `"${md5(data)}"`);
  assert.equal(sha256((await getBytes('buf')).body), sha256(data));
});

test('PutObject with an empty body', async () => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
  const { r, body } = await getBytes('empty');
  assert.equal(body.length, 0);
  assert.equal(r.ETag, `"${md5(Buffer.alloc(0))}"`);
});

test('lib-storage Upload of a stream of unknown length (multipart)', async () => {
  const data = randomBytes(12 * MiB + 777);
  const up = new Upload({
    client, params: { Bucket: bucket, Key: 'mp/unknown-length', Body: chunkedStream(data, 100000) },
    partSize: 5 * MiB, queueSize: 2,
  });
  const r = await up.done();
  assert.match(r.ETag, /-3"$/);
  const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB),
    data.subarray(10 * MiB)];
  const expect = createHash('md5')
    .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
    .digest('hex');
  assert.equal(r.ETag, `"${expect}-3"`);
  const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp/unknown-length' }));
  assert.equal(h.ContentLength, data.length);
  assert.equal(sha256((await getBytes('mp/unknown-length')).body), sha256(data));
});

test('lib-storage Upload of a small stream (single PutObject)', async () => {
  const data = randomBytes(200000);
  const r = await new Upload({
    client, params: { Bucket: bucket, Key: 'mp/small', Body: chunkedStream(data, 30000) },
  }).done();
  assert.equal(r.ETag, `"${md5(data)}"`);
  assert.equal(sha256((await getBytes('mp/small')).body), sha256(data));
});

test('ListObjectsV2 sees every key, with prefix and delimiter', async () => {
  const keys = ['list/a', 'list/b/c', 'list/b/d', 'list/e f'];
  for (const k of keys) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
  }
  const all = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/' }));
  assert.deepEqual(all.Contents.map((o) => o.Key), keys);
  assert.equal(all.KeyCount, 4);
  const d = await client.send(new ListObjectsV2Command({
    Bucket: bucket, Prefix: 'list/', Delimiter: '/',
  }));
  assert.deepEqual(d.Contents.map((o) => o.Key), ['list/a', 'list/e f']);
  assert.deepEqual(d.CommonPrefixes.map((p) => p.Prefix), ['list/b/']);
  const page = await client.send(new ListObjectsV2Command({
    Bucket: bucket, Prefix: 'list/', MaxKeys: 2,
  }));
  assert.equal(page.IsTruncated, true);
  const rest = await client.send(new ListObjectsV2Command({
    Bucket: bucket, Prefix: 'list/', ContinuationToken: page.NextContinuationToken,
  }));
  assert.deepEqual([...page.Contents, ...rest.Contents].map((o) => o.Key), keys);
});

test('DeleteObject, then GetObject is NoSuchKey', async () => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'del', Body: 'x' }));
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'del' }));
  await assert.rejects(client.send(new GetObjectCommand({ Bucket: bucket, Key: 'del' })),
    (e) => e.name === 'NoSuchKey' && e.$metadata.httpStatusCode === 404);
  await assert.rejects(client.send(new GetObjectCommand({ Bucket: `${bucket}-none`, Key: 'x' })),
    (e) => e.name === 'NoSuchBucket');
});

test('a wrong secret is SignatureDoesNotMatch, also for aws-chunked uploads', async () => {
  const bad = new S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: 'x'.repeat(40) },
  });
  const data = randomBytes(100000);
  await assert.rejects(bad.send(new PutObjectCommand({
    Bucket: bucket, Key: 'forged', Body: chunkedStream(data, 8192), ContentLength: data.length,
  })), (e) => e.name === 'SignatureDoesNotMatch');
  await assert.rejects(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'forged' })),
    (e) => e.$metadata.httpStatusCode === 404);
});
