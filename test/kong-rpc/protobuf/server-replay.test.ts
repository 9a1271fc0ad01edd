/**
 * Replay of the go-pdk recordings (test/fixtures/kong-captures/kong-protobuf, README there) against
 * pluginwire's ProtoBuf:1 server running pw-pbcheck in TypeScript: the recorded Kong frames go in, and the
 * server's frames must be the recorded plugin frames, apart from what the README marks as varying (instance ids
 * without `__seq__`, `started_at`, go-pdk's Struct map order: compared as decoded messages) and the places where
 * pluginwire deliberately differs from go-pdk, each listed in {@link DEVIATIONS} with its reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kongPdkMethods } from '../../../src/kong-rpc/protobuf/methods.js';
import { pbcheckPlugin } from '../../fixtures/kong-ts/pbcheck-plugin.js';
import { type Capture, type CapturedFrame, capture, PROTOBUF_CAPTURES, payloadOf } from './captures.js';
import { decode, encode, type RawKong, type ReadResult, startProtobufServer } from './server-helpers.js';

/** Where pluginwire's server answers differently from go-pdk on purpose. */
const DEVIATIONS = {
  statusName:
    'get_instance_status and close_instance name the plugin, where go-pdk answers "---" (README rule 9); Kong ' +
    'reads only instance_id',
  pluginNames:
    'get_plugin_names and get_plugin_info get an RpcReturn with the sequence, where go-pdk writes an empty frame ' +
    'that fails Kong’s sequence assert (rule 8)',
  exitAnswered:
    'an exit Kong answered is followed by the end of the PDK loop and the RpcReturn, where go-pdk closes the ' +
    'connection (rule 5): Kong is then reading the next method name, and a close makes it restart the instance ' +
    'and retry the event',
  noCrash:
    'an empty MemoryStats reads as zeros and the handler goes on, where go-pdk dereferenced nil and the whole ' +
    'server died (rule 12, pb-05): the server must never die for one event',
  nilSlices:
    'in x-pw-received, go-pdk reports empty repeated fields as Go nil slices (JSON null) where the plugin gets ' +
    'empty arrays',
} as const;

type Plain = Record<string, unknown>;

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

/** Go's nil slices print as null; pluginwire's plugin gets []. Everything else must be equal. */
function sameAsGo(ours: unknown, go: unknown): boolean {
  if (go === null && Array.isArray(ours) && ours.length === 0) return true;
  if (Array.isArray(go)) {
    return Array.isArray(ours) && ours.length === go.length && go.every((item, i) => sameAsGo(ours[i], item));
  }
  if (go !== null && typeof go === 'object') {
    if (ours === null || typeof ours !== 'object' || Array.isArray(ours)) return false;
    const keys = new Set([...Object.keys(go), ...Object.keys(ours)]);
    return [...keys].every((key) => sameAsGo((ours as Plain)[key], (go as Plain)[key]));
  }
  return Object.is(ours, go);
}

/** A decoded argument; the x-pw-received JSON is parsed so it can be compared as values. */
function decodedArgument(type: string, payload: Uint8Array): Plain {
  const message = decode(type.replace(/^\./, ''), payload);
  const v = message.v as Plain | undefined;
  if (message.k === 'x-pw-received' && typeof v?.string_value === 'string') {
    return { ...message, v: { received: JSON.parse(v.string_value) } };
  }
  return message;
}

interface ReplayState {
  /** Recorded instance id -> ours. */
  ids: Map<number, number>;
  /** Last method name each connection sent. */
  lastMethod: Map<number, string>;
  deviationsSeen: Set<keyof typeof DEVIATIONS>;
  /** Our frame for each recorded plugin->kong frame index. */
  ours: Map<number, Buffer>;
  /** Recorded frame indexes after which our server closed the connection. */
  closedAfter: number[];
}

function mapIds(call: Plain, ids: Map<number, number>): Plain {
  for (const key of ['cmd_get_instance_status', 'cmd_close_instance', 'cmd_handle_event']) {
    const command = call[key] as Plain | undefined;
    if (command !== undefined && typeof command.instance_id === 'number') {
      command.instance_id = ids.get(command.instance_id) ?? command.instance_id;
    }
  }
  return call;
}

