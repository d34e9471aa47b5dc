/**
 * The deployment files (deploy/k8s/*.yaml, deploy/grafana/*.json) against the code they deploy:
 * every file parses, kinds and apiVersions are the ones Kubernetes, KEDA and the Prometheus
 * Operator serve, the probes hit the port and paths `tributary run` serves, scaling stays within
 * the partition count with a scale-down window, KEDA watches the application's consumer group,
 * and every metric the HPA, the adapter rules and the dashboard use is one the code registers
 * (src/ops/metrics*.ts). No cluster is needed: this reads files only.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const root = new URL('../..', import.meta.url).pathname;
const k8sDir = join(root, 'deploy', 'k8s');
const dashboardPath = join(root, 'deploy', 'grafana', 'tributary-dashboard.json');

type Doc = Record<string, any>;

function loadYaml(file: string): Doc[] {
  const text = readFileSync(join(k8sDir, file), 'utf8');
  const docs = parseAllDocuments(text);
  const out: Doc[] = [];
  for (const d of docs) {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    const value = d.toJS() as Doc | null;
    if (value !== null) out.push(value);
  }
  return out;
}

const yamlFiles = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
const all = yamlFiles.flatMap((file) => loadYaml(file).map((doc) => ({ file, doc })));
function one(kind: string): Doc {
  const found = all.filter(({ doc }) => doc.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind} in deploy/k8s, found ${found.length}`);
  return found[0]!.doc;
}

const configMap = all.find(({ doc }) => doc.kind === 'ConfigMap' && doc.metadata?.name === 'order-stats-config')?.doc;
const settings = (configMap?.data ?? {}) as Record<string, string>;
const applicationId = settings.TRIBUTARY_APPLICATION_ID;
const partitions = Number(settings.TRIBUTARY_SOURCE_PARTITIONS);

/** The API versions of each kind we use, as the servers that own them serve them. */
const apiVersions: Record<string, string> = {
  ConfigMap: 'v1',
  Service: 'v1',
  StatefulSet: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
  ScaledObject: 'keda.sh/v1alpha1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
};

