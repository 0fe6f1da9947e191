// A Connect client generated from Scorch's own .proto files (protoc + protoc-gen-es, into
// GEN_DIR at test time) calls every querier.v1, settings.v1, version.v1 and capabilities.v1 RPC
// of the scorch at SCORCH_URL, once with the protobuf codec and once with JSON, and checks the
// answers against what test_connect_client.py pushed (argv[2]: a JSON file of expectations):
// SelectMergeStacktraces totals equal the corpus MANIFEST totals, SelectMergeProfile bytes decode
// with pprof-format to the same totals, and the Node.js SDK's pushes are queryable end to end.
// Prints one line per failure and "N passed, N failed"; exits 1 on any failure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Profile as PprofProfile } from 'pprof-format';

const GEN = process.env.GEN_DIR;
const BASE = process.env.SCORCH_URL;
const load = (f) => import(pathToFileURL(join(GEN, f)).href);
const querier = await load('querier_pb.js');
const settings = await load('settings_pb.js');
const version = await load('version_pb.js');
const caps = await load('capabilities_pb.js');
const profile = await load('google/v1/profile_pb.js');

const exp = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const start = BigInt(exp.start_ms);
const end = BigInt(exp.end_ms);

let passed = 0;
let failed = 0;
function check(cond, msg) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL: ${msg}`);
  }
  return cond;
}
const debug = process.env.CLIENT_DEBUG ? (...a) => console.error(...a) : () => {};
const str = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x));

// Sum of the first value of every sample of a pprof decoded by pprof-format.
function pprofTotal(bytes) {
  const p = PprofProfile.decode(bytes);
  let sum = 0n;
  for (const s of p.sample) sum += BigInt(s.value[0] ?? 0);
  return { sum, types: p.sampleType.length };
}

// Sum of self values in tree bytes (spec §10.5.3): name, self, child count per node, pre-order.
function treeTotal(b) {
  let i = 0;
  const uvarint = () => {
    let x = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= b.length) throw new Error(`tree bytes end inside a varint at ${i}`);
      const c = b[i++];
      x |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) return x;
      shift += 7n;
    }
  };
  let sum = 0n;
  while (i < b.length) {
    const nameLen = Number(uvarint());
    i += nameLen;
    sum += uvarint();
    uvarint();
  }
  return sum;
}

async function expectError(p, code, what) {
  try {
    await p;
    check(false, `${what}: want ${Code[code]}, got success`);
  } catch (e) {
    const ce = ConnectError.from(e);
    check(ce.code === code, `${what}: want ${Code[code]}, got ${Code[ce.code]} ${ce.rawMessage}`);
  }
}

async function run(binary) {
  const codec = binary ? 'proto' : 'json';
  const transport = createConnectTransport({
    baseUrl: BASE,
    httpVersion: '1.1',
    useBinaryFormat: binary,
    defaultTimeoutMs: 60000, // a call that hangs fails (and names itself) instead of the test
  });
  const q = createClient(querier.QuerierService, transport);
  const st = createClient(settings.SettingsService, transport);
  const ver = createClient(version.Version, transport);
  const ff = createClient(caps.FeatureFlagsService, transport);

  // ProfileTypes, including Grafana's 1970 health check.
  const pt = await q.profileTypes({ start, end });
  const ids = pt.profileTypes.map((t) => t.ID);
  check(str(ids) === str([...ids].sort()), `[${codec}] ProfileTypes not sorted: ${str(ids)}`);
  for (const p of exp.profiles) {
    for (const t of p.types) {
      if (t.profile_type && !ids.includes(t.profile_type)) {
        check(false, `[${codec}] ProfileTypes lacks ${t.profile_type}`);
      }
    }
  }
  const health = await q.profileTypes({ start: 1000n, end: 4000n });
  check(health.profileTypes.length === 0, `[${codec}] health check: ${str(health)}`);

  // LabelNames / LabelValues / Series.
  const corpus = '{service_name=~"corpus-.*"}';
  const ln = await q.labelNames({ matchers: [corpus], start, end });
  for (const n of ['__name__', '__profile_type__', 'push_id', 'service_name']) {
    check(ln.names.includes(n), `[${codec}] LabelNames lacks ${n}: ${str(ln.names)}`);
  }
  const lv = await q.labelValues({ name: 'push_id', matchers: [corpus], start, end });
  const wantIds = exp.profiles.map((p) => p.push_id).sort();
  const lvs = await q.labelValues({ name: 'service_name', matchers: [corpus], start, end });
  check(str(lvs.names) === str(exp.profiles.map((p) => p.service).sort()), `[${codec}] LabelValues service_name: ${str(lvs.names)}`);
  check(str(lv.names) === str(wantIds), `[${codec}] LabelValues push_id: ${str(lv.names)} want ${str(wantIds)}`);
  await expectError(q.labelValues({ name: '', start, end }), Code.InvalidArgument, `[${codec}] LabelValues without name`);

  // Every profile's totals with the binary codec; the first few with JSON (the codec is what
  // differs, the merge is the same).
  for (const p of binary ? exp.profiles : exp.profiles.slice(0, 4)) {
    const sel = `{service_name="${p.service}", push_id="${p.push_id}"}`;
    const sr = await q.series({ matchers: [sel], labelNames: ['__profile_type__', '__type__'], start, end });
    const byType = {};
    for (const ls of sr.labelsSet) {
      const m = Object.fromEntries(ls.labels.map((l) => [l.name, l.value]));
      byType[m.__type__] = m.__profile_type__;
    }
    for (const t of p.types) {
      const ptype = byType[t.type];
      if (!ptype && t.total === '0') continue; /* all-zero sample types store no series */
      if (!check(ptype, `[${codec}] ${p.path}: no series of sample type ${t.type} (${str(byType)})`)) continue;
      const want = BigInt(t.total);
      debug(codec, p.path, ptype);
      const sms = await q.selectMergeStacktraces({ profileTypeID: ptype, labelSelector: sel, start, end });
      check(sms.flamegraph && sms.flamegraph.total === want,
        `[${codec}] ${p.path} ${ptype}: SelectMergeStacktraces total ${sms.flamegraph?.total} want ${want}`);
      const smp = await q.selectMergeProfile({ profileTypeID: ptype, labelSelector: sel, start, end });
      debug('  smp received');
      const dec = pprofTotal(toBinary(profile.ProfileSchema, smp));
      check(dec.sum === want && dec.types === 1,
        `[${codec}] ${p.path} ${ptype}: SelectMergeProfile pprof-format total ${dec.sum} (${dec.types} types) want ${want}`);
      if (binary && t === p.types[0]) {
        // The raw bytes on the wire, not a re-encoding.
        const req = create(querier.SelectMergeProfileRequestSchema, { profileTypeID: ptype, labelSelector: sel, start, end });
        const resp = await fetch(`${BASE}/querier.v1.QuerierService/SelectMergeProfile`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/proto', 'Connect-Protocol-Version': '1' },
          body: toBinary(querier.SelectMergeProfileRequestSchema, req),
        });
        const raw = new Uint8Array(await resp.arrayBuffer());
        const d2 = resp.status === 200 ? pprofTotal(raw) : { sum: -1n };
        check(d2.sum === want, `[raw] ${p.path} ${ptype}: SelectMergeProfile bytes total ${d2.sum} want ${want}`);
      }
    }
  }

  // The other RPCs on the first profile's first sample type.
  const p0 = exp.profiles[0];
  const sel0 = `{service_name="${p0.service}", push_id="${p0.push_id}"}`;
  const sr0 = await q.series({ matchers: [sel0], labelNames: ['__profile_type__', '__type__'], start, end });
  const t0 = p0.types[0];
  const pt0 = sr0.labelsSet.map((ls) => Object.fromEntries(ls.labels.map((l) => [l.name, l.value])))
    .find((m) => m.__type__ === t0.type)?.__profile_type__;
  const want0 = BigInt(t0.total);
  check(pt0, `[${codec}] no profile type for ${p0.path}`);
  const base = { profileTypeID: pt0, labelSelector: sel0, start, end };

  debug('other RPCs', str(base));
  const tree = await q.selectMergeStacktraces({ ...base, format: querier.ProfileFormat.TREE });
  debug('  tree', tree.tree.length);
  check(tree.tree.length > 0 && treeTotal(tree.tree) === want0, `[${codec}] TREE total ${treeTotal(tree.tree)} want ${want0}`);
  const dot = await q.selectMergeStacktraces({ ...base, format: querier.ProfileFormat.DOT });
  check(dot.dot.startsWith('digraph'), `[${codec}] DOT: ${dot.dot.slice(0, 60)}`);
  const pp = await q.selectMergeStacktraces({ ...base, format: querier.ProfileFormat.PPROF });
  const ppd = pp.pprof?.profile ? pprofTotal(toBinary(profile.ProfileSchema, pp.pprof.profile)) : { sum: -1n };
  check(ppd.sum === want0, `[${codec}] PPROF format total ${ppd.sum} want ${want0}`);
  const small = await q.selectMergeStacktraces({ ...base, maxNodes: 3n });
  check(small.flamegraph.total === want0, `[${codec}] maxNodes=3 total ${small.flamegraph.total}`);
  await expectError(q.selectMergeStacktraces({ ...base, profileTypeID: 'bad' }), Code.InvalidArgument, `[${codec}] bad profile type`);
  await expectError(q.selectMergeStacktraces({ ...base, labelSelector: '{a=' }), Code.InvalidArgument, `[${codec}] bad selector`);
  await expectError(q.selectMergeStacktraces({ ...base, maxNodes: 2000000n }), Code.InvalidArgument, `[${codec}] maxNodes too large`);

  const span = await q.selectMergeSpanProfile({ ...base, spanSelector: ['0123456789abcdef'] });
  check(span.flamegraph && span.flamegraph.total === 0n, `[${codec}] SelectMergeSpanProfile unknown span: ${span.flamegraph?.total}`);

  const ss = await q.selectSeries({ ...base, step: 15, groupBy: ['push_id'] });
  const ssum = ss.series.flatMap((s) => s.points).reduce((a, x) => a + x.value, 0);
  check(ss.series.length === 1 && BigInt(Math.round(ssum)) === want0,
    `[${codec}] SelectSeries sum ${ssum} want ${want0} (${ss.series.length} series)`);
  check(ss.series[0]?.labels.length === 1 && ss.series[0].labels[0].name === 'push_id',
    `[${codec}] SelectSeries labels ${str(ss.series[0]?.labels)}`);
  await expectError(q.selectSeries({ ...base, step: 0 }), Code.InvalidArgument, `[${codec}] SelectSeries step 0`);

  const diff = await q.diff({ left: base, right: base });
  check(diff.flamegraph && diff.flamegraph.total === 2n * want0 && diff.flamegraph.leftTicks === want0 &&
    diff.flamegraph.rightTicks === want0, `[${codec}] Diff ticks ${str(diff.flamegraph && {t: diff.flamegraph.total, l: diff.flamegraph.leftTicks, r: diff.flamegraph.rightTicks})}`);

  const stats = await q.getProfileStats({});
  check(stats.dataIngested === true, `[${codec}] GetProfileStats: ${str(stats)}`);
  await q.analyzeQuery({ start, end, query: `${pt0}${sel0}` });
  check(true, 'AnalyzeQuery answered');
  try {
    await q.selectHeatmap({ ...base, step: 15, queryType: querier.HeatmapQueryType.INDIVIDUAL });
    check(true, 'SelectHeatmap answered');
  } catch (e) {
    const ce = ConnectError.from(e);
    check(ce.code === Code.Unimplemented, `[${codec}] SelectHeatmap: ${Code[ce.code]} ${ce.rawMessage}`);
  }

  // Node.js SDK pushes (tests/integration/node_sdk/push_profiles.js), queried end to end.
  if (exp.nodesdk) {
    const sv = await q.series({ matchers: ['{service_name="nodesdk-test"}'], labelNames: ['__profile_type__'], start, end });
    const sdkTypes = sv.labelsSet.map((ls) => ls.labels[0]?.value).filter(Boolean);
    check(sdkTypes.length >= 2, `[${codec}] Node SDK profile types: ${str(sdkTypes)}`);
    let sawFrames = false;
    for (const t of sdkTypes) {
      const r = await q.selectMergeStacktraces({ profileTypeID: t, labelSelector: '{service_name="nodesdk-test", region="loopback"}', start, end });
      check(r.flamegraph.total > 0n, `[${codec}] Node SDK ${t}: total ${r.flamegraph.total}`);
      if (r.flamegraph.names.some((n) => n.includes('busyLeaf') || n.includes('fib'))) sawFrames = true;
    }
    check(sawFrames, `[${codec}] no Node SDK frame (busyLeaf/fib) in any flame graph`);
  }

  // settings.v1, version.v1, capabilities.v1.
  const name = `client-${codec}`;
  const set = await st.set({ setting: { name, value: `{"codec":"${codec}"}` } });
  check(set.setting?.name === name && set.setting.modifiedAt > 0n, `[${codec}] Settings.Set: ${str(set)}`);
  const got = await st.get({});
  check(got.settings.some((s) => s.name === name && s.value === `{"codec":"${codec}"}`), `[${codec}] Settings.Get: ${str(got)}`);
  await expectError(st.set({ setting: { name, value: 'old', modifiedAt: 1n } }), Code.AlreadyExists, `[${codec}] Settings.Set older`);
  await st.delete({ name });
  const after = await st.get({});
  check(!after.settings.some((s) => s.name === name), `[${codec}] Settings.Delete: ${str(after)}`);
  await expectError(st.set({}), Code.InvalidArgument, `[${codec}] Settings.Set without setting`);
  const v = await ver.version({});
  check(v.QuerierAPI === 1n, `[${codec}] Version: ${str(v)}`);
  const flags = await ff.getFeatureFlags({});
  const names = flags.featureFlags.map((f) => f.name);
  check(str(names) === str([...names].sort()) && flags.featureFlags.some((f) => f.name === 'utf8LabelNames' && f.enabled),
    `[${codec}] GetFeatureFlags: ${str(flags)}`);
}

for (const binary of [true, false]) {
  try {
    const t = Date.now();
    await run(binary);
    console.log(`${binary ? 'proto' : 'json'}: ${Date.now() - t} ms`);
  } catch (e) {
    check(false, `${binary ? 'proto' : 'json'}: ${e.stack || e}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
