/**
 * The reference server's web page in headless Chromium (Debian's `chromium`, installed by
 * .ci/run when missing): sign in, chat with the agent, see the answer and the events.
 * Saves a screenshot to test-artifacts/web-page.png.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { LocalSockets } from '../../src/sockets/local-sockets.js';
import { SseStreams } from '../../src/sse/sse-streams.service.js';
import {
  buildWebPage,
  startReferenceServer,
  type BuiltWebPage,
  type ReferenceServer,
} from './support/reference-server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts';
const WAIT_MS = 15_000;

describe('web page (headless Chromium)', () => {
  let server: ReferenceServer;
  let web: BuiltWebPage;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH); .ci/run installs it`,
      );
    }
    web = await buildWebPage();
    server = await startReferenceServer({}, web.dir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: 30_000,
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await web?.remove();
  });

  it('signs in, chats with the agent and shows the events with seq and type', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#user-id').fill('browser-user');
    await page.locator('#sign-in-button').click();

    await page.locator('#status[data-status="realtime"]').waitFor({ timeout: WAIT_MS });
    await page.locator('#message-input:enabled').waitFor({ timeout: WAIT_MS });
    const threadId = (await page.locator('#thread-title').textContent()) ?? '';
    expect(threadId).toMatch(/^thread_[0-9a-f]{16}$/);
    await expect(
      page.locator('#thread-list button[aria-current="true"]').textContent(),
    ).resolves.toBe(threadId);

    await page.locator('#message-input').fill('hello from chromium');
    await page.locator('#send-button').click();

    const answer = page.locator('#messages .message.agent.done');
    await answer.waitFor({ timeout: WAIT_MS });
    await expect(answer.locator('.text').textContent()).resolves.toContain(
      'You said "hello from chromium"',
    );
    await expect(page.locator('#messages .message.user').textContent()).resolves.toBe(
      'hello from chromium',
    );

    const completed = page.locator('#event-rows tr[data-type="agent_completed"]');
    await completed.waitFor({ timeout: WAIT_MS });
    const rows = await page
      .locator('#event-rows tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          Number((tr as HTMLElement).dataset.seq),
          (tr as HTMLElement).dataset.type ?? '',
        ]),
      );
    expect(rows.map(([seq]) => seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.map(([, type]) => type)).toEqual(
      expect.arrayContaining([
        'user_message',
        'agent_started',
        'agent_thinking',
        'tool_executing',
        'tool_completed',
        'assistant_message',
        'agent_completed',
      ]),
    );
    expect(rows[0]?.[1]).toBe('user_message');
    expect(rows.at(-1)?.[1]).toBe('agent_completed');

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}/web-page.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows the thread again from its history after a reload', async () => {
    const threadId = (await page.locator('#thread-title').textContent()) ?? '';
    await page.reload();
    await page.locator('#sign-in-button').click();
    await page.locator('#event-rows tr[data-type="agent_completed"]').waitFor({ timeout: WAIT_MS });
    await expect(page.locator('#thread-title').textContent()).resolves.toBe(threadId);
    await expect(
      page.locator('#messages .message.agent.done .text').textContent(),
    ).resolves.toContain('hello from chromium');
    expect(pageErrors).toEqual([]);
  });

  /** Sends a message from the page and waits for the agent's whole answer to it. */
  async function chat(text: string, runs: number): Promise<number[]> {
    await page.locator('#message-input').fill(text);
    await page.locator('#send-button').click();
    await page
      .locator('#messages .message.agent.done .text', { hasText: text })
      .waitFor({ timeout: WAIT_MS });
    await page
      .locator('#event-rows tr[data-type="agent_completed"]')
      .nth(runs - 1)
      .waitFor({ timeout: WAIT_MS });
    return page
      .locator('#event-rows tr')
      .evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.seq)));
  }

  it('shows the transport, and keeps delivering over Server-Sent Events once websockets are refused', async () => {
    await expect(page.locator('#transport').getAttribute('data-transport')).resolves.toBe(
      'websocket',
    );
    const before = await page.locator('#event-rows tr').count();
    // Refuse every socket.io transport from now on, then cut the live connection.
    await page.routeWebSocket(/socket\.io/, (ws) => ws.close());
    await page.route(/\/socket\.io\//, (route) => route.abort());
    server.app.get(LocalSockets).namespace?.local.disconnectSockets(true);
    await page.locator('#transport[data-transport="sse"]').waitFor({ timeout: WAIT_MS });
    await expect(page.locator('#status').getAttribute('data-status')).resolves.toBe('streaming');

    const seqs = await chat('sent over sse', 2);
    expect(seqs.length).toBeGreaterThan(before);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await page.screenshot({ path: `${ARTIFACTS}/web-page-sse.png`, fullPage: true });
    expect(pageErrors.filter((e) => !/socket\.io|WebSocket|ERR_FAILED/i.test(e))).toEqual([]);
  });

  it('falls back to REST polling when a proxy refuses the event stream too', async () => {
    const before = await page.locator('#event-rows tr').count();
    // A proxy's own refusal page for event streams from now on; then the open stream ends,
    // as when its instance shuts down, and the page's reconnect meets the refusal.
    await page.route(/\/threads\/[^/]+\/events/, (route) =>
      route.fulfill({ status: 403, contentType: 'text/html', body: '<h1>Blocked</h1>' }),
    );
    server.app.get(SseStreams).onModuleDestroy();
    await page.locator('#transport[data-transport="polling"]').waitFor({ timeout: WAIT_MS });
    await expect(page.locator('#status').getAttribute('data-status')).resolves.toBe('polling');

    const seqs = await chat('sent while polling', 3);
    expect(seqs.length).toBeGreaterThan(before);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    await expect(page.locator('#transport').getAttribute('data-transport')).resolves.toBe(
      'polling',
    );
    await page.screenshot({ path: `${ARTIFACTS}/web-page-polling.png`, fullPage: true });
    expect(pageErrors.filter((e) => !/socket\.io|WebSocket|ERR_FAILED|403/i.test(e))).toEqual([]);
  });
});