describe('deploy/k8s manifests', () => {
  test('every YAML file parses and has a known kind, apiVersion and name', () => {
    assert.ok(yamlFiles.length >= 8, `deploy/k8s has only ${yamlFiles.length} YAML files`);
    for (const { file, doc } of all) {
      const want = apiVersions[doc.kind as string];
      assert.ok(want !== undefined, `${file}: unexpected kind ${String(doc.kind)}`);
      assert.equal(doc.apiVersion, want, `${file}: ${doc.kind} should be ${want}`);
      if (doc.kind !== 'Kustomization') assert.ok(typeof doc.metadata?.name === 'string' && doc.metadata.name !== '', `${file}: ${doc.kind} has no metadata.name`);
    }
    for (const kind of ['ConfigMap', 'Service', 'StatefulSet', 'HorizontalPodAutoscaler', 'ScaledObject', 'ServiceMonitor']) {
      assert.ok(all.some(({ doc }) => doc.kind === kind), `no ${kind} in deploy/k8s`);
    }
  });

  test('the kustomization lists existing files, and not both the HPA and the ScaledObject', () => {
    const k = one('Kustomization');
    for (const r of k.resources as string[]) assert.ok(existsSync(join(k8sDir, r)), `kustomization.yaml lists ${r}, which does not exist`);
    const kinds = (k.resources as string[]).flatMap((r) => loadYaml(r).map((d) => d.kind));
    assert.ok(!(kinds.includes('HorizontalPodAutoscaler') && kinds.includes('ScaledObject')), 'the HPA and KEDA would fight over the replicas');
  });

  test('the ConfigMap declares the application id and the source partition count', () => {
    assert.ok(configMap !== undefined, 'no ConfigMap order-stats-config');
    assert.equal(typeof applicationId, 'string');
    assert.ok(Number.isInteger(partitions) && partitions > 0, `TRIBUTARY_SOURCE_PARTITIONS is ${settings.TRIBUTARY_SOURCE_PARTITIONS}`);
    // the application id is the one the topology file declares
    const topology = readFileSync(join(root, settings.TRIBUTARY_TOPOLOGY!.replace(/^\/app\//, '')), 'utf8');
    assert.match(topology, new RegExp(`app\\(\\s*'${applicationId}'`));
  });

  test('the StatefulSet runs tributary run with its HTTP server, on a persistent state dir, with probes on it', () => {
    const sts = one('StatefulSet');
    const svc = one('Service');
    assert.equal(svc.spec.clusterIP, 'None', 'the Service must be headless (stable pod DNS for queries)');
    assert.equal(sts.spec.serviceName, svc.metadata.name);
    const pod = sts.spec.template.spec;
    const c = pod.containers[0];
    const args = [...(c.command ?? []), ...(c.args ?? [])] as string[];
    assert.deepEqual(args.slice(0, 2), ['tributary', 'run']);
    const flag = (name: string) => {
      const i = args.indexOf(name);
      assert.ok(i >= 0 && i + 1 < args.length, `tributary run is missing ${name}`);
      return args[i + 1]!;
    };
    const port = Number(flag('--http-port'));
    assert.equal(flag('--http-host'), '0.0.0.0');
    assert.equal(flag('--brokers'), '$(KAFKA_BROKERS)');
    const stateDir = flag('--state-dir');
    assert.ok(c.env.some((e: Doc) => e.name === 'KAFKA_BROKERS'), 'KAFKA_BROKERS is not in the environment');
    // the state dir is a volume from volumeClaimTemplates
    const mount = c.volumeMounts.find((m: Doc) => m.mountPath === stateDir);
    assert.ok(mount !== undefined, `nothing is mounted at ${stateDir}`);
    assert.ok(sts.spec.volumeClaimTemplates.some((t: Doc) => t.metadata.name === mount.name), 'the state dir is not a PersistentVolumeClaim template');
    // probes: the named port is the --http-port, the paths are the ones the HTTP server serves
    const containerPort = c.ports.find((p: Doc) => p.name === c.readinessProbe.httpGet.port || p.containerPort === c.readinessProbe.httpGet.port);
    assert.equal(containerPort?.containerPort, port);
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.livenessProbe.httpGet.port, c.readinessProbe.httpGet.port);
    assert.equal(svc.spec.ports[0].port, port);
    // long enough to finish the batch, commit (request timeout 30 s) and leave the group
    assert.ok(pod.terminationGracePeriodSeconds >= 45, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is too short`);
    const annotations = sts.spec.template.metadata.annotations;
    assert.equal(annotations['prometheus.io/port'], String(port));
    assert.equal(annotations['prometheus.io/path'], '/metrics');
  });

  test('the CLI serves the flags and paths the StatefulSet uses', () => {
    const run = readFileSync(join(root, 'src', 'cli', 'commands', 'run.ts'), 'utf8');
    for (const f of ['http-port', 'http-host']) assert.match(run, new RegExp(`['"]?${f}['"]?\\s*:`), `tributary run has no --${f} flag (src/cli/commands/run.ts)`);
    const http = opsSources('http');
    for (const path of ['/ready', '/healthz', '/metrics']) assert.ok(http.includes(`'${path}'`) || http.includes(`"${path}"`) || http.includes(`\`${path}`), `src/ops/http*.ts does not serve ${path}`);
  });

  test('the HPA scales the StatefulSet on lag, at most one pod per partition, with a scale-down window', () => {
    const hpa = one('HorizontalPodAutoscaler');
    const sts = one('StatefulSet');
    assert.equal(hpa.spec.scaleTargetRef.kind, 'StatefulSet');
    assert.equal(hpa.spec.scaleTargetRef.name, sts.metadata.name);
    assert.ok(hpa.spec.maxReplicas <= partitions, `maxReplicas ${hpa.spec.maxReplicas} > ${partitions} partitions`);
    assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.minReplicas <= hpa.spec.maxReplicas);
    const metric = hpa.spec.metrics[0];
    assert.ok(['External', 'Pods'].includes(metric.type));
    const m = metric.type === 'External' ? metric.external : metric.pods;
    assert.equal(m.metric.name, 'tributary_application_lag_records');
    if (metric.type === 'External') assert.equal(m.metric.selector.matchLabels.application, applicationId);
    assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'scale-down stabilization must be 300 s or more');
  });

  test('the Prometheus Adapter rules serve the HPA metric, as the max over pods (each pod exports the group total)', () => {
    const cm = all.find(({ file, doc }) => file === 'prometheus-adapter-rules.yaml' && doc.kind === 'ConfigMap')?.doc;
    assert.ok(cm !== undefined, 'no adapter rules ConfigMap');
    const config = parseAllDocuments(cm.data['config.yaml'] as string)[0]!.toJS() as Doc;
    const hpa = one('HorizontalPodAutoscaler');
    const rule = (config.externalRules as Doc[]).find((r) => r.name.as === hpa.spec.metrics[0].external.metric.name);
    assert.ok(rule !== undefined, 'no external rule serves the HPA metric');
    assert.match(rule.metricsQuery as string, /^max by \(application\)/);
  });

  test('the KEDA ScaledObject watches the application consumer group, within the partition count', () => {
    const so = one('ScaledObject');
    assert.equal(so.spec.scaleTargetRef.kind, 'StatefulSet');
    assert.ok(so.spec.maxReplicaCount <= partitions);
    const trigger = so.spec.triggers.find((t: Doc) => t.type === 'kafka');
    assert.ok(trigger !== undefined, 'no kafka trigger');
    const md = trigger.metadata as Record<string, string>;
    assert.equal(md.consumerGroup, applicationId, 'Tributary consumer group is its application id');
    assert.equal(md.topic, settings.TRIBUTARY_SOURCE_TOPIC);
    for (const key of ['bootstrapServers', 'lagThreshold', 'activationLagThreshold', 'offsetResetPolicy']) assert.ok(md[key] !== undefined && md[key] !== '', `kafka trigger has no ${key}`);
    assert.ok(['earliest', 'latest'].includes(md.offsetResetPolicy!));
    assert.ok(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds >= 300);
  });

  test('the ServiceMonitor scrapes the http port at /metrics', () => {
    const sm = one('ServiceMonitor');
    const svc = one('Service');
    assert.deepEqual(sm.spec.selector.matchLabels, svc.metadata.labels);
    assert.equal(sm.spec.endpoints[0].port, svc.spec.ports[0].name);
    assert.equal(sm.spec.endpoints[0].path, '/metrics');
  });
});

describe('metric names used by the deployment exist in the code', () => {
  test('the dashboard is valid JSON with the panels operators need', () => {
    const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Doc;
    const titles = (dashboard.panels as Doc[]).map((p) => String(p.title).toLowerCase());
    for (const want of ['lag per partition', 'total lag', 'records in', 'records out', 'process latency p99', 'commit latency p99', 'rebalances', 'aborts', 'dropped', 'ready']) {
      assert.ok(titles.some((t) => t.includes(want)), `the dashboard has no panel on ${want}`);
    }
    for (const p of dashboard.panels as Doc[]) if (p.type !== 'row') assert.ok(p.targets.length > 0 && p.targets.every((t: Doc) => typeof t.expr === 'string'), `panel ${p.title} has no query`);
  });

  test('every metric in the HPA, the adapter rules and the dashboard is registered in src/ops/metrics*.ts', () => {
    const registered = registeredMetricNames();
    const used = new Map<string, string>();
    const dashboard = readFileSync(dashboardPath, 'utf8');
    for (const n of metricNamesIn(dashboard)) used.set(n, 'deploy/grafana/tributary-dashboard.json');
    for (const file of ['hpa.yaml', 'prometheus-adapter-rules.yaml', 'keda-scaledobject.yaml']) {
      for (const n of metricNamesIn(readFileSync(join(k8sDir, file), 'utf8'))) used.set(n, `deploy/k8s/${file}`);
    }
    assert.ok(used.size >= 10, `only ${used.size} metric names found in the deployment files`);
    const missing = [...used].filter(([n]) => !registered.has(n)).map(([n, file]) => `${n} (${file})`);
    assert.deepEqual(missing, [], `not registered in src/ops/metrics*.ts: ${missing.join(', ')}`);
  });
});

/** Concatenated sources of src/ops/<prefix>*.ts; fails clearly when there is none. */
function opsSources(prefix: string): string {
  const dir = join(root, 'src', 'ops');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.ts')) : [];
  assert.ok(files.length > 0, `no src/ops/${prefix}*.ts yet: the deployment depends on it`);
  return files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
}

/**
 * Metric names the code registers: every string literal in src/ops/metrics*.ts that looks like
 * a Tributary or consumer-group metric name (`name: 'tributary_x'`, constants, label tables).
 */
function registeredMetricNames(): Set<string> {
  const source = opsSources('metrics');
  const names = new Set<string>();
  for (const m of source.matchAll(/['"`]((?:tributary|kafka_consumergroup)_[a-z0-9_]+)['"`]/g)) names.add(m[1]!);
  assert.ok(names.size > 0, 'src/ops/metrics*.ts registers no tributary_* metric');
  return names;
}

/** Metric names in PromQL / adapter text; a histogram's _bucket, _sum and _count series count as the histogram. */
function metricNamesIn(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\b((?:tributary|kafka_consumergroup)_[a-z0-9_]+)\b/g)) {
    const n = m[1]!;
    // label values and config names that merely start like a metric (e.g. tributary-dashboard) do not match: only underscores
    names.add(n.replace(/_(bucket|sum|count)$/, (suffix) => (n.endsWith('_seconds' + suffix) ? '' : suffix)));
  }
  return names;
}
