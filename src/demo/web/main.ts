/**
 * The reference server's web page: sign in as a demo user, open a thread, chat with the
 * simulated agent and watch its events stream in. Built on the client SDK only; bundled
 * by `scripts/build-web.mjs` into `dist/web/app.js`.
 */
import {
  ThreadRelayClient,
  type ClientStatus,
  type ClientTransport,
  type ThreadEvent,
} from '../../client/index.js';
import { ChatView } from './chat-view.js';
import { DevTokenSource, isValidId, lastUser, newThreadId, ThreadList } from './dev-session.js';

/** What the badge shows for each SDK status. */
const STATUS_LABELS: Record<ClientStatus, string> = {
  idle: 'offline',
  connecting: 'connecting',
  connected: 'realtime',
  degraded: 'degraded',
  reconnecting: 'reconnecting',
  streaming: 'streaming',
  polling: 'polling',
  closed: 'offline',
};

/** What the transport badge says: the SDK's order is websocket, then SSE, then polling. */
const TRANSPORT_LABELS: Record<ClientTransport, string> = {
  websocket: 'WebSocket',
  webtransport: 'WebTransport',
  'long-polling': 'socket.io long-polling',
  sse: 'Server-Sent Events',
  polling: 'REST polling',
};

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const node = document.getElementById(id);
  if (!(node instanceof type)) throw new Error(`page is missing #${id}`);
  return node;
}

const ui = {
  status: byId('status', HTMLSpanElement),
  transport: byId('transport', HTMLSpanElement),
  who: byId('who', HTMLSpanElement),
  signOut: byId('sign-out', HTMLButtonElement),
  error: byId('error', HTMLParagraphElement),
  signInView: byId('sign-in-view', HTMLElement),
  signInForm: byId('sign-in-form', HTMLFormElement),
  signInButton: byId('sign-in-button', HTMLButtonElement),
  userId: byId('user-id', HTMLInputElement),
  appView: byId('app-view', HTMLElement),
  newThread: byId('new-thread', HTMLButtonElement),
  threadList: byId('thread-list', HTMLUListElement),
  openThreadForm: byId('open-thread-form', HTMLFormElement),
  openThreadId: byId('open-thread-id', HTMLInputElement),
  threadTitle: byId('thread-title', HTMLHeadingElement),
  messages: byId('messages', HTMLOListElement),
  composer: byId('composer', HTMLFormElement),
  messageInput: byId('message-input', HTMLInputElement),
  sendButton: byId('send-button', HTMLButtonElement),
  eventRows: byId('event-rows', HTMLTableSectionElement),
  eventCount: byId('event-count', HTMLSpanElement),
};

interface Session {
  userId: string;
  client: ThreadRelayClient;
  threads: ThreadList;
  current: string | null;
}

const view = new ChatView(ui.messages, ui.eventRows, ui.eventCount);
let session: Session | null = null;

