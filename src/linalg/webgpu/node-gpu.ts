/**
 * WebGPU in Node through Dawn (the `webgpu` npm package). On machines without a GPU driver, Dawn is pointed at the
 * SwiftShader Vulkan driver that Debian's chromium package ships. Only Node code (CLI, tests) imports this file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Dawn destroys its instance when the JS object is garbage-collected, even while devices made from it are in use:
 * pipeline compilation then crashes inside SwiftShader's threads (futex/mutex errors) or promises never settle.
 * Callers usually drop the GPU object after requestAdapter, so every instance is kept alive here.
 */
const liveInstances: GPU[] = [];

export function nodeGpu(): GPU {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = '/tmp/iwb-xdg-runtime';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  const require = createRequire(import.meta.url);
  const dawn = require('webgpu') as { create(flags: string[]): GPU; globals: Record<string, unknown> };
  // Dawn's classes (GPUBufferUsage, GPUShaderStage, ...) become globals as in a browser.
  for (const [key, value] of Object.entries(dawn.globals)) {
    if (!(key in globalThis)) (globalThis as Record<string, unknown>)[key] = value;
  }
  const instance = dawn.create([]);
  liveInstances.push(instance);
  return instance;
}