async function expectFrame(recorded: CapturedFrame, got: ReadResult, state: ReplayState): Promise<void> {
  const where = `frame ${recorded.i} (${recorded.note.slice(0, 80)})`;
  expect(got, where).not.toBe('closed');
  const ours = got as Buffer;
  const theirs = payloadOf(recorded);
  const note = recorded.note;
  if (note.startsWith('method name')) {
    expect(ours.toString(), where).toBe(theirs.toString());
    state.lastMethod.set(recorded.conn, ours.toString());
  } else if (note.startsWith('argument')) {
    const method = kongPdkMethods().get(state.lastMethod.get(recorded.conn) ?? '');
    expect(method, where).toBeDefined();
    const type = method?.inputType ?? '';
    if (type === '.google.protobuf.Empty') expect(ours.length, where).toBe(0);
    const mine = decodedArgument(type, ours);
    const go = decodedArgument(type, theirs);
    const received = (go.v as Plain | undefined)?.received;
    if (received !== undefined) {
      expect(sameAsGo((mine.v as Plain).received, received), `${where}: ${JSON.stringify(mine.v)}`).toBe(
        true,
      );
      state.deviationsSeen.add('nilSlices');
    } else {
      expect(mine, where).toEqual(go);
    }
  } else if (note.startsWith('end of PDK loop')) {
    expect(ours.length, where).toBe(0);
  } else if (note.startsWith('empty frame where Kong expects RpcReturn')) {
    // Deviation pluginNames: a real RpcReturn with the call's sequence.
    expect(decode('kong_plugin_protocol.RpcReturn', ours).sequence, where).toBe(recorded.call_seq);
    state.deviationsSeen.add('pluginNames');
  } else if (note.startsWith('RpcReturn')) {
    const mine = decode('kong_plugin_protocol.RpcReturn', ours);
    const go = decode('kong_plugin_protocol.RpcReturn', theirs);
    const mineStatus = mine.instance_status as Plain | undefined;
    const goStatus = go.instance_status as Plain | undefined;
    if (goStatus !== undefined && mineStatus !== undefined) {
      // Varying per the README: the id when the config has no __seq__, and started_at.
      if (typeof goStatus.instance_id === 'number' && !state.ids.has(goStatus.instance_id)) {
        state.ids.set(goStatus.instance_id, mineStatus.instance_id as number);
      }
      goStatus.instance_id = state.ids.get(goStatus.instance_id as number);
      expect(Math.abs((mineStatus.started_at as number) - Date.now() / 1000)).toBeLessThan(60);
      mineStatus.started_at = goStatus.started_at;
      if (goStatus.name === '---') {
        goStatus.name = mineStatus.name;
        state.deviationsSeen.add('statusName');
      }
    }
    expect(mine, where).toEqual(go);
  } else {
    throw new Error(`unknown plugin frame kind: ${note}`);
  }
}

