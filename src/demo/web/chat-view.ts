import type { ThreadEvent } from '../../client/index.js';

/** At most this many rows stay in the event table; older ones are dropped from the page. */
const MAX_EVENT_ROWS = 500;

interface AgentBubble {
  root: HTMLLIElement;
  steps: HTMLDivElement;
  text: HTMLDivElement;
}

/**
 * Renders one thread: a chat (user messages, the agent's streamed answers) and a table
 * of every event with its seq, type, run and latency. Text only, never HTML from events.
 */
export class ChatView {
  private readonly runs = new Map<string, AgentBubble>();
  private eventCount = 0;

  constructor(
    private readonly messages: HTMLOListElement,
    private readonly rows: HTMLTableSectionElement,
    private readonly count: HTMLElement,
  ) {}

  clear(): void {
    this.runs.clear();
    this.messages.replaceChildren();
    this.rows.replaceChildren();
    this.eventCount = 0;
    this.count.textContent = '0';
  }

  show(event: ThreadEvent, receivedAt = Date.now()): void {
    this.addRow(event, receivedAt);
    this.addToChat(event);
  }

  private addToChat(event: ThreadEvent): void {
    const payload = asRecord(event.payload);
    if (event.type === 'user_message') {
      const item = element('li', 'message user');
      item.dataset.seq = String(event.seq);
      item.textContent = text(payload.text);
      this.append(item);
      return;
    }
    const runId = event.runId ?? text(payload.runId);
    if (runId === '') return;
    const bubble = this.bubble(runId);
    switch (event.type) {
      case 'agent_started':
        break;
      case 'agent_thinking':
        bubble.steps.textContent = `thinking: ${text(payload.thought)}`;
        break;
      case 'tool_executing':
        bubble.steps.textContent = `running tool ${text(payload.tool)}`;
        break;
      case 'tool_completed':
        bubble.steps.textContent = `tool ${text(payload.tool)} done`;
        break;
      case 'assistant_message':
        if (payload.final === true) bubble.text.textContent = text(payload.text);
        else bubble.text.textContent = (bubble.text.textContent ?? '') + text(payload.delta);
        break;
      case 'agent_completed':
        bubble.root.classList.add('done');
        bubble.steps.textContent = `completed (${text(payload.status) || 'ok'})`;
        break;
      default:
        bubble.steps.textContent = event.type;
    }
    this.scroll();
  }

  private bubble(runId: string): AgentBubble {
    const existing = this.runs.get(runId);
    if (existing) return existing;
    const root = element('li', 'message agent');
    root.dataset.runId = runId;
    const steps = element('div', 'steps');
    steps.textContent = 'started';
    const body = element('div', 'text');
    root.append(steps, body);
    const bubble = { root, steps, text: body };
    this.runs.set(runId, bubble);
    this.append(root);
    return bubble;
  }

  private append(item: HTMLLIElement): void {
    this.messages.append(item);
    this.scroll();
  }

  private scroll(): void {
    this.messages.scrollTop = this.messages.scrollHeight;
  }

  private addRow(event: ThreadEvent, receivedAt: number): void {
    const row = element('tr', 'event');
    row.dataset.seq = String(event.seq);
    row.dataset.type = event.type;
    const cells: [string, string, string][] = [
      ['seq', String(event.seq), ''],
      ['type', event.type, ''],
      ['latency', `${Math.max(0, receivedAt - event.ts)} ms`, ''],
      ['run', event.runId ? shortRun(event.runId) : '', event.runId ?? ''],
      ['payload', JSON.stringify(withoutRunId(event.payload)), JSON.stringify(event.payload)],
    ];
    for (const [name, value, title] of cells) {
      const cell = element('td', name);
      cell.textContent = value;
      if (title !== '') cell.title = title;
      row.append(cell);
    }
    this.rows.append(row);
    while (this.rows.rows.length > MAX_EVENT_ROWS) this.rows.rows[0]?.remove();
    this.eventCount += 1;
    this.count.textContent = String(this.eventCount);
    row.scrollIntoView({ block: 'nearest' });
  }
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The run id has its own column; the payload shows the rest. */
function withoutRunId(payload: unknown): unknown {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return payload;
  return Object.fromEntries(Object.entries(payload).filter(([key]) => key !== 'runId'));
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** `..._run_1756919162904_9adf1f09` -> `run …9adf1f09`, the full id in the tooltip. */
function shortRun(runId: string): string {
  if (!runId.includes('_run_')) return runId;
  return `run …${runId.slice(runId.lastIndexOf('_') + 1)}`;
}
