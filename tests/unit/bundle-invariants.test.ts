/**
 * Lying bundles (valid checksums, contradicting numbers) are refused on import with the field named, and the JSON
 * limits hold before the manifest is parsed or walked (issue 11, item 7 and 6).
 */
import { describe, expect, it } from 'vitest';
import {
  BundleError,
  decodeBundle,
  encodeBundle,
  MANIFEST_KEY,
  MANIFEST_SHA256_KEY,
  sha256Hex,
} from '../../src/store/bundle';
import { checkJsonLimits, MAX_BUNDLE_TENSORS } from '../../src/store/bundle-validate';
import { writeSafetensors, type SafetensorsTensor } from '../../src/store/safetensors';
import { sampleContent } from '../fixtures/store/sample-bundle';
import { resign, values, type Json } from '../helpers/bundle-edit';

const good = encodeBundle(sampleContent(), { createdAt: '2026-11-30T00:00:00.000Z' });

async function refusal(
  edit: (manifest: Json, tensors: Map<string, SafetensorsTensor>) => void,
  text?: (m: Json) => string,
): Promise<string> {
  const bytes = await resign(await good, edit, text);
  const error = await decodeBundle(bytes).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BundleError);
  expect((error as BundleError).cause).toBeUndefined();
  return (error as BundleError).message;
}

const tensor = (tensors: Map<string, SafetensorsTensor>, name: string) => values(tensors.get(name)!);