async function replay(recording: Capture): Promise<ReplayState> {
  const started = await startProtobufServer((server) => {
    server.addPlugin(pbcheckPlugin);
    // pb-04 starts a second plugin name; go-pdk starts anything (rule 9), so this server has that plugin too.
    server.addPlugin({
      name: 'other-plugin',
      version: '1',
      phases: ['access'],
      create: () => ({ access() {} }),
    });
  });
  dispose = started.dispose;
  const state: ReplayState = {
    ids: new Map(),
    lastMethod: new Map(),
    deviationsSeen: new Set(),
    ours: new Map(),
    closedAfter: [],
  };
  const connections = new Map<number, RawKong>();
  const eventsAfter = (index: number, conn: number) =>
    recording.conn_events.filter((event) => event.after_frame === index && event.conn === conn);
  const frames = recording.frames;
  for (let index = 0; index < frames.length; index++) {
    const frame = frames[index] as CapturedFrame;
    let kong = connections.get(frame.conn);
    if (kong === undefined) {
      kong = await started.connect();
      connections.set(frame.conn, kong);
    }
    if (frame.dir === 'kong->plugin') {
      let payload: Uint8Array = payloadOf(frame);
      if (frame.note.startsWith('RpcCall')) {
        payload = encode(
          'kong_plugin_protocol.RpcCall',
          mapIds(decode('kong_plugin_protocol.RpcCall', payload), state.ids),
        );
      }
      kong.send(payload);
    } else {
      const got = await kong.read();
      if (got !== 'closed') state.ours.set(frame.i, got);
      await expectFrame(frame, got, state);
    }
    for (const event of eventsAfter(index, frame.conn)) {
      if (
        event.event.startsWith(
          'plugin closed the connection right after reading the result of kong.response.exit',
        )
      ) {
        // Deviation exitAnswered.
        expect((await kong.read()) as Buffer).toHaveLength(0);
        expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toEqual({
          sequence: frame.call_seq,
        });
        state.deviationsSeen.add('exitAnswered');
      } else if (event.event.startsWith('plugin closed the connection')) {
        if (recording.file.startsWith('pb-05')) {
          // Deviation noCrash: go-pdk died here; the TypeScript handler goes on with its next call.
          const next = await kong.read();
          expect(next).not.toBe('closed');
          expect((next as Buffer).toString()).toBe('kong.ctx.shared.set');
          state.deviationsSeen.add('noCrash');
        } else {
          expect(await kong.read(), `after frame ${index}: ${event.event}`).toBe('closed');
          state.closedAfter.push(index);
        }
      } else if (event.event.startsWith('kong closes the connection')) {
        kong.socket.end();
        await kong.closed();
      }
    }
  }
  // Nothing more than the recording: every connection still open has nothing unread.
  for (const [conn, kong] of connections) {
    if (!kong.socket.destroyed && !recording.file.startsWith('pb-05'))
      expect(kong.buffered, `conn ${conn}`).toBe(0);
  }
  if (recording.file.startsWith('pb-05')) {
    // go-pdk's next connect got ECONNREFUSED; this server still answers.
    const kong = await started.connect();
    kong.send(encode('kong_plugin_protocol.RpcCall', { sequence: 9, cmd_get_plugin_names: {} }));
    expect(decode('kong_plugin_protocol.RpcReturn', (await kong.read()) as Buffer)).toMatchObject({
      sequence: 9,
    });
  }
  return state;
}

describe('ProtoBuf:1 server: replay of the go-pdk recordings', () => {
  it('has the five recordings', () => {
    expect(PROTOBUF_CAPTURES.map((c) => c.file.slice(0, 5))).toEqual([
      'pb-01',
      'pb-02',
      'pb-03',
      'pb-04',
      'pb-05',
    ]);
  });

  it.each([
    ['pb-01', ['statusName', 'nilSlices']],
    ['pb-02', ['exitAnswered', 'statusName', 'nilSlices']],
    ['pb-03', ['statusName', 'nilSlices']],
    ['pb-04', ['pluginNames', 'statusName']],
    ['pb-05', ['noCrash']],
  ] as const)(
    '%s: answers the recorded Kong frames with the recorded plugin frames',
    async (prefix, expected) => {
      const state = await replay(capture(prefix));
      expect([...state.deviationsSeen].sort()).toEqual([...expected].sort());
    },
  );
});

/**
 * The "Observed rules" of test/fixtures/kong-captures/kong-protobuf/README.md, each checked for pluginwire's
 * plugin-server side, or marked as a deliberate difference with its reason ({@link DEVIATIONS}).
 */
