/**
 * External data that tries to escape the model's folder or to be read from the wrong file (issue 25 §1–2): a data
 * file that is a symbolic link out of the folder, or lies under a linked sub-folder, is refused naming the tensor and
 * the paths; two data files with one name in different folders are read each from its own file, and a bare name that
 * could stand for either is refused.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { readModel } from '../../src/app/inputs';
import { readModelFiles } from '../../src/cli/input-files';
import { nodeDirectorySource } from '../../src/store/node-file-source';
import { cli } from '../helpers/cli';

const { onnx } = onnxProto;
const work = mkdtempSync(path.join(tmpdir(), 'iwb-extdata-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A model whose two float tensors `w1`, `w2` (2 values each) live in the external files `locations`. */
function twoTensorModel(locations: readonly [string, string]): Uint8Array {
  const tensor = (name: string, location: string) => ({
    name,
    dataType: 1,
    dims: [2],
    dataLocation: 1,
    externalData: [{ key: 'location', value: location }],
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'g', initializer: [tensor('w1', locations[0]), tensor('w2', locations[1])] },
    }),
  ).finish();
}

const floats = (...values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function folder(name: string): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('external data keyed by its full location', () => {
  it('reads a/w.bin and b/w.bin each from its own file', async () => {
    const dir = folder('same-name');
    mkdirSync(path.join(dir, 'a'));
    mkdirSync(path.join(dir, 'b'));
    writeFileSync(path.join(dir, 'a/w.bin'), floats(1, 2));
    writeFileSync(path.join(dir, 'b/w.bin'), floats(30, 40));
    writeFileSync(path.join(dir, 'model.onnx'), twoTensorModel(['a/w.bin', './b//w.bin']));
    const { bytes, externalData } = await readModelFiles(path.join(dir, 'model.onnx'), undefined);
    const model = readModel('model.onnx', bytes, externalData);
    expect([...model.graph.initializers.get('w1')!.data]).toEqual([1, 2]);
    expect([...model.graph.initializers.get('w2')!.data]).toEqual([30, 40]);
  });

  it('refuses one bare w.bin for two locations of that name, and accepts it for one', () => {
    const bytes = twoTensorModel(['a/w.bin', 'b/w.bin']);
    expect(() => readModel('model.onnx', bytes, [{ name: 'w.bin', bytes: floats(1, 2) }])).toThrow(
      /^model\.onnx: the model names 2 external data files called 'w\.bin' in different folders \(a\/w\.bin, b\/w\.bin\)/,
    );
    const one = readModel('model.onnx', twoTensorModel(['a/w.bin', 'a/w.bin']), [
      { name: 'w.bin', bytes: floats(5, 6) },
    ]);
    expect([...one.graph.initializers.get('w2')!.data]).toEqual([5, 6]);
    // Given with their folders (a picked folder), each file serves only its own location.
    const both = readModel('model.onnx', bytes, [
      { name: 'b/w.bin', bytes: floats(7, 8) },
      { name: 'a/w.bin', bytes: floats(3, 4) },
    ]);
    expect([...both.graph.initializers.get('w1')!.data, ...both.graph.initializers.get('w2')!.data]).toEqual([
      3, 4, 7, 8,
    ]);
    expect(() => readModel('model.onnx', bytes, [{ name: '../w.bin', bytes: floats(1, 2) }])).toThrow(
      /external data file '\.\.\/w\.bin' is not a path inside the model's folder/,
    );
  });
});

describe('symbolic links out of the model folder', () => {
  const outside = folder('elsewhere');
  writeFileSync(path.join(outside, 'secret.bin'), floats(9, 9, 9, 9));

  it('refuses a data file that links out, naming the tensor and the target', async () => {
    const dir = folder('link-file');
    symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'w.bin'));
    writeFileSync(path.join(dir, 'model.onnx'), twoTensorModel(['w.bin', 'w.bin']));
    await expect(readModelFiles(path.join(dir, 'model.onnx'), undefined)).rejects.toThrow(
      `--model ${path.join(dir, 'model.onnx')}: tensor 'w1' is stored in the external file 'w.bin', which is a ` +
        `symbolic link (or under one) to ${path.join(outside, 'secret.bin')}, outside the model's folder ${dir}`,
    );
    // Through the CLI: exit 1, the same message.
    const run = await cli(['layers', path.join(dir, 'model.onnx')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/tensor 'w1' is stored in the external file 'w\.bin', which is a symbolic link/);
  });

  it('refuses a data file under a linked sub-folder, and accepts a link that stays inside', async () => {
    const dir = folder('link-dir');
    symlinkSync(outside, path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'model.onnx'), twoTensorModel(['sub/secret.bin', 'sub/secret.bin']));
    await expect(readModelFiles(path.join(dir, 'model.onnx'), undefined)).rejects.toThrow(
      /tensor 'w1' is stored in the external file 'sub\/secret\.bin', which is a symbolic link .* outside the model's folder/,
    );
    const inside = folder('link-inside');
    mkdirSync(path.join(inside, 'blobs'));
    writeFileSync(path.join(inside, 'blobs/x'), floats(1, 2));
    symlinkSync('blobs/x', path.join(inside, 'w.bin'));
    writeFileSync(path.join(inside, 'model.onnx'), twoTensorModel(['w.bin', 'w.bin']));
    const { bytes, externalData } = await readModelFiles(path.join(inside, 'model.onnx'), undefined);
    expect([...readModel('m', bytes, externalData).graph.initializers.get('w1')!.data]).toEqual([1, 2]);
    // --model-data is an explicit choice: a file elsewhere is read.
    const explicit = await readModelFiles(path.join(dir, 'model.onnx'), path.join(outside, 'secret.bin'));
    expect(explicit.externalData[0]!.bytes.length).toBe(16);
  });

  it('a directory source neither lists nor reads a link out of its folder', async () => {
    const dir = folder('source');
    writeFileSync(path.join(dir, 'ok.json'), '{}');
    symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'link.bin'));
    symlinkSync(outside, path.join(dir, 'linked'));
    const source = await nodeDirectorySource(dir);
    expect(source.paths).toEqual(['ok.json']);
    await expect(source.read('link.bin')).rejects.toThrow(/no file 'link\.bin'/);
    await expect(source.read('../elsewhere/secret.bin')).rejects.toThrow(/no file/);
    expect(readFileSync(path.join(dir, 'ok.json'), 'utf8')).toBe('{}');
  });
});
