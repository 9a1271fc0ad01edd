/**
 * Every fuzz target, in the order `npm run fuzz` runs them; the CI suite (fuzz.test.ts) runs each with a fixed
 * seed and replays its corpus (corpus/<name>.json).
 *
 * A target is a {@link FuzzTarget} exported from its own file (the toolbox is `./targets.js`: the harness and
 * the input building blocks). Registering one is one line in this list plus its import; the ProtoBuf:1 targets
 * (`./protobuf-kong-side.js`, `./protobuf-server-side.js`) joined it that way.
 */
import { cliDecodeTarget } from './cli.js';
import { handshakeTarget, hclogTarget, reattachTarget } from './goplugin.js';
import type { FuzzTarget } from './harness.js';
import { dumpTarget, kongConfTarget, stringifyTarget } from './kong-conf.js';
import { kongClientTarget, kongServerTarget } from './kong-rpc.js';
import { framerTarget, validatorTarget } from './msgpack-rpc.js';
import { protobufKongSideTarget } from './protobuf-kong-side.js';
import { protobufServerSideTarget } from './protobuf-server-side.js';

/** Every target. */
export const FUZZ_TARGETS: readonly FuzzTarget<never>[] = [
  framerTarget,
  validatorTarget,
  kongServerTarget,
  kongClientTarget,
  handshakeTarget,
  hclogTarget,
  reattachTarget,
  kongConfTarget,
  dumpTarget,
  stringifyTarget,
  cliDecodeTarget,
  protobufKongSideTarget,
  protobufServerSideTarget,
] as unknown as readonly FuzzTarget<never>[];