describe('semantic invariants', () => {
  it('the untouched, re-signed bundle decodes (the edits below are what is refused)', async () => {
    await expect(decodeBundle(await resign(await good, () => {}))).resolves.toBeDefined();
  });

  it("stages listing 'scores' or 'self' with scores null and no score tensors", async () => {
    const drop = (m: Json, t: Map<string, SafetensorsTensor>) => {
      m.scores = null;
      for (const name of [...t.keys()]) if (name.startsWith('scores.')) t.delete(name);
    };
    expect(await refusal(drop)).toBe(
      "manifest stages lists 'scores' but manifest scores is null (no score tensors can belong to it)",
    );
    expect(
      await refusal((m, t) => {
        drop(m, t);
        m.stages = m.stages.filter((s: string) => s !== 'scores');
      }),
    ).toMatch(/stages lists 'self'/);
  });

  it('activationCount disagreeing with the covariance bias-column diagonal', async () => {
    expect(
      await refusal((m) => {
        // Every layer's two counts together: alone, they would contradict each other first.
        for (const layer of m.layers) layer.activationCount = layer.gradientCount = 38;
      }),
    ).toBe(
      'manifest layers[0].activationCount is 38 but ' +
        "layers.0.activation_covariance's bias-column diagonal counts 37 tokens",
    );
  });

  for (const bad of [-5, 0, 2.5]) {
    it(`query_target_counts of ${bad}`, async () => {
      const message = await refusal((_, t) => {
        tensor(t, 'scores.query_target_counts')[0] = bad;
      });
      expect(message).toBe(`tensor 'scores.query_target_counts' element 0 is ${bad}; T_q must be a positive integer`);
    });
  }

  it('influence ≠ τ/T_q', async () => {
    const message = await refusal((_, t) => {
      tensor(t, 'scores.influence')[4] *= 1.01;
    });
    expect(message).toMatch(
      /^tensor 'scores.influence' \[0, 4\] is .*, but measurement 'mean-log-likelihood' needs τ\/T_q = /,
    );
  });

  it('tau_per_layer not summing to τ', async () => {
    expect(
      await refusal((_, t) => {
        tensor(t, 'scores.tau_per_layer')[2] += 0.5;
      }),
    ).toMatch(/^tensor 'scores.tau_per_layer' sums to .* at element 2/);
  });

  it('eigenvalues not ascending', async () => {
    const message = await refusal((_, t) => {
      const v = tensor(t, 'layers.1.gradient_eigenvalues');
      [v[0], v[1]] = [v[1]!, v[0]!];
    });
    expect(message).toMatch(/^tensor 'layers.1.gradient_eigenvalues' is not ascending: element 1/);
  });

  it('negative damping', async () => {
    expect(
      await refusal((m) => {
        m.layers[1].damping = -0.01;
      }),
    ).toBe('manifest layers[1].damping is -0.01; damping must be ≥ 0');
  });

  it("a segment past the row's tokens, categories not one per token, and duplicate row ids", async () => {
    expect(
      await refusal((m) => {
        m.rows.train[1].tokens = ['a', 'b'];
        m.rows.train[1].segments[0].end = 3;
      }),
    ).toBe("manifest rows.train[1].segments[0] ends at 3, beyond the row's 2 tokens");
    expect(
      await refusal((m) => {
        m.rows.train[1].tokens = ['a', 'b', 'c'];
        m.rows.train[1].tokenCategories = [0, 1];
      }),
    ).toBe('manifest rows.train[1].tokenCategories has 2 entries for 3 tokens');
    expect(
      await refusal((m) => {
        m.rows.query[2].id = 'q-0';
      }),
    ).toBe('manifest rows.query[2].id "q-0" repeats rows.query[0].id');
  });

  it("a query's token losses not one per token, negative, or without tokens", async () => {
    expect(
      await refusal((m) => {
        m.rows.query[1].tokens = ['a', 'b', 'c'];
        m.rows.query[1].tokenLoss = [null, 0.5];
      }),
    ).toBe('manifest rows.query[1].tokenLoss has 2 entries for 3 tokens');
    expect(
      await refusal((m) => {
        m.rows.query[1].tokens = ['a', 'b'];
        m.rows.query[1].tokenLoss = [null, -0.5];
      }),
    ).toBe(
      'manifest rows.query[1].tokenLoss: expected a list of losses (finite numbers ≥ 0, or null where not measured)',
    );
    expect(
      await refusal((m) => {
        delete m.rows.query[1].tokens;
        m.rows.query[1].tokenLoss = [null, 0.5];
      }),
    ).toBe('manifest rows.query[1].tokenLoss has 2 entries for no tokens');
  });

  it('a manifest nested 10,000 deep (checksum valid) is a BundleError, not a stack overflow', async () => {
    const message = await refusal(
      () => {},
      (m) => JSON.stringify(m).replace('"config":{', `"config":{"deep":${'['.repeat(10000)}${']'.repeat(10000)},`),
    );
    expect(message).toBe(
      'manifest nests deeper than 64 levels (at character ' + message.match(/character (\d+)/)![1] + ')',
    );
  });

  it('a header starting with a BOM is refused (the format says it starts with "{")', async () => {
    const original = await good;
    const length = Number(new DataView(original.buffer, original.byteOffset).getBigUint64(0, true));
    const json = new TextEncoder().encode(
      '\uFEFF' + new TextDecoder().decode(original.subarray(8, 8 + length)).trimEnd(),
    );
    const padded = Math.ceil(json.length / 8) * 8;
    const bytes = new Uint8Array(8 + padded + original.length - 8 - length).fill(0x20, 8, 8 + padded);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(padded), true);
    bytes.set(json, 8);
    bytes.set(original.subarray(8 + length), 8 + padded);
    await expect(decodeBundle(bytes)).rejects.toThrow("header must start with '{', found U+FEFF (a byte order mark)");
  });

  it('a million zero-size tensors are refused by count before they are parsed', async () => {
    const tensors = new Map<string, SafetensorsTensor>();
    for (let i = 0; i <= MAX_BUNDLE_TENSORS; i++)
      tensors.set(`t${i}`, { dtype: 'F32', shape: [0], data: new Uint8Array(0) });
    const text = '{}';
    const bytes = writeSafetensors(tensors, { [MANIFEST_KEY]: text, [MANIFEST_SHA256_KEY]: await sha256Hex(text) });
    await expect(decodeBundle(bytes)).rejects.toThrow(
      `header lists more than ${MAX_BUNDLE_TENSORS} tensors, over the limit`,
    );
  });
});

describe('checkJsonLimits', () => {
  const fail = (message: string): never => {
    throw new Error(message);
  };
  it('counts depth outside strings only, escapes included', () => {
    expect(() => checkJsonLimits(`{"a":"${'[{'.repeat(100)}\\"[[["}`, 'x', fail, 2)).not.toThrow();
    expect(() => checkJsonLimits('{"a":[[1]]}', 'x', fail, 2)).toThrow('x nests deeper than 2 levels (at character 6)');
    expect(() => checkJsonLimits('{"a":1}', 'x', fail, 2, 5)).toThrow('x is 7 characters, over the limit of 5');
  });
});
