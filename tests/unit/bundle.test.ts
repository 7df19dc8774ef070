import { describe, expect, it } from 'vitest';
import {
  BUNDLE_FORMAT,
  BundleError,
  MANIFEST_KEY,
  MANIFEST_SHA256_KEY,
  decodeBundle,
  decodeBundleFile,
  encodeBundle,
  sha256Hex,
} from '../../src/store/bundle';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../../src/store/safetensors';
import { floatTensor } from '../../src/store/tensor-values';
import { sampleContent } from '../fixtures/store/sample-bundle';

const f32 = (data: Float64Array) => Float64Array.from(data, Math.fround);

/** Re-write a valid bundle after `edit` changes its manifest or tensors, with every checksum made right again. */
async function forge(
  bytes: Uint8Array,
  edit: (manifest: Record<string, any>, tensors: Map<string, SafetensorsTensor>) => void,
): Promise<Uint8Array> {
  const file = readSafetensors(bytes);
  const manifest = JSON.parse(file.metadata[MANIFEST_KEY]!);
  const tensors = new Map(file.tensors);
  edit(manifest, tensors);
  manifest.tensors = {};
  for (const [name, tensor] of tensors) manifest.tensors[name] = { sha256: await sha256Hex(tensor.data) };
  const text = JSON.stringify(manifest);
  return writeSafetensors(tensors, { [MANIFEST_KEY]: text, [MANIFEST_SHA256_KEY]: await sha256Hex(text) });
}

async function expectBundleError(bytes: Uint8Array, message: RegExp): Promise<void> {
  const outcome = await decodeBundle(bytes).then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(BundleError);
  expect((outcome as Error).message).toMatch(message);
}

describe('.iwb encode and decode', () => {
  it('round-trips factors exactly, scores as float32 by default, rows as plain data', async () => {
    const content = sampleContent();
    const bundle = await decodeBundle(await encodeBundle(content, { createdAt: '2026-11-28T00:00:00.000Z' }));
    const { manifest } = bundle;
    expect(manifest.format).toBe(BUNDLE_FORMAT);
    expect(manifest.version).toBe(1);
    expect(manifest.createdAt).toBe('2026-11-28T00:00:00.000Z');
    expect(manifest.stages).toEqual(['covariance', 'eigen', 'lambda', 'scores', 'self']);
    expect(manifest.scores).toEqual({ queries: 3, train: 5, measurement: 'mean-log-likelihood' });
    expect(manifest.model).toEqual(content.model);
    expect(manifest.config).toEqual(content.config);
    expect(bundle.factors.layers).toEqual(content.layers);
    const scores = content.scores!;
    expect(bundle.scores.tau).toEqual({ shape: [3, 5], data: f32(scores.tau!.data) });
    expect(bundle.scores.tauPerLayer!.data).toEqual(f32(scores.tauPerLayer!.data));
    expect(bundle.scores.queryTargetCounts).toEqual(scores.queryTargetCounts);
    expect(bundle.scores.tauPerToken!.offsets).toEqual(scores.tauPerToken!.offsets);
    expect(manifest.rows).toEqual(content.rows);
    expect(manifest.rows!.train[0]!.text).toBe('<img src=x onerror="alert(1)"> & <script>');
  });

  it('keeps float64 scores bit-exact when asked, and leaves rows out when the user does', async () => {
    const content = { ...sampleContent(), rows: null };
    const bundle = await decodeBundle(await encodeBundle(content, { scoreDtype: 'F64' }));
    expect(bundle.scores.tau).toEqual(content.scores!.tau);
    expect(bundle.scores.selfTau).toEqual(content.scores!.selfTau);
    expect(bundle.manifest.rows).toBeNull();
  });

  it('lists only the stages every layer has (a run exported after the covariance stage)', async () => {
    const content = sampleContent();
    const partial = {
      ...content,
      scores: undefined,
      rows: null,
      layers: content.layers.map(
        ({
          name,
          dIn,
          dOut,
          hasBias,
          activationCovarianceSum,
          gradientCovarianceSum,
          activationCount,
          gradientCount,
        }) => ({
          name,
          dIn,
          dOut,
          hasBias,
          activationCovarianceSum,
          gradientCovarianceSum,
          activationCount,
          gradientCount,
        }),
      ),
    };
    const bytes = await encodeBundle(partial);
    const bundle = await decodeBundle(bytes);
    expect(bundle.manifest.stages).toEqual(['covariance']);
    expect(bundle.factors.layers[1]!.lambdaSum).toBeUndefined();
    expect([...readSafetensors(bytes).tensors.keys()].sort()).toEqual([
      'layers.0.activation_covariance',
      'layers.0.gradient_covariance',
      'layers.1.activation_covariance',
      'layers.1.gradient_covariance',
    ]);
  });

  it('is a plain safetensors file whose tensors are named for Python users', async () => {
    const file = readSafetensors(await encodeBundle(sampleContent()));
    expect(file.tensors.get('scores.tau')).toMatchObject({ dtype: 'F32', shape: [3, 5] });
    expect(file.tensors.get('layers.0.lambda_matrix')).toMatchObject({ dtype: 'F64', shape: [2, 4] });
    expect(JSON.parse(file.metadata[MANIFEST_KEY]!).layers[0].name).toBe('/mlp.0/MatMul');
  });

  it('refuses a file over the size limit before reading it', async () => {
    const bytes = await encodeBundle(sampleContent());
    let read = false;
    const blob = { size: bytes.length, arrayBuffer: async () => ((read = true), bytes.buffer) } as unknown as Blob;
    await expect(decodeBundleFile(blob, { maxBytes: 100 })).rejects.toThrow(/over the 100-byte limit/);
    expect(read).toBe(false);
    expect((await decodeBundleFile(new Blob([bytes]))).manifest.stages).toContain('self');
  });
});

