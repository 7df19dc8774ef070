#!/usr/bin/env node
// The tests need two Debian packages: chromium (headless browser tests; it also ships the SwiftShader Vulkan
// driver that Dawn uses in the Node GPU tests) and libvulkan1 (the Vulkan loader Dawn opens). Installed when missing
// and running as root; otherwise say exactly what to install.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const missing = [];
if (!existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) missing.push('chromium');
if (!existsSync('/usr/lib/chromium/vk_swiftshader_icd.json') && !missing.includes('chromium')) missing.push('chromium');
let hasVulkan;
try {
  hasVulkan = execSync('ldconfig -p', { encoding: 'utf8' }).includes('libvulkan.so.1');
} catch {
  hasVulkan =
    existsSync('/usr/lib/x86_64-linux-gnu/libvulkan.so.1') || existsSync('/usr/lib/aarch64-linux-gnu/libvulkan.so.1');
}
if (!hasVulkan) missing.push('libvulkan1');

if (missing.length === 0) process.exit(0);
if (process.getuid?.() !== 0) {
  console.error(
    `Missing system packages: ${missing.join(' ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`,
  );
  process.exit(1);
}
console.log(`Installing system packages the tests need: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execSync('apt-get update -qq', { stdio: 'inherit', env });
execSync(`apt-get install -y -qq ${missing.join(' ')}`, { stdio: 'inherit', env });
