import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_METRIC_NAMES } from '../../src/worker/metrics';

const repo = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(repo, file), 'utf8');

/** Metric names a PromQL expression reads (callvault's, the SDK's, Prometheus's `up`), histogram suffixes folded. */
function metricsIn(expr: string): string[] {
  const names = [...expr.matchAll(/\b(?:callvault|temporal)_[a-z0-9_]+\b/g)].map((m) => m[0]);
  if (/\bup\s*\{/.test(expr)) names.push('up');
  return names.map((n) => {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    return base !== n && KNOWN_METRIC_NAMES.includes(base) ? base : n;
  });
}

interface AlertRule {
  alert: string;
  expr: string;
  text: string;
}

/**
 * The rules of a Prometheus rule file, read as the file is written (no YAML library here): one
 * `- alert:` block each, `expr:` on its line or as a folded block under it.
 */
function alertRules(yaml: string): AlertRule[] {
  return yaml
    .split(/\n\s+- alert: /)
    .slice(1)
    .map((block) => {
      const alert = block.split('\n')[0]!.trim();
      const m = /\n(\s+)expr: (>-\n|\|\n)?([\s\S]*?)\n\1[a-z]+:/.exec(block);
      const expr = m
        ? m[2]
          ? m[3]!
              .split('\n')
              .map((l) => l.trim())
              .join(' ')
          : m[3]!.trim()
        : '';
      return { alert, expr, text: block };
    });
}

function dashboardExprs(json: string): string[] {
  const dash = JSON.parse(json) as {
    panels: Array<{ targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  return [
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dash.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

describe('the dashboard and the alert rules', () => {
  const rules = alertRules(read('deploy/prometheus-alerts.yml'));
  const exprs = dashboardExprs(read('deploy/grafana-dashboard.json'));

  it("name only metrics callvault or the SDK exports (the list a running worker's scrape is checked against)", () => {
    const unknown = [...rules.map((r) => r.expr), ...exprs].flatMap(metricsIn).filter((n) => !KNOWN_METRIC_NAMES.includes(n));
    expect(unknown).toEqual([]);
    // The check itself can fail: a name that does not exist is caught, a histogram's series are not.
    expect(
      metricsIn('rate(callvault_files{outcome="stored"}[5m]) + temporal_activity_execution_latency_bucket').filter(
        (n) => !KNOWN_METRIC_NAMES.includes(n),
      ),
    ).toEqual(['callvault_files']);
  });

  it("alert on given-up files, climbing retries, a worker not ready, a stalled export, days at risk and the SDK's activity failures", () => {
    const byMetric = (name: string) => rules.filter((r) => metricsIn(r.expr).includes(name)).map((r) => r.alert);
    expect(rules.map((r) => r.alert)).toEqual([
      'CallvaultFilesGivenUp',
      'CallvaultRetriesClimbing',
      'CallvaultActivityRetriesClimbing',
      'CallvaultWorkerNotReady',
      'CallvaultExportStalled',
      'CallvaultRetentionDaysAtRisk',
      'CallvaultActivityFailures',
    ]);
    expect(byMetric('callvault_worker_ready')).toEqual(['CallvaultWorkerNotReady']);
    expect(byMetric('callvault_retention_days_at_risk')).toEqual(['CallvaultRetentionDaysAtRisk']);
    expect(byMetric('temporal_activity_execution_failed_total')).toEqual(['CallvaultActivityFailures']);
    expect(byMetric('callvault_open_exports')).toEqual(['CallvaultExportStalled']);
    for (const r of rules) {
      expect(r.expr, r.alert).not.toBe('');
      expect(r.text, r.alert).toMatch(/\n\s+severity: (warning|critical)\n/);
      expect(r.text, r.alert).toMatch(/\n\s+summary: "/);
    }
  });

  it('has a dashboard with a panel per target and one uid', () => {
    const dash = JSON.parse(read('deploy/grafana-dashboard.json')) as {
      uid: string;
      panels: Array<{ id: number; type: string; targets?: unknown[] }>;
    };
    expect(dash.uid).toBe('callvault');
    expect(new Set(dash.panels.map((p) => p.id)).size).toBe(dash.panels.length);
    expect(dash.panels.filter((p) => p.type !== 'row').every((p) => (p.targets ?? []).length > 0)).toBe(true);
    expect(exprs.length).toBeGreaterThan(10);
  });
});

describe('Prometheus in docker-compose.yml', () => {
  const compose = read('docker-compose.yml');
  const prometheus = read('deploy/prometheus.yml');

  it('scrapes the worker on the port the worker serves its metrics on, and loads the alert rules where it mounts them', () => {
    const workerPort = /\n\s+CALLVAULT_METRICS_ADDRESS: 0\.0\.0\.0:(\d+)\n/.exec(compose)?.[1];
    expect(workerPort).toBeDefined();
    expect(prometheus).toMatch(new RegExp(`names: \\[worker\\]\\n\\s+type: A\\n\\s+port: ${workerPort}\\n`));
    const ruleFile = /rule_files:\n\s+- (\S+)/.exec(prometheus)?.[1];
    expect(compose).toContain(`./deploy/prometheus-alerts.yml:${ruleFile}:ro`);
    expect(compose).toContain('./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });
});
