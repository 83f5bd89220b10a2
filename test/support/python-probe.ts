import { expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runChild } from './child-process.js';

/** Runs scripts/test_websocket_delivery.py (the runbook's Python probe) and reads what it printed. */
export const PYTHON_PROBE = fileURLToPath(
  new URL('../../scripts/test_websocket_delivery.py', import.meta.url),
);
export const AGENT_STEPS = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed'];

/**
 * Fails (never skips) without python3: the runbook's probe and the Python examples are part
 * of what this repo promises. `script` names what needs it.
 */
export function requirePython(script = 'scripts/test_websocket_delivery.py'): void {
  const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `python3 is required to test ${script} and was not found on PATH. ` +
        'Install Python 3 (Debian/Ubuntu: apt-get install -y python3; macOS: brew install python3; ' +
        'Windows: https://www.python.org/downloads/), then run the tests again.',
    );
  }
}

export interface ProbeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The `  seq N  type ...` lines, in the order printed. */
  events: { seq: number; type: string; latencyMs: number; runId: string | undefined }[];
}

const EVENT_LINE =
  /^ {2}seq +(\d+) {2}(\S+) +\+ *\d+ ms after send {2}latency +(\d+) ms(?: {2}run (\S+))?$/;

export async function runPythonProbe(args: string[], killAfterMs = 30_000): Promise<ProbeRun> {
  const { code, stdout, stderr } = await runChild('python3', [PYTHON_PROBE, ...args], {
    // No proxy from the environment may stand between the probe and the test server.
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
    timeoutMs: killAfterMs,
  });
  const events = stdout
    .split('\n')
    .map((line) => EVENT_LINE.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({
      seq: Number(match[1]),
      type: match[2] ?? '',
      latencyMs: Number(match[3]),
      runId: match[4],
    }));
  return { code, stdout, stderr, events };
}

function describeRun(run: ProbeRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
}

/** The agent's whole run, in seq order from the user message, every agent event in one run. */
export function expectCompleteRun(run: ProbeRun, firstSeq = 1): void {
  if (run.code !== 0) throw new Error(`the probe failed:\n${describeRun(run)}`);
  const seqs = run.events.map((e) => e.seq);
  expect(seqs).toEqual(seqs.map((_, i) => firstSeq + i));
  const [user, ...agent] = run.events;
  expect(user?.type).toBe('user_message');
  expect(agent.map((e) => e.type).slice(0, AGENT_STEPS.length)).toEqual(AGENT_STEPS);
  expect(agent.at(-1)?.type).toBe('agent_completed');
  const runIds = new Set(agent.map((e) => e.runId));
  expect(runIds.size).toBe(1);
  for (const event of run.events) expect(event.latencyMs).toBeGreaterThanOrEqual(0);
  expect(run.stdout).toMatch(
    new RegExp(
      `probe: OK: ${run.events.length} events on \\S+, run \\S+_run_\\d+_[0-9a-f]+, ` +
        'agent_completed \\d+ ms after send, max event latency \\d+ ms, total \\d+ ms\\n$',
    ),
  );
}
