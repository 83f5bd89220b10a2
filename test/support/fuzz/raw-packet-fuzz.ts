/** The raw packet fuzz: malformed socket.io packets close at worst their own connection. */
import { errorBodyProblems } from './answer-shapes.js';
import type { Findings } from './findings.js';
import type { Fixture } from './fixture.js';
import { describeValue, type Rng } from './fuzz-input.js';
import { isRecord } from './json.js';
import { fixedRawCases, randomRawCase, type RawCase } from './raw-packet-cases.js';
import { WireClient } from './wire-client.js';

export const RAW_PACKET_CASES = 160; // plus the fixed table of fixedRawCases

/** Sends each case, then a probe: the connection must answer it, or (if allowed) be closed. */
export async function runRawPackets(fx: Fixture, rng: Rng, findings: Findings): Promise<number> {
  const user = fx.users[2] as string;
  const token = fx.tokens.get(user) as string;
  const cases = [
    ...fixedRawCases(token),
    ...Array.from({ length: RAW_PACKET_CASES }, (_, i) => randomRawCase(rng, i)),
  ];
  const lanes = 6;
  let probeId = 50_000;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      let client = await WireClient.connect(fx.relay.url, token);
      for (let i = lane; i < cases.length; i += lanes) {
        const c = cases[i] as RawCase;
        const input = `${c.name}: ${describeValue(c.frames.map((f) => (typeof f === 'string' ? f : `<binary ${f.length}>`)))}`;
        for (const frame of c.frames) {
          if (typeof frame === 'string') client.sendEngineIo(frame);
          else client.sendBinary(frame);
        }
        if (c.ackId !== undefined) {
          const outcome = await client.waitAck(c.ackId, 5000);
          if ('answer' in outcome) {
            const answer = outcome.answer;
            if (!isRecord(answer) || answer.ok !== false) {
              // Nothing in these cases is a valid request, except maybe a random one.
              if (!(isRecord(answer) && answer.ok === true)) {
                findings.add('raw: ack without ok', `${input} -> ${describeValue(answer)}`);
              }
            } else if (isRecord(answer.error) && answer.error.code === 'INTERNAL') {
              findings.add('raw: INTERNAL answer', `${input} -> ${describeValue(answer)}`);
            } else {
              for (const problem of errorBodyProblems(answer)) {
                findings.add(
                  `raw: error answer: ${problem}`,
                  `${input} -> ${describeValue(answer)}`,
                );
              }
            }
          } else if ('timeout' in outcome) {
            findings.add('raw: no answer to an acked packet', input);
          } else if (!c.mayClose) {
            findings.add('raw: connection closed for a packet socket.io accepts', input);
          }
        }
        if (c.leaves) {
          client.close();
          client = await WireClient.connect(fx.relay.url, token);
          continue;
        }
        // The probe: a leave of a thread never joined answers { ok: true }.
        const id = probeId++;
        client.send(`2${id}${JSON.stringify(['thread:leave', { threadId: 'probe' }])}`);
        const probe = await client.waitAck(id, 3000);
        if ('answer' in probe) {
          if (!isRecord(probe.answer) || probe.answer.ok !== true) {
            findings.add(
              'raw: probe refused after a packet',
              `${input} -> ${describeValue(probe.answer)}`,
            );
          }
        } else if ('timeout' in probe) {
          findings.add('raw: connection neither serves nor closes after a packet', input);
          client.close();
        } else if (!c.mayClose) {
          findings.add('raw: connection closed for a packet socket.io accepts', input);
        }
        for (const notice of client.notices.splice(0)) {
          const error = isRecord(notice.error) ? notice.error : undefined;
          if (error?.code === 'INTERNAL')
            findings.add('raw: INTERNAL notice', `${input} -> ${notice.raw}`);
          else if (!error || errorBodyProblems({ error }).length > 0) {
            findings.add('raw: malformed relay:error notice', `${input} -> ${notice.raw}`);
          }
        }
        if (client.closed) client = await WireClient.connect(fx.relay.url, token);
      }
      client.close();
    }),
  );
  return cases.length;
}