function showError(message: string | null): void {
  ui.error.textContent = message ?? '';
  ui.error.hidden = message === null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function setStatus(status: ClientStatus): void {
  const label = STATUS_LABELS[status];
  ui.status.textContent = label;
  ui.status.dataset.status = label;
}

function setTransport(transport: ClientTransport | null): void {
  ui.transport.textContent = transport === null ? 'no transport' : TRANSPORT_LABELS[transport];
  ui.transport.dataset.transport = transport ?? 'none';
}

function setComposerEnabled(enabled: boolean): void {
  ui.messageInput.disabled = !enabled;
  ui.sendButton.disabled = !enabled;
}

async function signIn(userId: string): Promise<void> {
  showError(null);
  const tokens = new DevTokenSource(window.location.origin, userId);
  await tokens.signIn();
  const client = new ThreadRelayClient({ url: window.location.origin, token: tokens.token });
  const current: Session = { userId, client, threads: new ThreadList(userId), current: null };
  client.onStatus(setStatus);
  client.onTransport(setTransport);
  client.onEvent((event: ThreadEvent) => {
    if (session === current && event.threadId === current.current) view.show(event);
  });
  client.onReset(({ threadId, events, reason }) => {
    if (session !== current || threadId !== current.current) return;
    view.clear();
    for (const event of events) view.show(event);
    showError(`thread ${threadId} was reset (${reason}); showing it as the server has it`);
  });
  client.onError((error) => showError(`${error.code}: ${error.message}`));
  session = current;
  lastUser.set(userId);
  ui.who.textContent = `signed in as ${userId}`;
  ui.who.hidden = false;
  ui.signOut.hidden = false;
  ui.signInView.hidden = true;
  ui.appView.hidden = false;
  await client.connect();
  await openThread(current.threads.all()[0] ?? newThreadId());
}

async function signOut(): Promise<void> {
  const ending = session;
  session = null;
  lastUser.set(null);
  view.clear();
  ui.appView.hidden = true;
  ui.signInView.hidden = false;
  ui.who.hidden = true;
  ui.signOut.hidden = true;
  setComposerEnabled(false);
  await ending?.client.close();
  setStatus('idle');
  setTransport(null);
}

async function openThread(threadId: string): Promise<void> {
  const current = session;
  if (!current || current.current === threadId) return;
  const previous = current.current;
  current.current = threadId;
  renderThreadList(current.threads.touch(threadId), threadId);
  ui.threadTitle.textContent = threadId;
  view.clear();
  setComposerEnabled(false);
  if (previous !== null) {
    await current.client.leave(previous).catch(() => undefined);
  }
  // From the start of the log: the thread's history first, then live events.
  await current.client.join(threadId);
  if (session === current && current.current === threadId) {
    setComposerEnabled(true);
    ui.messageInput.focus();
  }
}

function renderThreadList(threadIds: string[], selected: string): void {
  ui.threadList.replaceChildren(
    ...threadIds.map((threadId) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = threadId;
      button.title = threadId;
      button.dataset.threadId = threadId;
      button.setAttribute('aria-current', String(threadId === selected));
      item.append(button);
      return item;
    }),
  );
}

async function sendMessage(): Promise<void> {
  const current = session;
  const text = ui.messageInput.value.trim();
  if (!current?.current || text === '') return;
  ui.sendButton.disabled = true;
  try {
    await current.client.send(current.current, text);
    ui.messageInput.value = '';
    showError(null);
  } finally {
    ui.sendButton.disabled = ui.messageInput.disabled;
  }
}

/** Runs an async UI action; its failure is shown, never left unhandled. */
function act(action: () => Promise<void>): void {
  action().catch((error: unknown) => showError(describe(error)));
}

/** The id typed into `input`, or null (and the rule said) when it is not one. */
function typedId(input: HTMLInputElement, what: string): string | null {
  const id = input.value.trim();
  if (isValidId(id)) return id;
  showError(`a ${what} id is 1-200 letters, digits or _ . : @ -`);
  return null;
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const userId = typedId(ui.userId, 'user');
  if (userId === null) return;
  ui.signInButton.disabled = true;
  act(async () => {
    try {
      await signIn(userId);
    } catch (error) {
      await signOut();
      throw error;
    } finally {
      ui.signInButton.disabled = false;
    }
  });
});

ui.signOut.addEventListener('click', () => act(signOut));

ui.newThread.addEventListener('click', () => act(() => openThread(newThreadId())));

ui.threadList.addEventListener('click', (event) => {
  const target = event.target instanceof HTMLElement ? event.target.closest('button') : null;
  const threadId = target?.dataset.threadId;
  if (threadId) act(() => openThread(threadId));
});

ui.openThreadForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const threadId = typedId(ui.openThreadId, 'thread');
  if (threadId === null) return;
  ui.openThreadId.value = '';
  act(() => openThread(threadId));
});

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  act(sendMessage);
});

setStatus('idle');
ui.userId.value = lastUser.get() ?? `demo-${Math.random().toString(16).slice(2, 8)}`;
