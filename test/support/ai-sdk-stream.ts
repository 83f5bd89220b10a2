import { parseJsonEventStream, uiMessageChunkSchema, type UIMessageChunk } from 'ai';

/**
 * A `?format=ai-sdk` response body as the AI SDK reads it: its own SSE parser and chunk
 * schema (a chunk the schema refuses fails the stream). `until(chunk)` true ends the
 * stream after that chunk and calls `stop` (the thread's stream itself goes on).
 */
export function aiSdkChunks(
  body: ReadableStream<Uint8Array>,
  until: (chunk: UIMessageChunk) => boolean,
  stop: () => void,
): ReadableStream<UIMessageChunk> {
  return parseJsonEventStream({ stream: body, schema: uiMessageChunkSchema() }).pipeThrough(
    new TransformStream<
      { success: boolean; value?: UIMessageChunk; error?: unknown },
      UIMessageChunk
    >({
      transform(result, controller) {
        if (!result.success || !result.value) {
          throw result.error instanceof Error ? result.error : new Error('bad chunk');
        }
        controller.enqueue(result.value);
        if (until(result.value)) {
          controller.terminate();
          stop();
        }
      },
    }),
  );
}