describe('bad bundles give a BundleError that names the problem', () => {
  it('checksum mismatch in a tensor and in the manifest', async () => {
    const bytes = await encodeBundle(sampleContent());
    const tampered = bytes.slice();
    tampered[tampered.length - 1] ^= 0x01;
    await expectBundleError(tampered, /checksum mismatch in tensor 'scores\.[a-z_]+'/);
    const file = readSafetensors(bytes);
    const manifest = file.metadata[MANIFEST_KEY]!.replace('"text 1"', '"text X"');
    await expectBundleError(
      writeSafetensors(file.tensors, { ...file.metadata, [MANIFEST_KEY]: manifest }),
      /manifest checksum mismatch/,
    );
  });

  it('unknown version, wrong format, missing manifest', async () => {
    const bytes = await encodeBundle(sampleContent());
    await expectBundleError(
      await forge(bytes, (m) => (m.version = 2)),
      /unknown bundle version 2 \(this workbench reads version 1\)/,
    );
    await expectBundleError(await forge(bytes, (m) => (m.format = 'other')), /manifest format is "other"/);
    await expectBundleError(writeSafetensors({ x: floatTensor([1], [1]) }), /no manifest/);
    await expectBundleError(
      bytes.subarray(0, 20),
      /not a valid safetensors file: header length \d+ runs beyond the file/,
    );
  });

  it('NaN or Inf in scores and factors, naming the tensor and element', async () => {
    const bytes = await encodeBundle(sampleContent());
    await expectBundleError(
      await forge(bytes, (_m, t) =>
        t.set(
          'scores.tau',
          floatTensor(
            [3, 5],
            Array.from({ length: 15 }, (_, i) => (i === 7 ? NaN : i)),
            'F32',
          ),
        ),
      ),
      /tensor 'scores\.tau' element 7 is NaN/,
    );
    await expectBundleError(
      await forge(bytes, (_m, t) =>
        t.set('layers.1.lambda_matrix', floatTensor([4, 2], [1, 2, 3, Infinity, 5, 6, 7, 8])),
      ),
      /tensor 'layers\.1\.lambda_matrix' element 3 is Infinity/,
    );
  });

  it('shapes, stages and rows that disagree with the manifest', async () => {
    const bytes = await encodeBundle(sampleContent());
    await expectBundleError(
      await forge(bytes, (_m, t) => t.set('layers.0.activation_eigenvalues', floatTensor([3], [1, 2, 3]))),
      /'layers\.0\.activation_eigenvalues' has shape \[3\], expected \[4\]/,
    );
    await expectBundleError(
      await forge(bytes, (_m, t) => t.delete('layers.1.gradient_eigenvectors')),
      /'layers\.1\.gradient_eigenvectors' is missing though stage 'eigen' is listed/,
    );
    await expectBundleError(
      await forge(bytes, (m) => (m.stages = ['covariance'])),
      /is present but stage 'eigen' is not listed/,
    );
    await expectBundleError(
      await forge(bytes, (m) => m.rows.train.pop()),
      /rows \(3 queries, 4 training rows\) do not match the scores \(3 × 5\)/,
    );
    await expectBundleError(
      await forge(bytes, (m) => (m.rows.train[1].segments[0].end = -1)),
      /rows\.train\[1\]\.segments\[0\]\.end/,
    );
    await expectBundleError(
      await forge(bytes, (m) => (m.layers[0].dIn = 'three')),
      /manifest layers\[0\]\.dIn: expected a positive integer/,
    );
    await expectBundleError(
      await forge(bytes, (_m, t) => t.set('extra', floatTensor([1], [1]))),
      /tensor 'extra' is not part of bundle version 1/,
    );
  });
});