describe('observed rules of the go-pdk recordings, plugin-server side', () => {
  const framesOf = (recording: Capture, pick: (frame: CapturedFrame) => boolean) =>
    recording.frames.filter((frame) => frame.dir === 'plugin->kong' && pick(frame));

  it('1: every frame is length + payload; zero-length frames for Empty arguments and the end of the loop', async () => {
    const recording = capture('pb-01');
    const state = await replay(recording);
    const empty = framesOf(recording, (frame) => frame.len === 0);
    expect(empty.length).toBeGreaterThan(10);
    for (const frame of empty) expect(state.ours.get(frame.i)?.length, `frame ${frame.i}`).toBe(0);
  });

  it('2: a PDK call is a method name then an argument; the next name only after exactly one result', async () => {
    const recording = capture('pb-03');
    const state = await replay(recording);
    const names = framesOf(recording, (frame) => frame.note.startsWith('method name'));
    const results = recording.frames.filter((f) => f.dir === 'kong->plugin' && !f.note.startsWith('RpcCall'));
    expect(names.length).toBe(results.length);
    // Frame order is checked frame by frame in the replay: a name before its previous result would be out of order.
    for (const frame of names) expect(state.ours.get(frame.i)?.toString()).toBe(payloadOf(frame).toString());
  });

  it('3: the handler’s end is 00000000 then RpcReturn{sequence} (020000000803 for sequence 3)', async () => {
    const recording = capture('pb-01');
    const state = await replay(recording);
    const end = framesOf(recording, (frame) =>
      frame.note.startsWith('RpcReturn{sequence:3}'),
    )[0] as CapturedFrame;
    expect(state.ours.get(end.i)?.toString('hex')).toBe('0803');
    expect(state.ours.get(end.i - 1)?.length).toBe(0);
  });

  it('4: an empty result is the zero value with no error; only RawBodyResult.error reaches the plugin as one', async () => {
    const recording = capture('pb-03');
    const state = await replay(recording);
    const report = framesOf(recording, (frame) => frame.note.includes('x-pw-received'))[0] as CapturedFrame;
    const kv = decode('kong_plugin_protocol.KV', state.ours.get(report.i) as Buffer);
    const received = JSON.parse((kv.v as { string_value: string }).string_value) as {
      call: string;
      err: unknown;
    }[];
    expect(received.filter((entry) => entry.err !== null).map((entry) => entry.call)).toEqual([
      'kong.request.get_raw_body() [hex]',
    ]);
    expect(received.find((entry) => entry.call === 'kong.ctx.shared.get(pw-missing)')).toMatchObject({
      value: null,
    });
  });

  it('5: kong.response.exit: name and ExitArgs, then nothing until Kong closes (answered: see DEVIATIONS.exitAnswered)', async () => {
    const state = await replay(capture('pb-02'));
    expect(state.deviationsSeen.has('exitAnswered')).toBe(true);
  });

  it('6: the connection is reused after every RpcReturn (pb-01 runs on one connection until its failing call)', async () => {
    const recording = capture('pb-01');
    const state = await replay(recording);
    expect(new Set(recording.frames.map((frame) => frame.conn))).toEqual(new Set([1]));
    expect(state.closedAfter).toEqual([recording.frames.length - 1]);
  });

  it('7: errors close the connection without writing anything', async () => {
    const recording = capture('pb-04');
    const state = await replay(recording);
    // unknown id (status, close), unknown phase, bad JSON, no command: five closes, no frame written for them.
    expect(state.closedAfter).toHaveLength(5);
    for (const index of state.closedAfter) expect(recording.frames[index]?.dir).toBe('kong->plugin');
  });

  it('8: get_plugin_names / get_plugin_info: an RpcReturn, not an empty frame (DEVIATIONS.pluginNames)', async () => {
    const state = await replay(capture('pb-04'));
    expect(state.deviationsSeen.has('pluginNames')).toBe(true);
  });

  it('9: start_instance replies name, id and started_at without config; status/close name the plugin (DEVIATIONS.statusName)', async () => {
    const recording = capture('pb-04');
    const state = await replay(recording);
    for (const frame of framesOf(recording, (f) => f.note.includes('instance_status'))) {
      const reply = decode('kong_plugin_protocol.RpcReturn', state.ours.get(frame.i) as Buffer);
      expect(Object.keys(reply.instance_status as object).sort()).toEqual([
        'instance_id',
        'name',
        'started_at',
      ]);
    }
    expect(state.deviationsSeen.has('statusName')).toBe(true);
  });

  it('10: kong.log.* arguments are one ListValue; null is null_value written as 08 00', async () => {
    const recording = capture('pb-01');
    const state = await replay(recording);
    const notice = framesOf(recording, (frame) =>
      frame.note.startsWith('argument google.protobuf.ListValue'),
    )[0];
    expect(state.ours.get(notice?.i as number)?.toString('hex')).toBe(
      payloadOf(notice as CapturedFrame).toString('hex'),
    );
    expect(state.ours.get(notice?.i as number)?.toString('hex')).toContain('0a020800');
  });

  it('11: header tables go as Struct values of string lists, even for one value', async () => {
    const recording = capture('pb-01');
    const state = await replay(recording);
    const frame = framesOf(recording, (f) =>
      f.note.startsWith('argument google.protobuf.Struct'),
    )[0] as CapturedFrame;
    expect(decode('google.protobuf.Struct', state.ours.get(frame.i) as Buffer)).toEqual(
      decode('google.protobuf.Struct', payloadOf(frame)),
    );
  });

  it('12: a nil-pointer panic killed go-pdk’s server; here the event goes on and the server lives (DEVIATIONS.noCrash)', async () => {
    const state = await replay(capture('pb-05'));
    expect(state.deviationsSeen.has('noCrash')).toBe(true);
  });
});
