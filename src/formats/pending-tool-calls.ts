import type { JsonValue } from '../protocol.js';
import { text, type Payload } from './payload-fields.js';

/** A tool call a `tool_executing` event announced, whose `tool_completed` has not come yet. */
export interface PendingToolCall {
  toolCallId: string;
  name: string;
  input: JsonValue;
}

/**
 * The tool calls open in the current run. A result is matched to its call by
 * `toolCallId`, else (a producer that sends no ids) by the tool's name, oldest first.
 */
export class PendingToolCalls {
  private readonly calls: PendingToolCall[] = [];

  /** Opens the call of a `tool_executing` payload; `fallbackId` when it names none. */
  open(payload: Payload, fallbackId: string): PendingToolCall {
    const call = {
      toolCallId: text(payload.toolCallId) ?? fallbackId,
      name: text(payload.tool) ?? 'tool',
      input: payload.args ?? {},
    };
    this.calls.push(call);
    return call;
  }

  /** Closes and returns the call a `tool_completed` payload answers; undefined when none is open. */
  take(payload: Payload): PendingToolCall | undefined {
    const wanted = text(payload.toolCallId);
    const name = text(payload.tool);
    const index = this.calls.findIndex((call) =>
      wanted ? call.toolCallId === wanted : call.name === name,
    );
    return index >= 0 ? this.calls.splice(index, 1)[0] : undefined;
  }

  clear(): void {
    this.calls.length = 0;
  }

  [Symbol.iterator](): Iterator<PendingToolCall> {
    return this.calls[Symbol.iterator]();
  }
}
